"""What a metric sees: one layer's attention for a whole batch, with the masks it needs.

The same view type serves token-level attention and word-level attention (units = special
tokens and words, aggregated from tokens), so every surface metric is written once and has a
``word_`` variant for free. Units of a sentence are contiguous from position 0; padding is
at the end and masked by ``valid``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from ..lazy import torch  # imported on first use: the names register without torch (headlens.lazy)

from ..align.encode import CLS, SEP, WORD
from .arcs import unit_tokens
from .fused import Memoised

if TYPE_CHECKING:
    from .arcs import Arcs

ROW_BLOCK = 64  # query rows per block of full rows (B x H x 64 x T floats: 25 MiB for B = 16, H = 12, T = 512)
SMOOTHING = 1e-4  # Clark et al.'s code: alpha <- (1 - s) alpha + s / n before the entropy (``smoothing``)


@dataclass
class AttentionView(Memoised):
    attn: torch.Tensor  # [B, H, N, N], rows sum to 1 over valid keys
    valid: torch.Tensor  # bool [B, N]
    kinds: torch.Tensor  # int8 [B, N]: WORD, CLS, SEP, OTHER_SPECIAL
    punct: torch.Tensor  # bool [B, N]
    segment: torch.Tensor | None = None  # int8 [B, N]: 0 / 1 (second text of a pair), -1 specials and padding
    arcs: Arcs | None = None  # dependency arcs between word units (token views of syntactic metrics)
    # word attention [B, H, U, U] averaged over the sub-tokens on both sides once its keys are
    # multiplied by ``word_key_scale`` [B, U] (None: 1); see ``mean_word_attention``
    word_mean: Callable[[], torch.Tensor] | None = None
    word_key_scale: torch.Tensor | None = None
    upos: torch.Tensor | None = None  # int8 [B, N] of word views: UPOS code (metrics.categories.UPOS), -1 none
    negation: torch.Tensor | None = None  # bool [B, N] of word views: a negation word (metrics.features)
    dot_comma: torch.Tensor | None = None  # bool [B, N]: the unit is "." or "," (Clark et al.'s punctuation)
    # entropy smoothing: 0 (default) is the exact Shannon entropy, which the fused path computes
    # from the log-sum-exp; SMOOTHING reproduces Clark et al.'s code (docs/performance.md)
    smoothing: float = 0.0
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def dtype(self) -> torch.dtype:
        return self.attn.dtype

    def column_mass(self) -> torch.Tensor:
        """[B, H, N, 3]: each query's attention to [CLS], to [SEP]s and to punctuation."""

        def compute():
            cols = torch.stack([self.kinds == CLS, self.kinds == SEP, self.punct & self.valid], dim=-1)
            b, h, n, _ = self.attn.shape  # one bmm [B, H*N, N] @ [B, N, 3]: no per-head copies of cols
            return torch.bmm(self.attn.reshape(b, h * n, n), cols.to(self.attn.dtype)).view(b, h, n, 3)

        return self._memo("column_mass", compute)

    def row_entropy(self) -> torch.Tensor:
        """[B, H, N]: entropy in nats of each query's attention over the valid keys (smoothed
        first when ``smoothing`` > 0)."""

        def compute():
            if not self.smoothing:  # -p log p (entr(0) = 0; padded keys have attention exactly 0)
                return torch.special.entr(self.attn).sum(-1)
            # two passes over [B, H, N, N]: smoothing, then -p log p in place. Padded keys have
            # attention exactly 0 (masked softmax) and eps 0, so they add nothing.
            keys = self.valid.to(self.attn.dtype)[:, None, None, :]
            eps = (self.smoothing / self.n)[:, None, None, None] * keys
            p = torch.add(eps, self.attn, alpha=1.0 - self.smoothing)
            return torch.special.entr(p, out=p).sum(-1)

        return self._memo("row_entropy", compute)

    def mean_word_attention(self) -> torch.Tensor:
        """[B, H, U, U]: word-to-word attention, mean over the query's sub-tokens of the mean over
        the key's sub-tokens (Pande et al.): uniform token attention 1/N gives 1/N here too."""
        words = self._word_mean()
        if self.word_key_scale is None:
            return words
        return self._memo("mean_word_attention", lambda: words * self.word_key_scale[:, None, None, :])

    def arc_attention(self, direction: str) -> torch.Tensor:
        """[B, H, K]: ``mean_word_attention`` along each of the batch's arcs, from the dependent
        to its head (``d2h``) or from the head to the dependent (``h2d``); read from the unscaled
        word attention at the arcs only, so the scaled [B, H, U, U] matrix is never formed."""
        if self.arcs is None:
            raise ValueError("this view has no dependency arcs: the batch was built without relations")

        def compute():
            words = self._word_mean()
            b, h, u, _ = words.shape
            query, key = (self.arcs.dep, self.arcs.head) if direction == "d2h" else (self.arcs.head, self.arcs.dep)
            values = words.reshape(b, h, u * u).gather(2, (query * u + key)[:, None, :].expand(b, h, -1))
            if self.word_key_scale is not None:
                values = values * self.word_key_scale.gather(1, key)[:, None, :]
            return values

        return self._memo(("arc_attention", direction), compute)

    def _word_mean(self) -> torch.Tensor:
        if self.word_mean is None:
            raise ValueError("this view has no word aggregation: the batch was built without arcs")
        return self._memo("word_mean", self.word_mean)


