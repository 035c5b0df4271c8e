"""Compact, JSON-safe encodings of what the report embeds: numbers, Arrow tables, float16 maps.

Everything here ends in ``json.dumps(..., allow_nan=False)``: NaN and infinities become ``None``
(shown as an empty cell), floats are rounded to a few significant digits (the report shows 4),
string columns with repeated values are dictionary-coded, and attention maps travel as
little-endian float16 in base64.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from ..heads import head_index

TABLE_DIGITS = 4  # significant digits of table cells (what the report shows)
VALUE_DIGITS = 6  # significant digits of per-head values (heatmaps, tooltips)


def num(value, digits: int = VALUE_DIGITS) -> float | int | None:
    """A finite number rounded to ``digits`` significant digits, or None."""
    if value is None or isinstance(value, bool):
        return value
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    if v == int(v) and abs(v) < 2**53:
        return int(v)
    return float(f"{v:.{digits}g}")


def nums(values: Iterable, digits: int = VALUE_DIGITS) -> list:
    return [num(v, digits) for v in values]


def grid(rows: Iterable[dict], layers: int, heads: int, value: str, digits: int = VALUE_DIGITS) -> list:
    """A row-major [layers * heads] list of ``row[value]`` from rows with 0-based ``layer``/``head`` (None elsewhere)."""
    out: list = [None] * (layers * heads)
    for r in rows:
        layer, head = r.get("layer"), r.get("head")
        if layer is None or head is None or not (0 <= layer < layers and 0 <= head < heads):
            continue
        out[head_index(int(layer), int(head), heads)] = num(r.get(value), digits)
    return out


def _kind(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        return _kind(t.value_type)
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "num"
    return "str"


def table(t: pa.Table, max_rows: int) -> dict:
    """Columns of ``t`` (its first ``max_rows`` rows) in a form the report's table widget reads."""
    shown = t.slice(0, max_rows) if t.num_rows > max_rows else t
    columns, kinds, data = [], [], []
    for name in t.column_names:
        col = shown[name]
        kind = _kind(col.type)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        values = col.to_pylist()
        if kind == "num":
            values = nums(values, TABLE_DIGITS)
        elif kind == "str":
            values = [None if v is None else str(v) for v in values]
            uniq = list(dict.fromkeys(values))
            if len(uniq) * 2 < len(values):  # dictionary-coded: {"dict": [...], "codes": [...]}
                index = {v: i for i, v in enumerate(uniq)}
                values = {"dict": uniq, "codes": [index[v] for v in values]}
        columns.append(name)
        kinds.append(kind)
        data.append(values)
    return {"columns": columns, "kinds": kinds, "data": data, "rows": t.num_rows, "shown": shown.num_rows}


def float16_b64(array: np.ndarray) -> str:
    """Little-endian float16 bytes of ``array`` (C order), base64."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f2").tobytes()).decode("ascii")


def jsonable(value):
    """``value`` with numpy scalars/arrays turned into Python and non-finite floats into None (for params.json)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.floating, float)):
        return num(value, 10)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
