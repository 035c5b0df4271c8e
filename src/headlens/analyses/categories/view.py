"""The categories section of the report, from the tables its statistics step saved."""

from __future__ import annotations

import pyarrow as pa

from ...render.encode import num
from ...units import format_p
from ...render.marks import cell_marks, fmt


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
        marks["cat_pref"] = cell_marks(sig, heads, lambda r: f"cat_pref != 0: {fmt(r.get('pref'))}, q {format_p(r.get('q'))}")
    return {"matrices": matrices, "pref_layers": pref, "category_keys": params.get("category_keys"),
            "category_map": params.get("category_map")}, marks
