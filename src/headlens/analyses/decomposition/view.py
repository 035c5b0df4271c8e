"""The decomposition section of the report, from the tables its statistics step saved."""

from __future__ import annotations

import pyarrow as pa

from ...render.encode import num, nums


def _fractions(percent: dict | None) -> dict | None:
    """The published reference (in percent) as fractions, as docs/conventions.md shows proportions."""
    return None if percent is None else {k: num(v / 100, 4) for k, v in percent.items()}


def decomposition_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    view: dict = {"completeness": {k: num(v, 3) for k, v in (params.get("completeness_max_relative_error") or {}).items()},
                  "reference": _fractions(params.get("kobayashi2021_bert_base_percent")),
                  "feed_forward": params.get("feed_forward_maps")}
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
