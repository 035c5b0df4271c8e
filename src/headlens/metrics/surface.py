"""Surface patterns of Clark et al. (2019), at token level and at word level.

Per sentence and head (means over the queries that have the pattern defined):
``cls``/``sep``/``punct`` attention to [CLS], to any [SEP], to punctuation; ``self``,
``prev``, ``next`` attention to the query itself, the unit before, the unit after (the
original plotting code swaps prev and next; this does not); ``sep_sep`` attention from [SEP]
queries to [SEP]s; ``entropy`` the row entropy in nats (exact Shannon entropy; Clark et al.'s
code first smooths alpha <- 0.9999 alpha + 0.0001 / n, which moves it by up to about 1e-3 nats);
``cls_entropy`` the entropy of the [CLS] row.
Word-level variants (``word_*``) use word attention: to a word = sum over its sub-tokens,
from a word = mean over its sub-tokens (Clark aggregation by default; special tokens are units
of their own).
"""

from __future__ import annotations

from ..lazy import torch  # imported on first use: the names register without torch (headlens.lazy)

from ..align.encode import CLS, SEP
from .fused import Need, Rows
from .registry import Metric, register
from .view import AttentionView


def _cls(v: AttentionView) -> torch.Tensor:
    return v.query_mean(v.column_mass()[..., 0], v.valid)


def _sep(v: AttentionView) -> torch.Tensor:
    return v.query_mean(v.column_mass()[..., 1], v.valid)


def _punct(v: AttentionView) -> torch.Tensor:
    return v.query_mean(v.column_mass()[..., 2], v.valid)


def _sep_sep(v: AttentionView) -> torch.Tensor:
    return v.query_mean(v.column_mass()[..., 1], v.valid & (v.kinds == SEP))


def _self(v: AttentionView) -> torch.Tensor:
    return v.query_mean(torch.diagonal(v.attn, dim1=-2, dim2=-1), v.valid)


def _prev(v: AttentionView) -> torch.Tensor:
    # entry i of the -1 diagonal is alpha[i + 1, i]: query i + 1 attending to its previous unit
    return v.query_mean(torch.diagonal(v.attn, offset=-1, dim1=-2, dim2=-1), v.valid[:, 1:])


def _next(v: AttentionView) -> torch.Tensor:
    # entry i of the +1 diagonal is alpha[i, i + 1]; defined when unit i + 1 exists
    return v.query_mean(torch.diagonal(v.attn, offset=1, dim1=-2, dim2=-1), v.valid[:, 1:])


def _entropy(v: AttentionView) -> torch.Tensor:
    return v.query_mean(v.row_entropy(), v.valid)


def _cls_entropy(v: AttentionView) -> torch.Tensor:
    return v.query_mean(v.row_entropy(), v.valid & (v.kinds == CLS))


SURFACE = {  # name: (full-row function, description, token-level Need, word-level Need)
    "cls": (_cls, "attention to [CLS]", Need("mass", "cls"), Need("mass", "cls")),
    "sep": (_sep, "attention to [SEP] tokens", Need("mass", "sep"), Need("mass", "sep")),
    "punct": (_punct, "attention to punctuation", Need("mass", "punct"), Need("mass", "punct")),
    "self": (_self, "attention to the query itself", Need("pair", 0), Need("pair", 0)),
    "prev": (_prev, "attention to the previous unit", Need("pair", -1, "has_prev"), Need("pair", -1, "has_prev")),
    "next": (_next, "attention to the next unit", Need("pair", 1, "has_next"), Need("pair", 1, "has_next")),
    "sep_sep": (_sep_sep, "attention from [SEP] to [SEP] tokens", Need("mass", "sep", "sep"), Need("mass", "sep", "sep")),
    # word-level entropy is the entropy of the aggregated word row: full rows
    "entropy": (_entropy, "row entropy in nats, mean over queries", Need("entropy"), Rows(("row_entropy",))),
    "cls_entropy": (_cls_entropy, "entropy in nats of the [CLS] row", Need("entropy", queries="cls"), Rows(("row_entropy",))),
}

# The word-level entropies read full rows (the entropy of an aggregated word row has no fused
# form), so they form an analysis of their own that a run names when it wants them
# (``--analyses surface,surface_rows``); every metric of "surface" runs without the T x T map.
FULL_ROWS = "surface_rows"

for _name, (_fn, _desc, _token, _word) in SURFACE.items():
    register(Metric(_name, "token", _desc + " (token level)", _fn, "surface", need=_token))
    register(Metric("word_" + _name, "word", _desc + " (word level, Clark aggregation)", _fn,
                    "surface" if isinstance(_word, Need) else FULL_ROWS, need=_word))
