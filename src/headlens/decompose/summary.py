"""Per-sentence reductions of a layer's decomposition, on the device: token groups, rank correlation, pair types.

- Token groups: ``all``, ``word`` (a token of a non-punctuation word), ``punct``, ``cls``, ``sep``
  (the special tokens by position kind; RoBERTa's ``<s>``/``</s>`` count as cls/sep).
- Contextualization change by a component: ``1 - Spearman rho`` between the flattened maps
  before and after it, over every (query, source) pair of the sentence, diagonal included
  (ordinal ranks: exact ties have probability ~0 for norm maps).
- Pair types (query i != source j): ``special`` (either is not a word token), ``subword`` (two
  sub-tokens of one word), ``entity`` (tokens of two words of one named entity: consecutive
  words with the same non-empty ``Word.entity`` label, gold or spaCy), ``adjacent`` (neighbouring
  words), ``other``.
- FF amplification of a pair: ``log2`` of the source's share of the query's row in ATBFF over
  its share in ATB (each row normalised over the sentence's tokens): > 0 when the feed-forward
  block gives that source more of the query's update than the attention block's map did.
"""

from __future__ import annotations

import numpy as np
import torch

from ..align.encode import CLS, SEP, WORD
from .names import PAIR_TYPES, TOKEN_GROUPS


def token_groups(batch) -> torch.Tensor:
    """bool [G, B, T] in the order of ``TOKEN_GROUPS``."""
    kinds, valid, punct = batch.token_kinds, batch.token_valid, batch.token_punct
    word = valid & (kinds == WORD)
    return torch.stack([valid, word & ~punct, word & punct, valid & (kinds == CLS), valid & (kinds == SEP)])


def group_means(values: torch.Tensor, groups: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``values [..., B, X, T]`` averaged over each group's tokens: (means [..., B, X, G], counts [B, G]); NaN for an
    empty group. ``groups``: bool [G, B, T] (``token_groups``)."""
    g = groups.to(values.dtype).permute(1, 2, 0)  # [B, T, G]
    counts = g.sum(1)  # [B, G]
    return (values @ g) / counts[:, None, :], counts


def pair_mask(valid: torch.Tensor) -> torch.Tensor:
    """bool [B, T*T]: (query, source) pairs of valid tokens, flattened."""
    return (valid[:, :, None] & valid[:, None, :]).flatten(1)


def ranks(x: torch.Tensor, pair: torch.Tensor) -> torch.Tensor:
    """Ordinal ranks of a map's valid pairs (x [B, T, T], pair from ``pair_mask``), centred over them (0 elsewhere)."""
    filled = torch.where(pair, x.flatten(1), torch.full_like(x.flatten(1), float("inf")))
    order = filled.argsort(-1)
    out = torch.empty_like(filled)
    out.scatter_(-1, order, torch.arange(filled.shape[-1], device=x.device, dtype=x.dtype).expand_as(filled))
    w = pair.to(x.dtype)
    n = w.sum(-1, keepdim=True)
    return (out - (out * w).sum(-1, keepdim=True) / n) * w


def rank_correlation(ra: torch.Tensor, rb: torch.Tensor) -> torch.Tensor:
    """Spearman rho per sentence from two maps' centred ranks (``ranks``)."""
    return (ra * rb).sum(-1) / torch.sqrt((ra * ra).sum(-1) * (rb * rb).sum(-1))


def spearman(a: torch.Tensor, b: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Spearman rho per sentence between maps ``a``, ``b`` [B, T, T] over pairs of valid tokens."""
    pair = pair_mask(valid)
    return rank_correlation(ranks(a, pair), ranks(b, pair))


def _entity_runs(words) -> np.ndarray:
    """Entity id per word: consecutive words with the same non-empty label share one (-1: none)."""
    labels = np.asarray([w.entity or "" for w in words], dtype=object)
    if not labels.any():
        return np.full(len(words), -1, dtype=np.int64)
    named = labels != ""
    new = named & np.r_[True, labels[1:] != labels[:-1]]
    return np.where(named, np.cumsum(new) - 1, -1)


def pair_types(items, t: int) -> np.ndarray:
    """int8 [B, T, T]: index into ``PAIR_TYPES``; -1 on the diagonal and for padding."""
    word = np.full((len(items), t), -1, dtype=np.int64)  # the token's word (-1: special, padding, no word)
    went = np.full((len(items), t), -1, dtype=np.int64)  # the token's entity run (-1: none)
    for b, e in enumerate(items):
        n = e.n_tokens
        has = (e.token_unit >= 0) & (e.kinds == WORD)
        w = np.where(has, e.unit_word[np.maximum(e.token_unit, 0)], -1)
        word[b, :n] = w
        ent = _entity_runs(e.sentence.words or ())
        if (ent >= 0).any():
            went[b, :n] = np.where(w >= 0, ent[np.maximum(w, 0)], -1)
    has = word >= 0
    wi, wj = word[:, :, None], word[:, None, :]
    types = np.full((len(items), t, t), PAIR_TYPES.index("other"), dtype=np.int8)
    types[np.abs(wi - wj) == 1] = PAIR_TYPES.index("adjacent")
    types[(went[:, :, None] == went[:, None, :]) & (went[:, :, None] >= 0) & (wi != wj)] = PAIR_TYPES.index("entity")
    types[wi == wj] = PAIR_TYPES.index("subword")
    types[~(has[:, :, None] & has[:, None, :])] = PAIR_TYPES.index("special")
    n = np.asarray([e.n_tokens for e in items])
    inside = np.arange(t)[None, :] < n[:, None]
    types[~(inside[:, :, None] & inside[:, None, :])] = -1
    types[:, np.arange(t), np.arange(t)] = -1
    return types


def amplification(before: torch.Tensor, after: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """log2(share in ``after`` / share in ``before``) per pair [B, T, T]; NaN where undefined."""
    m = (valid[:, :, None] & valid[:, None, :]).to(before.dtype)
    sb = before * m / (before * m).sum(-1, keepdim=True)
    sa = after * m / (after * m).sum(-1, keepdim=True)
    ok = (sb > 0) & (sa > 0)
    return torch.where(ok, torch.log2(torch.where(ok, sa / torch.where(ok, sb, torch.ones_like(sb)), torch.ones_like(sa))),
                       torch.full_like(sa, float("nan")))


def typed_means(amp: torch.Tensor, types: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean amplification per pair type: (means [B, P], counts [B, P])."""
    kinds = torch.arange(len(PAIR_TYPES), device=amp.device, dtype=types.dtype)
    sel = (types.flatten(1)[:, :, None] == kinds) & ~torch.isnan(amp).flatten(1)[:, :, None]  # [B, T*T, P]
    w = sel.to(amp.dtype)
    counts = w.sum(1)
    sums = (torch.nan_to_num(amp).flatten(1)[:, None, :] @ w)[:, 0]  # [B, P]
    return torch.where(counts > 0, sums / counts.clamp_min(1), torch.full_like(sums, float("nan"))), counts
