"""The specialised views of the analyses a run may contain, from their stored tables.

Each ``*_view`` takes the tables and params of one output directory
(``runs/X/<analysis>/<name>/``, read by ``store.outputs.read_outputs``) and the model shape,
and returns a JSON-able dict for the report and the figures; ``marks`` give the significance
marks that the per-head heatmaps draw (metric -> {cell index: note}). A view only reads the
columns it names; a table without them is shown by the generic table view alone.
"""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa

from .encode import grid, num, nums

# columns that say "this head passed the analysis's corrected test", in the order they are looked for
DECISIONS = ("is_role", "significant", "changed", "beats_baseline", "decision")
NOT_DECIDED = {"", "no", "none", "false", "ns", "n.s.", "not significant", "no change", "unchanged", "not enough data",
               "not tested", "zero variance"}


def decided(value) -> bool:
    """Whether a decision cell says yes: True, or a string that is not one of the 'no' words."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() not in NOT_DECIDED
    return False


def _alpha(params: dict) -> float:
    return float((params.get("settings") or {}).get("alpha", 0.05))


def _fmt(v, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}g}"


def cell_marks(rows: list[dict], heads: int, note) -> dict[int, str]:
    return {int(r["layer"]) * heads + int(r["head"]): note(r) for r in rows}


# -- roles ------------------------------------------------------------------------------------

def roles_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    taus = (params.get("settings") or {}).get("taus") or [None]
    tau = taus[0]
    rows = [r for r in tables["heads"].to_pylist() if tau is None or r.get("tau") == tau]
    order = list(dict.fromkeys(r["role"] for r in rows))
    per_role, marks = [], defaultdict(dict)
    for role in order:
        mine = [r for r in rows if r["role"] == role]
        found = sorted((r for r in mine if r.get("is_role")), key=lambda r: -(r.get("mean") or 0))
        per_role.append({
            "role": role, "metric": mine[0].get("metric"), "tested": sum(1 for r in mine if r.get("status") == "ok"),
            "count": len(found),
            "heads": [[int(r["layer"]), int(r["head"]), num(r.get("mean"), 4), num(r.get("ci_low"), 4),
                       num(r.get("ci_high"), 4), num(r.get("q"), 3)] for r in found],
        })
        for r in found:
            marks[r["metric"]][int(r["layer"]) * heads + int(r["head"])] = (
                f"role {role} (tau {tau:g}): mean {_fmt(r.get('mean'))}, q {_fmt(r.get('q'), 2)}")
    coloc = {}
    if "colocation" in tables:
        crow = [r for r in tables["colocation"].to_pylist() if tau is None or r.get("tau") == tau]
        names = list(dict.fromkeys(r["role_a"] for r in crow))
        both = {(r["role_a"], r["role_b"]): r for r in crow}
        coloc = {"roles": names,
                 "both": [[both.get((a, b), {}).get("heads_both") for b in names] for a in names],
                 "share": [[num(both.get((a, b), {}).get("share_of_a"), 3) for b in names] for a in names]}
    per_layer = {}
    if "layers" in tables:
        lrow = [r for r in tables["layers"].to_pylist() if tau is None or r.get("tau") == tau]
        names = list(dict.fromkeys(r["role"] for r in lrow))
        count = {(r["role"], r["layer"]): r["heads"] for r in lrow}
        per_layer = {"roles": names, "counts": [[count.get((n, layer), 0) for layer in range(layers)] for n in names]}
    view = {"tau": tau, "decision": params.get("decision"), "alpha": _alpha(params), "roles": per_role,
            "colocation": coloc, "per_layer": per_layer,
            "family": {k: {"name": v.get("name"), "size": v.get("size"), "method": v.get("method"), "rejected": v.get("n_rejected")}
                       for k, v in (params.get("families") or {}).items() if isinstance(v, dict)}}
    return view, dict(marks)


# -- syntax -----------------------------------------------------------------------------------

def syntax_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    best = [{k: (num(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in tables["best"].to_pylist()]
    marks: dict = defaultdict(dict)
    if "heads" in tables:
        for r in tables["heads"].to_pylist():
            if r.get("beats_baseline"):
                marks[f"dep_{r['relation']}_{r['direction']}"][int(r["layer"]) * heads + int(r["head"])] = (
                    f"beats the offset baseline for {r['relation']} ({r['direction']}): accuracy "
                    f"{_fmt(r.get('accuracy'))} vs {_fmt(r.get('baseline_accuracy'))}, q {_fmt(r.get('q'), 2)}")
    baselines = {}
    if "baselines" in tables:
        brow = tables["baselines"].to_pylist()
        rels = list(dict.fromkeys(r["relation"] for r in brow))
        offsets = sorted({int(r["offset"]) for r in brow})
        acc = {(r["relation"], int(r["offset"])): r.get("accuracy") for r in brow}
        rels = [rel for rel in rels if any(acc.get((rel, o)) is not None for o in offsets)]  # relations with arcs
        baselines = {"relations": rels, "offsets": offsets,
                     "accuracy": [[num(acc.get((rel, o)), 4) for o in offsets] for rel in rels]}
    return {"best": best, "baselines": baselines, "alpha": _alpha(params),
            "family": (params.get("family") or {}).get("name")}, dict(marks)


# -- head clustering --------------------------------------------------------------------------

def cluster_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    rows = tables["heads"].to_pylist()
    points = [[num(r["x"], 5), num(r["y"], 5), int(r["layer"]), int(r["head"]), str(r.get("behaviour", ""))] for r in rows]
    return {"points": points, "behaviours": params.get("behaviours", {}), "stress1": num(params.get("stress1"), 4),
            "layer_clustering": {k: num(v, 4) for k, v in (params.get("layer_clustering") or {}).items()},
            "thresholds": params.get("thresholds", {}), "tokens": params.get("tokens")}, {}


# -- lexical categories -----------------------------------------------------------------------

CATEGORY_CELLS = (("content", "content"), ("content", "function"), ("function", "content"), ("function", "function"))


def categories_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    mean = {}
    if "layers" in tables:
        for r in tables["layers"].to_pylist():
            mean[(r["metric"], int(r["layer"]))] = r.get("mean")
    matrices = [[[num(mean.get((f"cat_{a}_{b}", layer)), 4) for (a, b) in CATEGORY_CELLS[i:i + 2]] for i in (0, 2)]
                for layer in range(layers)]
    pref = []
    if "pref_layers" in tables:
        pref = [[int(r["layer"]), num(r.get("pref"), 4), num(r.get("ci_low"), 4), num(r.get("ci_high"), 4),
                 num(r.get("q"), 3), bool(r.get("significant"))] for r in tables["pref_layers"].to_pylist()]
    marks = {}
    if "pref_heads" in tables:
        sig = [r for r in tables["pref_heads"].to_pylist() if r.get("significant")]
        marks["cat_pref"] = cell_marks(sig, heads, lambda r: f"cat_pref != 0: {_fmt(r.get('pref'))}, q {_fmt(r.get('q'), 2)}")
    return {"matrices": matrices, "pref_layers": pref, "category_keys": params.get("category_keys"),
            "category_map": params.get("category_map")}, marks


# -- before/after comparison ------------------------------------------------------------------

def compare_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    rows = tables["heads"].to_pylist()
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    by = defaultdict(list)
    for r in rows:
        by[r["metric"]].append(r)
    per = {}
    for m in metrics:
        mine = by[m]
        per[m] = {key: grid(mine, layers, heads, key) for key in ("before", "after", "delta", "q")}
        per[m]["changed"] = {int(r["layer"]) * heads + int(r["head"]): r.get("direction") or "changed"
                             for r in mine if r.get("changed")}
    changed = sorted((r for r in rows if r.get("changed")), key=lambda r: -abs(r.get("effect") or 0))
    changes = [[r["metric"], int(r["layer"]), int(r["head"]), num(r.get("before"), 4), num(r.get("after"), 4),
                num(r.get("delta"), 4), num(r.get("ci_low"), 4), num(r.get("ci_high"), 4), num(r.get("effect"), 3),
                num(r.get("q"), 3), r.get("direction")] for r in changed]
    layer_rows = []
    if "layers" in tables:
        layer_rows = [[r["metric"], int(r["layer"]), num(r.get("before"), 4), num(r.get("after"), 4),
                       num(r.get("delta"), 4), num(r.get("q"), 3), r.get("direction") or ""]
                      for r in tables["layers"].to_pylist()]
    return {"before": params.get("before"), "after": params.get("after"), "metrics": metrics, "per_metric": per,
            "changes": changes, "layers": layer_rows, "sentences_paired": params.get("sentences_paired"),
            "decision": params.get("decision"), "forced_despite": params.get("forced_despite", []),
            "alpha": _alpha(params)}, {}


# -- decomposition (mixing ratios) ------------------------------------------------------------

def decomposition_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    view: dict = {"completeness": {k: num(v, 3) for k, v in (params.get("completeness_max_relative_error") or {}).items()},
                  "reference": params.get("kobayashi2021_bert_base_percent"), "feed_forward": params.get("feed_forward_maps")}
    if "mixing" in tables:
        rows = tables["mixing"].to_pylist()
        maps = list(dict.fromkeys(r["map"] for r in rows))
        groups = list(dict.fromkeys(r["group"] for r in rows))
        cell = {(r["map"], r["group"], int(r["layer"])): r.get("mean") for r in rows}
        view["mixing"] = {
            "maps": maps, "groups": groups, "layers": layers,
            "by_layer": {m: nums([cell.get((m, "all", layer)) for layer in range(layers)], 4) for m in maps},
            "overall": {m: nums([cell.get((m, g, -1)) for g in groups], 4) for m in maps},
        }
    if "change" in tables and tables["change"].num_rows:
        rows = tables["change"].to_pylist()
        comps = list(dict.fromkeys(r["component"] for r in rows))
        cell = {(r["component"], int(r["layer"])): r.get("mean") for r in rows}
        view["change"] = {"components": comps, "by_layer": {c: nums([cell.get((c, la)) for la in range(layers)], 4) for c in comps}}
    return view, {}


# -- ablation (per-head ablation deltas with tests) -------------------------------------------

ABLATION_KEYS = ("ablation", "mode", "metric")  # one panel per combination present


def ablation_tables(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The tables of an ablation output that hold per-head deltas (columns layer, head, delta)."""
    return {k: t for k, t in tables.items() if {"layer", "head", "delta"} <= set(t.column_names)}


