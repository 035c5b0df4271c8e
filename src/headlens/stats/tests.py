"""One-sample and paired tests over the columns of a matrix, returning a :class:`TestTable`.

See :mod:`headlens.stats` for the conventions (missing data, zero variance, CI).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache

import numpy as np
from scipy import stats

from .bootstrap import _check_ci, mean_ci
from .effects import ZERO_METHODS, cohens_d, rank_biserial, sign_effect
from .table import ALTERNATIVES, NOT_ENOUGH_DATA, OK, TESTS, ZERO_VARIANCE, TestTable

_STAT_NAMES = {"t": "t", "wilcoxon": "W (T+ one-sided, min(T+, T-) two-sided)", "sign": "n_positive"}


def _nan_groups(X: np.ndarray) -> Iterator[tuple[object, object]]:
    """Yield (rows, cols) index pairs: columns sharing the same non-missing rows."""
    mask = np.isnan(X)
    if not mask.any():
        yield slice(None), slice(None)
        return
    groups: dict[bytes, list[int]] = {}
    for j, key in enumerate(np.packbits(mask, axis=0).T):  # a dict of the columns' bit patterns: no sort
        groups.setdefault(key.tobytes(), []).append(j)
    for cols in groups.values():
        yield np.flatnonzero(~mask[:, cols[0]]), np.asarray(cols)


def _side(c: np.ndarray, popmean: float, alternative: str) -> np.ndarray:
    if alternative == "greater":
        return c > popmean
    if alternative == "less":
        return c < popmean
    return c != popmean


def _t(D, popmean, alternative, ddof):
    res = stats.ttest_1samp(D, popmean, axis=0, alternative=alternative)
    t, p = np.asarray(res.statistic, float), np.asarray(res.pvalue, float)
    if ddof != 1:  # same mean difference, sd with another ddof; p from t with n-1 dof
        n = D.shape[0]
        t = t * np.sqrt((n - ddof) / (n - 1))
        dist = stats.t(n - 1)
        p = {"greater": dist.sf(t), "less": dist.cdf(t), "two-sided": 2 * dist.sf(np.abs(t))}[alternative]
    return t, p, cohens_d(D, popmean)


def _wilcoxon(D, popmean, alternative, zero_method):
    d = D - popmean
    n, k = d.shape
    t, p = np.empty(k), np.empty(k)
    groups = [np.arange(k)]
    if n <= 50:  # scipy's "auto" picks exact/permutation/normal for the whole call: split so
        s = np.sort(np.abs(d), axis=0)  # that every column gets the method it would get alone
        tied = (np.diff(s, axis=0) == 0).any(axis=0) | (d == 0).any(axis=0)
        groups = [np.flatnonzero(tied), np.flatnonzero(~tied)]
    for g in groups:
        if g.size:
            res = stats.wilcoxon(d[:, g], zero_method=zero_method, alternative=alternative, axis=0)
            t[g], p[g] = res.statistic, res.pvalue
    if zero_method == "wilcox" and alternative != "two-sided":
        # the statistic is T+ over the non-zero differences, whose ranks sum to S = m(m+1)/2:
        # the rank-biserial (T+ - T-) / S = 2 T+ / S - 1 without ranking again
        m = np.sum(d != 0, axis=0)
        total = m * (m + 1) / 2.0
        with np.errstate(invalid="ignore", divide="ignore"):
            return t, p, np.where(total > 0, 2.0 * t / np.where(total > 0, total, 1.0) - 1.0, np.nan)
    return t, p, rank_biserial(D, popmean, zero_method)


@lru_cache(maxsize=1 << 16)
def _binom_p(k: int, n: int, alternative: str) -> float:
    return float(stats.binomtest(k, n, 0.5, alternative=alternative).pvalue)


def _sign(D, popmean, alternative):
    d = D - popmean
    pos, tot = np.sum(d > 0, axis=0), np.sum(d != 0, axis=0)
    p = np.ones(d.shape[1])
    for j in np.flatnonzero(tot > 0):
        p[j] = _binom_p(int(pos[j]), int(tot[j]), alternative)
    return pos.astype(float), p, np.nan_to_num(sign_effect(D, popmean), nan=0.0)


T_INTERVAL = "t interval"  # the CI above ``boot_max_n`` observations: mean +- t(n-1) * sd / sqrt(n)


def t_interval(D: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided ``ci`` t interval of the mean of each column of D [n >= 2, k] (ddof=1)."""
    n = D.shape[0]
    half = stats.t(n - 1).ppf(0.5 + ci / 2.0) * D.std(axis=0, ddof=1) / np.sqrt(n)
    mean = D.mean(axis=0)
    return mean - half, mean + half


