"""Lexical-category attention over runs (Jang, Byun & Shin 2024): per-run tables and the cross-task view.

Per run (``--analyses categories`` leaves them in ``RUN/categories/default/``): for every
category metric (see :mod:`headlens.metrics.categories`) the mean over sentences per head and
per layer (head mean per sentence), with the one-sample test of ``cat_pref`` against 0
(two-sided t, corrected across layers and heads together).

Across tasks (:func:`task_bias`): each fine-tuned run is paired with the base run of the same
corpus. Per task and layer: the preference (``cat_pref``, content minus function attention
received) of the fine-tuned model with its test against 0, and its change from the base
(paired over sentences, :mod:`..compare.changes`: a change is significant and beyond the margin,
0.001 for these per-word weights; ``verdict`` changed / equivalent / inconclusive). A layer has a
*task-agnostic bias* when the fine-tuned preference is significant with the same sign in every
task; a *task-agnostic change* when the layer changed in the same direction in every task. With one
fine-tuned run there is no claim across tasks (``task_agnostic`` is empty).
"""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa

from ...errors import ConfigError
from ...heads import head_of, layer_label
from ...stats import Family, ci_method_used, one_sample
from ...store import Run, layout
from ..columns import ScoreColumns, poisson_means
from ...stats.poisson import POISSON, large_ci
from ..compare.changes import ChangeSettings, paired_changes, settings_dict
from ..compare.stats import check_comparable, paired_columns
from ...store.outputs import write_outputs
from ..compare.changes import DECISION
from ..compare.margins import describe

PREF = "cat_pref"
CELLS = ("cat_content_content", "cat_content_function", "cat_function_content", "cat_function_function",
         "cat_recv_content", "cat_recv_function", PREF)


def _options(run: Run) -> dict:
    """The categories options the run was made with (recorded in its manifest)."""
    return ((run.manifest.get("config") or {}).get("options") or {}).get("categories") or {}


def _require(run: Run) -> list[str]:
    have = [m for m in CELLS if m in run.metrics]
    if PREF not in have:
        raise ConfigError(f"run {run.path} has no category scores; run it with --analyses categories.")
    return have


def _pref_tests(values: np.ndarray, s: ChangeSettings):
    return one_sample(values, 0.0, test="t", alternative="two-sided", min_n=s.min_n, ci=s.ci, n_boot=s.n_boot, seed=s.seed,
                      boot_max_n=s.boot_max_n)


_PREF_FIELDS = {"n": "n", "pref": "estimate", "ci_low": "ci_low", "ci_high": "ci_high", "effect": "effect", "p": "p",
                "status": "status"}


def _pref_columns(blocks, s: ChangeSettings) -> dict[str, np.ndarray]:
    """The cat_pref tests of every column, from its blocks ((first column, values) pairs)."""
    out: dict[str, list] = {k: [] for k in _PREF_FIELDS}
    for _, values in blocks:
        t = _pref_tests(values, s)
        for k, field in _PREF_FIELDS.items():
            out[k] += list(getattr(t, field))
    return {k: np.asarray(v) for k, v in out.items()}


def run_tables(run: Run, settings: ChangeSettings | None = None) -> tuple[dict[str, pa.Table], dict]:
    """Per-head and per-layer means of every category metric; cat_pref tested against 0 (one scan of
    the store, then a block of columns at a time)."""
    s = settings or ChangeSettings()
    metrics = _require(run)
    heads = int(run.manifest["model"]["num_heads"])
    tables, fams, ns = {}, {}, []
    with ScoreColumns(run, metrics, layers=True) as cols:
        for level in ("heads", "layers"):
            rows: dict[str, list] = {"metric": [], "layer": [], "head": [], "n": [], "mean": []}
            for metric in metrics:
                for start, v in cols.blocks(metric, level):
                    k = np.arange(start, start + v.shape[1])
                    rows["metric"] += [metric] * len(k)
                    rows["layer"] += list(head_of(k, heads)[0] if level == "heads" else k)
                    rows["head"] += list(head_of(k, heads)[1] if level == "heads" else np.full(len(k), -1))
                    rows["n"] += list(np.sum(np.isfinite(v), axis=0))
                    with np.errstate(all="ignore"), warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        rows["mean"] += list(np.nanmean(v, axis=0))
            t = _pref_columns(cols.blocks(PREF, level), s)
            if cols.n > s.boot_max_n:  # above it the mean's CI is the streamed Poisson bootstrap (stats.poisson)
                boot = poisson_means(cols, level, s.n_boot, s.seed, [PREF])[PREF]
                t["ci_low"], t["ci_high"] = large_ci(t["ci_low"], t["ci_high"], t["n"], t.pop("status"), s.boot_max_n,
                                                     boot, s.ci)
            t.pop("status", None)
            size = len(t["p"])
            fam = Family(f"categories {level}: cat_pref != 0 (two-sided t)", [f"{level}/{c}" for c in range(size)],
                         s.correction, s.alpha)
            q, reject = fam.apply(t["p"])
            fams[level] = fam.to_dict()
            ns += list(t["n"][np.isfinite(t["p"])])
            table = pa.table({k: pa.array([float(x) if k == "mean" else (str(x) if k == "metric" else int(x)) for x in v])
                              for k, v in rows.items()})
            tables[level] = table
            tables[f"pref_{level}"] = pa.table({"layer": rows["layer"][:size], "head": rows["head"][:size], **t,
                                                "q": q, "significant": reject})
    params = {"settings": settings_dict(s), "families": fams, "word_aggregation": run.manifest.get("word_aggregation"),
              "ci_method": ci_method_used("percentile", s.boot_max_n, np.asarray(ns), POISSON),
              "category_map": _options(run).get("map") or "default (the map in docs/finetuning.md)",
              "category_keys": _options(run).get("keys", "renormalise")}
    return tables, params


