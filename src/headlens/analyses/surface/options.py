"""The run-time options of the surface analysis: which definitions its metrics follow."""

from __future__ import annotations

from dataclasses import dataclass

from ...options import Options, option

REPLICATIONS = ("none", "clark2019")


@dataclass(frozen=True)
class SurfaceOptions(Options):
    """What ``headlens run --analyses surface`` computes (docs/fidelity.md)."""

    replicate: str = option("none", "surface: follow the original code's definitions instead of headlens's; clark2019: "
                            "Clark et al.'s General_Analysis.ipynb (prev/next over N queries, punctuation = the tokens "
                            "'.' and ',', sep_sep divided by 2, smoothed entropy; word level with mode='first', "
                            "the default word aggregation of such a run)", choices=REPLICATIONS,
                            cli=False)  # headlens run --replicate, shared by the analyses (cli/run.py)