def ablation_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    alpha = _alpha(params)
    panels = []
    for name, t in ablation_tables(tables).items():
        keys = [k for k in ABLATION_KEYS if k in t.column_names]
        groups = defaultdict(list)
        for r in t.to_pylist():
            groups[tuple(str(r[k]) for k in keys)].append(r)
        for key, rows in groups.items():
            cells = [r for r in rows if r.get("layer") is not None and r.get("head") is not None
                     and 0 <= r["layer"] < layers and 0 <= r["head"] < heads]
            other = [r for r in rows if r not in cells]  # whole-layer or whole-model ablations (head -1 etc.)
            sig = {}
            for r in cells:  # the table's own decision when it has one (it may require more than q <= alpha)
                q = r.get("q")
                if decided(r["decision"]) if "decision" in r else (q is not None and q <= alpha):
                    sig[int(r["layer"]) * heads + int(r["head"])] = str(r.get("decision") or f"q {_fmt(q, 2)} <= {alpha:g}")
            panels.append({
                "table": name, "key": dict(zip(keys, key)), "delta": grid(cells, layers, heads, "delta"),
                "ci_low": grid(cells, layers, heads, "ci_low"), "ci_high": grid(cells, layers, heads, "ci_high"),
                "q": grid(cells, layers, heads, "q"), "significant": sig,
                "other": [[_where(r.get("layer"), r.get("head")), num(r.get("delta"), 4), num(r.get("ci_low"), 4),
                           num(r.get("ci_high"), 4), num(r.get("q"), 3), str(r.get("decision") or "")] for r in other],
            })
    return {"panels": panels, "alpha": alpha}, {}


