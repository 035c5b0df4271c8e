"""The fused attention path: the model's own forward, one attention kernel call per layer.

The engine registers :func:`fused_attention` with transformers' ``AttentionInterface`` under
:data:`IMPLEMENTATION` and switches a model to it for the forward passes it scores
(:func:`using`). Each self-attention layer then makes one call of a fused kernel that returns each
row's log-sum-exp, with the values widened by the extra columns that the run's metrics need
(``[V | K | key-set weights]``; q and k are zero-padded to that width, which leaves every score
unchanged). The layer output is the first ``d`` columns: the model runs as it would with SDPA.
The engine's ``on_layer`` gets the layer's :class:`~headlens.runner.rows.LayerRows`, from which
full-row metrics, collectors and stored maps compute the rows they read, a block at a time, as the
eager implementation would (no row is computed unless one of them asks). The rest of the output,
the per-row log-sum-exp, q and k are stacked with those of the next layers (:class:`LayerStack`,
up to :data:`STACK_BYTES` of q and k) and handed to ``on_stack`` as one
:class:`~headlens.metrics.fused.FusedLayer` whose heads are those layers' heads, so that each
metric reduces several layers in one call (:func:`reducing`: on one intra-op thread).

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
from . import onepass
from .rows import LayerRows

IMPLEMENTATION = "headlens_fused"
_PLAN: contextvars.ContextVar[Plan | None] = contextvars.ContextVar("headlens_fused_plan", default=None)
_REGISTERED = False
HALF = (torch.float16, torch.bfloat16)


STACK_BYTES = 64 * 2 ** 20  # q and k of the layers whose statistics are reduced together (LayerStack)


@dataclass
class Plan:
    """What one forward pass asks of every layer (set by the engine around the pass)."""

    key_valid: torch.Tensor  # bool [B, T]
    on_layer: Callable[[int, LayerRows], None]  # (layer, its rows on request): full rows, collectors, stored maps
    dtype: torch.dtype  # statistics dtype (float32, or float64 for float64 models)
    columns: torch.Tensor | None = None  # [B, T, m] key-set weights (metrics.fused.KEY_SETS, by level)
    entropy: bool = False
    reach: int = 0  # half-width of each layer's band of pairs (FusedLayer.band; metrics.fused.band_reach)
    # query weights [B, T] by name (metrics.fused.receiver_weights, by level) whose received attention
    # the one-pass kernel computes with each layer (FusedLayer.receivers); without it, a call per stack
    receivers: dict[str, torch.Tensor] | None = None
    # (first layer, stop layer, their statistics stacked along the head axis): see LayerStack
    on_stack: Callable[[int, int, FusedLayer], None] | None = None
    layers: int = 0  # the model's layer count (the last layer closes the last stack)
    stack_bytes: int | None = None  # None: STACK_BYTES
    calls: int = 0
    _bias: dict = field(default_factory=dict, repr=False)
    _padded: dict = field(default_factory=dict, repr=False)  # fused._widened's buffers, reused by every layer
    _receiver_columns: torch.Tensor | None = field(default=None, repr=False)  # receivers stacked [B, T, n], once a pass
    _stack: LayerStack | None = field(default=None, repr=False)

    def bias(self, dtype: torch.dtype) -> torch.Tensor:
        """[B, T] additive key bias in ``dtype``: 0 for a real key, -inf for padding."""
        if dtype not in self._bias:
            zero = torch.zeros(self.key_valid.shape, dtype=dtype, device=self.key_valid.device)
            self._bias[dtype] = zero.masked_fill(~self.key_valid, float("-inf"))
        return self._bias[dtype]

    def receiver_columns(self) -> torch.Tensor | None:
        """``receivers``' weights as the one-pass kernel's columns [B, T, n] (in their order), stacked once."""
        if self._receiver_columns is None and self.receivers:
            self._receiver_columns = torch.stack(list(self.receivers.values()), -1)
        return self._receiver_columns

    def add(self, layer: int, query, key, lse, entropy, masses, scale: float, band=None, received=None) -> None:
        """Stack one layer's statistics; hand the stack to ``on_stack`` when it is full or the model ends.
        ``band`` [B, H, T, 2 reach + 1] and ``received`` {name: [B, H, T]}: computed by the one-pass kernel."""
        if self._stack is None:
            budget = STACK_BYTES if self.stack_bytes is None else self.stack_bytes
            size = stack_size(self.layers, 2 * query.numel() * query.element_size(), budget)
            self._stack = LayerStack(layer, min(size, self.layers - layer), query, masses, self.dtype)
        stack = self._stack
        stack.add(query, key, lse, entropy, masses, band, received)
        if stack.full:
            self._stack = None
            self.on_stack(stack.start, stack.start + stack.size, stack.layer(self.bias(self.dtype), scale, self.reach))


def stack_size(layers: int, layer_bytes: int, budget: int) -> int:
    """Layers per stack: as many as ``budget`` holds of their q and k (at least 1), evened out over the model."""
    most = max(1, min(layers, budget // max(1, layer_bytes)))
    stacks = -(-layers // most)
    return -(-layers // stacks)


class LayerStack:
    """The statistics of ``size`` consecutive layers stacked along the head axis: q, k [B, size H, T, d],
    lse and entropy [B, size H, T], masses [B, size H, T, m]. Heads never mix in any statistic, so a
    stack of layers is one :class:`FusedLayer` with ``size H`` heads, and each metric reduces all of
    them in one call: the reductions make L / size times fewer tensor operations, each larger, for the
    same arithmetic (at 10^4 to 10^5 values an operation costs its dispatch more than its work)."""

    def __init__(self, start: int, size: int, query: torch.Tensor, masses: torch.Tensor | None, dtype: torch.dtype):
        b, h, t, d = query.shape
        self.start, self.size, self.heads, self.done = start, size, h, 0
        # token-major [B, T, size H, d], as the model's projections lay q and k out: a layer is copied
        # in as whole rows, and FusedLayer's token-major copies (qt, kt) are these buffers themselves
        self.qt = query.new_empty((b, t, size * h, d))
        self.kt = query.new_empty((b, t, size * h, d))
        self.lse = torch.empty((b, size * h, t), dtype=dtype, device=query.device)
        self.entropy = self.band = None
        self.received: dict[str, torch.Tensor] = {}
        self.masses = None if masses is None else torch.empty((b, size * h, t, masses.shape[-1]), dtype=dtype,
                                                               device=query.device)

    @property
    def full(self) -> bool:
        return self.done == self.size

    def add(self, query, key, lse, entropy, masses, band=None, received=None) -> None:
        at = slice(self.done * self.heads, (self.done + 1) * self.heads)
        self.qt[:, :, at], self.kt[:, :, at], self.lse[:, at] = query.transpose(1, 2), key.transpose(1, 2), lse
        if entropy is not None:
            self.entropy = self._slot(self.entropy, entropy)
            self.entropy[:, at] = entropy
        if masses is not None:
            self.masses[:, at] = masses
        if band is not None:
            self.band = self._slot(self.band, band)
            self.band[:, at] = band
        for name, cols in (received or {}).items():
            self.received[name] = self._slot(self.received.get(name), cols)
            self.received[name][:, at] = cols
        self.done += 1

    def _slot(self, stacked, one: torch.Tensor) -> torch.Tensor:
        """``stacked``, or a new [B, size H, ...] buffer for a statistic shaped as ``one`` [B, H, ...]."""
        if stacked is not None:
            return stacked
        return torch.empty((one.shape[0], self.size * self.heads, *one.shape[2:]), dtype=self.lse.dtype,
                           device=self.lse.device)

    def layer(self, bias: torch.Tensor, scale: float, reach: int) -> FusedLayer:
        layer = FusedLayer(self.qt.transpose(1, 2), self.kt.transpose(1, 2), self.lse, bias, scale, self.lse.dtype,
                           masses=self.masses, entropy=self.entropy, kernel=kernel, reach=reach,
                           receivers=self.received or None)
        if self.band is not None:
            layer.band = self.band  # the one-pass kernel's band (FusedLayer.band is a cached property)
        if self.qt.dtype == layer.dtype:
            layer.qt, layer.kt = self.qt, self.kt  # FusedLayer's cached token-major copies
        return layer


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


def _width(query, blocks: list) -> int:
    """The common width of q, k and [blocks]: a multiple of 16 (the CPU kernel is much faster there:
    MiniLM, T = 512, 157 ms at width 80 against 233 ms at 75)."""
    return -(-max(sum(b.shape[-1] for b in blocks), query.shape[-1]) // 16) * 16


def _widened(query, key, blocks: list, dtype: torch.dtype | None = None, buffers: dict | None = None) -> tuple:
    """(q, k, [blocks]) zero-padded to one width (:func:`_width`), in ``dtype`` (default q's); zero
    columns leave every score unchanged. Each is one copy into a buffer whose padding is zero; with
    ``buffers`` (a dict kept across calls, as :class:`Plan` keeps one per pass) the three buffers are
    allocated and zeroed once per shape and reused by every layer of the same shape."""
    dtype = query.dtype if dtype is None else dtype
    width = _width(query, blocks)
    shape = (*query.shape[:-1], width)
    key_ = (shape, dtype, query.device, query.shape[-1], tuple(b.shape[-1] for b in blocks))
    padded = None if buffers is None else buffers.get(key_)
    if padded is None:
        padded = tuple(query.new_zeros(shape, dtype=dtype) for _ in range(3))
        if buffers is not None:
            buffers[key_] = padded
    q, k, v = padded
    d = query.shape[-1]
    q[..., :d].copy_(query)
    k[..., :d].copy_(key)
    at = 0
    for block in blocks:
        v[..., at:at + block.shape[-1]].copy_(block)
        at += block.shape[-1]
    return q, k, v


REDUCTION_THREADS = 1  # intra-op threads of the metrics' reductions on CPU (reducing)
_ALL_THREADS: contextvars.ContextVar[int | None] = contextvars.ContextVar("headlens_all_threads", default=None)


@contextmanager
def reducing(device: torch.device) -> Iterator[None]:
    """The metrics' reductions of a stack of layers on :data:`REDUCTION_THREADS` intra-op threads (CPU).

    They are thousands of operations on 10^4 to 10^6 values, where an OpenMP parallel region costs
    more than it saves, and far more when other processes hold the cores (docs/performance.md); the
    kernel calls inside (:func:`kernel`, the received attention) get every thread back."""
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads <= REDUCTION_THREADS:
        yield
        return
    token = _ALL_THREADS.set(threads)
    torch.set_num_threads(REDUCTION_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        _ALL_THREADS.reset(token)


def kernel(q, k, v, bias, scale):
    """:func:`_kernel` on every intra-op thread, also inside :func:`reducing`."""
    threads = _ALL_THREADS.get()
    if threads is None:
        return _kernel(q, k, v, bias, scale)
    torch.set_num_threads(threads)
    try:
        return _kernel(q, k, v, bias, scale)
    finally:
        torch.set_num_threads(REDUCTION_THREADS)


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


ONEPASS = True  # use the one-pass kernel where it applies (tests switch it off to check the flash path)
ONEPASS_MAX_T = 512  # the lengths where it was measured faster than the flash calls (docs/performance.md)


def _onepass_here(query, plan: Plan) -> bool:
    """Whether this layer's statistics come from the one-pass kernel (runner/onepass.py): float32 on
    CPU, T <= :data:`ONEPASS_MAX_T`, and the extension built (else the flash calls, as before)."""
    return (ONEPASS and query.device.type == "cpu" and query.dtype == torch.float32 == plan.dtype
            and query.shape[2] <= ONEPASS_MAX_T and onepass.available()[0])


def kernel_record(device: torch.device, dtype: torch.dtype) -> dict:
    """The manifest's record of the statistics kernel on ``device`` and ``dtype``: which one, and why."""
    if device.type != "cpu" or dtype != torch.float32:
        return {"kernel": "flash", "why": "the one-pass kernel is CPU float32 only"}
    if not ONEPASS:
        return {"kernel": "flash", "why": "runner.fused.ONEPASS is off"}
    ok, why = onepass.available()
    if not ok:
        return {"kernel": "flash", "why": f"the one-pass kernel could not be built: {why}"}
    return {"kernel": "onepass", "why": f"T <= {ONEPASS_MAX_T}; longer batches take the flash calls"}


def _onepass_layer(plan: Plan, layer: int, query, key, value, key_bias, scale: float) -> torch.Tensor:
    """One layer on the one-pass kernel: the output [B, T, H, d]; lse, entropy, masses, the band and
    the received attention of the plan's query weights go to the layer stack."""
    names = list(plan.receivers or {})
    out, lse, entropy, masses, received, band = onepass.onepass(
        query, key, value, key_bias, scale, plan.columns, plan.receiver_columns(), plan.reach if plan.on_stack else 0)
    plan.on_layer(layer, LayerRows(query, key, key_bias, scale, plan.dtype))
    if plan.on_stack is not None:
        plan.add(layer, query, key, lse, entropy if plan.entropy else None,
                 masses if plan.columns is not None else None, scale, band=band if plan.reach else None,
                 received={name: received[..., i] for i, name in enumerate(names)})
    return out


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
    if extras and _onepass_here(query, plan):
        return _onepass_layer(plan, layer, query, key, value, key_bias, scale), None
    if not extras:
        out, lse = _kernel(query, key, value, bias, scale)
        stats = None
    elif query.dtype in HALF:
        # the model's attention in its own dtype; the statistics in float32 from the same q and k:
        # a half-precision output would round small masses (float16 is subnormal under 6e-5, where a
        # word row that puts nearly all its mass on [SEP] keeps its mass on words)
        out, _ = _kernel(query, key, value, bias, scale)
        stats, lse = _kernel(*_widened(query, key, extras, plan.dtype, plan._padded),
                             plan.bias(plan.dtype)[:, None, None, :], scale)
        stats = stats[..., :n]
    else:
        out, lse = _kernel(*_widened(query, key, [value, *extras], buffers=plan._padded), bias, scale)
        stats, out = out[..., d:d + n].to(plan.dtype), out[..., :d]
    plan.on_layer(layer, LayerRows(query, key, key_bias, scale, plan.dtype))
    if plan.on_stack is not None:
        lse = lse.to(plan.dtype)
        entropy = None
        if plan.entropy:  # H_i = lse_i - s q_i.E_i[k]
            entropy = lse - scale * torch.einsum("bhtd,bhtd->bht", query.to(plan.dtype), stats[..., :d])
            stats = stats[..., d:]
        plan.add(layer, query, key, lse, entropy, stats if plan.columns is not None else None, scale)
    return out.transpose(1, 2).contiguous(), None
