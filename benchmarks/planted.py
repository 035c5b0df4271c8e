"""Planted effects over many seeds: the false discovery rate of roles and compare on synthetic runs.

    .venv/bin/python benchmarks/planted.py [--seeds 20] [--sentences 1500]

For each seed: a synthetic 12 x 12 run (benchmarks/synthetic.py) and a twin of the same corpus with
the planted changes (+0.3), then ``head_roles`` and ``compare_runs`` with their defaults (but
n_boot 200). Prints per seed the planted heads found and the other heads claimed, then the
false discovery proportion averaged over the seeds (the FDR, to be at or below alpha = 0.05) and
the share of planted heads found (power).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

from synthetic import CHANGED, ROLE_HEADS, write_synthetic_run  # noqa: E402

from headlens.analyses.compare.changes import ChangeSettings  # noqa: E402
from headlens.analyses.compare.stats import compare_runs  # noqa: E402
from headlens.analyses.roles.stats import RoleSettings, head_roles  # noqa: E402
from headlens.store import open_run  # noqa: E402


def one_seed(root: str, seed: int, sentences: int) -> dict[str, tuple[int, int, int]]:
    base = open_run(write_synthetic_run(os.path.join(root, f"base-{seed}"), sentences, seed=2 * seed, part_size=500))
    twin = open_run(write_synthetic_run(os.path.join(root, f"twin-{seed}"), sentences, seed=2 * seed + 1,
                                        analyses=("roles",), shift=0.3, part_size=500))
    roles = {(r["metric"], r["layer"], r["head"]) for r in head_roles(base, RoleSettings(n_boot=200)).table.to_pylist()
             if r["is_role"]}
    want = {(m, a, b) for m, cells in ROLE_HEADS.items() for a, b in cells}
    changes, _ = compare_runs(base, twin, ChangeSettings(n_boot=200))
    changed = {(r["metric"], r["layer"], r["head"]) for r in changes.changed("heads")}
    planted = {(m, a, b) for m, cells in CHANGED.items() for a, b in cells if m.startswith("role_")}
    return {"roles": (len(want), len(roles & want), len(roles - want)),
            "compare": (len(planted), len(changed & planted), len(changed - planted))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--sentences", type=int, default=1500)
    a = p.parse_args(argv)
    fdp: dict[str, list[float]] = {"roles": [], "compare": []}
    power: dict[str, list[float]] = {"roles": [], "compare": []}
    with tempfile.TemporaryDirectory(prefix="headlens-planted-") as root:
        for seed in range(a.seeds):
            got = one_seed(root, seed, a.sentences)
            for k, (planted, found, other) in got.items():
                fdp[k].append(other / max(found + other, 1))
                power[k].append(found / planted)
            print(f"seed {seed}: " + "; ".join(f"{k} {f} of {p} planted found, {o} other" for k, (p, f, o) in got.items()),
                  flush=True)
    for k in fdp:
        print(f"{k}: FDR {sum(fdp[k]) / len(fdp[k]):.4f} (alpha 0.05), power {sum(power[k]) / len(power[k]):.3f} "
              f"over {a.seeds} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
