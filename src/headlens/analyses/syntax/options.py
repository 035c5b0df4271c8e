"""The options of the syntax analysis: which relations a run counts, and how heads are tested."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ...options import Options, StatsOptions, option

REPLICATIONS = ("none", "clark2019")


@dataclass(frozen=True)
class SyntaxOptions(Options):
    """What ``headlens run --analyses syntax`` computes."""

    relations: tuple[str, ...] = option((), "syntax: dependency labels whose head accuracy is counted (default: Clark "
                                        "et al.'s table in UD names, and 'all')", flag="--syntax-relations")
    replicate: str = option("none", "syntax (headlens run --replicate clark2019): evaluate as Clark et al.'s Syntax_Analysis.ipynb (evaluate_predictor, "
                            "offset_predictor, the Table 1 loop): 'all' over every word (punct and root too), clipped "
                            "offset baselines, ties to the last head and offset; word aggregation 'first' by default",
                            choices=REPLICATIONS, cli=False)  # set by headlens run --replicate (cli/run.py)
    bug_compatible: bool = option(False, "syntax: with --replicate clark2019, also drop the (predictor, relation) "
                                  "cells with no error, as evaluate_predictor does (docs/fidelity.md, B3)",
                                  flag="--syntax-bug-compatible")

    def check(self) -> None:
        from .metrics import check_relations

        if self.relations:
            check_relations(self.relations)
        if self.bug_compatible and self.replicate == "none":
            raise ConfigError("--syntax-bug-compatible (SyntaxOptions 'bug_compatible') reproduces a bug of Clark et "
                              "al.'s evaluation; add --replicate clark2019 (SyntaxOptions replicate='clark2019').")


@dataclass(frozen=True)
class SyntaxSettings(StatsOptions):
    """How ``headlens syntax`` tests each head against its relation's best offset baseline (paired
    bootstrap over sentences; ``min_n``: relations found in fewer sentences are not tested)."""

    name: str = option("default", "output directory under RUN/syntax/")
