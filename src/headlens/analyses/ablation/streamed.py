"""One pass over a sweep's prediction parts: the sums every test of :mod:`.results` needs.

Per part (example ids, predictions [ablations + 1, m], row 0 the unablated model) and the dev labels:

- per ablation the McNemar counts (``worse``: right without the heads only before, ``better``: the
  reverse), the changed predictions (``flipped``) and per row the examples it gets right;
- per row the confusion matrix (counts) of its predictions, for the observed accuracy, F1 and MCC;
- above ``boot_max_n`` examples, the Poisson bootstrap's confusion matrices per replicate
  (``stats.poisson.PoissonConfusion``, weights keyed by example id); at or below it the predictions
  themselves (at most ``boot_max_n`` examples) for the exact, in-memory resampling of :mod:`.results`.

Memory: ``(ablations + 1) x (classes**2 x n_boot + boot_max_n)`` numbers and one bit per example
(each example must come exactly once), whatever the number of examples.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ...errors import RunStoreError
from ...stats import mcnemar_counts, tost_p_moments
from ...stats.compare import bootstrap_p
from ...stats.confusion import SCORES
from ...stats.equivalence import bootstrap_tost_p
from ...stats.poisson import POISSON, PoissonConfusion
from ...stats.tests import ci_method_used
from .options import AblationStats

EXACT_TEST, POISSON_TEST = "paired_bootstrap", "paired_poisson_bootstrap"


def ci_method(n: int, s: AblationStats) -> str:
    """How the CIs (and the F1 / MCC p and TOST) of a sweep of ``n`` examples are computed."""
    return ci_method_used("percentile", s.boot_max_n, [n], POISSON)


class AblationSums:
    """The streamed sums of a sweep of ``n`` examples and ``ablations`` ablations (see the module doc)."""

    def __init__(self, n: int, ablations: int, classes: int, s: AblationStats):
        self.n, self.ablations, self.classes, self.settings = int(n), int(ablations), int(classes), s
        self.exact = self.n <= s.boot_max_n
        rows = self.ablations + 1
        self.worse, self.better, self.flipped = (np.zeros(self.ablations, np.int64) for _ in range(3))
        self.right = np.zeros(rows, np.int64)
        self.counts = np.zeros((rows, self.classes, self.classes), np.int64)
        self.seen = np.zeros(self.n, bool)
        self.kept = np.zeros((rows, self.n), np.int64) if self.exact else None
        self.boot = None if self.exact else PoissonConfusion(rows, self.classes, s.n_boot, s.seed)

    def add(self, ids: np.ndarray, y: np.ndarray, pred: np.ndarray) -> None:
        """Predictions ``pred`` [ablations + 1, m] of examples ``ids`` with labels ``y``."""
        ids, pred = np.asarray(ids, np.int64), np.asarray(pred, np.int64)
        if ((ids < 0) | (ids >= self.n)).any() or self.seen[ids].any() or len(np.unique(ids)) != len(ids):
            raise RunStoreError(f"the prediction parts list an example twice or one outside 0..{self.n - 1} "
                                "(the dev set's examples): they belong to another sweep; start the sweep anew.")
        if ((pred < 0) | (pred >= self.classes)).any():
            raise RunStoreError(f"the prediction parts hold a class outside 0..{self.classes - 1}: they belong to "
                                "another classifier; start the sweep anew.")
        self.seen[ids] = True
        ok = pred == y[None, :]
        self.right += ok.sum(1)
        self.worse += (ok[0] & ~ok[1:]).sum(1)
        self.better += (~ok[0] & ok[1:]).sum(1)
        self.flipped += (pred[1:] != pred[0]).sum(1)
        cells = (np.arange(len(pred))[:, None] * self.classes + y[None, :]) * self.classes + pred
        self.counts += np.bincount(cells.ravel(), minlength=self.counts.size).reshape(self.counts.shape)
        if self.exact:
            self.kept[:, ids] = pred
        else:
            self.boot.update(ids, y, pred)

    def read(self, parts: Iterable[tuple[np.ndarray, np.ndarray]], y: np.ndarray) -> AblationSums:
        """Every part, then a check that each of the ``n`` examples came once."""
        for ids, pred in parts:
            self.add(ids, y[np.asarray(ids, np.int64)], pred)
        missing = int((~self.seen).sum())
        if missing:
            raise RunStoreError(f"the prediction parts hold {self.n - missing} of the dev set's {self.n} examples; "
                                "continue the sweep with --resume to compute the others.")
        return self

    def tests(self, metric: str) -> dict:
        """The Poisson path's fields of ``metric`` per ablation (as ``results._tests``)."""
        return self._accuracy() if metric == "accuracy" else self._bootstrap(metric)

    def _replicates(self, metric: str) -> np.ndarray:
        """[ablations, n_boot]: each ablation's change of ``metric`` in each Poisson replicate."""
        scores = SCORES[metric](self.boot.matrices())  # [rows, n_boot]
        return scores[1:] - scores[0][None, :]

    def _interval(self, deltas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        alpha = (1.0 - self.settings.ci) / 2.0
        low, high = np.quantile(deltas, [alpha, 1.0 - alpha], axis=1)
        return low, high

    def _accuracy(self) -> dict:
        n, b, c = self.n, self.worse, self.better
        tests = [mcnemar_counts(n, int(b[k]), int(c[k]), int(self.right[0]), int(self.right[k + 1]))
                 for k in range(self.ablations)]
        mean = (c - b) / n  # the correctness differences are -1 (b of them), +1 (c) and 0
        sd = np.sqrt((b * (-1.0 - mean) ** 2 + c * (1.0 - mean) ** 2 + (n - b - c) * mean ** 2) / (n - 1))
        constant = (b + c == 0) | (b == n) | (c == n)
        low, high = self._interval(self._replicates("accuracy"))
        return {"base": np.full(self.ablations, tests[0].acc_a if tests else np.nan),
                "ablated": np.asarray([t.acc_b for t in tests]), "delta": np.asarray([t.estimate for t in tests]),
                "ci_low": low, "ci_high": high, "p": np.asarray([t.p for t in tests]),
                "p_equiv": tost_p_moments(np.full(self.ablations, n), mean, sd, self.settings.min_effect, 1, constant)}

    def _bootstrap(self, metric: str) -> dict:
        observed = SCORES[metric](self.counts)
        delta = observed[1:] - observed[0]
        deltas = self._replicates(metric)
        low, high = self._interval(deltas)
        return {"base": np.full(self.ablations, observed[0]), "ablated": observed[1:], "delta": delta,
                "ci_low": low, "ci_high": high,
                "p": np.asarray([bootstrap_p(delta[k], deltas[k]) for k in range(self.ablations)]),
                "p_equiv": np.asarray([bootstrap_tost_p(deltas[k], self.settings.min_effect)
                                       for k in range(self.ablations)])}
