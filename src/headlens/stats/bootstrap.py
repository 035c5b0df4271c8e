"""Bootstrap confidence intervals.

Resampling convention (shared by every function here, and identical to
``scipy.stats.bootstrap(..., rng=np.random.default_rng(seed))``): the resampled row indices
are ``rng.integers(0, n, (n_boot, n))`` drawn from ``np.random.default_rng(seed)``, generated
in consecutive chunks of rows (which yields the same stream as a single call). So the
vectorised CI of :func:`mean_ci` for a column equals :func:`bootstrap_ci` of that column with
the same seed (up to floating-point rounding of the means).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
from scipy import stats
from scipy.special import ndtr, ndtri

CI_METHODS = ("percentile", "BCa")
_MAX_INDICES = 1 << 22  # entries of one chunk of resampled indices / counts (32 MiB as float64)
_MAX_MEANS = 1 << 23  # entries of one [n_boot, columns] block of bootstrap means
_MAX_SHARED = 1 << 24  # entries of the resampling counts kept by shared_resampling (128 MiB as float64)
_SHARED: ContextVar[dict | None] = ContextVar("headlens_shared_resampling", default=None)


def _check_ci(ci: float, n_boot: int, method: str) -> str:
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    if int(n_boot) != n_boot or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative integer, got {n_boot}")
    m = {"percentile": "percentile", "bca": "BCa"}.get(str(method).lower())
    if m is None:
        raise ValueError(f"method must be one of {CI_METHODS}, got {method!r}")
    return m


def resample_indices(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Yield chunks [b, n] of bootstrap row indices, ``n_boot`` rows in all (see module doc)."""
    rng = np.random.default_rng(seed)
    chunk = max(1, _MAX_INDICES // max(n, 1))
    for start in range(0, n_boot, chunk):
        yield rng.integers(0, n, (min(chunk, n_boot - start), n))


def _counts(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Chunks [b, n] (float64) of how often each row is drawn in each resample, ``n_boot`` rows in all."""
    for idx in resample_indices(n, n_boot, seed):
        b = idx.shape[0]
        flat = (idx + (np.arange(b) * n)[:, None]).ravel()
        yield np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


@contextmanager
def shared_resampling() -> Iterator[None]:
    """Within the block, the bootstrap means of :func:`mean_ci` (and so of ``one_sample``'s intervals)
    reuse the resampling counts of the last (n, n_boot, seed) they drew, up to ``_MAX_SHARED``
    entries, instead of drawing them again: a statistic that tests many blocks of columns over
    the same rows (the role tests: one block per metric) draws them once. The counts are the
    same numbers either way (they depend on n, n_boot and seed only), so are the intervals."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _shared_counts(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray] | list[np.ndarray]:
    shared = _SHARED.get()
    if shared is None or n * n_boot > _MAX_SHARED:
        return _counts(n, n_boot, seed)
    key = (n, n_boot, seed)
    if shared.get("key") != key:
        shared.clear()  # one resampling held at a time: memory stays within _MAX_SHARED entries
        shared["key"], shared["counts"] = key, list(_counts(n, n_boot, seed))
    return shared["counts"]


def _boot_means(X: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap means [n_boot, k] of the columns of X [n, k], rows resampled jointly."""
    n, k = X.shape
    out = np.empty((n_boot, k))
    start = 0
    for counts in _shared_counts(n, n_boot, seed):
        b = counts.shape[0]
        out[start:start + b] = counts @ X / n
        start += b
    return out


def _quantile_cols(sorted_b: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Linear-interpolation quantile (numpy's default) of each column at its own level q[j]."""
    B, k = sorted_b.shape
    h = np.clip(np.nan_to_num(q, nan=0.0), 0.0, 1.0) * (B - 1)
    lo = np.floor(h).astype(np.intp)
    hi = np.minimum(lo + 1, B - 1)
    cols = np.arange(k)
    v = sorted_b[lo, cols] + (h - lo) * (sorted_b[hi, cols] - sorted_b[lo, cols])
    return np.where(np.isnan(q), np.nan, v)


def _fraction_below(means: np.ndarray, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
    """BCa's bias-correction fraction: (#{mean_b < theta} + #{mean_b <= theta}) / (2 B).

    A bootstrap mean that equals ``theta`` in exact arithmetic (a resample that is a
    permutation of the sample, or tied data: values on a grid) is a tie, counted half. In
    floating point such a mean lands one or two ulps either side of ``theta`` depending on the
    order of the summation, which BLAS chooses by kernel and matrix shape (gemv for one column,
    gemm for a block; Haswell/Zen vs SkylakeX kernels). So a mean within the rounding bound of
    a sum of ``n`` terms, ``4 n eps max|x|``, is a tie: the interval then no longer depends on
    the machine or on which other columns share the call. Distinct means closer than that to
    ``theta`` (relative 1e-13 at n = 100) are counted as ties too; their effect on z0 is nil.
    """
    n = X.shape[0]
    tol = 4.0 * n * np.finfo(np.float64).eps * np.max(np.abs(X), axis=0)
    below = np.sum(means < theta - tol, axis=0)
    ties = np.sum(np.abs(means - theta) <= tol, axis=0)
    return (below + 0.5 * ties) / means.shape[0]


def mean_ci(X, ci: float = 0.95, n_boot: int = 2000, seed: int = 0, method: str = "percentile"):
    """Two-sided bootstrap CI of the mean of every column of X [n, k] (no NaN allowed).

    One shared resampling of rows for all columns (a counts matrix [n_boot, n] @ X / n), so
    it is fast for many columns. "percentile": the ``(1-ci)/2`` and ``(1+ci)/2`` quantiles of
    the bootstrap means; "BCa": bias-corrected and accelerated (Efron & Tibshirani 14.3, the
    same formulas as scipy, but a bootstrap mean that ties with the sample mean is decided up
    to rounding (:func:`_fraction_below`) where scipy compares the floats as they fall; for
    the mean the jackknife acceleration has the closed form
    ``sum(u**3) / (6 * sum(u**2)**1.5)``, ``u = x - mean``). Returns (low, high) arrays [k];
    NaN for a column whose bootstrap distribution is degenerate under BCa.
    """
    method = _check_ci(ci, n_boot, method)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 1 or np.isnan(X).any():
        raise ValueError("mean_ci needs a 2-D array [n >= 1, k] without NaN")
    n, k = X.shape
    low, high = np.full(k, np.nan), np.full(k, np.nan)
    if n_boot == 0 or k == 0:
        return low, high
    alpha = (1.0 - ci) / 2.0
    step = max(1, _MAX_MEANS // n_boot)
    for c0 in range(0, k, step):  # column blocks bound the memory; the resampling is reused
        Xc = X[:, c0:c0 + step]
        means = _boot_means(Xc, n_boot, seed)
        if method == "percentile":
            q = np.quantile(means, [alpha, 1.0 - alpha], axis=0)
            low[c0:c0 + step], high[c0:c0 + step] = q[0], q[1]
            continue
        theta = Xc.mean(axis=0)
        z0 = ndtri(_fraction_below(means, theta, Xc))
        u = Xc - theta
        with np.errstate(invalid="ignore", divide="ignore"):
            a = np.sum(u**3, axis=0) / (6.0 * np.sum(u**2, axis=0) ** 1.5)
            z = float(ndtri(alpha))
            a1 = ndtr(z0 + (z0 + z) / (1 - a * (z0 + z)))
            a2 = ndtr(z0 + (z0 - z) / (1 - a * (z0 - z)))
        means.sort(axis=0)
        low[c0:c0 + step], high[c0:c0 + step] = _quantile_cols(means, a1), _quantile_cols(means, a2)
    return low, high


def bootstrap_ci(x, stat: Callable = np.mean, ci: float = 0.95, n_boot: int = 2000, seed: int = 0,
                 method: str = "percentile") -> tuple[float, float]:
    """Two-sided bootstrap CI of ``stat`` over the 1-D sample ``x`` (NaN dropped).

    Thin wrapper over ``scipy.stats.bootstrap`` (``rng=np.random.default_rng(seed)``), so the
    resampling follows the module convention. ``stat`` is called as ``stat(sample, axis=-1)``
    if it takes an ``axis`` argument (vectorised), else once per resample. A constant sample
    returns ``(stat(x), stat(x))`` (every resample equals the sample). Raises ValueError for an
    empty sample or ``n_boot < 1``.
    """
    method = _check_ci(ci, n_boot, method)
    x = np.asarray(x, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    if x.size == 0 or n_boot < 1:
        raise ValueError("bootstrap_ci needs a non-empty sample and n_boot >= 1")
    if np.all(x == x[0]):
        v = float(stat(x))
        return v, v
    res = stats.bootstrap((x,), stat, n_resamples=n_boot, confidence_level=ci,
                          method=method, rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