def ci_method_used(method: str, boot_max_n: int | None, n: np.ndarray, large: str = T_INTERVAL) -> str:
    """The CI method of a table whose columns have ``n`` observations: ``method`` (the bootstrap's),
    ``large`` above ``boot_max_n`` (the t interval, or the Poisson bootstrap where a step streams
    it), or both with the rule."""
    big = np.asarray(n) > boot_max_n if boot_max_n is not None else np.zeros(len(n), bool)
    if not big.any():
        return method
    if big.all():
        return f"{large} (n > {boot_max_n})"
    return f"{method} (n <= {boot_max_n}), {large} (n > {boot_max_n})"


def _group(D, popmean, test, alternative, ddof, min_n, ci, n_boot, seed, ci_method, zero_method, boot_max_n=None):
    """All fields for one block D [n, kg] without NaN; above ``boot_max_n`` rows the CI is the t
    interval (a bootstrap of n rows costs n_boot * n per column)."""
    n, kg = D.shape
    out = {f: np.full(kg, np.nan) for f in ("estimate", "ci_low", "ci_high", "statistic", "p", "effect")}
    status = np.full(kg, OK, dtype=object)
    if n >= 1:
        out["estimate"] = D.mean(axis=0)
    if n < min_n:
        status[:] = NOT_ENOUGH_DATA
        return out, status
    const = D.max(axis=0) == D.min(axis=0)
    c = D[0]
    status[const] = ZERO_VARIANCE
    out["estimate"] = np.where(const, c, out["estimate"])
    live = np.flatnonzero(~const)
    Dl = D if live.size == kg else D[:, live]
    if live.size and n_boot > 0 and boot_max_n is not None and n > boot_max_n:
        out["ci_low"][live], out["ci_high"][live] = t_interval(Dl, ci)
    elif live.size:
        out["ci_low"][live], out["ci_high"][live] = mean_ci(Dl, ci, n_boot, seed, ci_method)
    if n_boot > 0:
        out["ci_low"][const] = out["ci_high"][const] = c[const]
    if test == "t":  # zero variance: special rule below for every constant column
        if live.size:
            out["statistic"][live], out["p"][live], out["effect"][live] = _t(Dl, popmean, alternative, ddof)
        at = const & (c == popmean)
        out["p"][const] = np.where(_side(c, popmean, alternative), 0.0, 1.0)[const]
        out["statistic"][at] = out["effect"][at] = 0.0
        return out, status
    # rank / sign tests are well defined on a constant != popmean; only "all d == 0" is special
    dead = const & (c == popmean)
    run = np.flatnonzero(~dead)
    if run.size:
        Dr = D if run.size == kg else D[:, run]
        if test == "wilcoxon":
            r = _wilcoxon(Dr, popmean, alternative, zero_method)
        else:
            r = _sign(Dr, popmean, alternative)
        out["statistic"][run], out["p"][run], out["effect"][run] = r
    out["statistic"][dead], out["p"][dead], out["effect"][dead] = 0.0, 1.0, 0.0
    return out, status


def _as_2d(X, name: str) -> tuple[np.ndarray, tuple[str, ...] | None]:
    names = tuple(str(c) for c in X.columns) if hasattr(X, "columns") else None
    A = np.asarray(X, dtype=np.float64)
    if A.ndim == 1:
        A = A[:, None]
    if A.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D [n_observations, k], got shape {A.shape}")
    if np.isinf(A).any():
        raise ValueError(f"{name} contains +-inf; only NaN marks a missing observation")
    return A, names


