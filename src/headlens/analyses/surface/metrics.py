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

``--replicate clark2019`` (SurfaceOptions) swaps in the definitions of Clark et al.'s code
(attention-analysis, General_Analysis.ipynb, the cells "Computing Average Attention to Particular
Tokens/Positions" and "Computing Attention Head Entropies"): every metric is a sum over the
sentence's N units divided by N (prev and next too: the first / last unit adds 0), punctuation
is the tokens "." and "," only, sep_sep is the [SEP] -> [SEP] mass divided by 2 (the code's
hard-coded two [SEP]s), and the entropies are smoothed (alpha <- 0.9999 alpha + 0.0001 / N).
These run on full rows (no fused form). docs/fidelity.md lists every difference.
"""

from __future__ import annotations

from ...lazy import torch  # imported on first use: the names register without torch (headlens.lazy)

from ...align.encode import CLS, SEP
from ...metrics.fused import Need, Rows
from ...metrics.registry import Metric, MetricSet
from ...metrics.view import SMOOTHING, AttentionView


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

METRICS = MetricSet("surface")
ROW_METRICS = MetricSet(FULL_ROWS)
for _name, (_fn, _desc, _token, _word) in SURFACE.items():
    METRICS.add(Metric(_name, "token", _desc + " (token level)", _fn, "surface", need=_token))
    _fused_word = isinstance(_word, Need)  # else full rows (Rows): the analysis surface_rows
    (METRICS if _fused_word else ROW_METRICS).add(Metric("word_" + _name, "word", _desc + " (word level, Clark aggregation)",
                                                        _fn, "surface" if _fused_word else FULL_ROWS, need=_word))


# --- Clark et al.'s code (--replicate clark2019): sums over the N units, divided by N -------------

def _over_n(v: AttentionView, per_query: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """sum over ``queries`` of ``per_query`` [B, H, Q] / N: the notebook's ``.sum(-1).sum(-1) / denom``."""
    return (per_query * queries.to(per_query.dtype)[:, None, :]).sum(-1) / v.n[:, None]


def _dot_comma_mass(v: AttentionView) -> torch.Tensor:
    """[B, H, N]: each query's attention to the units "." and "," (the notebook's ``puncts``)."""
    if v.dot_comma is None:
        raise ValueError("this view has no '.'/',' mask: the batch was built without it")

    def compute():
        b, h, n, _ = v.attn.shape
        keys = (v.dot_comma & v.valid).to(v.attn.dtype)[:, :, None]
        return torch.bmm(v.attn.reshape(b, h * n, n), keys).view(b, h, n)

    return v._memo("clark_dot_comma", compute)


def _smoothed_entropy(v: AttentionView) -> torch.Tensor:
    """[B, H, N]: entropy in nats of alpha <- (1 - s) alpha + s / N over the N valid keys, s = 1e-4."""

    def compute():
        keys = v.valid.to(v.attn.dtype)[:, None, None, :]
        p = (1.0 - SMOOTHING) * v.attn + (SMOOTHING / v.n)[:, None, None, None] * keys
        return torch.special.entr(p).sum(-1)

    return v._memo("clark_entropy", compute)


def _clark_cls(v: AttentionView) -> torch.Tensor:
    return _over_n(v, v.column_mass()[..., 0], v.valid)


def _clark_sep(v: AttentionView) -> torch.Tensor:
    return _over_n(v, v.column_mass()[..., 1], v.valid)


def _clark_punct(v: AttentionView) -> torch.Tensor:
    return _over_n(v, _dot_comma_mass(v), v.valid)


def _clark_self(v: AttentionView) -> torch.Tensor:
    return _over_n(v, torch.diagonal(v.attn, dim1=-2, dim2=-1), v.valid)


def _clark_prev(v: AttentionView) -> torch.Tensor:  # the notebook's "left", np.eye(n, n, -1)
    return _over_n(v, torch.diagonal(v.attn, offset=-1, dim1=-2, dim2=-1), v.valid[:, 1:])


def _clark_next(v: AttentionView) -> torch.Tensor:  # the notebook's "right", np.eye(n, n, 1)
    return _over_n(v, torch.diagonal(v.attn, offset=1, dim1=-2, dim2=-1), v.valid[:, 1:])


def _clark_sep_sep(v: AttentionView) -> torch.Tensor:
    """[SEP] -> [SEP] mass summed over the [SEP] queries, divided by 2 whatever their number
    (the notebook's ``denom = 2``); NaN for a sentence without [SEP]."""
    seps = v.valid & (v.kinds == SEP)
    out = (v.column_mass()[..., 1] * seps.to(v.attn.dtype)[:, None, :]).sum(-1) / 2.0
    return out.masked_fill(~seps.any(-1)[:, None], float("nan"))


def _clark_entropy(v: AttentionView) -> torch.Tensor:
    return _over_n(v, _smoothed_entropy(v), v.valid)


def _clark_cls_entropy(v: AttentionView) -> torch.Tensor:  # the notebook's entropies_cls: row 0, smoothed
    return v.query_mean(_smoothed_entropy(v), v.valid & (v.kinds == CLS))


CLARK = {
    "cls": _clark_cls, "sep": _clark_sep, "punct": _clark_punct, "self": _clark_self, "prev": _clark_prev,
    "next": _clark_next, "sep_sep": _clark_sep_sep, "entropy": _clark_entropy, "cls_entropy": _clark_cls_entropy,
}
CLARK_NOTE = " (Clark et al.'s code: --replicate clark2019)"


def _clark_metric(metric: Metric) -> Metric:
    base = metric.name.removeprefix("word_")
    return Metric(metric.name, metric.level, metric.description + CLARK_NOTE, CLARK[base], metric.analysis)


def surface_metric_names(options=None) -> list:
    """The metrics of ``--analyses surface`` with ``options`` (a SurfaceOptions; None: defaults):
    their names, or under ``replicate="clark2019"`` Metric objects with Clark et al.'s definitions
    under the same names (full rows)."""
    if options is None or options.replicate == "none":
        return list(METRICS.metrics)
    return [_clark_metric(m) for m in METRICS.metrics.values()]


METRICS.expand_with(surface_metric_names)
