"""Dependency-head accuracy per relation against the best fixed-offset baseline (Clark et al. 2019).

Inputs: the run's per-sentence hit counts of every head and direction (metrics ``dep_<rel>_<dir>``)
and the ``syntax`` collector's per-sentence arc and offset-baseline counts. For each relation:

- accuracy of a head = sum of its hits / sum of arcs over the corpus (micro average);
- the baseline is the offset in {-3..+2} with the highest accuracy (chosen on the same data,
  which favours the baseline);
- every (head, direction) is compared with that baseline by a paired bootstrap over sentences
  (arcs of one sentence are not independent; ``stats.paired_ratio_bootstrap``): CI of its
  accuracy, CI of the difference and a two-sided p, corrected over one family of all relations x
  heads x directions (recorded). A head "beats the baseline" when its q <= alpha and its
  accuracy is higher. Relations found in fewer than ``min_n`` sentences are not tested.
- the best head of a relation is the (head, direction) with the highest accuracy; its CI is for
  that head's accuracy, but picking the best of many heads on the same data is optimistic.

A run made with ``--replicate clark2019`` (``config.options.syntax.replicate`` in its manifest) is
evaluated as Clark et al.'s notebook: "all" over every word, clipped baselines, their ties
(analyses/syntax/clark.py); with ``bug_compatible`` also B3.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from ...collect import read_parts
from ...errors import RunStoreError
from ...heads import head_of
from ...metrics.arcs import EVERY
from .clark import all_counts, best_offset, head_key, kept
from .metrics import DIRECTIONS
from ...stats import Family, paired_ratio_bootstrap
from ...store import Run, head_label, layout
from ..matrix import score_matrices
from ...store.outputs import write_outputs
from .options import SyntaxSettings


@dataclass
class SyntaxResult:
    settings: SyntaxSettings
    heads: pa.Table  # one row per relation x direction x head
    best: pa.Table  # one row per relation: its best head, the best baseline and the test
    baselines: pa.Table  # one row per relation x offset
    family: dict


def _baseline_counts(run: Run) -> tuple[np.ndarray, list[str], list[int], np.ndarray, np.ndarray]:
    parts = read_parts(run, "syntax")
    ids = np.concatenate([p["sentence_ids"] for p in parts])
    counts = np.concatenate([p["counts"] for p in parts])  # [S, R, 1 + offsets]
    roots = np.concatenate([p.get("roots", np.zeros((len(p["sentence_ids"]), counts.shape[2]), np.int64))
                            for p in parts])  # [S, 1 + offsets]
    order = np.argsort(ids)
    return (ids[order], [str(r) for r in parts[0]["relations"]], [int(o) for o in parts[0]["offsets"]], counts[order],
            roots[order])


def _hits(run: Run, relation: str, ids: np.ndarray, arcs: np.ndarray) -> np.ndarray:
    """float [S, 2 * L * H]: hits of every (direction, layer, head), 0 where the sentence has no arc."""
    names = [f"dep_{relation}_{d}" for d in DIRECTIONS]
    missing = [n for n in names if n not in run.metrics]
    if missing:
        raise RunStoreError(f"run {run.path} has no {', '.join(missing)} scores; run it with --analyses syntax.")
    mats = score_matrices(run, names)
    blocks = []
    for n in names:
        m = mats[n]
        block = np.zeros((len(ids), m.values.shape[1]))
        rows = np.searchsorted(ids, m.sentence_ids)
        if len(m.sentence_ids) and (rows.max() >= len(ids) or not np.array_equal(ids[rows], m.sentence_ids)):
            raise RunStoreError(f"{run.path}: {n} has scores for sentences the syntax collector did not count.")
        block[rows] = m.values
        if np.isnan(block[arcs > 0]).any() or (block[arcs == 0] != 0).any():
            raise RunStoreError(f"{run.path}: the {n} scores and the collector's arc counts disagree.")
        blocks.append(block)
    return np.concatenate(blocks, axis=1)


def dependency_accuracy(run: Run, settings: SyntaxSettings | None = None) -> SyntaxResult:
    s = settings or SyntaxSettings()
    model = run.manifest["model"]
    layers, heads = int(model["num_layers"]), int(model["num_heads"])
    ids, relations, offsets, counts, roots = _baseline_counts(run)
    replicate = run.manifest.get("config", {}).get("options", {}).get("syntax", {})
    clark, bug = replicate.get("replicate") == "clark2019", bool(replicate.get("bug_compatible"))
    rows, base_rows, members, p_all = [], [], [], []
    for r, rel in enumerate(relations):
        if rel == EVERY and clark:
            continue
        source, scored = rel, counts[:, r, 0]  # the metrics' relation and its arcs (what its hit counts cover)
        arcs, hits = counts[:, r, 0], counts[:, r, 1:]
        if clark and rel == "all":
            source, scored = EVERY, counts[:, relations.index(EVERY), 0]
            arcs, hits = all_counts(counts, roots, relations)
        total = int(arcs.sum())
        keep_offset = kept(hits.sum(0), total, bug)
        for o, off in enumerate(offsets):
            if keep_offset[o]:
                base_rows.append({"relation": rel, "offset": off, "hits": int(hits[:, o].sum()), "arcs": total,
                                  "accuracy": hits[:, o].sum() / total if total else None})
        best_o = best_offset(hits.sum(0), keep_offset) if clark else int(np.argmax(hits.sum(0)))
        if total == 0 or best_o is None:
            continue
        present = arcs > 0
        head_hits = _hits(run, source, ids, scored)[present]
        cmp = paired_ratio_bootstrap(arcs[present], hits[present, best_o], head_hits, s.n_boot, s.seed, s.ci)
        tested = int(present.sum()) >= s.min_n
        keep_head = kept(head_hits.sum(0), total, bug)
        for c in np.flatnonzero(keep_head):
            d, k = divmod(int(c), layers * heads)
            layer, head = head_of(k, heads)
            members.append(f"{rel}/{head_label(layer, head)}/{DIRECTIONS[d]}")
            p_all.append(cmp.p[c] if tested else np.nan)
            rows.append({
                "relation": rel, "direction": DIRECTIONS[d], "layer": layer, "head": head, "label": head_label(layer, head),
                "hits": int(head_hits[:, c].sum()), "arcs": total, "sentences": int(present.sum()),
                "accuracy": float(cmp.acc_b[c]), "ci_low": float(cmp.acc_low[c]), "ci_high": float(cmp.acc_high[c]),
                "baseline_offset": offsets[best_o], "baseline_accuracy": cmp.acc_a,
                "delta": float(cmp.delta[c]), "delta_low": float(cmp.delta_low[c]), "delta_high": float(cmp.delta_high[c]),
                "p": float(cmp.p[c]) if tested else None, "status": "ok" if tested else "not enough data",
            })
    if not rows:
        raise RunStoreError(f"run {run.path} has no dependency arcs of the relations {relations}.")
    family = Family("syntax: head accuracy vs best offset baseline (paired bootstrap over sentences)", members,
                    s.correction, s.alpha)
    q, reject = family.apply(np.asarray(p_all, dtype=float))
    for row, qv, rj in zip(rows, q, reject):
        row["q"] = None if np.isnan(qv) else float(qv)
        row["beats_baseline"] = bool(rj and row["delta"] > 0)
    best = []
    for rel in dict.fromkeys(r["relation"] for r in rows):
        cells = [r for r in rows if r["relation"] == rel]
        best.append(max(cells, key=head_key if clark else lambda r: (r["accuracy"], -r["layer"], -r["head"])))
    return SyntaxResult(s, pa.Table.from_pylist(rows), pa.Table.from_pylist(best), pa.Table.from_pylist(base_rows),
                        family.to_dict())


def save_syntax(run: Run, result: SyntaxResult) -> str:
    best = result.best.to_pylist()
    params = {
        "settings": asdict(result.settings),
        "family": result.family,
        "best": {r["relation"]: {"head": r["label"], "direction": r["direction"], "accuracy": r["accuracy"],
                                 "baseline_offset": r["baseline_offset"], "baseline_accuracy": r["baseline_accuracy"],
                                 "beats_baseline": r["beats_baseline"]} for r in best},
    }
    tables = {"heads": result.heads, "best": result.best, "baselines": result.baselines}
    return write_outputs(run, "syntax", result.settings.name, tables, params)


def finalize(run: Run) -> str:
    """The default tests of a finished ``--analyses syntax`` run, saved under RUN/syntax/default/."""
    return save_syntax(run, dependency_accuracy(run))
