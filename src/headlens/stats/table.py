"""Constants and :class:`TestTable`, the result of :func:`one_sample` / :func:`paired`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

TESTS = ("t", "wilcoxon", "sign")
ALTERNATIVES = ("greater", "less", "two-sided")
CORRECTIONS = ("fdr_bh", "holm", "bonferroni", "none")

OK = "ok"
NOT_ENOUGH_DATA = "not enough data"
ZERO_VARIANCE = "zero variance"
STATUSES = (OK, NOT_ENOUGH_DATA, ZERO_VARIANCE)

_FLOATS = ("estimate", "ci_low", "ci_high", "statistic", "p", "effect")


def _none_if_nan(v: float) -> float | None:
    v = float(v)
    return None if np.isnan(v) else v


@dataclass(frozen=True, eq=False)
class TestTable:
    """One entry per test (column of the input); all arrays have the same length.

    Arrays: ``n`` (int, non-missing observations or pairs), ``estimate`` (mean, or mean
    difference for :func:`paired`), ``ci_low``/``ci_high`` (bootstrap CI of the mean),
    ``statistic``, ``p``, ``effect``, ``status`` (object array of str, see
    :mod:`headlens.stats`). Inside the arrays "undefined" is NaN; NaN in ``p`` happens only
    for status ``NOT_ENOUGH_DATA`` and means "not tested" to :func:`correct`.
    :meth:`to_records` renders every NaN as ``None``.

    Metadata: ``test``, ``design`` ("one-sample" or "paired"), ``alternative``, ``popmean``,
    ``ddof``, ``ci`` (level), ``ci_method``, ``n_boot``, ``seed``, ``min_n``, ``zero_method``,
    ``effect_name``, ``statistic_name`` and optional column ``names``.
    The arrays are read-only.
    """

    __test__ = False  # not a pytest test class

    n: np.ndarray
    estimate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    statistic: np.ndarray
    p: np.ndarray
    effect: np.ndarray
    status: np.ndarray
    test: str
    alternative: str
    popmean: float
    ddof: int
    ci: float
    n_boot: int
    seed: int
    min_n: int = 10
    design: str = "one-sample"
    ci_method: str = "percentile"
    zero_method: str = "wilcox"
    effect_name: str = ""
    statistic_name: str = ""
    names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        k = len(self.n)
        for f in ("n", *_FLOATS, "status"):
            a = getattr(self, f)
            if len(a) != k:
                raise ValueError(f"TestTable.{f} has length {len(a)}, expected {k}")
            a.flags.writeable = False
        if self.names is not None and len(self.names) != k:
            raise ValueError(f"TestTable.names has length {len(self.names)}, expected {k}")

    def __len__(self) -> int:
        return len(self.n)

    def metadata(self) -> dict[str, Any]:
        """The table-wide settings, as plain Python values."""
        return {
            "test": self.test, "design": self.design, "alternative": self.alternative,
            "popmean": float(self.popmean), "ddof": int(self.ddof), "ci_level": float(self.ci),
            "ci_method": self.ci_method, "n_boot": int(self.n_boot), "seed": int(self.seed),
            "min_n": int(self.min_n), "zero_method": self.zero_method,
            "effect_name": self.effect_name, "statistic_name": self.statistic_name,
        }

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per test with the per-test fields and the metadata; NaN becomes ``None``."""
        meta = self.metadata()
        out = []
        for i in range(len(self)):
            rec: dict[str, Any] = {"column": i, "name": None if self.names is None else self.names[i]}
            rec["n"] = int(self.n[i])
            for f in _FLOATS:
                rec[f] = _none_if_nan(getattr(self, f)[i])
            rec["status"] = str(self.status[i])
            rec.update(meta)
            out.append(rec)
        return out

    def to_arrow(self):
        """The records as a ``pyarrow.Table`` with an explicit schema (nulls for None)."""
        import pyarrow as pa

        f64, i64, s = pa.float64(), pa.int64(), pa.string()
        schema = pa.schema(
            [("column", i64), ("name", s), ("n", i64)] + [(f, f64) for f in _FLOATS]
            + [("status", s), ("test", s), ("design", s), ("alternative", s), ("popmean", f64),
               ("ddof", i64), ("ci_level", f64), ("ci_method", s), ("n_boot", i64), ("seed", i64),
               ("min_n", i64), ("zero_method", s), ("effect_name", s), ("statistic_name", s)]
        )
        return pa.Table.from_pylist(self.to_records(), schema=schema)
