"""The run-time options of the syntax analysis."""

from __future__ import annotations

from dataclasses import dataclass

from ...options import Options, option


@dataclass(frozen=True)
class SyntaxOptions(Options):
    """What ``headlens run --analyses syntax`` computes."""

    relations: tuple[str, ...] = option((), "syntax: dependency labels whose head accuracy is counted (default: Clark "
                                        "et al.'s table in UD names, and 'all')", flag="--syntax-relations")

    def check(self) -> None:
        from .metrics import check_relations

        if self.relations:
            check_relations(self.relations)
