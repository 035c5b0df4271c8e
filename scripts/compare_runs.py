#!/usr/bin/env python3
"""Compare every stored table of two headlens run directories, to the bit.

    python scripts/compare_runs.py RUN_A RUN_B [--tolerance 0] [--strict] [--json FILE]

What is compared (paths relative to the run directory):

- ``scores/*.parquet`` and ``sentences/*.parquet``: all parts concatenated, then sorted by their
  key columns (every non-float, non-nested column, e.g. sentence_id, layer, head, metric), so a
  different part split or row order does not count as a difference (it is reported as a note);
- every other Parquet file: ``heads.parquet`` and each analysis output
  ``<analysis>/<name>/*.parquet``, sorted the same way;
- every ``params.json`` of an analysis output, without the volatile keys (``files`` checksums,
  timestamps, durations), with the run directory's own path replaced by ``<RUN>``;
- every ``.npz`` file (``collect/<collector>/part-*.npz``, ``maps/*.npz``, ...): array names,
  dtypes, shapes and values;
- ``manifest.json``: only the fields that must be equal between two runs of the same corpus,
  model and analyses (counts, metric names/levels/analyses, model, corpus checksum, attention
  paths, stored maps). ``config`` and ``versions`` differences are printed as information (a
  redesign may move options, e.g. under ``config.options``), as is any other manifest field.
- ``progress.json`` and ``plan/*.json`` (the resume bookkeeping) are compared and reported as
  information; ``--strict`` counts them too.

Floats are equal when their bits are equal (NaN == NaN of the same payload, -0.0 != 0.0).
With ``--tolerance T`` a float difference of at most T (absolute) is accepted.

Exit status: 0 when everything compared is bit-equal (or within the tolerance when one is
given), 1 when something differs or is missing on one side, 2 on a usage error.

Dependencies: the standard library, numpy and pyarrow only (no torch, no headlens import), so it
can compare runs made by any two versions of the code.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# Keys dropped from params.json / progress.json / plan files before comparing: checksums of the
# written files and anything that records when or how fast something ran.
VOLATILE = {"files", "started", "finished", "created", "created_at", "updated", "timestamp", "time", "date",
            "seconds", "elapsed", "elapsed_s", "wall_s", "duration", "sentences_per_second", "mtime_ns"}
# Files that are not results.
SKIP_NAMES = {".headlens.lock"}
SKIP_SUFFIXES = (".lock", ".html", ".log", ".duckdb")
# Preferred order of key columns (only affects the order rows are aligned in, and the messages).
KEY_ORDER = ("sentence_id", "sent_id", "index", "task", "analysis", "metric", "map", "group", "relation",
             "rel", "direction", "type", "role", "layer", "head", "head_a", "head_b", "layer_a", "layer_b")
# Manifest fields that must be equal; others are informational.
MANIFEST_EQUAL = ("status", "counts", "analyses", "metrics", "word_aggregation", "special_tokens", "annotator",
                  "attention", "maps")
MANIFEST_MODEL = ("name", "model_type", "family", "architectures", "weights_sha256", "weight_files", "num_layers",
                  "num_heads", "hidden_size", "max_tokens", "attn_implementation", "device", "dtype", "tokenizer")
MANIFEST_CORPUS = ("sha256", "format")
MANIFEST_VOLATILE = {"started", "finished", "seconds", "sentences_per_second", "files", "error"}


@dataclass
class Result:
    table: str
    status: str  # bit-equal | within-tolerance | DIFFERENT | MISSING-IN-A | MISSING-IN-B | info-equal | info-differs
    details: list[str] = field(default_factory=list)
    max_abs: float = 0.0
    counted: bool = True  # False: information only, not part of the exit status

    @property
    def ok(self) -> bool:
        return self.status in ("bit-equal", "within-tolerance", "info-equal") or not self.counted


# ----------------------------------------------------------------------------------------- helpers

def _fmt(x: float) -> str:
    return f"{x:.3g}" if x else "0"


def _float_diff(a: np.ndarray, b: np.ndarray) -> tuple[int, float, int]:
    """(number of elements whose bits differ, max |a-b| over elements finite on both sides,
    number of elements where only one side is NaN / inf mismatch)."""
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    if a.dtype != b.dtype:
        bits = a.astype(np.float64) != b.astype(np.float64)
        nan_both = np.isnan(a.astype(np.float64)) & np.isnan(b.astype(np.float64))
        bits &= ~nan_both
    else:
        view = {2: np.uint16, 4: np.uint32, 8: np.uint64}.get(a.dtype.itemsize)
        if view is not None and a.dtype.kind == "f":
            bits = a.view(view) != b.view(view)
        elif a.dtype.kind == "c":
            bits = (a.view(np.uint8).reshape(*a.shape, -1) != b.view(np.uint8).reshape(*b.shape, -1)).any(-1)
        else:
            bits = a != b
    n_bits = int(np.count_nonzero(bits))
    if not n_bits:
        return 0, 0.0, 0
    af, bf = a[bits].astype(np.float64 if a.dtype.kind != "c" else np.complex128), \
        b[bits].astype(np.float64 if b.dtype.kind != "c" else np.complex128)
    fin = np.isfinite(af) & np.isfinite(bf)
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.abs(af[fin] - bf[fin])
    # same non-finite value with different bits (e.g. NaN payloads): not a numeric difference
    same_nonfinite = (~fin) & ((np.isnan(af) & np.isnan(bf)) | (af == bf))
    n_nonfinite = int(np.count_nonzero(~fin & ~same_nonfinite))
    return n_bits, float(d.max()) if d.size else 0.0, n_nonfinite


def _classify(n_diff: int, max_abs: float, n_nonfinite: int, tol: float) -> str:
    if n_diff == 0:
        return "bit-equal"
    if tol > 0 and n_nonfinite == 0 and max_abs <= tol:
        return "within-tolerance"
    return "DIFFERENT"


def _worse(a: str, b: str) -> str:
    rank = {"bit-equal": 0, "within-tolerance": 1, "DIFFERENT": 2}
    return a if rank[a] >= rank[b] else b


# ----------------------------------------------------------------------------------------- parquet

def _read_parquet(paths: list[str]) -> pa.Table:
    tables = [pq.read_table(p) for p in paths]
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="default")
    except TypeError:  # older pyarrow
        return pa.concat_tables(tables, promote=True)


def _plain(t: pa.Table) -> pa.Table:
    """Dictionary columns decoded (dictionary vs plain encoding is not a difference of content),
    schema metadata dropped."""
    cols = []
    for col in t.columns:
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        cols.append(col)
    return pa.table(cols, names=t.column_names)


def _sort_keys(t: pa.Table) -> list[str]:
    def sortable(tp: pa.DataType) -> bool:
        return (pa.types.is_integer(tp) or pa.types.is_string(tp) or pa.types.is_large_string(tp)
                or pa.types.is_boolean(tp) or pa.types.is_timestamp(tp) or pa.types.is_date(tp))

    def is_float(tp: pa.DataType) -> bool:
        return pa.types.is_floating(tp)

    names = t.column_names
    keys = [n for n in KEY_ORDER if n in names and sortable(t.schema.field(n).type)]
    keys += [n for n in names if n not in keys and sortable(t.schema.field(n).type)]
    keys += [n for n in names if is_float(t.schema.field(n).type)]  # tie-breakers
    return keys


def _sorted(t: pa.Table) -> pa.Table:
    keys = _sort_keys(t)
    if not keys or t.num_rows < 2:
        return t
    idx = pc.sort_indices(t, sort_keys=[(k, "ascending") for k in keys])  # nulls last
    return t.take(idx)


def _flatten_numeric(arr: pa.ChunkedArray):
    """(values, null mask, list structure) of a numeric or list-of-numeric column, as numpy; None for others."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    structure = []
    while pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type) or pa.types.is_fixed_size_list(arr.type):
        structure.append((arr.is_null().to_numpy(zero_copy_only=False).tobytes(),
                          pc.list_value_length(arr).fill_null(-1).to_numpy().tobytes()))
        arr = pc.list_flatten(arr)
    tp = arr.type
    if not (pa.types.is_floating(tp) or pa.types.is_integer(tp) or pa.types.is_boolean(tp)):
        return None
    nulls = arr.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_floating(tp):
        vals = arr.fill_null(0).to_numpy(zero_copy_only=False)
    elif pa.types.is_boolean(tp):
        vals = arr.fill_null(False).to_numpy(zero_copy_only=False)
    else:
        vals = arr.fill_null(0).to_numpy(zero_copy_only=False)
    return vals, nulls, structure


