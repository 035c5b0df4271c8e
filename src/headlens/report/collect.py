"""Everything the report shows, gathered from a run directory into one JSON-able dict.

Sources: the manifest (provenance), ``heads.parquet`` (the per-head mean, count and std of
every metric), every finished analysis output ``runs/X/<analysis>/<name>/`` (read with
``store.outputs.read_outputs``; a directory without ``params.json`` is unfinished and left
out), optionally a second run to compare with, probe results (``headlens probe --json``) and
the head view's word-level maps of a few sentences (``report.headview``). The HTML report and
the matplotlib figures both draw from this dict, so they show the same numbers.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

from ..errors import ConfigError, RunStoreError
from ..heads import head_index
from ..store import Run, layout, open_run
from ..store.layout import PARAMS
from ..store.outputs import discover_outputs, read_output_dir, read_outputs
from ..analyses.ablation.view import ablation_tables
from ..analyses.patterns import HEAD_MEANS_VIEW
from ..analyses.registry import ANALYSES
from ..render.encode import jsonable, num, table
from ..render.marks import generic_marks
from . import headview

DEFAULT_MAX_ROWS = 3000
LIST_LIMIT = 24  # items of a params.json list shown in the report


def provenance(run: Run) -> dict:
    m = run.manifest
    model, corpus, counts = m.get("model", {}), m.get("corpus", {}), m.get("counts", {})
    return {
        "path": os.path.abspath(run.path), "name": os.path.basename(os.path.normpath(run.path)),
        "status": m.get("status"), "started": m.get("started"), "finished": m.get("finished"),
        "seconds": m.get("seconds"), "sentences_per_second": m.get("sentences_per_second"),
        "model": {k: model.get(k) for k in ("name", "path", "model_type", "family", "weights_sha256", "num_layers",
                                            "num_heads", "hidden_size", "max_tokens", "attn_implementation", "device", "dtype")},
        "tokenizer": model.get("tokenizer"),
        "corpus": {k: corpus.get(k) for k in ("path", "sha256", "format")},
        "annotator": m.get("annotator"), "analyses": m.get("analyses", []), "word_aggregation": m.get("word_aggregation"),
        "special_tokens": m.get("special_tokens"), "counts": counts, "versions": m.get("versions", {}),
        "maps": m.get("maps"), "error": m.get("error"),
        "config": jsonable(m.get("config", {})), "replicate": replicate_modes(m),
    }


def replicate_modes(manifest: dict) -> str | None:
    """The original code a run's analyses follow (docs/fidelity.md), e.g. "surface: clark2019;
    roles: h2d arc, bug-compatible"; None when every analysis uses headlens's definitions."""
    parts = []
    for name, o in sorted((manifest.get("config", {}).get("options") or {}).items()):
        what = [o["replicate"]] if o.get("replicate") not in (None, "none") else []
        what += ["h2d arc"] if o.get("h2d") == "arc" else []
        what += ["bug-compatible"] if o.get("bug_compatible") else []
        if what:
            parts.append(f"{name}: {', '.join(what)}")
    return "; ".join(parts) or None


def head_values(run: Run, layers: int, heads: int) -> dict[str, dict]:
    """metric -> {mean, count, std}: row-major [layers * heads] lists from heads.parquet."""
    t = run.heads()
    out: dict[str, dict] = {}
    metric = t["metric"].to_pylist()
    layer, head = t["layer"].to_pylist(), t["head"].to_pylist()
    cols = {k: t[k].to_pylist() for k in ("mean", "count", "std")}
    for i, name in enumerate(metric):
        d = out.setdefault(name, {k: [None] * (layers * heads) for k in cols})
        c = head_index(int(layer[i]), int(head[i]), heads)
        for k, v in cols.items():
            d[k][c] = num(v[i])
    return out


def dependency_accuracies(run: Run, means: dict[str, dict], info: list[dict]) -> None:
    """``dep_<rel>_<dir>`` as accuracies (docs/conventions.md): each such metric's ``mean`` becomes the
    fraction of the relation's arcs, with ``hits`` and ``arcs`` beside and ``stat`` "accuracy"; its
    description says so. Left as mean counts when the run has no syntax collector parts."""
    from ..analyses.syntax.accuracy import accuracy, arc_totals, relation_of

    dep = [m for m in means if relation_of(m)]
    totals = arc_totals(run) if dep else {}
    for m in dep:
        d = means[m]
        acc = [accuracy(m, mu, n, totals) for mu, n in zip(d["mean"], d["count"])]
        if not any(acc):
            continue
        d["mean_count"], d["stat"] = d["mean"], "accuracy"
        d["mean"] = [num(a["accuracy"]) if a else None for a in acc]
        d["hits"] = [a["hits"] if a else None for a in acc]
        d["arcs"] = [a["arcs"] if a else None for a in acc]
        d["std"] = [None] * len(acc)  # the std of the per-sentence counts is not one of the accuracy
        for i in (i for i, x in enumerate(info) if x["name"] == m):
            info[i] = {**info[i], "description": f"accuracy: the fraction of the {relation_of(m)} arcs where "
                       + (info[i].get("description") or "").split(" arcs where ", 1)[-1] + " (hits and arcs beside)"}


