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

TOKEN_GROUPS = ("all", "word", "punct", "cls", "sep")
PAIR_TYPES = ("subword", "entity", "adjacent", "other", "special")


def token_groups(batch) -> torch.Tensor:
    """bool [G, B, T] in the order of ``TOKEN_GROUPS``."""
    kinds, valid, punct = batch.token_kinds, batch.token_valid, batch.token_punct
    word = valid & (kinds == WORD)
    return torch.stack([valid, word & ~punct, word & punct, valid & (kinds == CLS), valid & (kinds == SEP)])


def group_means(values: torch.Tensor, groups: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``values[..., T]`` averaged over each group's tokens: (means [..., G], counts [B, G]); NaN for an empty group."""
    g = groups.to(values.dtype)  # [G, B, T]
    counts = g.sum(-1).T  # [B, G]
    shape = values.shape[1:-1]
    gg = g.reshape(g.shape[0], g.shape[1], *([1] * len(shape)), g.shape[2])
    sums = (values.unsqueeze(0) * gg).sum(-1)  # [G, B, ...]
    means = sums / gg.sum(-1)
    return means.movedim(0, -1), counts


def _ranks(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    filled = torch.where(valid, x, torch.full_like(x, float("inf")))
    order = filled.argsort(-1)
    ranks = torch.empty_like(order)
    ranks.scatter_(-1, order, torch.arange(x.shape[-1], device=x.device).expand_as(order))
    return ranks.to(x.dtype)


def spearman(a: torch.Tensor, b: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Spearman rho per sentence between maps ``a``, ``b`` [B, T, T] over pairs of valid tokens."""
    pair = (valid[:, :, None] & valid[:, None, :]).flatten(1)
    ra, rb = _ranks(a.flatten(1), pair), _ranks(b.flatten(1), pair)
    n = pair.sum(-1, keepdim=True).to(a.dtype)
    w = pair.to(a.dtype)
    ra, rb = (ra - (ra * w).sum(-1, keepdim=True) / n) * w, (rb - (rb * w).sum(-1, keepdim=True) / n) * w
    return (ra * rb).sum(-1) / torch.sqrt((ra * ra).sum(-1) * (rb * rb).sum(-1))


def _entity_runs(words) -> np.ndarray:
    """Entity id per word: consecutive words with the same non-empty label share one (-1: none)."""
    ids, current, prev = np.full(len(words), -1, dtype=np.int64), -1, None
    for k, w in enumerate(words):
        label = w.entity or None
        if label is not None:
            current = current + 1 if label != prev else current
            ids[k] = current
        prev = label
    return ids


def pair_types(items, t: int) -> np.ndarray:
    """int8 [B, T, T]: index into ``PAIR_TYPES``; -1 on the diagonal and for padding."""
    out = np.full((len(items), t, t), -1, dtype=np.int8)
    for b, e in enumerate(items):
        n = e.n_tokens
        has = (e.token_unit >= 0) & (e.kinds == WORD)
        word = np.where(has, e.unit_word[np.maximum(e.token_unit, 0)], -1)
        has &= word >= 0
        ent = _entity_runs(e.sentence.words or ())
        went = np.where(has, ent[np.maximum(word, 0)] if len(ent) else -1, -1)
        wi, wj = word[:, None], word[None, :]
        types = np.full((n, n), PAIR_TYPES.index("other"), dtype=np.int8)
        types[np.abs(wi - wj) == 1] = PAIR_TYPES.index("adjacent")
        types[(went[:, None] == went[None, :]) & (went[:, None] >= 0) & (wi != wj)] = PAIR_TYPES.index("entity")
        types[wi == wj] = PAIR_TYPES.index("subword")
        types[~(has[:, None] & has[None, :])] = PAIR_TYPES.index("special")
        np.fill_diagonal(types, -1)
        out[b, :n, :n] = types
    return out


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
    means, counts = [], []
    for k in range(len(PAIR_TYPES)):
        sel = (types == k) & ~torch.isnan(amp)
        c = sel.flatten(1).sum(-1)
        means.append(torch.where(sel, amp, torch.zeros_like(amp)).flatten(1).sum(-1) / c.clamp_min(1))
        counts.append(c)
    counts_t = torch.stack(counts, -1)
    return torch.where(counts_t > 0, torch.stack(means, -1), torch.full_like(torch.stack(means, -1), float("nan"))), counts_t