def _compare_column(name: str, a: pa.ChunkedArray, b: pa.ChunkedArray, tol: float) -> tuple[str, float, str | None]:
    """(status, max_abs, message or None) for one column of two tables with the same number of rows."""
    if a.equals(b) and not (pa.types.is_floating(a.type) or _has_nested_float(a.type)):
        return "bit-equal", 0.0, None
    fa, fb = _flatten_numeric(a), _flatten_numeric(b)
    if fa is not None and fb is not None:
        va, na, sa = fa
        vb, nb, sb = fb
        if sa != sb or va.shape != vb.shape:
            return "DIFFERENT", math.inf, f"{name}: list lengths or nulls differ"
        null_diff = int(np.count_nonzero(na != nb))
        n, m, nf = _float_diff(va, vb) if va.dtype.kind in "fc" or vb.dtype.kind in "fc" else \
            (int(np.count_nonzero(va != vb)), float(np.max(np.abs(va.astype(np.float64) - vb.astype(np.float64)),
                                                            initial=0.0)), 0)
        if va.dtype != vb.dtype and n == 0 and null_diff == 0:
            return "DIFFERENT", 0.0, f"{name}: same values, dtype {va.dtype} vs {vb.dtype}"
        status = _classify(n, m, nf, tol)
        if va.dtype.kind not in "fc" and n:
            status = "DIFFERENT"  # integers and booleans: no tolerance
        if null_diff:
            status = "DIFFERENT"
        if status == "bit-equal":
            return status, 0.0, None
        msg = f"{name}: {n} value(s) differ, max abs diff {_fmt(m)}"
        if nf:
            msg += f", {nf} non-finite mismatch(es)"
        if null_diff:
            msg += f", {null_diff} null mismatch(es)"
        return status, m, msg
    # strings, structs, ...: exact
    la, lb = a.to_pylist(), b.to_pylist()
    bad = [i for i, (x, y) in enumerate(zip(la, lb)) if not _same_py(x, y, 0.0)]
    if not bad:
        return "bit-equal", 0.0, None
    i = bad[0]
    return "DIFFERENT", math.inf, f"{name}: {len(bad)} row(s) differ, first at row {i}: {la[i]!r} vs {lb[i]!r}"