def _same_run(a: dict, run: Run) -> bool:
    """Whether a compare params side (path, weights_sha256) designates ``run``."""
    if not a:
        return False
    if a.get("path") and os.path.realpath(a["path"]) == os.path.realpath(run.path):
        return True
    return (a.get("weights_sha256") == run.manifest["model"].get("weights_sha256")
            and os.path.basename(os.path.normpath(a.get("path") or "")) == os.path.basename(os.path.normpath(run.path)))


def _compare_with(run: Run, other: Run, outputs: list[tuple[str, str]]) -> tuple[dict, dict, str]:
    """The stored comparison of ``run`` with ``other`` (either direction), else one computed now (before = other)."""
    for name in [n for a, n in outputs if a == "compare"]:
        tables, params = read_outputs(run, "compare", name)
        if _same_run(params.get("before"), other):
            return tables, params, f"stored: {run.path}/{layout.output_dir('compare', name)}"
    for analysis, name in discover_outputs(other):
        if analysis != "compare":
            continue
        tables, params = read_outputs(other, "compare", name)
        if _same_run(params.get("before"), run):
            return tables, params, f"stored: {other.path}/{layout.output_dir('compare', name)}"
    from ..analyses.compare.stats import compare_runs

    changes, params = compare_runs(other, run)
    return ({"heads": changes.heads, "layers": changes.layers}, jsonable(params),
            f"computed now with the default settings (store it with: headlens compare {other.path} {run.path})")


def _stored_before(run: Run, compares: list[dict]) -> Run | None:
    """The "before" run of the run's first stored comparison, when it is still where it was: its maps
    are the before side of the before/after view."""
    for entry in compares:
        path = (entry["view"].get("before") or {}).get("path")
        if not _same_run(entry["view"].get("after"), run):
            continue
        if path and os.path.isdir(path) and os.path.realpath(path) != os.path.realpath(run.path):
            try:
                return open_run(path)
            except (RunStoreError, OSError, ValueError):
                continue
    return None


