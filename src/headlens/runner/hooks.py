"""Forward hooks on the self-attention modules, inside a context manager that always removes them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..errors import ModelError

NO_ATTENTION = (
    "the model returned no attention weights from its self-attention modules. transformers computes them "
    "only with the eager implementation (SDPA and flash attention return none). Load the model with "
    "attn_implementation='eager' (headlens.load_model does so by default)."
)


class AttentionCapture:
    """Calls ``on_layer(layer_index, probs[B, H, T, T])`` as each layer's attention is computed.

    The layer index is the order of the call within one forward pass, so a module that runs
    several times (ALBERT's shared layer) reports each application as its own layer. Call
    ``reset()`` before each forward pass.
    """

    def __init__(self, on_layer: Callable[[int, torch.Tensor], None]):
        self.on_layer = on_layer
        self.calls = 0

    def reset(self) -> None:
        self.calls = 0

    def __call__(self, module: nn.Module, args, output) -> None:
        probs = output[1] if isinstance(output, tuple) and len(output) > 1 else None
        if probs is None:
            raise ModelError(NO_ATTENTION)
        layer = self.calls
        self.calls += 1
        self.on_layer(layer, probs)


@contextmanager
def hooks(modules: list[nn.Module], hook: Callable, call_kwargs: dict | None = None) -> Iterator[None]:
    """Register ``hook`` as a forward hook on each module (deduplicated); remove all on exit.

    ``call_kwargs`` are forced on every call of the modules (an adapter's
    ``attention_call_kwargs``: MPNet's attention returns its probabilities only when called
    with ``output_attentions=True``).
    """
    handles = []
    try:
        for module in dict.fromkeys(modules):
            if call_kwargs:
                handles.append(module.register_forward_pre_hook(_forcing(call_kwargs), with_kwargs=True))
            handles.append(module.register_forward_hook(hook))
        yield
    finally:
        for h in handles:
            h.remove()


def _forcing(call_kwargs: dict) -> Callable:
    def pre_hook(module: nn.Module, args, kwargs):
        return args, {**kwargs, **call_kwargs}

    return pre_hook
