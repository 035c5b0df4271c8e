"""Significance marks of the per-head heatmaps, read from any analysis' tables (shared by every view)."""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa

from ..heads import head_index
from ..units import format_p


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


def alpha_of(params: dict) -> float:
    return float((params.get("settings") or {}).get("alpha", 0.05))


def fmt(v, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}g}"


def cell_marks(rows: list[dict], heads: int, note) -> dict[int, str]:
    return {head_index(int(r["layer"]), int(r["head"]), heads): note(r) for r in rows}


def generic_marks(analysis: str, tables: dict[str, pa.Table], params: dict, metrics: set[str], heads: int) -> dict:
    """Marks from any table with metric, layer, head and a decision (or q) column of the run's own metrics."""
    alpha = alpha_of(params)
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
                marks[r["metric"]][head_index(int(r["layer"]), int(r["head"]), heads)] = (
                    f"{analysis}: {decision or 'q <= ' + format(alpha, 'g')}"
                    + (f", q {format_p(r.get('q'))}" if r.get("q") is not None else ""))
    return dict(marks)