def _probe(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read the probe result {path}: {e}") from e
    if not isinstance(data, dict) or "uas" not in data:
        raise ConfigError(f"{path} is not a `headlens probe --json` result (it has no 'uas').")
    return {"path": path, **jsonable(data)}


def _sweep(path: str) -> tuple[dict, dict]:
    """The tables and params of a `headlens ablate --out DIR` directory (DIR/*.parquet, DIR/params.json)."""
    try:
        return read_output_dir(path, f"{path} is not a finished ablation sweep: it has no {PARAMS} (see `headlens ablate --out`).")
    except RunStoreError as e:
        raise ConfigError(str(e)) from None


def build(run: Run | str, compare: Run | str | None = None, sentences: int | None = None,
          sentence_ids: list[str] | None = None, probes: tuple[str, ...] = (), ablations: tuple[str, ...] = (),
          max_rows: int = DEFAULT_MAX_ROWS, title: str | None = None,
          strict_head_view: bool | None = None) -> dict:
    """The report's data for ``run``.

    ``sentences``: the head view shows the first N analysed sentences (None: the sentences whose
    maps the run stored); ``sentence_ids`` names them instead. The head view draws stored maps
    only (``report.headview``): one that was asked for explicitly fails loudly when a sentence
    has none; the default one is left out with a note saying how to store them.
    """
    run = open_run(run) if isinstance(run, (str, os.PathLike)) else run
    other = open_run(compare) if isinstance(compare, (str, os.PathLike)) else compare
    model = run.manifest["model"]
    layers, heads = int(model["num_layers"]), int(model["num_heads"])
    means = head_values(run, layers, heads)
    metric_info = [m for m in run.manifest.get("metrics", []) if m["name"] in means]
    known = {m["name"] for m in metric_info}
    metric_info += [{"name": n, "level": None, "analysis": None, "description": ""} for n in means if n not in known]
    dependency_accuracies(run, means, metric_info)
    notes: list[str] = []
    marks: dict[str, dict] = {}
    outputs = discover_outputs(run)
    sections: dict[str, list] = {}
    tables_out = []
    params_of: dict[str, dict] = {}

    def add_marks(source: str, found: dict) -> None:
        for metric, cells in found.items():
            if metric in means and cells:
                marks.setdefault(metric, []).append({"source": source, "cells": [[c, note] for c, note in sorted(cells.items())]})

    for analysis, name in outputs:
        try:
            tables, params = read_outputs(run, analysis, name)
        except (RunStoreError, OSError, ValueError) as e:
            notes.append(f"{analysis}/{name} could not be read: {e}")
            continue
        source = f"{analysis}/{name}"
        owner = ANALYSES.get(analysis)
        view_fn = owner.view if owner is not None else None  # analyses/<name>/view.py
        if view_fn and all(t in tables for t in owner.required):
            try:
                view, found = view_fn(tables, params, layers, heads)
            except (KeyError, TypeError, ValueError) as e:  # a table of an unexpected shape: the generic view only
                notes.append(f"{source}: the {analysis} view could not read its tables ({type(e).__name__}: {e}); "
                             "the tables are listed below")
            else:
                add_marks(source, found)
                sections.setdefault(analysis, []).append({"name": name, "source": source, "view": view})
        if analysis not in ("compare", "ablation", "roles"):
            add_marks(source, generic_marks(analysis, tables, params, set(means), heads))
        params_of[source] = shorten(jsonable(params))
        for tname, t in tables.items():
            tables_out.append({"analysis": analysis, "name": name, "table": tname, **table(t, max_rows)})

    for path in ablations:  # sweeps written outside the run (`headlens ablate --out DIR`)
        tables, params = _sweep(path)
        if not ablation_tables(tables):
            raise ConfigError(f"{path} has no table with the columns layer, head and delta.")
        view, _ = ANALYSES["ablation"].view(tables, params, layers, heads)
        name = os.path.basename(os.path.normpath(path))
        sections.setdefault("ablation", []).append({"name": name, "source": path, "view": view})
        params_of[f"ablation/{name}"] = shorten(jsonable(params))
        outputs.append(("ablation", name))
        for tname, t in tables.items():
            tables_out.append({"analysis": "ablation", "name": name, "table": tname, **table(t, max_rows)})

    compare_info = None
    if other is not None:
        if (int(other.manifest["model"]["num_layers"]), int(other.manifest["model"]["num_heads"])) != (layers, heads):
            raise ConfigError(f"{other.path} has {other.manifest['model']['num_layers']} x {other.manifest['model']['num_heads']} "
                              f"heads and {run.path} {layers} x {heads}; they cannot be compared head by head.")
        tables, params, how = _compare_with(run, other, outputs)
        view, _ = ANALYSES["compare"].view(tables, params, layers, heads)
        compare_info = {"other": provenance(other), "how": how}
        entry = {"name": f"--compare {other.path}", "source": how, "view": view}
        sections["compare"] = [entry] + [s for s in sections.get("compare", []) if s["view"].get("before") != params.get("before")]

    patterns = HEAD_MEANS_VIEW({m: v["mean"] for m, v in means.items()}, layers, heads)
    if patterns:
        sections["patterns"] = [{"name": "pattern types", "source": layout.HEADS, "view": patterns}]

    probe_results = [_probe(p) for p in probes]
    names = sentence_ids or None
    explicit = bool(names) or sentences is not None
    if strict_head_view is None:
        strict_head_view = explicit
    head_view = {"sentences": []}

    try:
        if explicit:
            ids = headview.choose_sentences(run, count=sentences, names=names)
        else:  # the sentences whose maps the run stored
            ids = headview.stored_map_ids(run)
            if not ids:
                raise RunStoreError(f"{run.path} stored no maps: {headview.HOW_TO_STORE}")
        head_view = headview.head_view(run, ids, before=other or _stored_before(run, sections.get("compare", [])))
    except Exception as e:  # noqa: BLE001 - an optional part: say why it is missing unless it was asked for
        if strict_head_view:
            raise
        notes.append(f"head view left out: {type(e).__name__}: {e}")

    return {
        "format": 1,
        "section_data": section_data(run, notes),
        "title": title or f"headlens report: {os.path.basename(os.path.normpath(run.path))}",
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run": provenance(run),
        "layers": layers,
        "heads": heads,
        "metrics": [{k: m.get(k) for k in ("name", "level", "analysis", "description")} for m in metric_info],
        "values": means,
        "marks": marks,
        "sections": sections,
        "outputs": [{"analysis": a, "name": n, "params": params_of[f"{a}/{n}"]} for a, n in outputs if f"{a}/{n}" in params_of],
        "tables": tables_out,
        "compare": compare_info,
        "probes": probe_results,
        "head_view": head_view,
        "notes": notes,
    }


def section_data(run: Run, notes: list[str]) -> dict[str, dict]:
    """analysis -> the per-sentence data of its section (``Analysis.sentences``: read from the run's stored maps),
    for the analyses that have some; one that cannot be read is left out with a note saying why."""
    out = {}
    for a in ANALYSES.values():
        if a.sentences is None:
            continue
        try:
            got = a.sentences(run)
        except (RunStoreError, OSError, ValueError, KeyError) as e:
            notes.append(f"{a.name}: the per-sentence view left out: {type(e).__name__}: {e}")
            continue
        if got:
            out[a.name] = got
    return out


def shorten(value, limit: int = LIST_LIMIT):
    """``value`` with every list longer than ``limit`` cut to its first items and a count (e.g. the
    members of a family of thousands of tests, which params.json records in full)."""
    if isinstance(value, dict):
        return {k: shorten(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        head = [shorten(v, limit) for v in value[:limit]]
        return head + [f"... {len(value) - limit} more (see {PARAMS})"] if len(value) > limit else head
    return value