def save_run_tables(run: Run) -> str:
    tables, params = run_tables(run)
    return write_outputs(run, "categories", layout.DEFAULT_OUTPUT, tables, params)


def pair_with_bases(bases: list[Run], tuned: list[Run]) -> list[tuple[Run, Run]]:
    """(base, tuned) pairs by corpus sha256; ConfigError for a tuned run without a base of its corpus."""
    by_sha = {b.manifest["corpus"]["sha256"]: b for b in bases}
    out = []
    for t in tuned:
        base = by_sha.get(t.manifest["corpus"]["sha256"])
        if base is None:
            raise ConfigError(f"{t.path} read {t.manifest['corpus']['path']}, but no base run read that corpus "
                              f"(bases: {', '.join(b.path for b in bases)}). Run the base model on it too.")
        check_comparable(base, t)
        out.append((base, t))
    return out


def task_bias(bases: list[Run], tuned: list[Run], settings: ChangeSettings | None = None) -> tuple[pa.Table, dict]:
    """Per task and layer: base and fine-tuned preference, its change; the task-agnostic layers."""
    s = settings or ChangeSettings()
    rows = []
    for base, run in pair_with_bases(bases, tuned):
        metrics = [m for m in _require(run) if m in _require(base)]
        with paired_columns(base, run, metrics) as pairs:
            heads = int(run.manifest["model"]["num_heads"])
            changes = paired_changes(pairs, heads, s)
            blocks = list(pairs.blocks(PREF, "layers"))
            pb = _pref_columns(((start, b) for start, b, _ in blocks), s)
            pt = _pref_columns(((start, a) for start, _, a in blocks), s)
        for r in changes.layers.to_pylist():
            if r["metric"] != PREF:
                continue
            layer = r["layer"]
            rows.append({"task": run.path, "base": base.path, "layer": layer, "pref_base": float(pb["pref"][layer]),
                         "p_base": float(pb["p"][layer]), "pref_tuned": float(pt["pref"][layer]),
                         "p_tuned": float(pt["p"][layer]), "delta": r["delta"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                         "q_change": r["q"], "change": r["direction"],
                         **{f"delta_{m[4:]}": x["delta"] for x in changes.layers.to_pylist() if x["layer"] == layer
                            for m in [x["metric"]] if m != PREF}})
            rows[-1].update(margin=r["margin"], verdict=r["verdict"])
    fam = Family("categories across tasks: fine-tuned cat_pref != 0 per task and layer",
                 [f"{r['task']}/{layer_label(r['layer'])}" for r in rows], s.correction, s.alpha)
    q, reject = fam.apply([r["p_tuned"] for r in rows])
    for r, qq, rej in zip(rows, q, reject):
        r["q_tuned"], r["bias"] = float(qq), ("content" if r["pref_tuned"] > 0 else "function") if rej else ""
    table = pa.Table.from_pylist(rows)
    layers = sorted({r["layer"] for r in rows})
    agnostic = {}  # a claim across tasks needs two tasks or more: with one, none is made
    for layer in layers if len(tuned) > 1 else ():
        mine = [r for r in rows if r["layer"] == layer]
        biases, moves = {r["bias"] for r in mine}, {r["change"] for r in mine}
        agnostic[layer_label(layer)] = {"bias": biases.pop() if len(biases) == 1 and "" not in biases else None,
                                     "change": moves.pop() if len(moves) == 1 and "" not in moves else None}
    params = {"tasks": [t.path for t in tuned], "settings": settings_dict(s), "family_tuned": fam.to_dict(),
              "change_tests": "per task: paired t and wilcoxon over sentences, corrected across metrics x layers; "
                              + DECISION, "margins": describe(s),
              "task_agnostic": agnostic}
    return table, params
