"""The ablation section of the report, from the tables its statistics step saved."""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa

from ...heads import head_index, head_label, layer_label
from ...render.encode import grid, num
from ...units import format_p
from ...render.marks import alpha_of, decided, fmt
from ...stats.equivalence import VERDICTS


ABLATION_KEYS = ("ablation", "mode", "metric")  # one panel per combination present


def ablation_tables(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The tables of an ablation output that hold per-head deltas (columns layer, head, delta)."""
    return {k: t for k, t in tables.items() if {"layer", "head", "delta"} <= set(t.column_names)}


def _where(layer, head) -> str:
    """1-based name of an ablated unit that is not one head: a whole layer (head < 0) or the model."""
    if layer is None or layer < 0:
        return "all layers"
    return f"{layer_label(layer)}, all heads" if head is None or head < 0 else head_label(layer, head)


def flags(row: dict) -> str:
    """The flags of one tested ablation, as every table that shows a test shows them (docs/conventions.md)."""
    out = ["underpowered"] if row.get("underpowered") else []
    if row.get("delta") is not None and row.get("q") is None:
        out.append("not estimable")
    return ", ".join(out)


def _flagged(cells: list[dict], layers: int, heads: int) -> list[bool]:
    """Row-major [layers * heads]: whether the head's ablation is flagged underpowered."""
    out = [False] * (layers * heads)
    for r in cells:
        out[head_index(int(r["layer"]), int(r["head"]), heads)] = bool(r.get("underpowered"))
    return out


def _verdicts(cells: list[dict], layers: int, heads: int) -> list[str | None]:
    """Row-major [layers * heads]: each head's verdict (changed / equivalent / inconclusive; None: none)."""
    out: list[str | None] = [None] * (layers * heads)
    for r in cells:
        out[head_index(int(r["layer"]), int(r["head"]), heads)] = r.get("verdict")
    return out


def ablation_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    alpha = alpha_of(params)
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
                    sig[head_index(int(r["layer"]), int(r["head"]), heads)] = str(r.get("decision") or f"q {format_p(q)} <= {alpha:g}")
            panels.append({
                "table": name, "key": dict(zip(keys, key)), "delta": grid(cells, layers, heads, "delta"),
                "ci_low": grid(cells, layers, heads, "ci_low"), "ci_high": grid(cells, layers, heads, "ci_high"),
                "q": grid(cells, layers, heads, "q"), "significant": sig,
                "underpowered": _flagged(cells, layers, heads),
                "verdict": _verdicts(cells, layers, heads),
                "verdicts": {v: sum(1 for r in rows if r.get("verdict") == v) for v in VERDICTS},
                "ci_method": next((str(r["ci_method"]) for r in rows if r.get("ci_method")), None),  # None: saved before it
                "other": [[_where(r.get("layer"), r.get("head")), num(r.get("delta"), 4), num(r.get("ci_low"), 4),
                           num(r.get("ci_high"), 4), num(r.get("q"), 3), str(r.get("decision") or ""),
                           str(r.get("verdict") or ""), flags(r)] for r in other],
            })
    return {"panels": panels, "alpha": alpha}, {}
