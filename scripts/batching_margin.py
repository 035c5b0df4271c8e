#!/usr/bin/env python3
"""The numbers behind compare's margin defaults (docs/finetuning.md, "The margin").

    PYTHONPATH=src python scripts/batching_margin.py OUT [--corpus ../shared/data/ud-english-ewt/en_ewt-ud-dev.conllu]

Makes two runs of the packaged MiniLM on the first 200 sentences of the corpus that differ only in
--max-batch (128 and 7), unless OUT/mb128 and OUT/mb7 exist; then prints compare's verdicts between
them (significant = the rule before the margin), the |delta| range, and the median over heads of
each head's between-sentence sd and mean for a few metrics (what the margins are read against).
"""

import argparse
import os

import numpy as np

import headlens
from headlens.analyses.compare.stats import compare_runs
from headlens.analyses.matrix import score_matrices
from headlens.corpus import CorpusSpec
from headlens.store import open_run

METRICS = ("prev", "cls", "sep", "self", "entropy", "cls_entropy", "cat_recv_content", "cat_recv_function", "cat_pref")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--corpus", default="../shared/data/ud-english-ewt/en_ewt-ud-dev.conllu")
    args = ap.parse_args()
    runs = []
    for batch in (128, 7):
        path = os.path.join(args.out, f"mb{batch}")
        runs.append(open_run(path) if os.path.exists(path) else headlens.run(
            out=path, corpus=CorpusSpec(args.corpus, limit=200), analyses=("surface", "categories"), max_batch=batch, progress=False))
    changes, _ = compare_runs(*runs)
    for level in ("heads", "layers"):
        rows = (changes.heads if level == "heads" else changes.layers).to_pylist()
        tested = [r for r in rows if r["status"] != "not enough data"]
        print(f"{level}: {len(tested)} tested, {sum(r['significant'] for r in tested)} significant, "
              f"{sum(r['changed'] for r in tested)} changed, {sum(r['verdict'] == 'equivalent' for r in tested)} equivalent")
    delta = np.abs([r["delta"] for r in changes.heads.to_pylist() if r["delta"] is not None])
    print(f"|delta| per head: max {delta.max():.2g}, median {np.median(delta):.2g}")
    for metric, m in score_matrices(runs[0], list(METRICS)).items():
        sd = np.nanstd(m.values, axis=0, ddof=1)
        with np.errstate(all="ignore"):
            mean = np.nanmean(m.values, axis=0)
        print(f"{metric}: median over heads of the between-sentence sd {np.nanmedian(sd):.4f}, of the mean "
              f"{np.nanmedian(mean):.4f}")


if __name__ == "__main__":
    main()
