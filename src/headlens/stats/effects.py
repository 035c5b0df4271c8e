"""Effect sizes, vectorised over columns (axis 0); NaN entries are missing and dropped per column.

All functions accept a 1-D array (returns a float) or a 2-D array [n, k] (returns k values).
They return NaN where the effect is undefined (e.g. zero standard deviation); the test functions
in :mod:`headlens.stats.tests` replace those cases by the documented zero-variance rule.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

ZERO_METHODS = ("wilcox", "pratt", "zsplit")


def _as_float(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _out(v: np.ndarray, ndim: int):
    return float(v) if ndim == 1 else v


def cohens_d(x, popmean: float = 0.0):
    """One-sample Cohen's d: ``(mean - popmean) / sd`` with the ddof=1 standard deviation.

    NaN where sd == 0 or fewer than 2 non-missing values.
    """
    x = _as_float(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.sum(~np.isnan(x), axis=0)
        mean = np.nansum(x, axis=0) / n
        sd = np.sqrt(np.nansum((x - mean) ** 2, axis=0) / (n - 1))
        d = np.where((sd > 0) & (n >= 2), (mean - popmean) / np.where(sd > 0, sd, 1.0), np.nan)
    return _out(np.asarray(d, dtype=np.float64), x.ndim)


def cohens_dz(x, y):
    """Paired Cohen's d_z: Cohen's d of the differences ``x - y`` (pairs with a NaN dropped)."""
    return cohens_d(_as_float(x) - _as_float(y), 0.0)


def rank_biserial(x, popmean: float = 0.0, zero_method: str = "wilcox"):
    """Matched-pairs rank-biserial correlation of ``d = x - popmean`` (Kerby 2014).

    ``r = (T+ - T-) / S`` where T+/T- are the sums of the ranks of |d| over positive/negative d
    and S is the sum of all ranks used. ``zero_method`` follows ``scipy.stats.wilcoxon``:
    "wilcox" drops zero differences before ranking; "pratt" ranks them, then gives their ranks
    to neither T+ nor T- (they stay in S); "zsplit" splits their ranks equally between T+ and T-.
    In [-1, 1]; NaN when no difference is usable (e.g. all zero with "wilcox").
    """
    if zero_method not in ZERO_METHODS:
        raise ValueError(f"zero_method must be one of {ZERO_METHODS}, got {zero_method!r}")
    d = _as_float(x) - popmean
    a = np.abs(d)
    if zero_method == "wilcox":
        a = np.where(d == 0, np.nan, a)
    r = stats.rankdata(a, axis=0, nan_policy="omit") if a.size else a
    r = np.nan_to_num(r, nan=0.0)
    t_plus = np.sum(r * (d > 0), axis=0)
    t_minus = np.sum(r * (d < 0), axis=0)
    total = np.sum(r, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, (t_plus - t_minus) / np.where(total > 0, total, 1.0), np.nan)
    return _out(np.asarray(out, dtype=np.float64), d.ndim)


def sign_effect(x, popmean: float = 0.0):
    """Sign-test effect ``(pos - neg) / (pos + neg)`` of ``d = x - popmean``; zeros and NaN dropped.

    NaN when every difference is zero.
    """
    d = _as_float(x) - popmean
    pos = np.sum(d > 0, axis=0)
    neg = np.sum(d < 0, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(pos + neg > 0, (pos - neg) / np.maximum(pos + neg, 1), np.nan)
    return _out(np.asarray(out, dtype=np.float64), d.ndim)
