"""What a sweep removes: single heads and whole layers, from ``--heads`` / ``--layers`` specs.

Layers and heads are 0-based in specs, as they are stored (``--heads 0:3,5:11``); labels are
1-based as the papers show them (head ``1-4``, layer ``L1``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...digits import ascii_int
from ...errors import ConfigError
from ...store import head_label

MODES = ("uniform", "zero", "mean")
KINDS = ("head", "layer")


@dataclass(frozen=True)
class Ablation:
    """One ablation: the heads it removes together."""

    kind: str  # "head" or "layer"
    layer: int
    head: int  # -1 for a whole layer
    heads: tuple[tuple[int, int], ...]  # (layer, head) pairs removed

    @property
    def label(self) -> str:
        return head_label(self.layer, self.head) if self.kind == "head" else f"L{self.layer + 1}"

    @property
    def first_layer(self) -> int:
        return min(layer for layer, _ in self.heads)


def head_ablation(layer: int, head: int) -> Ablation:
    return Ablation("head", layer, head, ((layer, head),))


def layer_ablation(layer: int, num_heads: int) -> Ablation:
    return Ablation("layer", layer, -1, tuple((layer, h) for h in range(num_heads)))


def _shape(num_layers: int, num_heads: int) -> str:
    return f"the model has {num_layers} layers (0-{num_layers - 1}) x {num_heads} heads (0-{num_heads - 1})"


def _int(text: str, what: str, spec: str) -> int:
    index = ascii_int(text.strip(), 9)
    if index is None:
        raise ConfigError(f"{what} {text!r} in {spec!r} is not a 0-based index.")
    return index


def parse_heads(spec: str, num_layers: int, num_heads: int) -> list[Ablation]:
    """``all`` or comma-separated ``LAYER:HEAD`` (0-based) -> one ablation per head."""
    spec = spec.strip()
    if spec == "all":
        return [head_ablation(la, h) for la in range(num_layers) for h in range(num_heads)]
    out: dict[tuple[int, int], Ablation] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        layer, sep, head = part.partition(":")
        if not sep:
            raise ConfigError(f"--heads: {part!r} is not LAYER:HEAD (0-based, e.g. 0:3,5:11) or 'all'.")
        la, h = _int(layer, "layer", part), _int(head, "head", part)
        if la >= num_layers or h >= num_heads:
            raise ConfigError(f"--heads: head {part} does not exist: {_shape(num_layers, num_heads)}; "
                              "heads are LAYER:HEAD, 0-based.")
        out.setdefault((la, h), head_ablation(la, h))
    if not out:
        raise ConfigError("--heads names no head: give 'all' or LAYER:HEAD pairs (0-based), e.g. 0:3,5:11.")
    return list(out.values())


def parse_layers(spec: str, num_layers: int, num_heads: int) -> list[Ablation]:
    """``all`` or comma-separated 0-based layer indices -> one ablation per layer (all its heads)."""
    spec = spec.strip()
    if spec == "all":
        return [layer_ablation(la, num_heads) for la in range(num_layers)]
    out: dict[int, Ablation] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        la = _int(part, "layer", spec)
        if la >= num_layers:
            raise ConfigError(f"--layers: layer {la} does not exist: {_shape(num_layers, num_heads)}; layers are 0-based.")
        out.setdefault(la, layer_ablation(la, num_heads))
    if not out:
        raise ConfigError("--layers names no layer: give 'all' or 0-based indices, e.g. 0,3.")
    return list(out.values())


def sweep_ablations(heads: str | None, layers: str | None, num_layers: int, num_heads: int) -> list[Ablation]:
    """The sweep's ablations: the heads, then the layers, in the order given."""
    if not heads and not layers:
        raise ConfigError("name what to remove: --heads all (or LAYER:HEAD,...) and/or --layers all (or 0,3,...).")
    out = parse_heads(heads, num_layers, num_heads) if heads else []
    return out + (parse_layers(layers, num_layers, num_heads) if layers else [])
