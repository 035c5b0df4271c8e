"""Layer analyses: the extension point for analyses that need more of a layer than its attention.

A *layer analysis* (e.g. the norm-based decomposition, ``headlens.decompose``) gets, for every
layer of every batch and inside the same forward pass the Engine runs anyway, a ``LayerParts``:
the layer's input, its attention probabilities, the value projection, the attention output
projection, both LayerNorms' inputs and outputs and the feed-forward pre-activation, activation
and output, all on the device, together with the layer's module (for its weights).

It is a batch-level collector (``headlens.collect``) with ``needs_parts = True``, so its
per-sentence results are stored per run part, crash-safe, by the collector machinery, and it has
three more methods: ``begin(batch, keep, values, columns)`` before the forward pass (``values``
is the Engine's [B, M, L, H] tensor; ``columns`` maps the names of the run's metrics of level
``parts`` to their row in it, for the analysis to fill), ``on_parts(parts)`` for each completed
layer and ``end()`` after the pass.

Nothing is hooked unless a run has such a collector: other runs take the Engine's usual path,
with the attention hooks only. A layer's tensors are dropped as soon as ``on_parts`` returns.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ModelError
from .hooks import AttentionCapture, hooks

# part name -> (adapter part, what of the module's call is kept: "in", "out" or both)
CAPTURED = {
    "value": ("value", ("in", "out")),  # in = the layer input x, out = x W_V + b_V
    "attention_output": ("attention_output", ("out",)),  # sum_h alpha_h v_h W_O^h + b_O
    "attention_norm": ("attention_norm", ("in", "out")),  # pre-LN sum and LN output
    "ff_in": ("ff_in", ("out",)),  # pre-activation u W1 + b1
    "ff_activation": ("ff_activation", ("out",)),
    "ff_out": ("ff_out", ("out",)),
    "ff_norm": ("ff_norm", ("in", "out")),  # last: the layer is complete
}


@dataclass
class LayerParts:
    """One layer's tensors for one batch (device, model dtype) and the layer's modules."""

    layer: int
    probs: torch.Tensor  # [B, H, T, T]
    tensors: dict[str, torch.Tensor]  # "value.in", "value.out", "attention_norm.in", ...
    module: nn.Module  # the layer module (ALBERT: the shared one)

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.tensors[name]


_MODULES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its hooked modules, resolved once


def _modules(lm) -> tuple[list[nn.Module], list[nn.Module], dict[str, list[nn.Module]]]:
    """(layer modules, attention modules, part name -> the part's module in every layer) of ``lm``'s model."""
    got = _MODULES.get(lm.model)
    if got is None or got[0] is not lm.adapter:
        adapter = lm.adapter
        layers = adapter.layer_modules(lm.model)
        parts = {name: [adapter.part(layer, part) for layer in layers] for name, (part, _) in CAPTURED.items()}
        got = _MODULES[lm.model] = (adapter, layers, adapter.attention_modules(lm.model), parts)
    return got[1], got[2], got[3]


class _PartCapture:
    """Collects each layer's parts (layer = call order of each part) and hands complete layers on."""

    def __init__(self, lm, on_layer: Callable[[LayerParts], None]):
        self.adapter = lm.adapter
        self.layers = _modules(lm)[0]
        self.on_layer = on_layer
        self.calls: dict[str, int] = {}
        self.pending: dict[int, dict[str, torch.Tensor]] = {}
        self.probs: dict[int, torch.Tensor] = {}

    def attention(self, layer: int, probs: torch.Tensor) -> None:
        self.probs[layer] = probs

    def hook(self, name: str, keep: tuple[str, ...]) -> Callable:
        def record(module: nn.Module, args, output) -> None:
            layer = self.calls.get(name, 0)
            self.calls[name] = layer + 1
            got = self.pending.setdefault(layer, {})
            if "in" in keep:
                got[f"{name}.in"] = args[0]
            if "out" in keep:
                got[f"{name}.out"] = output[0] if isinstance(output, tuple) else output
            if name == "ff_norm":
                self._complete(layer)

        return record

    def _complete(self, layer: int) -> None:
        tensors = self.pending.pop(layer)
        probs = self.probs.pop(layer, None)
        if probs is None or len(tensors) != sum(len(k) for _, k in CAPTURED.values()):
            raise ModelError(f"layer {layer}: the adapter's parts were not all called before its last LayerNorm.")
        module = self.layers[0] if self.adapter.shared_layers else self.layers[layer]
        self.on_layer(LayerParts(layer, probs, tensors, module))


@contextmanager
def part_hooks(lm, analyses: list, batch, keep, values: torch.Tensor, columns: dict[str, int]) -> Iterator[None]:
    """Hook every captured part for one forward pass; ``analyses`` see each completed layer."""
    if not analyses:
        yield
        return
    for a in analyses:
        a.begin(batch, keep, values, columns)

    def on_layer(parts: LayerParts) -> None:
        for a in analyses:
            a.on_parts(parts)

    capture = _PartCapture(lm, on_layer)
    _, attention, modules = _modules(lm)
    with ExitStack() as stack:
        stack.enter_context(hooks(attention, AttentionCapture(capture.attention)))
        for name, (_, keep_what) in CAPTURED.items():
            stack.enter_context(hooks(modules[name], capture.hook(name, keep_what)))
        yield
    for a in analyses:
        a.end()
