"""The attribution section of the report: per layer and method, the share of a token's attribution
that goes to each kind of source token, and how well the methods agree, from the tables
``headlens attribution RUN`` (or the run's finalizer) saved."""

from __future__ import annotations

import pyarrow as pa

from ...heads import layer_label
from ...render.blocks import block

SHOWN = 12  # rejected method differences listed


def _pivot(rows: list[dict], key, layers: int) -> tuple[list, dict]:
    cell = {(key(r), int(r["layer"])): r["mean"] for r in rows}
    names = list(dict.fromkeys(key(r) for r in rows))
    return names, {n: [cell.get((n, layer)) for layer in range(layers)] for n in names}


def attribution_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    rows = tables["layers"].to_pylist()
    n = 1 + max((int(r["layer"]) for r in rows), default=-1)
    cols = ["statistic", *(layer_label(layer) for layer in range(n))]
    blocks = []
    for method in dict.fromkeys(r["method"] for r in rows):
        stats, means = _pivot([r for r in rows if r["method"] == method], lambda r: r["stat"], n)
        blocks.append(block(f"{method}: mean share per layer", cols, ([s, *means[s]] for s in stats),
                            "Mean over sentences of the share of each token's attribution, rolled out to that layer, that "
                            "goes to itself, special tokens, punctuation, content / function words, its syntactic head "
                            "and dependents (distance: mean distance in words)."))
    if "agreement" in tables and tables["agreement"].num_rows:
        pairs, means = _pivot(tables["agreement"].to_pylist(), lambda r: f"{r['a']} / {r['b']}", n)
        blocks.append(block("agreement between methods per layer", ["methods", *cols[1:]], ([p, *means[p]] for p in pairs),
                            "Mean Spearman correlation of two methods' attributions per token."))
    if "methods" in tables and tables["methods"].num_rows:
        found = sorted((r for r in tables["methods"].to_pylist() if r.get("reject")), key=lambda r: -abs(r["delta"]))
        blocks.append(block(f"methods that differ (paired t, corrected; {len(found)} of {tables['methods'].num_rows} tests)",
                            ["methods", "statistic", "layer", "delta", "q"],
                            ([f"{r['a']} - {r['b']}", r["stat"], layer_label(int(r["layer"])), r["delta"], r["q"]] for r in found[:SHOWN]),
                            f"The {SHOWN} largest differences among the rejected tests; every test is under All analysis tables."))
    return {"note": "", "blocks": blocks}, {}
