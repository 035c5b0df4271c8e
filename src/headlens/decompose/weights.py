"""The weights a post-LN layer's decomposition needs, read once per layer module from the adapter's parts."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    # derived once per layer (not arguments), per head h (W^h: the columns of head h's value slice):
    value_maps: torch.Tensor = field(init=False, repr=False)  # [H, d/H, 2d]: [W_O^h | LN1 W_O^h]^T, LN1 = diag(gamma1) P
    ff_value_map: torch.Tensor = field(init=False, repr=False)  # [H, d/H, d_ff]: (W1 LN1 W_O^h)^T
    head_gram: torch.Tensor = field(init=False, repr=False)  # [H, d/H, d/H]: W_O^h^T W_O^h

    def __post_init__(self) -> None:
        d, h = self.w_o.shape[0], self.heads
        ln_w_o = self.ln1[0][:, None] * (self.w_o - self.w_o.mean(0, keepdim=True))  # gamma1 * centred, per column
        per_head = lambda m: m.reshape(m.shape[0], h, self.w_o.shape[1] // h).permute(1, 2, 0).contiguous()  # noqa: E731
        object.__setattr__(self, "value_maps", per_head(torch.cat((self.w_o, ln_w_o), 0)))
        object.__setattr__(self, "ff_value_map", per_head(self.w1 @ ln_w_o))
        w_o_heads = per_head(self.w_o)  # [H, dh, d]
        object.__setattr__(self, "head_gram", w_o_heads @ w_o_heads.transpose(1, 2))


@dataclass(frozen=True)
class StackedWeights:
    """The weights of consecutive layers stacked on a leading layer dimension, for decomposing them together."""

    layers: tuple[LayerWeights, ...]
    heads: int = field(init=False)
    w_o: torch.Tensor = field(init=False, repr=False)  # [L, d, d]
    b_o: torch.Tensor = field(init=False, repr=False)  # [L, d]
    gamma1: torch.Tensor = field(init=False, repr=False)  # [L, d]
    beta1: torch.Tensor = field(init=False, repr=False)
    eps1: torch.Tensor = field(init=False, repr=False)  # [L]
    value_maps: torch.Tensor = field(init=False, repr=False)  # [H, L, d/H, 2d] (head-major: see terms.value_terms)
    head_gram: torch.Tensor = field(init=False, repr=False)  # [L, H, d/H, d/H]

    def __post_init__(self) -> None:
        first = self.layers[0]
        stack = lambda get: torch.stack([get(w) for w in self.layers])  # noqa: E731
        for name, value in (("heads", first.heads), ("w_o", stack(lambda w: w.w_o)), ("b_o", stack(lambda w: w.b_o)),
                            ("gamma1", stack(lambda w: w.ln1[0])), ("beta1", stack(lambda w: w.ln1[1])),
                            ("eps1", torch.tensor([w.ln1[2] for w in self.layers], dtype=first.w_o.dtype,
                                                  device=first.w_o.device)),
                            ("value_maps", torch.stack([w.value_maps for w in self.layers], 1)),
                            ("head_gram", stack(lambda w: w.head_gram))):
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return len(self.layers)


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