def _has_nested_float(tp: pa.DataType) -> bool:
    if pa.types.is_floating(tp):
        return True
    if pa.types.is_list(tp) or pa.types.is_large_list(tp) or pa.types.is_fixed_size_list(tp):
        return _has_nested_float(tp.value_type)
    if pa.types.is_struct(tp):
        return any(_has_nested_float(tp.field(i).type) for i in range(tp.num_fields))
    return False


def _same_py(x, y, tol: float) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        if math.isnan(x) and math.isnan(y):
            return True
        if tol > 0 and math.isfinite(x) and math.isfinite(y):
            return abs(x - y) <= tol
        return np.float64(x).tobytes() == np.float64(y).tobytes()
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same_py(x[k], y[k], tol) for k in x)
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(_same_py(p, q, tol) for p, q in zip(x, y))
    return type(x) is type(y) and x == y


def compare_tables(label: str, ta: pa.Table, tb: pa.Table, tol: float) -> Result:
    r = Result(label, "bit-equal")
    for c in set(ta.column_names) & set(tb.column_names):
        if ta.schema.field(c).type != tb.schema.field(c).type and (
                pa.types.is_dictionary(ta.schema.field(c).type) or pa.types.is_dictionary(tb.schema.field(c).type)):
            r.details.append(f"note: {c} stored as {ta.schema.field(c).type} vs {tb.schema.field(c).type} "
                             "(values compared decoded)")
    ta, tb = _plain(ta), _plain(tb)
    ca, cb = ta.column_names, tb.column_names
    only_a = [c for c in ca if c not in cb]
    only_b = [c for c in cb if c not in ca]
    if only_a or only_b:
        r.status = "DIFFERENT"
        r.details.append(f"columns only in A: {only_a}; only in B: {only_b}")
        r.max_abs = math.inf
    common = [c for c in ca if c in cb]
    if [c for c in ca if c in common] != [c for c in cb if c in common]:
        r.details.append("note: column order differs")
    for c in common:
        if ta.schema.field(c).type != tb.schema.field(c).type:
            r.status = "DIFFERENT"
            r.details.append(f"{c}: type {ta.schema.field(c).type} vs {tb.schema.field(c).type}")
            r.max_abs = math.inf
    if ta.num_rows != tb.num_rows:
        r.status = "DIFFERENT"
        r.details.append(f"rows: {ta.num_rows} vs {tb.num_rows}")
        r.max_abs = math.inf
        _row_set_diff(r, ta.select(common), tb.select(common))
        return r
    same_types = [c for c in common if ta.schema.field(c).type == tb.schema.field(c).type]
    ta, tb = ta.select(same_types), tb.select(same_types)
    cols = _compare_all(ta, tb, tol)
    if any(status != "bit-equal" for status, _, _ in cols.values()):
        sorted_cols = _compare_all(_sorted(ta), _sorted(tb), tol)
        keys = [k for k in _sort_keys(ta) if not pa.types.is_floating(ta.schema.field(k).type)]
        if any(cols[k][0] != "bit-equal" for k in keys) and all(sorted_cols[k][0] == "bit-equal" for k in keys):
            r.details.append(f"note: stored row order differs (compared after sorting by {keys})")
        cols = sorted_cols
    for status, m, msg in cols.values():
        if msg:
            r.details.append(msg)
        if status != "bit-equal":
            r.status = status if r.status == "bit-equal" else _worse(r.status, status)
            r.max_abs = max(r.max_abs, m)
    r.details.insert(0, f"{ta.num_rows} rows x {len(ca)} columns")
    return r


