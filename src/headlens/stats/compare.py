"""Comparing two classifiers on the same items: exact McNemar and the paired bootstrap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from .bootstrap import _check_ci, resample_indices
from .equivalence import bootstrap_tost_p


@dataclass(frozen=True)
class McNemarResult:
    """b = items A got right and B wrong, c = A wrong and B right; ``n_discordant = b + c``.

    ``statistic = min(b, c)``; ``p`` two-sided exact binomial (1.0 when b + c == 0);
    ``estimate = acc_b - acc_a = (c - b) / n``.
    """

    n: int
    b: int
    c: int
    n_discordant: int
    statistic: float
    p: float
    acc_a: float
    acc_b: float
    estimate: float

    def to_dict(self) -> dict:
        return asdict(self)


def _bool_vector(v, name: str) -> np.ndarray:
    a = np.asarray(v)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D")
    if a.dtype != bool:
        f = a.astype(np.float64)
        if np.isnan(f).any() or not np.isin(f, (0.0, 1.0)).all():
            raise ValueError(f"{name} must hold booleans or 0/1 (no NaN)")
        a = f.astype(bool)
    return a


def mcnemar_exact(correct_a, correct_b) -> McNemarResult:
    """Exact McNemar test: ``scipy.stats.binomtest(b, b + c, 0.5)`` on the discordant pairs.

    ``correct_a``/``correct_b``: per-item correctness (bool or 0/1) of classifiers A and B.
    """
    a, b_ = _bool_vector(correct_a, "correct_a"), _bool_vector(correct_b, "correct_b")
    if a.shape != b_.shape or a.size == 0:
        raise ValueError("correct_a and correct_b must be non-empty and of the same length")
    return mcnemar_counts(a.size, int(np.sum(a & ~b_)), int(np.sum(~a & b_)), int(a.sum()), int(b_.sum()))


def mcnemar_counts(n: int, b: int, c: int, right_a: int, right_b: int) -> McNemarResult:
    """:func:`mcnemar_exact` from counts (e.g. summed part by part): ``n`` items, ``b`` discordant
    right by A only, ``c`` right by B only, ``right_a`` / ``right_b`` items each got right."""
    p = 1.0 if b + c == 0 else float(stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)
    return McNemarResult(n=n, b=b, c=c, n_discordant=b + c, statistic=float(min(b, c)), p=min(p, 1.0),
                         acc_a=right_a / n, acc_b=right_b / n, estimate=(c - b) / n)


def bootstrap_p(delta: float, deltas: np.ndarray) -> float:
    """Two-sided percentile-bootstrap p of an observed ``delta`` from its finite resampled ``deltas``
    (see :func:`paired_bootstrap`)."""
    if delta == 0:
        return 1.0
    m = int(np.sum(deltas <= 0)) if delta > 0 else int(np.sum(deltas >= 0))
    return min(1.0, 2.0 * (m + 1) / (deltas.size + 1))


@dataclass(frozen=True)
class PairedBootstrapResult:
    """``estimate = metric(b) - metric(a)``; percentile CI and two-sided p (see paired_bootstrap)."""

    estimate: float
    ci_low: float
    ci_high: float
    p: float
    metric_a: float
    metric_b: float
    n: int
    n_boot: int
    n_valid: int
    seed: int
    ci: float
    p_equiv: float = float("nan")  # bootstrap TOST p of |estimate| < margin (when a margin was given)

    def to_dict(self) -> dict:
        return asdict(self)


def paired_bootstrap(y_true, pred_a, pred_b, metric_fn: Callable, n_boot: int = 2000, seed: int = 0,
                     ci: float = 0.95, margin: float | None = None) -> PairedBootstrapResult:
    """Paired bootstrap of ``metric_fn(y_true, pred_b) - metric_fn(y_true, pred_a)``.

    Items are resampled with replacement (the same resample for A and B; indices as in
    :mod:`headlens.stats.bootstrap`). CI: percentile of the resampled deltas. p (two-sided,
    percentile-bootstrap / CI inversion): with ``delta`` the observed difference and ``m`` the
    number of resampled deltas on the other side of 0 (``<= 0`` if delta > 0, ``>= 0`` if
    delta < 0; ties at 0 count against), ``p = min(1, 2 * (m + 1) / (n_valid + 1))``; p = 1 if
    delta == 0. Resamples where the metric is not finite (e.g. undefined on one class) are
    dropped; ``n_valid`` says how many were used. With a ``margin``, ``p_equiv`` is the bootstrap
    TOST p of ``|delta| < margin`` from the same resamples (``equivalence.bootstrap_tost_p``).
    """
    _check_ci(ci, n_boot, "percentile")
    y, pa, pb = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)
    n = len(y)
    if n == 0 or len(pa) != n or len(pb) != n or n_boot < 1:
        raise ValueError("y_true, pred_a, pred_b must be non-empty, same length; n_boot >= 1")
    m_a, m_b = float(metric_fn(y, pa)), float(metric_fn(y, pb))
    delta = m_b - m_a
    deltas = np.empty(n_boot)
    i = 0
    for chunk in resample_indices(n, n_boot, seed):
        for idx in chunk:
            deltas[i] = float(metric_fn(y[idx], pb[idx])) - float(metric_fn(y[idx], pa[idx]))
            i += 1
    deltas = deltas[np.isfinite(deltas)]
    nv = deltas.size
    if nv == 0:
        raise ValueError("metric_fn was not finite on any bootstrap resample")
    alpha = (1.0 - ci) / 2.0
    lo, hi = np.quantile(deltas, [alpha, 1.0 - alpha])
    p = bootstrap_p(delta, deltas)
    return PairedBootstrapResult(estimate=delta, ci_low=float(lo), ci_high=float(hi), p=p,
                                 metric_a=m_a, metric_b=m_b, n=n, n_boot=int(n_boot), n_valid=nv,
                                 seed=int(seed), ci=float(ci),
                                 p_equiv=float("nan") if margin is None else bootstrap_tost_p(deltas, margin))
