"""The compare section of the report, from the tables its statistics step saved."""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa

from ...heads import head_index
from ...render.encode import grid, num
from ...render.marks import alpha_of


def _counts(table: pa.Table) -> dict[str, int]:
    """Heads (or layers) per verdict; a table saved before verdicts existed has none."""
    if "verdict" not in table.column_names:
        return {}
    got = table.column("verdict").to_pylist()
    return {v: got.count(v) for v in dict.fromkeys(got)}


def compare_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    rows = tables["heads"].to_pylist()
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    by = defaultdict(list)
    for r in rows:
        by[r["metric"]].append(r)
    per = {}
    for m in metrics:
        mine = by[m]
        per[m] = {key: grid(mine, layers, heads, key) for key in ("before", "after", "delta", "q", "margin")}
        per[m]["verdict"] = [None] * (layers * heads)
        for r in mine:
            per[m]["verdict"][head_index(int(r["layer"]), int(r["head"]), heads)] = r.get("verdict")
        per[m]["changed"] = {head_index(int(r["layer"]), int(r["head"]), heads): r.get("direction") or "changed"
                             for r in mine if r.get("changed")}
    changed = sorted((r for r in rows if r.get("changed")), key=lambda r: -abs(r.get("effect") or 0))
    changes = [[r["metric"], int(r["layer"]), int(r["head"]), num(r.get("before"), 4), num(r.get("after"), 4),
                num(r.get("delta"), 4), num(r.get("ci_low"), 4), num(r.get("ci_high"), 4), num(r.get("effect"), 3),
                num(r.get("q"), 3), r.get("direction")] for r in changed]
    layer_rows = []
    if "layers" in tables:
        layer_rows = [[r["metric"], int(r["layer"]), num(r.get("before"), 4), num(r.get("after"), 4),
                       num(r.get("delta"), 4), num(r.get("q"), 3), r.get("direction") or "", r.get("verdict") or ""]
                      for r in tables["layers"].to_pylist()]
    return {"before": params.get("before"), "after": params.get("after"), "metrics": metrics, "per_metric": per,
            "changes": changes, "layers": layer_rows, "sentences_paired": params.get("sentences_paired"),
            "decision": params.get("decision"), "forced_despite": params.get("forced_despite", []),
            "margins": params.get("margins"), "verdicts": {level: _counts(tables[level]) for level in ("heads", "layers")
                                                           if level in tables},
            "alpha": alpha_of(params)}, {}