def _compare_all(ta: pa.Table, tb: pa.Table, tol: float) -> dict[str, tuple[str, float, str | None]]:
    return {c: _compare_column(c, ta.column(c), tb.column(c), tol) for c in ta.column_names}


def _row_set_diff(r: Result, ta: pa.Table, tb: pa.Table) -> None:
    keys = [k for k in _sort_keys(ta) if not pa.types.is_floating(ta.schema.field(k).type)]
    if not keys:
        return
    ka = set(zip(*(ta.column(k).to_pylist() for k in keys)))
    kb = set(zip(*(tb.column(k).to_pylist() for k in keys)))
    oa, ob = sorted(ka - kb, key=repr), sorted(kb - ka, key=repr)
    r.details.append(f"key {keys}: {len(oa)} only in A (e.g. {oa[:3]}), {len(ob)} only in B (e.g. {ob[:3]})")


# ----------------------------------------------------------------------------------------- npz

def compare_npz(label: str, pa_: str, pb: str, tol: float) -> Result:
    r = Result(label, "bit-equal")
    try:
        za, zb = np.load(pa_, allow_pickle=False), np.load(pb, allow_pickle=False)
        ka, kb = set(za.files), set(zb.files)
    except Exception as e:  # noqa: BLE001
        return Result(label, "DIFFERENT", [f"cannot read: {e}"], math.inf)
    if ka != kb:
        r.status = "DIFFERENT"
        r.details.append(f"arrays only in A: {sorted(ka - kb)}; only in B: {sorted(kb - ka)}")
    for k in sorted(ka & kb):
        a, b = za[k], zb[k]
        if a.dtype != b.dtype or a.shape != b.shape:
            r.status = "DIFFERENT"
            r.max_abs = math.inf
            r.details.append(f"{k}: {a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}")
            continue
        if a.dtype.kind in "fc":
            n, m, nf = _float_diff(a, b)
            status = _classify(n, m, nf, tol)
        elif a.dtype.kind in "US":
            n, m, nf = int(np.count_nonzero(a != b)), (math.inf if (a != b).any() else 0.0), 0
            status = "DIFFERENT" if n else "bit-equal"
        else:
            if a.dtype.kind in "iub":
                n = int(np.count_nonzero(a != b))
                m = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0)) if n else 0.0
            else:  # structured or other dtypes: the bytes
                n = int(a.tobytes() != b.tobytes())
                m = math.inf if n else 0.0
            nf = 0
            status = "DIFFERENT" if n else "bit-equal"
        if status != "bit-equal":
            r.status = _worse(r.status, status)
            r.max_abs = max(r.max_abs, m)
            r.details.append(f"{k} {a.dtype}{list(a.shape)}: {n} element(s) differ, max abs diff {_fmt(m)}"
                             + (f", {nf} non-finite mismatch(es)" if nf else ""))
    r.details.insert(0, f"{len(ka)} arrays")
    return r


# ----------------------------------------------------------------------------------------- json

