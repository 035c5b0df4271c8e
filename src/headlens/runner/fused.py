"""The fused attention path: the model's own forward, one attention kernel call per layer.

The engine registers :func:`fused_attention` with transformers' ``AttentionInterface`` under
:data:`IMPLEMENTATION` and switches a model to it for the forward passes it scores
(:func:`using`). Each self-attention layer then makes one call of a fused kernel that returns each
row's log-sum-exp, with the values widened by the extra columns that the run's metrics need
(``[V | K | key-set weights]``; q and k are zero-padded to that width, which leaves every score
unchanged). The layer output is the first ``d`` columns: the model runs as it would with SDPA. The
rest, and the per-row log-sum-exp, become a :class:`~headlens.metrics.fused.FusedLayer` handed to
the engine's callback with the layer's :class:`~headlens.runner.rows.LayerRows`, from which
full-row metrics, collectors and stored maps compute the rows they read, a block at a time, as the
eager implementation would (no row is computed unless one of them asks).

Kernels: on CPU ``aten._scaled_dot_product_flash_attention_for_cpu``; on CUDA
``aten._scaled_dot_product_efficient_attention`` with ``compute_log_sumexp``; elsewhere, and for
float64, the same quantities from the explicit scores. Padding keys get exactly zero mass (an
additive -inf bias of the batch's own key mask); padded queries are computed and ignored by the
metrics, so results do not depend on batch composition.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..errors import ModelError
from ..metrics.fused import FusedLayer
from .rows import LayerRows

IMPLEMENTATION = "headlens_fused"
_PLAN: contextvars.ContextVar[Plan | None] = contextvars.ContextVar("headlens_fused_plan", default=None)
_REGISTERED = False
HALF = (torch.float16, torch.bfloat16)


@dataclass
class Plan:
    """What one forward pass asks of every layer (set by the engine around the pass)."""

    key_valid: torch.Tensor  # bool [B, T]
    on_layer: Callable[[int, FusedLayer, LayerRows], None]  # (layer, fused, its rows on request)
    dtype: torch.dtype  # statistics dtype (float32, or float64 for float64 models)
    columns: torch.Tensor | None = None  # [B, T, m] key-set weights (metrics.fused.KEY_SETS, by level)
    entropy: bool = False
    reach: int = 0  # half-width of each layer's band of pairs (FusedLayer.band; metrics.fused.band_reach)
    calls: int = 0
    _bias: dict = field(default_factory=dict, repr=False)

    def bias(self, dtype: torch.dtype) -> torch.Tensor:
        """[B, T] additive key bias in ``dtype``: 0 for a real key, -inf for padding."""
        if dtype not in self._bias:
            zero = torch.zeros(self.key_valid.shape, dtype=dtype, device=self.key_valid.device)
            self._bias[dtype] = zero.masked_fill(~self.key_valid, float("-inf"))
        return self._bias[dtype]


def register() -> None:
    """Register :func:`fused_attention` (and SDPA's mask builder) with transformers, once."""
    global _REGISTERED
    if _REGISTERED:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(IMPLEMENTATION, fused_attention)
    AttentionMaskInterface.register(IMPLEMENTATION, sdpa_mask)
    _REGISTERED = True


def supports(model) -> bool:
    """Whether ``model``'s attention goes through transformers' attention interface (MPNet's does not)."""
    import importlib

    module = importlib.import_module(type(model).__module__)
    return hasattr(module, "ALL_ATTENTION_FUNCTIONS")


@contextmanager
def using(model, plan: Plan) -> Iterator[Plan]:
    """Run ``model`` on the fused path with ``plan`` inside the block; restore its implementation after."""
    register()
    config = model.config
    before = config._attn_implementation
    token = _PLAN.set(plan)
    config._attn_implementation = IMPLEMENTATION
    try:
        yield plan
    finally:
        config._attn_implementation = before
        _PLAN.reset(token)


def _aligned(bias: torch.Tensor) -> torch.Tensor:
    """``bias`` [B, 1 or H, 1, T] as a view whose batch and head strides are multiples of 16
    elements, as CUDA's efficient kernel asks (a copy only where they are not)."""
    if all(stride % 16 == 0 for stride, n in zip(bias.stride()[:-1], bias.shape[:-1]) if n > 1):
        return bias
    t = bias.shape[-1]
    out = bias.new_empty((*bias.shape[:-1], -(-t // 16) * 16))[..., :t]
    return out.copy_(bias)


def _widened(query, key, blocks: list) -> tuple:
    """(q, k, [blocks]) zero-padded to one width, a multiple of 16 (the CPU kernel is much faster there:
    MiniLM, T = 512, 157 ms at width 80 against 233 ms at 75); zero columns leave every score unchanged."""
    values = torch.cat(blocks, dim=-1)
    width = -(-max(values.shape[-1], query.shape[-1]) // 16) * 16
    return (F.pad(query, (0, width - query.shape[-1])), F.pad(key, (0, width - key.shape[-1])),
            F.pad(values, (0, width - values.shape[-1])))


def _kernel(q, k, v, bias, scale):
    """(output [B, H, T, D], lse [B, H, T]) of softmax(s q k^T + bias) v, bias [B, 1 or H, 1, T]."""
    if q.dtype != torch.float64:
        if q.device.type == "cpu":
            out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v, attn_mask=bias, scale=scale)
            return out, lse
        if q.device.type == "cuda":
            t = q.shape[2]
            res = torch.ops.aten._scaled_dot_product_efficient_attention(
                q, k, v, _aligned(bias).expand(-1, q.shape[1], t, -1), True, scale=scale)  # lse padded to 32
            return res[0], res[1][..., :t]
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale + bias
    lse = torch.logsumexp(scores, -1)
    return torch.matmul(torch.exp(scores - lse[..., None]), v), lse


def fused_attention(module, query, key, value, attention_mask=None, scaling=None, dropout=0.0, **kwargs):
    """transformers attention function: (output [B, T, H, d], None). See the module doc."""
    plan = _PLAN.get()
    if plan is None:  # outside a headlens pass the model behaves as with SDPA
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)
    if key.shape[2] != query.shape[2] or key.shape[1] != query.shape[1]:
        raise ModelError("the fused attention path supports self-attention with one key per query head only; "
                         "run with --attention eager.")
    layer = plan.calls
    plan.calls += 1
    b, h, t, d = query.shape
    scale = float(scaling) if scaling is not None else d ** -0.5
    key_bias = plan.bias(query.dtype)  # [B, T]
    bias = key_bias[:, None, None, :]
    extras = [key] if plan.entropy else []
    if plan.columns is not None:
        extras.append(plan.columns[:, None].expand(b, h, t, -1))  # in the statistics dtype
    n = sum(e.shape[-1] for e in extras)
    if not extras:
        out, lse = _kernel(query, key, value, bias, scale)
        stats = None
    elif query.dtype in HALF:
        # the model's attention in its own dtype; the statistics in float32 from the same q and k:
        # a half-precision output would round small masses (float16 is subnormal under 6e-5, where a
        # word row that puts nearly all its mass on [SEP] keeps its mass on words)
        out, _ = _kernel(query, key, value, bias, scale)
        stats, lse = _kernel(*_widened(query.to(plan.dtype), key.to(plan.dtype), [e.to(plan.dtype) for e in extras]),
                             plan.bias(plan.dtype)[:, None, None, :], scale)
        stats = stats[..., :n]
    else:
        out, lse = _kernel(*_widened(query, key, [value, *(e.to(value.dtype) for e in extras)]), bias, scale)
        stats, out = out[..., d:d + n].to(plan.dtype), out[..., :d]
    fused = FusedLayer(query, key, lse.to(plan.dtype), key_bias.to(plan.dtype), scale, plan.dtype, kernel=_kernel,
                       reach=plan.reach)
    if plan.entropy:
        expected_k = stats[..., :d]
        fused.entropy = fused.lse - scale * torch.einsum("bhtd,bhtd->bht", query.to(plan.dtype), expected_k)
        stats = stats[..., d:]
    if plan.columns is not None:
        fused.masses = stats
    plan.on_layer(layer, fused, LayerRows(query, key, key_bias, scale, plan.dtype))
    return out.transpose(1, 2).contiguous(), None
