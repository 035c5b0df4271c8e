"""One statistics command in a fresh process, for its peak memory and its store scans: one JSON line.

    python benchmarks/stats_child.py roles RUN
    python benchmarks/stats_child.py syntax RUN
    python benchmarks/stats_child.py compare BEFORE AFTER
    python benchmarks/stats_child.py categories RUN
    python benchmarks/stats_child.py ablation SWEEP   (benchmarks/synthetic_ablation.py)

roles, syntax and compare are the ``headlens`` commands (``headlens.cli.main``); categories is its
per-run statistics step (``save_run_tables``, the finalizer of ``--analyses categories``: the
``headlens categories`` command compares fine-tuned runs with a base); ablation is the statistics
step of ``headlens ablate`` (``parts_table`` over a synthetic sweep's parts, accuracy, F1 and MCC). The line holds the
process's own peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``), the wall time and the number of
scans of the score parts (every ``Run`` the command opened, ``Run.score_scans``).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time

from benchutil import max_rss_mib


def ablation_stats(sweep: str) -> None:
    """The ablation table of a synthetic sweep, read part by part."""
    import os

    import numpy as np

    from headlens.analyses.ablation.options import AblationStats
    from headlens.analyses.ablation.parts import iter_parts
    from headlens.analyses.ablation.results import parts_table
    from synthetic_ablation import ablations

    with open(os.path.join(sweep, "synthetic.json"), encoding="utf-8") as fh:
        meta = json.load(fh)
    units = ablations(meta["layers"], meta["heads"])
    parts_table(iter_parts(sweep, meta["parts"], len(units)), np.load(os.path.join(sweep, "labels.npy")), units,
                "uniform", meta["classes"], AblationStats(metrics=("accuracy", "f1", "mcc")))


def main(argv: list[str]) -> int:
    from headlens.store import run as store_run

    opened = []
    init = store_run.Run.__init__

    def counted(self, *a, **k):
        init(self, *a, **k)
        opened.append(self)

    store_run.Run.__init__ = counted
    command, paths = argv[0], argv[1:]
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        if command == "ablation":
            ablation_stats(paths[0])
        elif command == "categories":
            from headlens.analyses.categories.stats import save_run_tables

            save_run_tables(store_run.open_run(paths[0]))
        else:
            from headlens.cli import main as cli

            code = cli([command, *paths])
            if code:
                raise SystemExit(f"headlens {command} exited with {code}")
    print(json.dumps({"command": command, "seconds": time.perf_counter() - started, "rss_mib": max_rss_mib(),
                      "scans": sum(r.score_scans for r in opened)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
