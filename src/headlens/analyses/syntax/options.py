"""The options of the syntax analysis: which relations a run counts, and how heads are tested."""

from __future__ import annotations

from dataclasses import dataclass

from ...options import Options, StatsOptions, option


@dataclass(frozen=True)
class SyntaxOptions(Options):
    """What ``headlens run --analyses syntax`` computes."""

    relations: tuple[str, ...] = option((), "syntax: dependency labels whose head accuracy is counted (default: Clark "
                                        "et al.'s table in UD names, and 'all')", flag="--syntax-relations")

    def check(self) -> None:
        from .metrics import check_relations

        if self.relations:
            check_relations(self.relations)


@dataclass(frozen=True)
class SyntaxSettings(StatsOptions):
    """How ``headlens syntax`` tests each head against its relation's best offset baseline (paired
    bootstrap over sentences; ``min_n``: relations found in fewer sentences are not tested)."""

    name: str = option("default", "output directory under RUN/syntax/")