def aggregate(attn: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """R @ A @ C per head: attn [B, H, T, T], rows [B, U, T], cols [B, T, U] -> [B, H, U, U].

    Two plain bmm; broadcasting R and C over the heads would copy them H times.
    """
    b, h, t, _ = attn.shape
    u = cols.shape[-1]
    out = torch.bmm(attn.reshape(b, h * t, t), cols)  # [B, H*T, U]
    out = out.view(b, h, t, u).transpose(1, 2).reshape(b, t, h * u)  # [B, T, H*U]
    return torch.bmm(rows, out).view(b, u, h, u).transpose(1, 2).contiguous()


class RowsView(Memoised):
    """What a full-row metric (``Metric.need`` a :class:`~headlens.metrics.fused.Rows`) sees on the
    fused path: the masks of its level and the per-row statistics it declared, computed a block of
    rows at a time by :func:`row_statistics`, under the keys the :class:`AttentionView` memoises them
    by (``row_entropy``, ``("dependency_argmax", direction)``). No map: ``attn`` is absent."""

    def __init__(self, batch, level: str, dtype, stats: dict):
        if level == "token":
            self.valid, self.kinds, self.punct = batch.token_valid, batch.token_kinds, batch.token_punct
            self.segment, self.upos, self.negation = batch.token_segment, None, None
        else:
            self.valid, self.kinds, self.punct = batch.unit_valid, batch.unit_kinds, batch.unit_punct
            self.segment, self.upos, self.negation = None, batch.unit_upos, batch.unit_negation
        self.arcs, self.dtype, self._cache = batch.arcs, dtype, dict(stats)

    def row_entropy(self) -> torch.Tensor:
        return self._cache["row_entropy"]


def row_statistics(blocks, stats, valid: torch.Tensor, kinds: torch.Tensor, arcs, heads: int, dtype) -> dict:
    """The per-row statistics ``stats`` (``metrics.fused.ROW_STATS``) from ``blocks``, an iterable of
    (u0, u1, rows [B, H, u1 - u0, N]) covering units 0..N-1 in order (:func:`level_blocks`),
    as :class:`RowsView` holds them. Equal to the :class:`AttentionView` computation on the whole
    map: the entropy is per row; the d2h argmax is each row's own (the excluded key is the row's unit,
    the dependent); the h2d argmax of a column is the first maximum over the blocks (a later block
    wins only with a strictly larger value, as ``argmax`` takes the first)."""
    b, n = valid.shape
    device = valid.device
    entropy = torch.zeros((b, heads, n), dtype=dtype, device=device) if "row_entropy" in stats else None
    d2h = h2d = None
    words = valid & (kinds == WORD)  # [B, N]: the keys (d2h) and queries (h2d) an argmax may pick
    units = torch.arange(n, device=device)
    if arcs is not None:
        k = arcs.dep.shape[1]
        if "dependency_argmax_d2h" in stats:
            d2h = torch.zeros((b, heads, k), dtype=torch.long, device=device)
        if "dependency_argmax_h2d" in stats:
            h2d = torch.zeros((b, heads, k), dtype=torch.long, device=device)
            best = torch.full((b, heads, k), float("-inf"), dtype=dtype, device=device)
    for u0, u1, rows in blocks:
        if entropy is not None:
            entropy[:, :, u0:u1] = torch.special.entr(rows).sum(-1)
        if d2h is not None:  # argmax of each row over the other words, then read at the arcs' dependents
            keys = words[:, None, None, :] & (units[None, None, u0:u1, None] != units[None, None, None, :])
            top = rows.masked_fill(~keys, float("-inf")).argmax(-1)  # [B, H, u1 - u0]
            inside = (arcs.dep >= u0) & (arcs.dep < u1)
            local = (arcs.dep - u0).clamp(0, u1 - u0 - 1)[:, None, :].expand(-1, heads, -1)
            d2h = torch.where(inside[:, None, :], top.gather(2, local), d2h)
        if h2d is not None:  # the dependents' columns over the block's query units
            cols = rows.gather(3, arcs.dep[:, None, None, :].expand(-1, heads, u1 - u0, -1))  # [B, H, u1 - u0, K]
            queries = words[:, u0:u1, None] & (units[None, u0:u1, None] != arcs.dep[:, None, :])  # [B, u1 - u0, K]
            cols = cols.masked_fill(~queries[:, None], float("-inf"))
            top = cols.argmax(2)  # [B, H, K]
            value = cols.gather(2, top[:, :, None]).squeeze(2)
            better = value > best
            best = torch.where(better, value, best)
            h2d = torch.where(better, top + u0, h2d)
    out = {}
    if entropy is not None:
        out["row_entropy"] = entropy
    if d2h is not None:
        out[("dependency_argmax", "d2h")] = d2h
    if h2d is not None:
        out[("dependency_argmax", "h2d")] = h2d
    return out


def unit_blocks(batch, size: int) -> list[tuple[int, int, torch.Tensor, torch.Tensor]]:
    """The batch's word units in groups of consecutive units whose tokens number at most ``size`` in
    every sentence (a group holds at least one unit): (u0, u1, tokens long [B, n], real bool [B, n])
    with each sentence's tokens of units u0..u1-1 (its own positions, padded with 0); kept in
    ``batch.cache``, built once per batch."""
    key = ("unit_blocks", size)
    if key in batch.cache:
        return batch.cache[key]
    u = batch.unit_valid.shape[1]
    per_item = [unit_tokens(e) for e in batch.items]
    cum = np.zeros((len(per_item), u + 1), dtype=np.int64)  # cum[b, v]: where unit v's tokens start in order
    for b, (_, bounds) in enumerate(per_item):
        cum[b, : len(bounds)] = bounds
        cum[b, len(bounds):] = bounds[-1]
    out, u0 = [], 0
    device = batch.token_valid.device
    while u0 < u:
        widest = (cum[:, u0 + 1:] - cum[:, u0:u0 + 1]).max(0)  # [U - u0], non-decreasing
        u1 = u0 + max(1, int(np.searchsorted(widest, size, side="right")))
        counts = cum[:, u1] - cum[:, u0]
        n = max(1, int(counts.max()))
        tokens = np.zeros((len(per_item), n), dtype=np.int64)
        real = np.arange(n)[None, :] < counts[:, None]
        for b, (order, _) in enumerate(per_item):
            tokens[b, : counts[b]] = order[cum[b, u0]:cum[b, u1]]
        out.append((u0, u1, torch.from_numpy(tokens).to(device), torch.from_numpy(real).to(device)))
        u0 = u1
    batch.cache[key] = out
    return out


def level_blocks(rows, batch, level: str, size: int | None = None):
    """(u0, u1, rows [B, H, u1 - u0, N]) over all units of ``level``, from ``rows`` (a ``runner.rows.Rows``):
    query token rows (``token``) or
    word rows of the batch's word aggregation R @ A @ C (``word``, N = U), each block computed from
    at most about ``size`` token rows (a word's rows are never split; :func:`unit_blocks`)."""
    size = size or ROW_BLOCK
    if level == "token":
        yield from rows.blocks(size)
        return
    b, h, t, _ = rows.shape
    cols = batch.col_agg.to(rows.dtype)  # [B, T, U]
    u = cols.shape[-1]
    for u0, u1, tokens, real in unit_blocks(batch, size):
        p = rows.gather(tokens)  # [B, H, n, T]
        n = tokens.shape[1]
        # R @ (A @ C) in the order of metrics.view.aggregate: A C as one bmm, then the block's R
        ac = torch.bmm(p.reshape(b, h * n, t), cols).view(b, h, n, u).transpose(1, 2).reshape(b, n, h * u)
        r = batch.row_agg[:, u0:u1].to(rows.dtype).gather(2, tokens[:, None, :].expand(b, u1 - u0, n))
        r = r * real[:, None, :]
        yield u0, u1, torch.bmm(r, ac).view(b, u1 - u0, h, u).transpose(1, 2)


def word_map(rows, batch, size: int | None = None) -> torch.Tensor:
    """float32 [B, H, U, U] on the CPU: the batch's word maps, a block of word rows at a time."""
    b, h = rows.shape[:2]
    u = batch.unit_valid.shape[1]
    out = torch.empty((b, h, u, u), dtype=torch.float32)
    for u0, u1, words in level_blocks(rows, batch, "word", size):
        out[:, :, u0:u1] = words.float().cpu()
    return out
