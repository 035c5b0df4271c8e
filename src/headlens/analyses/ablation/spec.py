"""What a sweep removes: single heads and whole layers, from ``--heads`` / ``--layers`` specs.

Specs name heads and layers by their 1-based labels (``--heads L1H4,L6H12``, ``--layers L1,L4``;
docs/conventions.md); the ablations hold 0-based indices, as they are stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ...heads import head_label, layer_label, parse_layer
from ...heads import parse_heads as heads_from

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
        return head_label(self.layer, self.head) if self.kind == "head" else layer_label(self.layer)

    @property
    def first_layer(self) -> int:
        return min(layer for layer, _ in self.heads)


def head_ablation(layer: int, head: int) -> Ablation:
    return Ablation("head", layer, head, ((layer, head),))


def layer_ablation(layer: int, num_heads: int) -> Ablation:
    return Ablation("layer", layer, -1, tuple((layer, h) for h in range(num_heads)))


def parse_heads(spec: str, num_layers: int, num_heads: int) -> list[Ablation]:
    """``all`` or comma-separated head labels (``L1H4,L6H12``, 1-based) -> one ablation per head."""
    spec = spec.strip()
    if spec == "all":
        return [head_ablation(la, h) for la in range(num_layers) for h in range(num_heads)]
    return [head_ablation(la, h) for la, h in heads_from(spec, num_layers, num_heads, "--heads")]


def parse_layers(spec: str, num_layers: int, num_heads: int) -> list[Ablation]:
    """``all`` or comma-separated layer labels (``L1,L4``, 1-based) -> one ablation per layer (all its heads)."""
    spec = spec.strip()
    if spec == "all":
        return [layer_ablation(la, num_heads) for la in range(num_layers)]
    layers = list(dict.fromkeys(parse_layer(p, num_layers, "--layers") for p in spec.split(",") if p.strip()))
    if not layers:
        raise ConfigError("--layers names no layer: give 'all' or layer labels (1-based), e.g. L1,L4.")
    return [layer_ablation(la, num_heads) for la in layers]


def sweep_ablations(heads: str | None, layers: str | None, num_layers: int, num_heads: int) -> list[Ablation]:
    """The sweep's ablations: the heads, then the layers, in the order given."""
    if not heads and not layers:
        raise ConfigError("name what to remove: --heads all (or head labels L1H4,...) and/or --layers all (or L1,L4,...).")
    out = parse_heads(heads, num_layers, num_heads) if heads else []
    return out + (parse_layers(layers, num_layers, num_heads) if layers else [])