def _normalise(obj, roots: tuple[str, ...], drop: set[str]):
    if isinstance(obj, dict):
        return {k: _normalise(v, roots, drop) for k, v in obj.items() if k not in drop}
    if isinstance(obj, list):
        return [_normalise(v, roots, drop) for v in obj]
    if isinstance(obj, str):
        for root in roots:
            if root and root in obj:
                obj = obj.replace(root, "<RUN>")
        return obj
    return obj


def _json_diff(a, b, tol: float, path: str = "") -> tuple[list[str], float]:
    """Differences as 'path: a vs b' lines, and the largest numeric difference."""
    out: list[str] = []
    worst = 0.0
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a.keys() | b.keys():
            p = f"{path}.{k}" if path else str(k)
            if k not in b:
                out.append(f"{p}: only in A")
            elif k not in a:
                out.append(f"{p}: only in B")
            else:
                o, w = _json_diff(a[k], b[k], tol, p)
                out += o
                worst = max(worst, w)
        return sorted(out), worst
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: list of {len(a)} vs {len(b)}"], math.inf
        for i, (x, y) in enumerate(zip(a, b)):
            o, w = _json_diff(x, y, tol, f"{path}[{i}]")
            out += o
            worst = max(worst, w)
        return out, worst
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        if isinstance(a, float) or isinstance(b, float):
            fa, fb = float(a), float(b)
            if (math.isnan(fa) and math.isnan(fb)) or np.float64(fa).tobytes() == np.float64(fb).tobytes():
                return [], 0.0
            d = abs(fa - fb) if math.isfinite(fa) and math.isfinite(fb) else math.inf
            return [f"{path}: {a!r} vs {b!r}" + (" (within tolerance)" if tol > 0 and d <= tol else "")], d
        return ([], 0.0) if a == b else ([f"{path}: {a!r} vs {b!r}"], math.inf)
    if a == b and type(a) is type(b):
        return [], 0.0
    return [f"{path}: {_short(a)} vs {_short(b)}"], math.inf


def _short(x) -> str:
    s = json.dumps(x, sort_keys=True, default=str)
    return s if len(s) <= 160 else s[:157] + "..."


def _json_status(diffs: list[str], worst: float, tol: float) -> str:
    if not diffs:
        return "bit-equal"
    if tol > 0 and worst <= tol:
        return "within-tolerance"
    return "DIFFERENT"


def _load_json(path: str):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def compare_json(label: str, pa_: str, pb: str, roots: tuple[str, ...], tol: float, counted: bool) -> Result:
    a = _normalise(_load_json(pa_), roots, VOLATILE)
    b = _normalise(_load_json(pb), roots, VOLATILE)
    diffs, worst = _json_diff(a, b, tol)
    status = _json_status(diffs, worst, tol)
    if not counted:
        status = "info-equal" if status != "DIFFERENT" else "info-differs"
    return Result(label, status, diffs[:20] + ([f"... {len(diffs) - 20} more"] if len(diffs) > 20 else []),
                  worst if diffs else 0.0, counted)


# ----------------------------------------------------------------------------------------- manifest

