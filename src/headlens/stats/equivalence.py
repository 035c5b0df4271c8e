"""Equivalence (TOST) and the three-way verdict of a change: changed, equivalent or inconclusive.

A *margin* m > 0 is the smallest change worth reporting, in the metric's own units. The two
one-sided tests (Schuirmann 1987) of the mean difference mu of paired values ask whether
``-m < mu < m``: H0 ``mu <= -m`` rejected by a t-test of ``D + m`` ("greater") and H0
``mu >= m`` by a t-test of ``D - m`` ("less"); the TOST p-value is the larger of the two, so a
correction applied to it (as to any p-value) keeps its meaning. Rejecting is the same as the
``1 - 2 alpha`` confidence interval of the mean lying inside ``(-m, m)``.

Missing values (NaN) are dropped per column; fewer than ``min_n`` values: not tested (p NaN).
Zero variance (every difference equals c): p = 0 when ``-m < c < m``, else 1 (the limit of the
t-test p as the variance goes to 0, as in :mod:`headlens.stats`). A margin of 0 never rejects.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

VERDICTS = ("changed", "equivalent", "inconclusive")


def tost_p(D, margin, min_n: int = 10) -> np.ndarray:
    """TOST p-values of ``|mean(D[:, j])| < margin[j]`` for each column of D [n, k] (1-D: one column);
    ``margin``: a scalar or k values (>= 0)."""
    D = np.asarray(D, dtype=np.float64)
    D = D[:, None] if D.ndim == 1 else D
    ok = ~np.isnan(D)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, D, 0.0).sum(axis=0) / n
        sd = np.sqrt(np.where(ok, (D - mean) ** 2, 0.0).sum(axis=0) / (n - 1))
    const = (n >= 1) & (np.where(ok, D, -np.inf).max(axis=0) == np.where(ok, D, np.inf).min(axis=0))
    return tost_p_moments(n, mean, sd, margin, min_n, const)


def tost_p_moments(n, mean, sd, margin, min_n: int = 10, constant=None) -> np.ndarray:
    """:func:`tost_p` from each column's count, mean and sd (ddof 1) of the differences, e.g. merged
    streaming moments; ``constant``: the columns whose differences are all equal (default sd == 0)."""
    n, mean, sd = (np.asarray(x, dtype=np.float64) for x in (n, mean, sd))
    m = np.broadcast_to(np.asarray(margin, dtype=np.float64), n.shape)
    if (m < 0).any() or np.isnan(m).any():
        raise ValueError("equivalence margins must be >= 0 (and not NaN)")
    const = (sd == 0) if constant is None else np.asarray(constant, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = sd / np.sqrt(n)
        dist = stats.t(np.maximum(n - 1, 1))
        p_lower = dist.sf((mean + m) / se)  # H0 mu <= -m
        p_upper = dist.cdf((mean - m) / se)  # H0 mu >= m
    p = np.maximum(p_lower, p_upper)
    p = np.where(const, np.where(np.abs(mean) < m, 0.0, 1.0), p)
    p = np.where(m == 0, 1.0, p)
    return np.where(n >= min_n, p, np.nan)


def bootstrap_tost_p(deltas, margin: float) -> float:
    """Percentile-bootstrap TOST p of ``|delta| < margin`` from the finite resampled ``deltas`` (a
    statistic with no per-item differences, e.g. F1 or MCC): the larger of the two one-sided p,
    ``(#{deltas <= -m} + 1) / (B + 1)`` and ``(#{deltas >= m} + 1) / (B + 1)``; rejecting at alpha
    is the ``1 - 2 alpha`` percentile interval lying inside ``(-m, m)``. A margin of 0 never rejects."""
    deltas = np.asarray(deltas, dtype=np.float64)
    if not margin > 0 or deltas.size == 0:
        return 1.0
    b = deltas.size + 1
    return float(max((np.sum(deltas <= -margin) + 1) / b, (np.sum(deltas >= margin) + 1) / b))


def verdicts(significant, beyond, equivalent) -> np.ndarray:
    """``changed`` where a corrected test of no change rejects and the change exceeds the margin;
    else ``equivalent`` where the corrected TOST rejects; else ``inconclusive``."""
    significant, beyond, equivalent = (np.asarray(x, dtype=bool) for x in (significant, beyond, equivalent))
    changed = significant & beyond
    return np.where(changed, VERDICTS[0], np.where(equivalent, VERDICTS[1], VERDICTS[2])).astype(object)
