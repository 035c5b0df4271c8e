"""Paired bootstrap of ratio estimators (micro accuracies) for many classifiers at once.

A corpus-level accuracy is a ratio of sums over items that are not independent inside a
sentence (e.g. dependency arcs), so the unit resampled is the sentence: ``den`` [n] holds each
sentence's number of scored items, ``num_a`` [n] the hits of a reference classifier (a
baseline), ``num_b`` [n, k] the hits of k classifiers (e.g. attention heads). One resampling of
the sentences (indices as in :mod:`.bootstrap`) serves every column, so column j equals
``paired_bootstrap(den, num_a, num_b[:, j], metric_fn=lambda y, p: p.sum() / y.sum())`` with the
same seed (up to floating-point rounding), p-value convention included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bootstrap import _boot_means, _check_ci
from .compare import bootstrap_p


@dataclass(frozen=True)
class RatioComparison:
    """Per column j: acc_b[j] = sum(num_b[:, j]) / sum(den) with its percentile CI; delta[j] =
    acc_b[j] - acc_a with its percentile CI and two-sided bootstrap p."""

    acc_a: float
    acc_b: np.ndarray
    acc_low: np.ndarray
    acc_high: np.ndarray
    delta: np.ndarray
    delta_low: np.ndarray
    delta_high: np.ndarray
    p: np.ndarray
    n: int
    n_valid: int


def paired_ratio_bootstrap(den, num_a, num_b, n_boot: int = 2000, seed: int = 0, ci: float = 0.95) -> RatioComparison:
    _check_ci(ci, n_boot, "percentile")
    den = np.asarray(den, dtype=np.float64)
    num_a = np.asarray(num_a, dtype=np.float64)
    num_b = np.asarray(num_b, dtype=np.float64).reshape(len(den), -1)
    if den.ndim != 1 or len(den) == 0 or num_a.shape != den.shape or n_boot < 1 or den.sum() <= 0:
        raise ValueError("den and num_a must be non-empty 1-D arrays of one length with sum(den) > 0; num_b [n, k]; n_boot >= 1")
    if not (np.isfinite(num_b).all() and np.isfinite(num_a).all() and np.isfinite(den).all()):
        raise ValueError("paired_ratio_bootstrap needs finite counts")
    means = _boot_means(np.column_stack([den, num_a, num_b]), n_boot, seed)  # sums / n, rows resampled jointly
    return ratio_comparison(means, den.sum(), num_a.sum(), num_b.sum(0), len(den), ci)


def ratio_comparison(means: np.ndarray, den_total: float, num_a_total: float, num_b_totals: np.ndarray, n: int,
                     ci: float) -> RatioComparison:
    """The comparison from bootstrap replicates ``means`` [n_boot, 2 + k] of (den, num_a, num_b...): the
    resampled means (or any per-replicate multiple of the sums, e.g. the Poisson bootstrap's
    weighted sums) of each sentence's counts, and the sample's totals."""
    total = float(den_total)
    acc_a, acc_b = float(num_a_total) / total, np.asarray(num_b_totals, dtype=np.float64) / total
    ok = means[:, 0] > 0
    boot_b = means[ok, 2:] / means[ok, :1]
    deltas = boot_b - (means[ok, 1] / means[ok, 0])[:, None]
    alpha = (1.0 - ci) / 2.0
    lo, hi = np.quantile(boot_b, [alpha, 1 - alpha], axis=0) if ok.any() else (np.full(acc_b.shape, np.nan),) * 2
    dlo, dhi = np.quantile(deltas, [alpha, 1 - alpha], axis=0) if ok.any() else (np.full(acc_b.shape, np.nan),) * 2
    delta = acc_b - acc_a
    p = np.asarray([bootstrap_p(float(d), deltas[:, j]) for j, d in enumerate(delta)])
    return RatioComparison(float(acc_a), acc_b, lo, hi, delta, dlo, dhi, p, int(n), int(ok.sum()))


def paired_ratio_normal(den, num_a, num_b, ci: float = 0.95) -> RatioComparison:
    """:func:`paired_ratio_bootstrap`'s comparison by the normal approximation (linearisation of the
    ratio estimators over sentences, the unit of :func:`paired_ratio_bootstrap`'s resampling): the
    standard error of sum(y) / sum(den) is ``sqrt(sum((y - r den)**2) / (n (n - 1))) / mean(den)``.
    CIs are ``estimate +- z se``; p is two-sided normal (0 when se = 0 and delta != 0). For corpora
    where a bootstrap of every sentence is too slow (``boot_max_n``); ``n_valid`` is 0."""
    from scipy.special import ndtr, ndtri

    den = np.asarray(den, dtype=np.float64)
    num_a = np.asarray(num_a, dtype=np.float64)
    num_b = np.asarray(num_b, dtype=np.float64).reshape(len(den), -1)
    n = len(den)
    if den.ndim != 1 or n < 2 or num_a.shape != den.shape or den.sum() <= 0:
        raise ValueError("den and num_a must be 1-D arrays of one length >= 2 with sum(den) > 0; num_b [n, k]")
    mean_den = den.mean()
    acc_a, acc_b = num_a.sum() / den.sum(), num_b.sum(0) / den.sum()
    delta = acc_b - acc_a

    def se(y: np.ndarray, r: np.ndarray) -> np.ndarray:
        return np.sqrt(np.sum((y - r * den[:, None]) ** 2, axis=0) / (n * (n - 1))) / mean_den

    z = float(ndtri(0.5 + ci / 2.0))
    se_b, se_d = se(num_b, acc_b), se(num_b - num_a[:, None], delta)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se_d > 0, 2.0 * ndtr(-np.abs(delta) / np.where(se_d > 0, se_d, 1.0)), np.where(delta == 0, 1.0, 0.0))
    return RatioComparison(float(acc_a), acc_b, acc_b - z * se_b, acc_b + z * se_b, delta, delta - z * se_d,
                           delta + z * se_d, p, n, 0)
