"""The settings of the paired before/after tests (headlens compare, categories, compare-models)."""

from __future__ import annotations

from dataclasses import dataclass

from ...options import DISTRIBUTION_FREE, StatsOptions, option


@dataclass(frozen=True)
class ChangeSettings(StatsOptions):
    """How a head or layer is found *changed*: the paired t-test and a distribution-free paired test
    both reject after correction (``min_n``: fewer paired sentences is 'not enough data')."""

    distribution_free: str = option("wilcoxon", "the distribution-free paired test that must also reject",
                                    flag="--test", choices=DISTRIBUTION_FREE)
