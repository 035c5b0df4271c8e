"""The cluster section of the report, from the tables its statistics step saved."""

from __future__ import annotations

import pyarrow as pa

from ...render.encode import num


def cluster_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    rows = tables["heads"].to_pylist()
    points = [[num(r["x"], 5), num(r["y"], 5), int(r["layer"]), int(r["head"]), str(r.get("behaviour", ""))] for r in rows]
    return {"points": points, "behaviours": params.get("behaviours", {}), "stress1": num(params.get("stress1"), 4),
            "layer_clustering": {k: num(v, 4) for k, v in (params.get("layer_clustering") or {}).items()},
            "thresholds": params.get("thresholds", {}), "tokens": params.get("tokens")}, {}