def _run(X, popmean, *, design, test, alternative, ddof, min_n, ci, n_boot, seed,
         ci_method, zero_method, names, boot_max_n=None) -> TestTable:
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1, got {ddof!r}")
    if int(min_n) != min_n or min_n < 2:
        raise ValueError(f"min_n must be an integer >= 2, got {min_n!r}")
    if zero_method not in ZERO_METHODS:
        raise ValueError(f"zero_method must be one of {ZERO_METHODS}, got {zero_method!r}")
    ci_method = _check_ci(ci, n_boot, ci_method)
    popmean = float(popmean)
    if not np.isfinite(popmean):
        raise ValueError("popmean must be finite")
    A, col_names = X
    k = A.shape[1]
    names = tuple(str(s) for s in names) if names is not None else col_names
    fields = {f: np.full(k, np.nan) for f in ("estimate", "ci_low", "ci_high", "statistic", "p", "effect")}
    n_arr, status = np.zeros(k, dtype=np.int64), np.full(k, OK, dtype=object)
    for rows, cols in _nan_groups(A):
        D = A[np.ix_(rows, cols)] if isinstance(rows, np.ndarray) else A
        out, st = _group(D, popmean, test, alternative, ddof, int(min_n), ci, int(n_boot), seed,
                         ci_method, zero_method, boot_max_n)
        for f, v in out.items():
            fields[f][cols] = v
        status[cols], n_arr[cols] = st, D.shape[0]
    tested = status != NOT_ENOUGH_DATA
    if np.isnan(fields["p"][tested]).any():  # guard: "tested" must never mean "p undefined"
        raise RuntimeError("internal error: undefined p-value for a tested column")
    effect_name = {"t": "cohens_dz" if design == "paired" else "cohens_d",
                   "wilcoxon": "rank_biserial", "sign": "sign_effect"}[test]
    return TestTable(n=n_arr, status=status, test=test, alternative=alternative, popmean=popmean,
                     ddof=int(ddof), ci=float(ci), n_boot=int(n_boot), seed=int(seed), min_n=int(min_n),
                     design=design, ci_method=ci_method_used(ci_method, boot_max_n, n_arr[tested]) if n_boot else ci_method,
                     zero_method=zero_method,
                     effect_name=effect_name, statistic_name=_STAT_NAMES[test], names=names, **fields)


def one_sample(X, popmean: float = 0.0, *, test: str = "t", alternative: str = "greater",
               ddof: int = 1, min_n: int = 10, ci: float = 0.95, n_boot: int = 2000, seed: int = 0,
               ci_method: str = "percentile", zero_method: str = "wilcox",
               names: Sequence[str] | None = None, boot_max_n: int | None = None) -> TestTable:
    """Test each column of X [n, k] (or a 1-D X) against ``popmean``; see :mod:`headlens.stats`.

    ``test``: "t" (one-sample t; ``ddof=0`` gives Pande et al. 2021's
    ``(mean - popmean) / (std_ddof0 / sqrt(n))`` with p from t(n-1); effect Cohen's d, ddof=1),
    "wilcoxon" (``scipy.stats.wilcoxon`` of ``X - popmean`` with ``zero_method``, method
    "auto" decided per column, no continuity correction; effect matched-pairs rank-biserial),
    "sign" (exact ``scipy.stats.binomtest`` on the signs, zeros dropped; statistic = number of
    positive differences; effect ``(pos - neg) / (pos + neg)``). ``estimate`` is the mean and
    ``ci_low``/``ci_high`` a two-sided bootstrap CI of the mean (level ``ci``, ``ci_method``
    "percentile" or "BCa", ``n_boot`` resamples, 0 = no CI) for every test. NaN = missing.
    ``names`` (or a DataFrame's columns) label the columns in the records. ``boot_max_n``: a
    column with more observations gets the t interval instead of the bootstrap CI (recorded in
    ``ci_method``); None: always the bootstrap.
    """
    return _run(_as_2d(X, "X"), popmean, design="one-sample", test=test, alternative=alternative,
                ddof=ddof, min_n=min_n, ci=ci, n_boot=n_boot, seed=seed, ci_method=ci_method,
                zero_method=zero_method, names=names, boot_max_n=boot_max_n)


def paired(X, Y, *, test: str = "t", alternative: str = "two-sided", min_n: int = 10,
           ci: float = 0.95, n_boot: int = 2000, seed: int = 0, ci_method: str = "percentile",
           zero_method: str = "wilcox", names: Sequence[str] | None = None,
           boot_max_n: int | None = None) -> TestTable:
    """Paired test of X against Y (same shape): :func:`one_sample` of ``D = X - Y`` against 0.

    Pairs where X or Y is NaN are dropped. "t" equals ``scipy.stats.ttest_rel`` (effect
    Cohen's d_z), "wilcoxon" equals ``scipy.stats.wilcoxon(X, Y)``; ``estimate`` is the mean
    difference with its bootstrap CI. ``alternative="greater"`` means X > Y.
    """
    A, na = _as_2d(X, "X")
    B, _ = _as_2d(Y, "Y")
    if A.shape != B.shape:
        raise ValueError(f"X and Y must have the same shape, got {A.shape} and {B.shape}")
    return _run((A - B, na), 0.0, design="paired", test=test, alternative=alternative, ddof=1,
                min_n=min_n, ci=ci, n_boot=n_boot, seed=seed, ci_method=ci_method,
                zero_method=zero_method, names=names, boot_max_n=boot_max_n)
