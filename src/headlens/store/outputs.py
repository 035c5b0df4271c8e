"""Derived tables of an analysis, stored inside the run directory.

``runs/NAME/<analysis>/<name>/`` holds one Parquet file per table and ``params.json`` (the
settings, tested families and summary). Every file is written under a temporary name and
renamed, and ``params.json`` is written last: a directory without it is incomplete and is
ignored by readers.
"""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import RunStoreError
from . import integrity, layout
from .atomic import atomic_write_json, atomic_write_parquet
from .layout import PARAMS
from .run import Run

NOT_OUTPUTS = layout.STORE_DIRS  # run-store folders, not analysis outputs


def discover_outputs(run: Run) -> list[tuple[str, str]]:
    """(analysis, name) of every finished output directory of the run, sorted."""
    out = []
    for analysis in sorted(os.listdir(run.path)):
        folder = os.path.join(run.path, analysis)
        if analysis in NOT_OUTPUTS or analysis.startswith(".") or not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.startswith(".") and os.path.exists(os.path.join(folder, name, PARAMS)):
                out.append((analysis, name))
    return out


def output_dir(run: Run, analysis: str, name: str) -> str:
    if not name or "/" in name or name.startswith("."):
        raise RunStoreError(f"output name {name!r} must be a plain directory name (e.g. default).")
    return layout.join(run.path, layout.output_dir(analysis, name))


def write_outputs(run: Run, analysis: str, name: str, tables: dict[str, pa.Table], params: dict) -> str:
    path = output_dir(run, analysis, name)
    os.makedirs(path, exist_ok=True)
    stale = os.path.join(path, PARAMS)
    if os.path.exists(stale):
        os.remove(stale)  # the directory is incomplete until the new params are written
    for table_name, table in tables.items():
        atomic_write_parquet(os.path.join(path, layout.table_file(table_name)), table)
    files = integrity.record(path, [layout.table_file(t) for t in tables])  # checked by readers and `headlens runs verify`
    atomic_write_json(os.path.join(path, PARAMS), {**params, "files": files})
    return path


def read_output_dir(path: str, missing: str) -> tuple[dict[str, pa.Table], dict]:
    """Every ``*.parquet`` table of a finished output directory and its params (``missing``: the
    error message when the directory is not finished, i.e. has no params file)."""
    params_path = os.path.join(path, PARAMS)
    if not os.path.exists(params_path):
        raise RunStoreError(missing)
    with open(params_path, encoding="utf-8") as fh:
        params = json.load(fh)
    recorded = params.pop("files", None)  # None: written before checksums were recorded
    if recorded is not None:
        integrity.raise_damaged(path, integrity.check_files(path, recorded))
    names = sorted(recorded) if recorded is not None else sorted(f for f in os.listdir(path) if layout.table_name(f))
    tables = {}
    for f in names:
        try:
            tables[layout.table_name(f)] = pq.read_table(os.path.join(path, f))
        except (pa.ArrowException, OSError) as e:
            raise RunStoreError(f"cannot read {os.path.join(path, f)}: {e}. Compute the outputs again.") from e
    return tables, params


def read_outputs(run: Run, analysis: str, name: str = layout.DEFAULT_OUTPUT) -> tuple[dict[str, pa.Table], dict]:
    path = output_dir(run, analysis, name)
    return read_output_dir(path, f"{path} has no finished {analysis} outputs; run `headlens {analysis} {run.path}` to compute them.")
