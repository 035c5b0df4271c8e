"""The weights a post-LN layer's decomposition needs, read once per layer module from the adapter's parts."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ModelError
from .ig import activation_at_zero, check_elementwise


@dataclass(frozen=True)
class LayerWeights:
    heads: int
    w_o: torch.Tensor  # [d, d] (out, in): attention output projection
    b_o: torch.Tensor  # [d]
    ln1: tuple[torch.Tensor, torch.Tensor, float]  # gamma, beta, eps
    w1: torch.Tensor  # [d_ff, d]
    b1: torch.Tensor  # [d_ff]
    w2: torch.Tensor  # [d, d_ff]
    b2: torch.Tensor  # [d]
    ln2: tuple[torch.Tensor, torch.Tensor, float]
    act0: float  # act(0)
    slope0: float  # act'(0)


def _linear(m: nn.Module, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(m, nn.Linear) or m.bias is None:
        raise ModelError(f"the decomposition needs {what} to be a Linear with a bias, got {type(m).__name__}.")
    return m.weight.detach(), m.bias.detach()


def _norm(m: nn.Module, what: str) -> tuple[torch.Tensor, torch.Tensor, float]:
    if not isinstance(m, nn.LayerNorm) or m.weight is None or m.bias is None:
        raise ModelError(f"the decomposition needs {what} to be an affine LayerNorm, got {type(m).__name__}.")
    return m.weight.detach(), m.bias.detach(), float(m.eps)


def layer_weights(adapter, layer: nn.Module, heads: int, where: str) -> LayerWeights:
    """Read (and check) one layer module's weights; call outside ``torch.inference_mode``."""
    if adapter.norm_position != "post":
        raise ModelError(
            f"the norm-based decomposition is implemented for post-LN encoders (LayerNorm after each residual "
            f"sum); the {adapter.family} adapter declares norm_position={adapter.norm_position!r}."
        )
    part = lambda name: adapter.part(layer, name)  # noqa: E731
    w_o, b_o = _linear(part("attention_output"), "the attention output projection")
    w1, b1 = _linear(part("ff_in"), "the first feed-forward projection")
    w2, b2 = _linear(part("ff_out"), "the second feed-forward projection")
    if w_o.shape[1] % heads:
        raise ModelError(f"the attention output projection's input ({w_o.shape[1]}) does not split into {heads} heads.")
    act = part("ff_activation")
    check_elementwise(act, where)
    act0, slope0 = activation_at_zero(act)
    return LayerWeights(
        heads, w_o, b_o, _norm(part("attention_norm"), "the attention LayerNorm"), w1, b1, w2, b2,
        _norm(part("ff_norm"), "the feed-forward LayerNorm"), act0, slope0,
    )
