"""Dependency-head accuracy per relation against the best fixed-offset baseline (Clark et al. 2019).

Inputs: the run's per-sentence hit counts of every head and direction (metrics ``dep_<rel>_<dir>``)
and the ``syntax`` collector's per-sentence arc and offset-baseline counts. For each relation:

- accuracy of a head = sum of its hits / sum of arcs over the corpus (micro average);
- the baseline is the offset in {-3..+2} with the highest accuracy (chosen on the same data,
  which favours the baseline);
- every (head, direction) is compared with that baseline by a paired bootstrap over sentences
  (arcs of one sentence are not independent; ``stats.paired_ratio_bootstrap``): CI of its
  accuracy, CI of the difference and a two-sided p, corrected over one family of all relations x
  heads x directions (recorded); above ``boot_max_n`` sentences with the relation, the Poisson
  bootstrap of the same ratios (``stats.poisson``: weights keyed by sentence id, one pass over
  chunks of rows). A head "beats the baseline" when its q <= alpha and its
  accuracy is higher. Relations found in fewer than ``min_n`` sentences are not tested.
- the best head of a relation is the (head, direction) with the highest accuracy; its CI is for
  that head's accuracy, but picking the best of many heads on the same data is optimistic.

A run made with ``--replicate clark2019`` (``config.options.syntax.replicate`` in its manifest) is
evaluated as Clark et al.'s notebook: "all" over every word, clipped baselines, their ties
(analyses/syntax/clark.py); with ``bug_compatible`` also B3.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from ...errors import RunStoreError
from ...heads import head_of
from ...metrics.arcs import EVERY
from .clark import all_counts, best_offset, head_key, kept
from .metrics import DIRECTIONS
from ...stats import Family, paired_ratio_bootstrap
from ...stats.poisson import POISSON, PoissonMeans, poisson_weights
from ...stats.ratio import ratio_comparison
from ...store import Run, head_label, layout
from .. import columns
from ..columns import ScoreColumns
from ...store.outputs import write_outputs
from .options import SyntaxSettings


@dataclass
class SyntaxResult:
    settings: SyntaxSettings
    heads: pa.Table  # one row per relation x direction x head
    best: pa.Table  # one row per relation: its best head, the best baseline and the test
    baselines: pa.Table  # one row per relation x offset
    family: dict
    method: str = "paired bootstrap"  # of the CIs and p: the bootstrap, or the Poisson bootstrap above boot_max_n


def _spill_counts(run: Run, cols: ScoreColumns) -> tuple[list[str], list[int]]:
    """Write the syntax collector's per-sentence counts [arcs, hits of each offset] of every relation
    into ``cols`` (level "counts", one metric per relation), and its words attached to ROOT
    (metric "roots", zeros for a run made without them), part by part; (relations, offsets)."""
    run._verified(layout.collect_dir("syntax") + "/")
    relations = offsets = None
    for number, start, ids in cols.parts:
        path = layout.collect_path(run.path, "syntax", number)
        if not os.path.exists(path):
            raise RunStoreError(f"{path} is missing: run {run.path} was not made with the syntax collector "
                                "(--analyses syntax); run it again with that analysis.")
        with np.load(path) as z:
            part_ids, counts = z["sentence_ids"], z["counts"]  # [S, R, 1 + offsets]
            roots = z["roots"] if "roots" in z.files else np.zeros((len(part_ids), counts.shape[2]), np.int64)
            relations, offsets = [str(r) for r in z["relations"]], [int(o) for o in z["offsets"]]
        order = np.argsort(part_ids)
        if not np.array_equal(part_ids[order], ids):
            raise RunStoreError(f"{path}: the part counts {len(part_ids)} sentences but its sentence part lists "
                                f"{len(ids)} analysed; the run directory is inconsistent. Run it again with --overwrite.")
        for r, rel in enumerate(relations):
            cols.write(f"counts:{rel}", "counts", start, counts[order, r, :])
        cols.write("roots", "counts", start, roots[order])
    if relations is None:
        raise RunStoreError(f"run {run.path} has no committed parts: nothing to test.")
    return relations, offsets


def _hit_blocks(cols: ScoreColumns, run: Run, relation: str, arcs: np.ndarray, present: np.ndarray):
    """(direction, first column, hits [present sentences, columns]) blocks of the relation's heads;
    ``arcs``: the arcs its hit counts cover (checked against the scores)."""
    names = [f"dep_{relation}_{d}" for d in DIRECTIONS]
    missing = [n for n in names if n not in run.metrics]
    if missing:
        raise RunStoreError(f"run {run.path} has no {', '.join(missing)} scores; run it with --analyses syntax.")
    step = cols.step(int(present.sum()))
    for d, n in enumerate(names):
        for start in range(0, cols.width, step):
            block = cols.read(n, start, min(cols.width, start + step))
            absent = arcs == 0
            block[absent] = np.nan_to_num(block[absent], nan=0.0)  # a sentence without the arc has no score
            if np.isnan(block[arcs > 0]).any() or (block[absent] != 0).any():
                raise RunStoreError(f"{run.path}: the {n} scores and the collector's arc counts disagree.")
            yield d, start, block[present]


def _poisson_relation(cols: ScoreColumns, source: str, arcs: np.ndarray, base: np.ndarray, present: np.ndarray,
                      s: SyntaxSettings) -> list[PoissonMeans]:
    """Per direction, the Poisson bootstrap's weighted sums of (arcs, baseline hits, each head's hits)
    over the sentences with arcs (``present``), in one pass over chunks of rows: each chunk's weights
    are drawn once, from its sentence ids (``stats.poisson``)."""
    rows = np.flatnonzero(present)
    names = [f"dep_{source}_{d}" for d in DIRECTIONS]
    out = [PoissonMeans(s.n_boot, 2 + cols.width) for _ in names]
    chunk = max(1, columns.BLOCK_BYTES // (8 * max(s.n_boot, cols.width)))
    for start in range(0, len(rows), chunk):
        r = rows[start:start + chunk]
        weights = poisson_weights(cols.sentence_ids[r], s.n_boot, s.seed)
        for boot, name in zip(out, names):
            boot.add(weights, np.column_stack([arcs[r], base[r], np.nan_to_num(cols.rows(name, r), nan=0.0)]))
    return out


def dependency_accuracy(run: Run, settings: SyntaxSettings | None = None) -> SyntaxResult:
    s = settings or SyntaxSettings()
    heads = int(run.manifest["model"]["num_heads"])
    replicate = run.manifest.get("config", {}).get("options", {}).get("syntax", {})
    clark, bug = replicate.get("replicate") == "clark2019", bool(replicate.get("bug_compatible"))
    rows, base_rows, members, p_all, methods = [], [], [], [], set()
    dep = [m for m in run.metrics if m.startswith("dep_")]
    with ScoreColumns(run, dep) as cols:  # one scan of the store for every relation
        relations, offsets = _spill_counts(run, cols)
        for rel in relations:
            if rel == EVERY and clark:
                continue
            counts = cols.read(f"counts:{rel}", 0, 1 + len(offsets), "counts")
            source, scored = rel, counts[:, 0]  # the metrics' relation and its arcs (what its hit counts cover)
            arcs, hits = counts[:, 0], counts[:, 1:]
            if clark and rel == "all":
                every = cols.read(f"counts:{EVERY}", 0, 1 + len(offsets), "counts")
                roots = cols.read("roots", 0, 1 + len(offsets), "counts")
                source, scored = EVERY, every[:, 0]
                arcs, hits = all_counts(every[:, None, :], roots, [EVERY])
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
            tested = int(present.sum()) >= s.min_n
            large = int(present.sum()) > s.boot_max_n
            methods.add(f"{POISSON} (sentences > {s.boot_max_n})" if large else "paired bootstrap")
            den, base = arcs[present], hits[present, best_o]
            boot = _poisson_relation(cols, source, arcs, hits[:, best_o], present, s) if large else None
            for d, start, head_hits in _hit_blocks(cols, run, source, scored, present):
                if boot is None:
                    cmp = paired_ratio_bootstrap(den, base, head_hits, s.n_boot, s.seed, s.ci)
                else:  # the Poisson bootstrap's weighted sums stand for the resampled means
                    sums = boot[d].s[:, np.r_[0, 1, 2 + start:2 + start + head_hits.shape[1]]]
                    cmp = ratio_comparison(sums, den.sum(), base.sum(), head_hits.sum(0), len(den), s.ci)
                for j in np.flatnonzero(kept(head_hits.sum(0), total, bug)):
                    layer, head = head_of(start + int(j), heads)
                    members.append(f"{rel}/{head_label(layer, head)}/{DIRECTIONS[d]}")
                    p_all.append(cmp.p[j] if tested else np.nan)
                    rows.append({
                        "relation": rel, "direction": DIRECTIONS[d], "layer": layer, "head": head,
                        "label": head_label(layer, head), "hits": int(head_hits[:, j].sum()), "arcs": total,
                        "sentences": int(present.sum()), "accuracy": float(cmp.acc_b[j]), "ci_low": float(cmp.acc_low[j]),
                        "ci_high": float(cmp.acc_high[j]), "baseline_offset": offsets[best_o], "baseline_accuracy": cmp.acc_a,
                        "delta": float(cmp.delta[j]), "delta_low": float(cmp.delta_low[j]),
                        "delta_high": float(cmp.delta_high[j]), "p": float(cmp.p[j]) if tested else None,
                        "status": "ok" if tested else "not enough data",
                    })
    if not rows:
        raise RunStoreError(f"run {run.path} has no dependency arcs of the relations {relations}.")
    method = ", ".join(sorted(methods, reverse=True))
    family = Family(f"syntax: head accuracy vs best offset baseline ({method} over sentences)", members,
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
                        family.to_dict(), method)


def save_syntax(run: Run, result: SyntaxResult) -> str:
    best = result.best.to_pylist()
    params = {
        "settings": asdict(result.settings),
        "family": result.family,
        "method": result.method,
        "best": {r["relation"]: {"head": r["label"], "direction": r["direction"], "accuracy": r["accuracy"],
                                 "baseline_offset": r["baseline_offset"], "baseline_accuracy": r["baseline_accuracy"],
                                 "beats_baseline": r["beats_baseline"]} for r in best},
    }
    tables = {"heads": result.heads, "best": result.best, "baselines": result.baselines}
    return write_outputs(run, "syntax", result.settings.name, tables, params)


def finalize(run: Run) -> str:
    """The default tests of a finished ``--analyses syntax`` run, saved under RUN/syntax/default/."""
    return save_syntax(run, dependency_accuracy(run))
