"""Multiple-testing correction over an explicit, recorded family of tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from statsmodels.stats.multitest import multipletests

from .table import CORRECTIONS, TestTable


def correct(p, method: str = "fdr_bh", alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted p-values ``q`` and ``reject`` flags for the p-values ``p`` (any shape).

    ``method``: "fdr_bh" (Benjamini-Hochberg), "holm", "bonferroni" (all via
    ``statsmodels.stats.multitest.multipletests``) or "none" (``q = p``,
    ``reject = p <= alpha``). NaN or None in ``p`` means "not tested" (e.g. status
    NOT_ENOUGH_DATA): it stays NaN in ``q``, is never rejected and does not count in the family
    size (Bonferroni of [0.01, NaN, 0.02] multiplies by 2). Rejection uses ``<=`` as statsmodels.
    Note: statsmodels' "holm" runs ``gc.collect()`` on every call (~0.1 s or more in a large
    process); correct families once, not inside a loop over thousands of families.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"method must be one of {CORRECTIONS}, got {method!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    p = np.asarray(p, dtype=np.float64)
    flat = p.ravel()
    tested = ~np.isnan(flat)
    if ((flat[tested] < 0) | (flat[tested] > 1)).any():
        raise ValueError("p-values must lie in [0, 1] (or be NaN for 'not tested')")
    q = np.full(flat.shape, np.nan)
    reject = np.zeros(flat.shape, dtype=bool)
    if tested.any():
        if method == "none":
            q[tested] = flat[tested]
            reject[tested] = flat[tested] <= alpha
        else:
            rej, qq, _, _ = multipletests(flat[tested], alpha=alpha, method=method)
            q[tested], reject[tested] = qq, rej
    return q.reshape(p.shape), reject.reshape(p.shape)


@dataclass
class Family:
    """A named family of tests corrected together, recorded with the analysis.

    ``members`` are the test ids in the order of the p-values given to :meth:`apply`
    (e.g. "L3H7/local/tau=3"); ``size`` is the number of members actually tested (non-NaN p),
    set by :meth:`apply` (None before). ``n_rejected`` likewise.
    """

    name: str
    members: list[str]
    method: str = "fdr_bh"
    alpha: float = 0.05
    size: int | None = None
    n_rejected: int | None = field(default=None)

    def __post_init__(self) -> None:
        self.members = [str(m) for m in self.members]
        if len(set(self.members)) != len(self.members):
            raise ValueError(f"family {self.name!r} has duplicate member ids")
        if self.method not in CORRECTIONS:
            raise ValueError(f"method must be one of {CORRECTIONS}, got {self.method!r}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")

    def apply(self, p) -> tuple[np.ndarray, np.ndarray]:
        """Correct ``p`` (array, one per member, or a :class:`TestTable`) and record the size."""
        if isinstance(p, TestTable):
            p = p.p
        p = np.asarray(p, dtype=np.float64).ravel()
        if p.size != len(self.members):
            raise ValueError(f"family {self.name!r}: {p.size} p-values for {len(self.members)} members")
        q, reject = correct(p, self.method, self.alpha)
        self.size = int(np.sum(~np.isnan(p)))
        self.n_rejected = int(reject.sum())
        return q, reject

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description: name, method, alpha, members, n_members, size, n_rejected."""
        return {"name": self.name, "method": self.method, "alpha": float(self.alpha),
                "members": list(self.members), "n_members": len(self.members),
                "size": self.size, "n_rejected": self.n_rejected}