def _flatten(obj, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    else:
        out[prefix] = obj
    return out


def _moved_to(key: str, candidates: list[str]) -> str | None:
    """Where an option went, e.g. role_window -> options.roles.window, category_map -> options.categories.map:
    a key whose last part is the old name or its last '_' part, preferring a parent named like the old prefix."""
    leaf = key.rsplit(".", 1)[-1]
    head, _, tail = leaf.partition("_")
    best, best_score = None, 0
    for kb in candidates:
        parts = kb.split(".")
        if parts[-1] == leaf:
            score = 2
        elif tail and parts[-1] == tail:
            score = 1
        else:
            continue
        if head and tail and any(p[:4] == head[:4] for p in parts[:-1]):
            score += 2
        if score > best_score:
            best, best_score = kb, score
    return best


def _config_info(ca: dict, cb: dict, roots: tuple[str, ...]) -> list[str]:
    fa = _flatten(_normalise(ca or {}, roots, set()))
    fb = _flatten(_normalise(cb or {}, roots, set()))
    lines = []
    matched_b: set[str] = set()
    for k in sorted(fa):
        if k in fb:
            matched_b.add(k)
            if _json_diff(fa[k], fb[k], 0.0)[0]:
                lines.append(f"config.{k}: {_short(fa[k])} vs {_short(fb[k])}")
            continue
        moved = _moved_to(k, [kb for kb in fb if kb not in fa and kb not in matched_b])
        if moved:
            kb = moved
            matched_b.add(kb)
            same = not _json_diff(fa[k], fb[kb], 0.0)[0]
            lines.append(f"config.{k} -> config.{kb}" + (" (same value)" if same else
                                                          f": {_short(fa[k])} vs {_short(fb[kb])}"))
        else:
            lines.append(f"config.{k}: only in A ({_short(fa[k])})")
    for k in sorted(set(fb) - matched_b):
        lines.append(f"config.{k}: only in B ({_short(fb[k])})")
    return lines


def compare_manifest(pa_: str, pb: str, roots: tuple[str, ...], tol: float) -> list[Result]:
    a, b = _load_json(pa_), _load_json(pb)
    out = []
    equal_a = {k: a.get(k) for k in MANIFEST_EQUAL}
    equal_b = {k: b.get(k) for k in MANIFEST_EQUAL}
    equal_a["model"] = {k: (a.get("model") or {}).get(k) for k in MANIFEST_MODEL}
    equal_b["model"] = {k: (b.get("model") or {}).get(k) for k in MANIFEST_MODEL}
    equal_a["corpus"] = {k: (a.get("corpus") or {}).get(k) for k in MANIFEST_CORPUS}
    equal_b["corpus"] = {k: (b.get("corpus") or {}).get(k) for k in MANIFEST_CORPUS}
    diffs, worst = _json_diff(_normalise(equal_a, roots, set()), _normalise(equal_b, roots, set()), tol)
    r = Result("manifest.json (fields that must be equal)", _json_status(diffs, worst, tol), diffs,
               worst if diffs else 0.0)
    na = len(a.get("metrics") or [])
    r.details.insert(0, f"{na} metrics; counts {json.dumps(a.get('counts'), sort_keys=True)}")
    out.append(r)
    cfg = _config_info(a.get("config"), b.get("config"), roots)
    out.append(Result("manifest.json config", "info-differs" if cfg else "info-equal", cfg, counted=False))
    rest_keys = (set(a) | set(b)) - set(MANIFEST_EQUAL) - {"config"} - MANIFEST_VOLATILE
    rest_a = _normalise({k: a.get(k) for k in rest_keys}, roots, VOLATILE)
    rest_b = _normalise({k: b.get(k) for k in rest_keys}, roots, VOLATILE)
    for side in (rest_a, rest_b):  # model/corpus fields checked above; the rest is information
        for k in ("model", "corpus"):
            if isinstance(side.get(k), dict):
                side[k] = {kk: vv for kk, vv in side[k].items()
                           if kk not in (MANIFEST_MODEL if k == "model" else MANIFEST_CORPUS)}
    d2, _ = _json_diff(rest_a, rest_b, 0.0)
    out.append(Result("manifest.json other fields", "info-differs" if d2 else "info-equal", d2[:20], counted=False))
    return out


# ----------------------------------------------------------------------------------------- walk

def _files(root: str) -> set[str]:
    out = set()
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        for f in files:
            if f in SKIP_NAMES or f.startswith(".") or ".tmp-" in f:
                continue
            out.add(os.path.relpath(os.path.join(d, f), root))
    return out


def compare_runs(a: str, b: str, tol: float = 0.0, strict: bool = False) -> list[Result]:
    roots_a = (os.path.abspath(a), a.rstrip("/"))
    roots_b = (os.path.abspath(b), b.rstrip("/"))
    roots = tuple(sorted({*roots_a, *roots_b}, key=len, reverse=True))
    fa, fb = _files(a), _files(b)
    results: list[Result] = []
    done: set[str] = set()

    # part tables: concatenated
    for folder in ("scores", "sentences"):
        pa_ = sorted(f for f in fa if f.startswith(folder + os.sep) and f.endswith(".parquet"))
        pb = sorted(f for f in fb if f.startswith(folder + os.sep) and f.endswith(".parquet"))
        done |= set(pa_) | set(pb)
        label = f"{folder}/*.parquet"
        if not pa_ and not pb:
            continue
        if not pa_ or not pb:
            results.append(Result(label, "MISSING-IN-A" if not pa_ else "MISSING-IN-B", [], math.inf))
            continue
        r = compare_tables(label, _read_parquet([os.path.join(a, f) for f in pa_]),
                           _read_parquet([os.path.join(b, f) for f in pb]), tol)
        r.details.insert(1, f"parts: {len(pa_)} vs {len(pb)}" if len(pa_) != len(pb) else f"{len(pa_)} part(s)")
        results.append(r)

    for rel in sorted(fa | fb):
        if rel in done:
            continue
        label = rel
        in_a, in_b = rel in fa, rel in fb
        name = os.path.basename(rel)
        top = rel.split(os.sep, 1)[0]
        is_bookkeeping = rel == "progress.json" or top == "plan"
        is_table = rel.endswith(".parquet") or rel.endswith(".npz") or (name == "params.json")
        if rel.endswith(SKIP_SUFFIXES) or not (is_table or is_bookkeeping or rel == "manifest.json"):
            if in_a != in_b:
                results.append(Result(label, "info-differs", [f"not compared; only in {'A' if in_a else 'B'}"],
                                      counted=False))
            continue
        if not (in_a and in_b):
            counted = not is_bookkeeping or strict
            results.append(Result(label, ("MISSING-IN-B" if in_a else "MISSING-IN-A") if counted else "info-differs",
                                  [] if counted else [f"only in {'A' if in_a else 'B'}"], math.inf, counted))
            continue
        pa_, pb = os.path.join(a, rel), os.path.join(b, rel)
        if rel == "manifest.json":
            results += compare_manifest(pa_, pb, roots, tol)
        elif rel.endswith(".parquet"):
            try:
                results.append(compare_tables(label, pq.read_table(pa_), pq.read_table(pb), tol))
            except (pa.ArrowException, OSError) as e:
                results.append(Result(label, "DIFFERENT", [f"cannot read: {e}"], math.inf))
        elif rel.endswith(".npz"):
            results.append(compare_npz(label, pa_, pb, tol))
        else:  # params.json, progress.json, plan/*.json
            results.append(compare_json(label, pa_, pb, roots, tol, counted=not is_bookkeeping or strict))
    return results


# ----------------------------------------------------------------------------------------- main

def _print(results: list[Result], a: str, b: str, tol: float, verbose: bool) -> None:
    print(f"A: {a}\nB: {b}\ntolerance: {tol:g} ({'bits' if tol == 0 else 'absolute'})")
    width = max(len(r.table) for r in results) if results else 10
    for r in results:
        extra = ""
        if r.status in ("DIFFERENT", "within-tolerance"):
            extra = f"  max abs diff {_fmt(r.max_abs)}" if math.isfinite(r.max_abs) else "  (not a numeric difference)"
        print(f"{r.status:<17} {r.table:<{width}}{extra}")
        show = r.details if (verbose or not r.ok or r.status in ("within-tolerance", "info-differs")) else \
            [d for d in r.details if d.startswith("note:")]
        for d in show:
            print(f"{'':<17}   {d}")
    counted = [r for r in results if r.counted]
    bad = [r for r in counted if not r.ok]
    n_bit = sum(r.status == "bit-equal" for r in counted)
    n_tol = sum(r.status == "within-tolerance" for r in counted)
    print(f"\n{len(counted)} compared: {n_bit} bit-equal, {n_tol} within tolerance, {len(bad)} different or missing; "
          f"{len(results) - len(counted)} informational")
    print("RESULT:", "EQUAL" if not bad else "DIFFERENT")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="See the module docstring for what is compared.")
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--tolerance", type=float, default=0.0,
                   help="largest accepted absolute float difference (default 0: bits)")
    p.add_argument("--strict", action="store_true", help="also count progress.json and plan/*.json in the exit status")
    p.add_argument("--verbose", "-v", action="store_true", help="print the details of equal tables too")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = p.parse_args(argv)
    for d in (args.run_a, args.run_b):
        if not os.path.isdir(d):
            p.error(f"{d} is not a directory")
    if args.tolerance < 0:
        p.error("--tolerance must be >= 0")
    results = compare_runs(args.run_a, args.run_b, args.tolerance, args.strict)
    _print(results, args.run_a, args.run_b, args.tolerance, args.verbose)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump([{"table": r.table, "status": r.status, "max_abs_diff": r.max_abs if math.isfinite(r.max_abs)
                        else None, "counted": r.counted, "details": r.details} for r in results], fh, indent=1)
    return 0 if all(r.ok for r in results if r.counted) else 1


if __name__ == "__main__":
    sys.exit(main())
