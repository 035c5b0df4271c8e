"""The Poisson bootstrap of column means: streamed, order-free and mergeable (Hanley & MacGibbon 2006;
Chamandy et al. 2012).

Each sentence gets, per replicate b, a weight w ~ Poisson(1) instead of a multinomial count; the
replicate mean of a column is ``sum(w x) / sum(w)`` over its defined (non-NaN) values. The weights
come from a counter-based generator keyed by (seed, sentence id, b) (a SplitMix64 hash of the three,
mapped to Poisson(1) by its inverse CDF), so a sentence has the same weights whatever block, part or
shard it is read in and in whatever order: :class:`PoissonMeans` accumulates ``sum(w x)`` and
``sum(w)`` per replicate and column, and two accumulators over disjoint sentences merge by adding
(the weights are the same integers; the sums equal one pass up to float rounding). The CI is the
percentile interval of the replicate means. Memory: replicates x columns, whatever the rows.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse, stats

from .table import OK

POISSON = "poisson-bootstrap"
_CDF = stats.poisson(1.0).cdf(np.arange(30))  # P(K <= k); P(K > 29) < 1e-30
_BITS = 16  # inverse-CDF lookup by the hash's top bits: k of every bucket that holds no CDF step, else -1
_BUCKETS = np.arange(2 ** _BITS + 1) / 2 ** _BITS
_LOW = np.searchsorted(_CDF, _BUCKETS[:-1], side="right")
_TABLE = np.where(_LOW == np.searchsorted(_CDF, np.nextafter(_BUCKETS[1:], 0.0), side="right"), _LOW, -1).astype(np.int8)
_M1, _M2, _GOLD = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (uint64, wrapping)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def poisson_weights(ids, n_boot: int, seed: int = 0) -> np.ndarray:
    """float64 [len(ids), n_boot]: the Poisson(1) weights of sentences ``ids`` in replicates 0..n_boot-1."""
    ids = np.asarray(ids, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        key = _mix(np.uint64(seed) * _GOLD + np.uint64(0x632BE59BD9B4E019))
        row = _mix(ids * _GOLD ^ key)[:, None]
        z = _mix(row + (np.arange(n_boot, dtype=np.uint64)[None, :] + np.uint64(1)) * _M2)
    k = _TABLE[(z >> np.uint64(64 - _BITS)).astype(np.intp)]  # the top bits decide k, but in a few buckets
    edge = k < 0
    if edge.any():  # a bucket that holds a CDF step: the full 53-bit uniform decides
        k[edge] = np.searchsorted(_CDF, (z[edge] >> np.uint64(11)).astype(np.float64) * 2.0 ** -53, side="right")
    return k.astype(np.float64)


class PoissonMeans:
    """Per replicate and column: ``s`` = sum of w x, ``w`` = sum of w over the column's defined values."""

    def __init__(self, n_boot: int, columns: int):
        self.n_boot, self.columns = int(n_boot), int(columns)
        self.s = np.zeros((self.n_boot, self.columns))
        self.w = np.zeros((self.n_boot, self.columns))

    def add(self, weights: np.ndarray, X: np.ndarray) -> PoissonMeans:
        """Rows ``X`` [rows, columns] (NaN: undefined) with their ``weights`` [rows, n_boot]."""
        X = np.asarray(X, dtype=np.float64)
        ok = ~np.isnan(X)
        self.s += weights.T @ np.where(ok, X, 0.0)
        if ok.all():
            self.w += weights.sum(0)[:, None]
        else:
            self.w += weights.T @ ok.astype(np.float64)
        return self

    def update(self, ids, X: np.ndarray, seed: int = 0) -> PoissonMeans:
        """Rows ``X`` of sentences ``ids`` (their weights drawn here)."""
        return self.add(poisson_weights(ids, self.n_boot, seed), X)

    def merge(self, other: PoissonMeans) -> PoissonMeans:
        if (other.n_boot, other.columns) != (self.n_boot, self.columns):
            raise ValueError("cannot merge Poisson bootstraps of other replicates or columns")
        self.s += other.s
        self.w += other.w
        return self

    def means(self) -> np.ndarray:
        """[n_boot, columns] replicate means (NaN where a replicate drew no defined value)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.w > 0, self.s / self.w, np.nan)

    def ci(self, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Percentile ``ci`` interval of each column's mean."""
        alpha = (1.0 - ci) / 2.0
        means = self.means()
        low, high = np.full(self.columns, np.nan), np.full(self.columns, np.nan)
        some = (~np.isnan(means)).any(0)
        if some.any():
            q = np.nanquantile(means[:, some], [alpha, 1.0 - alpha], axis=0)
            low[some], high[some] = q[0], q[1]
        return low, high


