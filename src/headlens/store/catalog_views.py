"""What the runs catalog's views read: each run's committed files as literal DuckDB paths, checked.

A run path is data, never a pattern: ``read_parquet`` globs every string it gets, so glob
characters are escaped (``[*]``, ``[?]``, ``[[]``) and a path DuckDB cannot give back as itself
is refused by name. Before each query the files are checked against the run's record (size and
modification time; the sha256 of a changed file), and a damaged run is left out of the views with
a warning naming its files (see ``store/integrity.py`` and docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import re
import warnings

from ..errors import RunStoreError
from . import integrity, layout
from .layout import HEADS, MANIFEST, SCORES


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _manifest(path: str) -> dict:
    try:
        with open(os.path.join(path, MANIFEST), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as e:
        raise RunStoreError(f"{path} is not a readable headlens run ({MANIFEST}: {e}); pass a run directory.") from e


# the head label of headlens.heads.head_label (docs/conventions.md) from the 0-based columns, so that runs
# stored before the L3H7 labels show them too
LABEL_SQL = "('L' || (layer + 1) || 'H' || (head + 1))"

GLOB = re.compile(r"[*?\[]")
_REPRESENTABLE: dict[str, bool] = {}


def sql_path(path: str) -> str:
    """The file ``path`` as a DuckDB string literal that ``read_parquet`` reads as exactly that file
    (glob characters escaped as ``[*]``, ``[?]``, ``[[]``); a RunStoreError for a path that cannot
    be represented (not UTF-8, or not globbed back to itself)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError as e:
        raise RunStoreError(f"the path {path!r} is not valid UTF-8, which DuckDB (the runs "
                            "catalog) cannot read; rename it (e.g. with `mv`) and register it again.") from e
    escaped = GLOB.sub(lambda m: f"[{m.group(0)}]", path)
    if escaped != path and path not in _REPRESENTABLE and os.path.exists(path):
        import duckdb

        with duckdb.connect() as con:  # does DuckDB's glob give back exactly this path?
            got = [r[0] for r in con.execute("SELECT file FROM glob(?)", [escaped]).fetchall()]
        _REPRESENTABLE[path] = got == [path]
    if escaped != path and not _REPRESENTABLE.get(path, True):
        raise RunStoreError(f"the path {path!r} cannot be read literally by DuckDB (the runs catalog); rename the run "
                            "directory without the characters * ? [ and register it again.")
    return _lit(escaped)


def _view_files(path: str) -> dict:
    """The run's committed scores parts and heads.parquet as SQL literals; a RunStoreError naming
    every missing, truncated or altered one (by size and modification time; a changed file is
    then checked by its sha256)."""
    manifest = _manifest(path)
    index = integrity.committed_index(path, manifest)
    parts = integrity.committed_parts(path, manifest)
    wanted = [f for f in parts if f.startswith(SCORES + "/")]
    heads = HEADS if os.path.exists(os.path.join(path, HEADS)) or manifest.get("status") == "complete" else None
    if index is not None:
        problems = integrity.check_files(path, index, only=(SCORES + "/", HEADS), quick=True)
    else:
        problems = [integrity.Problem(f, "missing") for f in [*wanted, *([heads] if heads else [])]
                    if not os.path.exists(layout.join(path, f))]
    if problems:
        raise RunStoreError("; ".join(f"{os.path.join(path, p.file)} is {p.kind}" for p in problems) +
                            f" (`headlens runs verify {path}` checks every file)")
    return {"scores": [sql_path(layout.join(path, f)) for f in wanted],
            "heads": sql_path(os.path.join(path, heads)) if heads else None}


def _readable(con, name: str, query: str, warn: bool) -> bool:
    try:
        con.execute(f"SELECT count(*) FROM ({query})").fetchall()  # opens every file (footers only)
        return True
    except Exception as e:  # noqa: BLE001 - DuckDB raises IO and format errors of several types
        if warn:
            warnings.warn(f"run {name!r} is left out of the scores and heads views: DuckDB cannot read one of its "
                          f"files: {e}", stacklevel=5)
        return False


def _damaged_files(con, include_incomplete: bool) -> str:
    """The damaged files of the runs a failed query could read (full checks), as one line."""
    where = "" if include_incomplete else " WHERE status = 'complete'"
    found = []
    for name, path in con.execute(f"SELECT name, path FROM registry{where}").fetchall():
        if os.path.isdir(path):
            found += [f"{os.path.join(path, p.file)} ({p.kind})" for p in integrity.check(path).damaged]
    return "; ".join(found)


def _warn_damaged(paths: list[str]) -> None:
    """After a rebuild: verify every run found, and warn about each damaged one by file name."""
    for path in paths:
        try:
            damaged = integrity.check(path).damaged
        except RunStoreError as e:
            warnings.warn(str(e), stacklevel=5)
            continue
        if damaged:
            warnings.warn(f"run {path} is damaged: {'; '.join(str(p) for p in damaged)} (headlens runs verify {path}).",
                          stacklevel=5)
