"""Head ablation by hooks (transformers 5 has no ``head_mask``).

A head's output is its context vector, alpha_h @ V_h, the slice of the input of the attention
output projection that belongs to the head (``attention_output`` in the family's adapter,
``models/adapters.py``). The hooks replace that slice, so the other heads of the layer are
untouched by construction:

- ``uniform`` (Kovaleva et al. 2019): attention 1/L over the L non-padding tokens for every
  query, i.e. the context of every query becomes the mean of the head's value vectors over the
  non-padding tokens (the value projection's output, captured by a hook on ``value``);
- ``zero``: the context becomes 0 (the head contributes only the output projection's bias);
- ``mean``: the context becomes the head's mean context over every non-padding token of the
  dev set, computed in a first pass without ablation (:meth:`AblationHooks.head_means`).
  Replacing the attention map by a mean map is ill-defined for inputs of different lengths;
  the mean output is the usual "mean ablation".

Several ablations run in one forward pass: the batch is stacked K times along the batch
dimension and ``masks[layer, k, head]`` says which heads copy k removes. Layers below the first
ablated layer of a pass are not recomputed: their output from the unablated pass of the batch
is replayed (repeated K times), which gives the same numbers as recomputing them.

Layers are numbered by call order within a forward pass (ALBERT applies one layer module
``num_hidden_layers`` times: each application is a layer).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ...lazy import torch  # imported on first use (headlens.lazy): the analysis registers without torch

from ...errors import ModelError
from ...models.adapters import Adapter
from .spec import MODES


def repeat_batch(obj, k: int):
    """``obj`` (a tensor, or a tuple / list of tensors and None) repeated k times along dim 0."""
    if k == 1 or obj is None:
        return obj
    if isinstance(obj, torch.Tensor):
        return obj.repeat(k, *([1] * (obj.dim() - 1)))
    if isinstance(obj, (tuple, list)):
        return type(obj)(repeat_batch(x, k) for x in obj)
    raise ModelError(f"a layer returned a {type(obj).__name__}; the ablation replay handles tensors and tuples.")


class AblationHooks:
    """Hooks on a sequence classifier's attention that remove heads per stacked copy of a batch."""

    def __init__(self, model: torch.nn.Module, adapter: Adapter, num_layers: int, num_heads: int, mode: str):
        if mode not in MODES:
            raise ModelError(f"ablation mode {mode!r} is not one of {', '.join(MODES)}.")
        self.model, self.mode = model, mode
        self.num_layers, self.num_heads = num_layers, num_heads
        encoder = model.base_model
        adapter.check(encoder)
        self.layers = list(dict.fromkeys(adapter.layer_modules(encoder)))
        self.values = list(dict.fromkeys(adapter.part(m, "value") for m in self.layers))
        self.outputs = list(dict.fromkeys(adapter.part(m, "attention_output") for m in self.layers))
        width = getattr(self.outputs[0], "in_features", None)
        if not isinstance(width, int) or width % num_heads:
            raise ModelError(f"the attention output projection of {adapter.family} takes {width} features, "
                             f"not a multiple of {num_heads} heads.")
        self.head_dim = width // num_heads
        self.means: torch.Tensor | None = None  # [layers, heads, head_dim] for mode "mean"
        self.call = -1  # index of the layer running now (call order in the pass)
        # the state of one forward pass
        self.masks: torch.Tensor | None = None  # bool [layers, K, heads]
        self.valid: torch.Tensor | None = None  # bool [B, T]: non-padding tokens of one copy
        self.value_out: torch.Tensor | None = None
        self.capture: dict[int, object] | None = None  # layer -> its output (unablated pass)
        self.context_sums: torch.Tensor | None = None  # [layers, width] (head_means pass)
        self.context_tokens = 0
        self.on_context = None  # an observer: called with (layer, context [R, T, width]) as the projection gets it

    # -- hooks -----------------------------------------------------------------------------

    def _count(self, module, args) -> None:
        self.call += 1
        if self.call >= self.num_layers:
            raise ModelError(f"the model ran more layers than its config declares ({self.num_layers}).")

    def _after_layer(self, module, args, output) -> None:
        if self.capture is not None:
            self.capture[self.call] = output

    def _value(self, module, args, output) -> None:
        if self.mode == "uniform" and self.masks is not None and bool(self.masks[self.call].any()):
            self.value_out = output

    def _context(self, module, args):
        ctx = args[0]
        if self.context_sums is not None:  # the head_means pass: sum of each context over real tokens
            w = self.valid.to(ctx.dtype)
            self.context_sums[self.call] += torch.einsum("btw,bt->w", ctx, w).to(self.context_sums.dtype)
        if self.masks is None or not bool(self.masks[self.call].any()):
            self._observe(ctx)
            return None
        new = self._ablate(ctx, self.masks[self.call])
        self._observe(new)
        return (new, *args[1:])

    def _observe(self, ctx: torch.Tensor) -> None:
        if self.on_context is not None:
            self.on_context(self.call, ctx)

    def _ablate(self, ctx: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ctx [K * B, T, H * D] -> the same with the heads of ``mask`` [K, H] replaced per copy."""
        k, h, d = mask.shape[0], self.num_heads, self.head_dim
        b, t = self.valid.shape
        view = ctx.view(k, b, t, h, d)
        if self.mode == "zero":
            repl = torch.zeros((), dtype=ctx.dtype, device=ctx.device)
        elif self.mode == "mean":
            repl = self.means[self.call].to(ctx.dtype)  # [H, D]
        else:  # uniform attention over the non-padding keys: every query gets the mean value vector
            w = self.valid.to(ctx.dtype)
            w = w / w.sum(-1, keepdim=True)
            values = self.value_out.view(k, b, t, h, d)
            repl = torch.einsum("kbthd,bt->kbhd", values, w)[:, :, None]  # [K, B, 1, H, D]
        return torch.where(mask[:, None, None, :, None], repl, view).reshape(ctx.shape)

    @contextmanager
    def attached(self) -> Iterator[AblationHooks]:
        handles = []
        try:
            for m in self.layers:
                handles.append(m.register_forward_pre_hook(self._count))
                handles.append(m.register_forward_hook(self._after_layer))
            for m in self.values:
                handles.append(m.register_forward_hook(self._value))
            for m in self.outputs:
                handles.append(m.register_forward_pre_hook(self._context))
            yield self
        finally:
            for handle in handles:
                handle.remove()

    @contextmanager
    def _replaying(self, upto: int, output) -> Iterator[None]:
        """Layers called before ``upto`` return ``output`` (the input of layer ``upto``) unrun."""
        if upto <= 0:
            yield
            return
        for m in self.layers:
            original = m.forward

            def stub(*args, _original=original, **kwargs):
                return output if self.call < upto else _original(*args, **kwargs)

            m.forward = stub
        try:
            yield
        finally:
            for m in self.layers:
                del m.forward

    # -- passes ----------------------------------------------------------------------------

    def _forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        self.call = -1
        try:
            logits = self.model(**inputs).logits
        finally:
            self.value_out = None
        if self.call != self.num_layers - 1:
            raise ModelError(f"the model ran {self.call + 1} attention layers, expected {self.num_layers}.")
        return logits

    def unablated(self, inputs: dict[str, torch.Tensor], keep_layers: bool = True) -> tuple[torch.Tensor, dict]:
        """Logits of the plain model and, when asked, every layer's output (for replays)."""
        self.masks, self.valid = None, inputs["attention_mask"].bool()
        self.capture = {} if keep_layers else None
        try:
            return self._forward(inputs), self.capture or {}
        finally:
            self.capture = None

    def ablated(self, inputs: dict[str, torch.Tensor], masks: torch.Tensor, layer_outputs: dict) -> torch.Tensor:
        """Logits [K * B, classes] of K copies of the batch, copy k without the heads masks[:, k]."""
        k = masks.shape[1]
        first = int(torch.nonzero(masks.any(dim=(1, 2)))[0, 0]) if bool(masks.any()) else 0
        stacked = {name: repeat_batch(x, k) for name, x in inputs.items()}
        self.masks, self.valid = masks.to(inputs["input_ids"].device), inputs["attention_mask"].bool()
        try:
            replay = repeat_batch(layer_outputs[first - 1], k) if first > 0 and layer_outputs else None
            with self._replaying(first if replay is not None else 0, replay):
                return self._forward(stacked)
        finally:
            self.masks = None

    def head_means(self, batches) -> torch.Tensor:
        """[layers, heads, head_dim]: each head's context averaged over every non-padding token."""
        width = self.num_heads * self.head_dim
        self.context_sums = torch.zeros(self.num_layers, width, dtype=torch.float64,
                                        device=next(self.model.parameters()).device)
        self.context_tokens = 0
        try:
            for inputs in batches:
                self.masks, self.valid = None, inputs["attention_mask"].bool()
                self._forward(inputs)
                self.context_tokens += int(self.valid.sum())
            if not self.context_tokens:
                raise ModelError("no token to average the heads' outputs over.")
            return (self.context_sums / self.context_tokens).view(self.num_layers, self.num_heads, self.head_dim)
        finally:
            self.context_sums = None
