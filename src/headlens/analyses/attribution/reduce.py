"""Per-sentence reductions of a batch's rolled-out attribution matrices, on the device, right after each layer.

For one method and layer, ``M`` [B, T, T] (output token i, input token j; valid rows sum to 1) gives, per
sentence (NaN where a sentence has no query of the kind):

token level
- ``self``: the mean over tokens of ``M_ii`` (the context share is 1 - self);
- ``special``, ``punct``: the mean over the tokens of non-punctuation words of the mass on [CLS]/[SEP] (every
  special token) and on punctuation tokens;

word level, ``W = R M C`` with the run's word aggregation (``metrics.view.aggregate``; clark: rows still sum to 1),
the queries being the non-punctuation words
- ``content``, ``function``: the mass on the other content (function) words, Jang et al.'s categories
  (``analyses.categories``' default map);
- ``head``: the mass on the word's gold syntactic head (words whose head is a non-punctuation word);
- ``deps``: the mass on its gold dependents (words that have some; punctuation dependents left out);
- ``other``: the mass on every other non-punctuation word (neither itself, its head nor a dependent);
- ``distance``: the mean distance in words to the other words, weighted by their mass.

``agreement``: per sentence, the mean over tokens of the Spearman correlation between two methods' rows (mid-ranks
over the sentence's tokens; a constant row has none and is left out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...align.encode import WORD
from ...lazy import torch
from ...metrics.arcs import item_arcs
from ...metrics.view import aggregate
from ..categories.metrics import DEFAULT_MAP, _lookup

STATS = ("self", "special", "punct", "content", "function", "head", "deps", "other", "distance")


def masked_mean(x, mask):
    """Mean of ``x`` [..., N] over ``mask``; NaN where the mask is empty."""
    m = mask.to(x.dtype)
    return (x * m).sum(-1) / m.sum(-1)


@dataclass
class Masks:
    """What the reductions read of one batch, built once before its forward pass."""

    valid: torch.Tensor  # bool [B, T]
    word_tokens: torch.Tensor  # bool [B, T]: tokens of non-punctuation words
    special: torch.Tensor  # bool [B, T]
    punct: torch.Tensor  # bool [B, T]
    rows: torch.Tensor  # [B, U, T] the word aggregation's rows and columns
    cols: torch.Tensor  # [B, T, U]
    words: torch.Tensor  # bool [B, U]: non-punctuation word units
    content: torch.Tensor  # bool [B, U]
    function: torch.Tensor  # bool [B, U]
    head: torch.Tensor  # bool [B, U, U]: [q, j] = j is q's gold head
    distance: torch.Tensor  # [B, U, U]: |word index of q - word index of j|

    @classmethod
    def build(cls, batch, words) -> Masks:
        """``words``: a batch of the same items with the word aggregation (``batch`` itself when it has one)."""
        valid, kinds = batch.token_valid, batch.token_kinds
        word = valid & (kinds == WORD)
        units = words.unit_valid & (words.unit_kinds == WORD)
        cat = _lookup(DEFAULT_MAP).to(units.device)[words.unit_upos.long() + 1]
        b, u = units.shape
        head = np.zeros((b, u, u), dtype=bool)
        index = np.zeros((b, u), dtype=np.float64)
        for k, e in enumerate(batch.items):
            for dep, hd, _ in item_arcs(e):
                head[k, dep, hd] = True
            index[k, :e.n_units] = e.unit_word
        to = lambda a: torch.from_numpy(a).to(units.device)  # noqa: E731
        pos = to(index).to(words.row_agg.dtype)
        return cls(valid, word & ~batch.token_punct, valid & (kinds != WORD), word & batch.token_punct, words.row_agg,
                   words.col_agg, units & ~words.unit_punct, cat == 0, cat == 1, to(head),
                   (pos[:, :, None] - pos[:, None, :]).abs())


def statistics(m, masks: Masks) -> dict:
    """The per-sentence statistics (``STATS``) of rolled-out matrices: m [B, T, T] -> name -> [B], or, several
    methods at once (one set of tensor ops for all of them), m [B, K, T, T] -> name -> [B, K]."""
    if m.dim() == 3:
        return {name: v[:, 0] for name, v in statistics(m.unsqueeze(1), masks).items()}
    per = lambda mask: mask.unsqueeze(1)  # noqa: E731 - [B, N] masks over the methods' dimension
    out = {"self": masked_mean(m.diagonal(dim1=-2, dim2=-1), per(masks.valid))}
    for name, to in (("special", masks.special), ("punct", masks.punct)):
        out[name] = masked_mean((m * to[:, None, None, :]).sum(-1), per(masks.word_tokens))
    w = aggregate(m, masks.rows.to(m.dtype), masks.cols.to(m.dtype))  # [B, K, U, U]
    words = masks.words
    eye = torch.eye(w.shape[-1], dtype=torch.bool, device=w.device)
    others = words[:, None, :] & ~eye  # [B, U, U]: the other non-punctuation words of each query
    mass = lambda sel: (w * sel.unsqueeze(1)).sum(-1)  # noqa: E731
    out["content"] = masked_mean(mass(others & masks.content[:, None, :]), per(words))
    out["function"] = masked_mean(mass(others & masks.function[:, None, :]), per(words))
    head = masks.head & words[:, None, :] & words[:, :, None]  # arcs between non-punctuation words
    deps = head.transpose(1, 2)
    out["head"] = masked_mean(mass(head), per(words & head.any(-1)))
    out["deps"] = masked_mean(mass(deps), per(words & deps.any(-1)))
    out["other"] = masked_mean(mass(others & ~head & ~deps), per(words))
    ctx = w * others.unsqueeze(1)
    total = ctx.sum(-1)
    out["distance"] = masked_mean((ctx * masks.distance.unsqueeze(1)).sum(-1) / total, per(words) & (total > 0))
    return out


def midranks(x, valid):
    """Mid-ranks (ties averaged) of each row of x [B, T, T] over the valid columns, centred over them; 0 elsewhere.
    By one sort per row and two binary searches: the entries below each one and those equal to it."""
    filled = torch.where(valid[:, None, :], x, torch.full_like(x, float("inf")))  # padding sorts last, counts never
    ordered = filled.sort(-1).values.contiguous()
    below = torch.searchsorted(ordered, filled.contiguous(), right=False).to(x.dtype)
    upto = torch.searchsorted(ordered, filled.contiguous(), right=True).to(x.dtype)
    r = below + 0.5 * (upto - below - 1)
    w = valid[:, None, :].to(x.dtype)
    return (r - (r * w).sum(-1, keepdim=True) / w.sum(-1, keepdim=True)) * w


def agreement(ra, rb, valid):
    """Per sentence [B]: the mean over valid rows of Spearman rho between two methods' rows (their ``midranks``)."""
    rho = (ra * rb).sum(-1) / torch.sqrt((ra * ra).sum(-1) * (rb * rb).sum(-1))
    return masked_mean(torch.nan_to_num(rho, nan=0.0), valid & ~torch.isnan(rho))