def large_ci(low, high, n, status, boot_max_n: int, boot: PoissonMeans, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """``low``, ``high`` with the CI of every column tested over more than ``boot_max_n`` values (status
    ok: not constant, enough data) replaced by the Poisson bootstrap's percentile interval."""
    low, high = np.array(low, dtype=np.float64), np.array(high, dtype=np.float64)
    swap = (np.asarray(n) > boot_max_n) & (np.asarray(status, dtype=object) == OK)
    if swap.any():
        p_low, p_high = boot.ci(ci)
        low[swap], high[swap] = p_low[swap], p_high[swap]
    return low, high


class PoissonConfusion:
    """Poisson-bootstrap confusion matrices of several predictions of the same items, streamed.

    ``rows`` predictions (row 0 the reference, e.g. the unablated model; the others e.g. ablations)
    of the same items with labels in ``0..classes-1``: per row and replicate b the weighted counts
    ``sum(w_ib [y_i = t, pred_i = p])``, w from :func:`poisson_weights` keyed by item id, so they do
    not depend on the part, its size or the order. The weights are integers, so every sum is exact
    and the matrices equal one pass over all items whatever the parts. A row other than the
    reference adds only the items where it differs from the reference (a move from the reference's
    cell to its own), so the cost is ``n_boot x (items + changed predictions)``, not ``x rows``.
    Memory: ``rows x classes**2 x n_boot`` float64.
    """

    def __init__(self, rows: int, classes: int, n_boot: int, seed: int = 0):
        self.rows, self.classes, self.n_boot, self.seed = int(rows), int(classes), int(n_boot), int(seed)
        self._sums = np.zeros((self.rows * self.classes ** 2, self.n_boot))  # row 0 whole; the others: moves

    def update(self, ids, y, pred) -> PoissonConfusion:
        """Items ``ids`` with labels ``y`` [m] and predictions ``pred`` [rows, m]."""
        y, pred = np.asarray(y, dtype=np.int64), np.asarray(pred, dtype=np.int64)
        m, cc = len(y), self.classes ** 2
        ref = y * self.classes + pred[0]
        row, item = np.nonzero(pred[1:] != pred[0][None, :])
        row = row + 1
        keys = np.concatenate([ref, row * cc + y[item] * self.classes + pred[row, item], row * cc + ref[item]])
        items = np.concatenate([np.arange(m), item, item])
        signs = np.concatenate([np.ones(m + len(item)), -np.ones(len(item))])
        moves = sparse.csr_matrix((signs, (keys, items)), shape=(self._sums.shape[0], m))
        self._sums += moves @ poisson_weights(ids, self.n_boot, self.seed)
        return self

    def merge(self, other: PoissonConfusion) -> PoissonConfusion:
        if (other.rows, other.classes, other.n_boot, other.seed) != (self.rows, self.classes, self.n_boot, self.seed):
            raise ValueError("cannot merge Poisson confusion matrices of other rows, classes, replicates or seed")
        self._sums += other._sums
        return self

    def matrices(self) -> np.ndarray:
        """[rows, n_boot, classes, classes]: each row's weighted confusion matrix per replicate."""
        k = self.classes
        sums = self._sums.reshape(self.rows, k, k, self.n_boot).transpose(0, 3, 1, 2)
        out = sums.copy()
        out[1:] += sums[0][None]
        return out
