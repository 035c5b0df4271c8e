"""The options of the roles analysis: which sieve metrics a run computes, and how heads are tested."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ...metrics.arcs import DEFAULT_RELATIONS
from ...options import DISTRIBUTION_FREE, Options, StatsOptions, option

REPLICATIONS = ("pande2021",)  # headlens roles RUN --replicate: the original's tests
RUN_REPLICATIONS = ("none", "pande2021")  # headlens run --replicate: the original's scores
H2D = ("head", "arc")  # how role_syn_<r>_h2d averages (docs/fidelity.md, D7)
BLOCKS = ("role_block", "role_block_h")


@dataclass(frozen=True)
class RolesOptions(Options):
    """What ``headlens run --analyses roles`` computes."""

    relations: tuple[str, ...] = option(DEFAULT_RELATIONS, "roles: dependency labels of the syntactic sieves "
                                        "('all' = every arc but punct)", flag="--relations")
    window: int = option(2, "roles: the local sieve window, +-k tokens", flag="--role-window")
    replicate: str = option("none", "roles (headlens run --replicate pande2021): Pande et al.'s documented choices "
                            "for the scores, h2d averaged over arcs unless --role-h2d says otherwise",
                            choices=RUN_REPLICATIONS, cli=False)  # set by headlens run --replicate (cli/run.py)
    h2d: str | None = option(None, "roles: the h2d syntactic score averages over head words (head: a mean over each "
                             "head word of the mean over its dependents; the default) or over arcs (arc: Pande et al.'s "
                             "syntactic_score.ipynb, Heads1.get_score; the default under --replicate pande2021)",
                             flag="--role-h2d", choices=H2D)
    bug_compatible: bool = option(False, "roles: reproduce Pande et al.'s bugs: the local-window count at the sequence "
                                  "end (B1) and arc ends located by the first occurrence of each token (list.index, B2; "
                                  "docs/fidelity.md)", flag="--role-bug-compatible")

    def __post_init__(self) -> None:
        if self.h2d is None:
            object.__setattr__(self, "h2d", "arc" if self.replicate == "pande2021" else "head")
        super().__post_init__()

    def check(self) -> None:
        if self.window < 1:
            raise ConfigError(f"--role-window (RolesOptions 'window') must be an int >= 1, got {self.window!r}.")


@dataclass(frozen=True)
class RoleSettings(StatsOptions):
    """How ``headlens roles`` decides that a head has a role: H1 mean sieve score > tau."""

    taus: tuple[float, ...] = option((3.0,), "threshold(s) of H1 mean score > tau; several taus join one family",
                                     flag="--tau")
    ddof: int = option(1, "degrees of freedom subtracted in the t test's variance (Pande et al.: 0)")
    distribution_free: str = option("wilcoxon", "the distribution-free test that must also reject", flag="--test",
                                    choices=DISTRIBUTION_FREE)
    block: str = option("role_block", "the block score: role_block, or role_block_h (Pande et al.'s entropy weighting)",
                        choices=BLOCKS)
    name: str = option("default", "name of the output directory under RUN/roles/", cli=False)

    def check(self) -> None:
        super().check()
        if not self.taus:
            raise ConfigError("roles need at least one tau (--tau 3, or --tau 1,2,3).")

    @classmethod
    def replicate(cls, study: str) -> RoleSettings:
        if study != "pande2021":
            raise ConfigError(f"unknown replication {study!r}; known: {', '.join(REPLICATIONS)}.")
        return cls(taus=(3.0,), correction="none", ddof=0, distribution_free="none", block="role_block_h", name="pande2021")
