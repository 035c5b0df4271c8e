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

from ..lazy import torch  # imported on first use: the names register without torch (headlens.lazy)

from ..align.encode import CLS, SEP
from .fused import Memoised, query_mean

if TYPE_CHECKING:
    from .arcs import Arcs

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

    query_mean = staticmethod(query_mean)  # [B, H, Q], bool [B, Q] -> [B, H]; NaN without queries

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
