"""Plain table blocks for a report section: a title, a note, column names and rows of numbers or text.

An analysis whose report section is a few tables (layers, attribution, probe) returns
``{"blocks": [block(...), ...]}`` from its view; ``report.js`` draws every block the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .encode import TABLE_DIGITS, num


def cell(value):
    """A JSON-safe table cell: a number rounded to the report's digits, a bool as yes/no, else text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) or value is None:
        return num(value, TABLE_DIGITS)
    return str(value)


def block(title: str, columns: Sequence[str], rows: Iterable[Sequence], note: str = "") -> dict:
    """One table of a section; every row must have one cell per column."""
    out = [[cell(v) for v in r] for r in rows]
    bad = [i for i, r in enumerate(out) if len(r) != len(columns)]
    if bad:
        raise ValueError(f"block {title!r}: row {bad[0]} has {len(out[bad[0]])} cells for {len(columns)} columns")
    return {"title": title, "note": note, "columns": list(columns), "rows": out}


def interval(low, high) -> str:
    """``[low, high]`` with the report's digits (empty when either end is missing)."""
    a, b = num(low, TABLE_DIGITS), num(high, TABLE_DIGITS)
    return "" if a is None or b is None else f"[{a}, {b}]"
