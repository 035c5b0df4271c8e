"""Measure the definition differences listed in docs/fidelity.md on the embedded MiniLM and UD EWT dev.

    PYTHONPATH=src python scripts/fidelity_measure.py --sentences 200 --out /tmp/fidelity

Three runs of the same sentences: headlens's definitions (surface, syntax, roles); the original
code's documented choices (``headlens run --replicate clark2019`` for surface and syntax, hence
word aggregation ``first`` and Clark et al.'s evaluation; roles ``--replicate pande2021``: h2d per
arc); and the same with the original's bugs (``--role-bug-compatible``: Pande et al.'s
local-window count, B1, and arc ends by list.index, B2). Prints, per metric, the largest
difference of a per-head mean (over sentences) between headlens and the replicate run, then
between the replicate run and the bug-compatible one (roles only), and per syntax relation the
best-head accuracy of headlens and of the replicate run.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import headlens
from headlens.analyses.syntax.stats import SyntaxSettings, dependency_accuracy
from headlens.corpus import CorpusSpec

UD_DEV = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "ud-english-ewt", "en_ewt-ud-dev.conllu")


def head_means(run, metric):
    return {(r["layer"], r["head"]): r["mean"] for r in run.heads(metric).to_pylist()}


def compare(ours, orig, metrics) -> None:
    for metric in metrics:
        if metric not in orig.metrics:
            continue
        a, b = head_means(ours, metric), head_means(orig, metric)
        diff = {k: b[k] - a[k] for k in a if a[k] is not None and b.get(k) is not None}
        if not diff:
            continue
        worst = max(diff, key=lambda k: abs(diff[k]))
        print(f"  {metric:<22} max {abs(diff[worst]):.4f} (head {worst[0] + 1}-{worst[1] + 1}: {a[worst]:.4f} -> "
              f"{b[worst]:.4f}), mean {np.mean(list(diff.values())):+.4f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=200)
    ap.add_argument("--corpus", default=UD_DEV)
    ap.add_argument("--out", default="/tmp/fidelity")
    args = ap.parse_args()
    spec = CorpusSpec(args.corpus, limit=args.sentences)
    common = dict(corpus=spec, progress=False, overwrite=True, store_maps=(), analyses=("surface", "syntax", "roles"))
    ours = headlens.run(out=os.path.join(args.out, "headlens"), **common)
    options = {"surface": {"replicate": "clark2019"}, "syntax": {"replicate": "clark2019"},
               "roles": {"replicate": "pande2021"}}
    orig = headlens.run(out=os.path.join(args.out, "original"), **common, options=options)
    bugs = headlens.run(out=os.path.join(args.out, "bug-compatible"), **common,
                        options={**options, "roles": {"replicate": "pande2021", "bug_compatible": True}})
    print(f"{args.sentences} sentences; word aggregation {ours.manifest['config']['word_aggregation']} vs "
          f"{orig.manifest['config']['word_aggregation']}")
    roles = [m for m in ours.metrics if m.startswith(("role_local_", "role_syn_"))]
    print("per-head mean over sentences, headlens vs the original's documented choices: max |diff| (head), mean of diffs")
    compare(ours, orig, roles + [m for m in ours.metrics if not m.startswith(("role_", "dep_", "syn_"))])
    print("the same, the original's choices vs its bugs too (--role-bug-compatible: B1 local window, B2 list.index)")
    compare(orig, bugs, roles)
    settings = SyntaxSettings(n_boot=200)
    best = {}
    for name, run in (("clark", ours), ("first", orig)):
        result = dependency_accuracy(run, settings)
        best[name] = {r["relation"]: r for r in result.best.to_pylist()}
        heads = result.heads.to_pylist()
        best[name + "_all"] = {(r["relation"], r["direction"], r["layer"], r["head"]): r["accuracy"] for r in heads}
    print("syntax best-head accuracy (points), headlens (aggregation clark) vs Clark et al.'s code (aggregation first, "
          "its evaluation: 'all' over every word)")
    deltas = []
    for rel, r in best["clark"].items():
        f = best["first"].get(rel)
        if f is None:
            continue
        deltas.append(100 * (f["accuracy"] - r["accuracy"]))
        print(f"  {rel:<12} {100 * r['accuracy']:5.1f} ({r['label']} {r['direction']}) -> {100 * f['accuracy']:5.1f} "
              f"({f['label']} {f['direction']}), arcs {r['arcs']}")
    every = [abs(best["first_all"][k] - v) * 100 for k, v in best["clark_all"].items() if k in best["first_all"]]
    print(f"  best-head change: max {max(map(abs, deltas)):.1f} points; any head and relation: max {max(every):.1f} points")


if __name__ == "__main__":
    main()
