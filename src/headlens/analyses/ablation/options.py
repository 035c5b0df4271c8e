"""The statistics settings of an ablation sweep (the tests of each ablation against the unablated model)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError, param_error
from ...options import StatsOptions, option

METRICS = ("accuracy", "f1", "mcc")


@dataclass(frozen=True)
class AblationStats(StatsOptions):
    """How each ablation is tested (``results.py``): exact McNemar for accuracy, a paired bootstrap for
    F1 and MCC, corrected across the sweep; ``min_n`` here counts dev examples."""

    min_n: int = option(100, "fewer dev examples: every result underpowered, no decision")
    metrics: tuple[str, ...] = option(("accuracy",), "accuracy (exact McNemar), f1, mcc (paired bootstrap)")
    min_effect: float = option(0.01, "smallest change reported: helps/hurts needs |delta| > x; underpowered: not "
                                     "significant and the CI holds both -x and +x")

    def check(self) -> None:
        super().check()
        bad = [m for m in self.metrics if m not in METRICS]
        if bad or not self.metrics:
            raise ConfigError(f"--metrics {list(bad) or '(none)'}: choose from {', '.join(METRICS)}.")
        if self.min_effect < 0:
            raise param_error(type(self).__name__, "min_effect", "a float >= 0", self.min_effect)

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["metrics"] = list(self.metrics)
        return d
