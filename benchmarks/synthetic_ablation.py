"""A synthetic ablation sweep for the scale benchmark: the sweep's prediction parts, no model.

    .venv/bin/python benchmarks/synthetic_ablation.py OUT --examples 400000 [--layers 12 --heads 12]
        [--classes 2] [--part-size 32] [--seed 0]

Writes ``OUT/parts/batch-NNNNN.parquet`` as ``headlens ablate`` does (``analyses/ablation/parts.py``),
one part of ``--part-size`` examples at a time, for the ablations of every head and every layer of a
``layers x heads`` model, and ``OUT/labels.npy`` and ``OUT/synthetic.json`` (examples, layers, heads,
classes, parts, the planted heads). The draws, per example: a label uniform over the classes; the
unablated prediction right with probability 0.85; each head's ablation changes 1% of the predictions
at random (a right one to a wrong class, a wrong one to the right class), the planted heads ``HURTS``
4% and each layer 10%, of which only the right ones change (to wrong).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

from headlens.analyses.ablation.parts import PARTS, part_path, write_part  # noqa: E402
from headlens.analyses.ablation.spec import head_ablation, layer_ablation  # noqa: E402

HURTS = [(0, 3), (5, 7), (11, 0)]


def ablations(layers: int, heads: int) -> list:
    """Every head, then every layer (the sweep's order for --heads all --layers all)."""
    return [head_ablation(la, h) for la in range(layers) for h in range(heads)] + \
        [layer_ablation(la, heads) for la in range(layers)]


def _part(rng, y: np.ndarray, classes: int, layers: int, heads: int) -> np.ndarray:
    """[ablations + 1, m] predictions of one part (row 0 the unablated model)."""
    m = len(y)
    wrong = (y + rng.integers(1, classes, m)) % classes
    base = np.where(rng.random(m) < 0.85, y, wrong)
    rates = np.full(layers * heads + layers, 0.01)
    for la, h in HURTS:
        rates[la * heads + h] = 0.04
    rates[layers * heads:] = 0.10
    hurt = np.zeros(len(rates), bool)
    hurt[[la * heads + h for la, h in HURTS if la < layers and h < heads]] = True
    hurt[layers * heads:] = True
    change = rng.random((len(rates), m)) < rates[:, None]
    broken = change & ((base == y)[None, :] | ~hurt[:, None])  # the hurting ones only break
    preds = np.where(broken, np.where(base == y, wrong, y)[None, :], base[None, :])
    return np.vstack([base[None, :], preds])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--examples", type=int, required=True)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--classes", type=int, default=2)
    p.add_argument("--part-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    os.makedirs(os.path.join(a.out, PARTS), exist_ok=True)
    y = rng.integers(0, a.classes, a.examples)
    parts = 0
    for b, s in enumerate(range(0, a.examples, a.part_size)):
        idx = np.arange(s, min(s + a.part_size, a.examples))
        write_part(part_path(a.out, b), idx, _part(rng, y[idx], a.classes, a.layers, a.heads))
        parts += 1
    np.save(os.path.join(a.out, "labels.npy"), y.astype(np.int16))
    with open(os.path.join(a.out, "synthetic.json"), "w", encoding="utf-8") as fh:
        json.dump({"examples": a.examples, "layers": a.layers, "heads": a.heads, "classes": a.classes, "parts": parts,
                   "hurts": HURTS, "seed": a.seed}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
