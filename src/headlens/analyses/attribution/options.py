"""The options of the attribution analysis: which methods a run computes, and the statistics step's settings."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import param_error
from ...options import Options, StatsOptions, option
from .names import DEFAULT_METHODS, METHODS


@dataclass(frozen=True)
class AttributionOptions(Options):
    """What ``headlens run --analyses attribution`` computes."""

    methods: tuple[str, ...] = option(DEFAULT_METHODS, "attribution: the methods to roll out, from rollout, normroll, "
                                      "alti, vz (vz costs T times a layer's feed-forward per sentence of T tokens)",
                                      flag="--attribution-methods")
    flow_cap: int = option(40, "attribution: attention flow for the stored sentences (--store-maps) of at most this "
                           "many tokens (0: none); one max-flow per pair of tokens and layer", flag="--flow-cap")

    def check(self) -> None:
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise param_error(type(self).__name__, "methods", f"a non-empty subset of {', '.join(METHODS)}",
                              ",".join(self.methods))
        if self.flow_cap < 0:
            raise param_error(type(self).__name__, "flow_cap", "an int >= 0", self.flow_cap)


@dataclass(frozen=True)
class AttributionSettings(StatsOptions):
    """How ``headlens attribution`` summarises a run: per-layer means with bootstrap intervals, and paired tests
    between methods (corrected across the family of methods x statistics x layers)."""

    name: str = option("default", "output directory under RUN/attribution/")
