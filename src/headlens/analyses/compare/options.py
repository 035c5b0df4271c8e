"""The settings of the paired before/after tests (headlens compare, categories, compare-models)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import param_error
from ...options import DISTRIBUTION_FREE, StatsOptions, option
from .margins import parse_overrides


@dataclass(frozen=True)
class ChangeSettings(StatsOptions):
    """How a head or layer is found *changed*: the paired t-test and a distribution-free paired test
    both reject after correction (``min_n``: fewer paired sentences is 'not enough data') and the
    mean change exceeds the metric's margin (:mod:`.margins`); *equivalent*: the corrected TOST
    shows the change is within the margin."""

    distribution_free: str = option("wilcoxon", "the distribution-free paired test that must also reject",
                                    flag="--test", choices=DISTRIBUTION_FREE)
    margin_mass: float = option(0.01, "smallest change reported of an attention proportion (metrics in [0, 1])")
    margin_word: float = option(0.001, "smallest change reported of a category metric (cat_*: per-word weights)")
    margin_nats: float = option(0.02, "smallest change reported of an entropy, in nats")
    margin_relative: float = option(0.02, "smallest change reported of a sieve score, norm or count, as a fraction "
                                          "of its mean before")
    margins: tuple[str, ...] = option((), "METRIC=X: the margin of one metric, in its units", flag="--margin")

    def check(self) -> None:
        super().check()
        for name in ("margin_mass", "margin_word", "margin_nats", "margin_relative"):
            if not getattr(self, name) >= 0:
                raise param_error(type(self).__name__, name, "a float >= 0", getattr(self, name))
        parse_overrides(self.margins)