def _where(layer, head) -> str:
    """1-based name of an ablated unit that is not one head: a whole layer (head < 0) or the model."""
    if layer is None or layer < 0:
        return "all layers"
    return f"L{layer + 1}, all heads" if head is None or head < 0 else f"L{layer + 1}-H{head + 1}"


# -- attention pattern types ------------------------------------------------------------------

TYPE_PREFIX = "pattern_is_"  # one-hot type of each map (Kovaleva et al. 2019): the head mean is the type's share
FEATURE_PREFIXES = ("pattern_", "feat_")


def patterns_view(head_means: dict[str, list], layers: int, heads: int) -> dict | None:
    """Per head, the share of each pattern type (metrics ``pattern_is_<type>``) and the most frequent type."""
    types = [m for m in head_means if m.startswith(TYPE_PREFIX)]
    if not types:
        return None
    k = layers * heads
    dominant = []
    for c in range(k):
        vals = [(head_means[m][c], m) for m in types if head_means[m][c] is not None]
        dominant.append(types.index(max(vals)[1]) if vals else None)
    per_layer = {m: nums([_mean(head_means[m][la * heads:(la + 1) * heads]) for la in range(layers)], 4) for m in types}
    features = [m for m in head_means if m.startswith(FEATURE_PREFIXES) and m not in types]
    return {"types": [m[len(TYPE_PREFIX):] for m in types], "metrics": types, "dominant": dominant,
            "per_layer": per_layer, "features": features}


def _mean(values) -> float | None:
    v = [x for x in values if x is not None]
    return sum(v) / len(v) if v else None


VIEWS = {"roles": roles_view, "syntax": syntax_view, "cluster": cluster_view, "categories": categories_view,
         "compare": compare_view, "decomposition": decomposition_view, "ablation": ablation_view}
REQUIRED = {"roles": ("heads",), "syntax": ("best",), "cluster": ("heads",), "categories": ("layers",),
            "compare": ("heads",), "decomposition": (), "ablation": ()}


def generic_marks(analysis: str, tables: dict[str, pa.Table], params: dict, metrics: set[str], heads: int) -> dict:
    """Marks from any table with metric, layer, head and a decision (or q) column of the run's own metrics."""
    alpha = _alpha(params)
    marks: dict = defaultdict(dict)
    for t in tables.values():
        cols = set(t.column_names)
        if not {"metric", "layer", "head"} <= cols:
            continue
        decision = next((c for c in DECISIONS if c in cols), None)
        if decision is None and "q" not in cols:
            continue
        for r in t.to_pylist():
            if r["metric"] not in metrics or r["layer"] is None or r["head"] is None or r["head"] < 0:
                continue
            ok = decided(r[decision]) if decision else (r.get("q") is not None and r["q"] <= alpha)
            if ok:
                marks[r["metric"]][int(r["layer"]) * heads + int(r["head"])] = (
                    f"{analysis}: {decision or 'q <= ' + format(alpha, 'g')}"
                    + (f", q {_fmt(r.get('q'), 2)}" if r.get("q") is not None else ""))
    return dict(marks)
