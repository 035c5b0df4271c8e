"""The layout of a run directory: every file and folder name of a run, in one place.

Everything else asks this module for paths; ``tests/test_layout.py`` fails on a module that
spells one of these names itself. A run directory (``--out runs/NAME``)::

    runs/NAME/
      manifest.json                  provenance, config, counts, checksums; status 'running' -> 'complete'
      progress.json                  what the committed parts hold (store/resume.py)
      .headlens.lock                 held by the process writing the run (store/lock.py)
      scores/part-00000.parquet      sentence_id, layer, head, metric, value (tidy long form)
      sentences/part-00000.parquet   one row per corpus item, analysed or skipped (with reason)
      plan/part-00000.json           the batch plan of each part, and the state it ends in
      collect/<name>/part-00000.npz  a collector's arrays of each part (collect/)
      heads.parquet                  metric, level, layer, head, label, count, mean, std, min, max
      maps/sentence-<id>.npz         the maps of the sentences named with --store-maps
                                     (sentence-<id>-window-<k>.npz: a window of a long sentence;
                                     sentence-<id>-decomposition.npz: the decomposition's maps)
      <analysis>/<name>/             an analysis' derived tables: <table>.parquet and params.json
      report.html                    the report's default place

A runs root holds ``catalog.duckdb`` (store/catalog.py) and its lock file. Paths relative to the
run directory are ``/``-separated (the keys of the checksum index, store/integrity.py);
:func:`join` makes them absolute.
"""

from __future__ import annotations

import os
import re

MANIFEST = "manifest.json"
PROGRESS = "progress.json"
LOCK = ".headlens.lock"
HEADS = "heads.parquet"
SCORES = "scores"
SENTENCES = "sentences"
PLAN = "plan"
COLLECT = "collect"
MAPS = "maps"
PARAMS = "params.json"
REPORT = "report.html"
CATALOG = "catalog.duckdb"
CATALOG_LOCK = CATALOG + ".lock"
DEFAULT_OUTPUT = "default"  # the name of an analysis' output directory unless one is given

TABLES = (SCORES, SENTENCES)  # the part tables readers read
PART_DIRS = (SCORES, SENTENCES, PLAN)  # the folders every committed part has a file in
STORE_DIRS = frozenset({*PART_DIRS, COLLECT, MAPS})  # run-store folders, not analysis outputs
PART = re.compile(r"^part-(\d+)\.(parquet|json|npz)$")  # the name of a part file; group 1: its number
TMP = ".tmp-"  # in the name of a file being written (store/atomic.py)
TABLE_SUFFIX = ".parquet"
MAP_SUFFIX = ".npz"
DECOMPOSITION_MAPS = "decomposition"  # the kind of the decomposition's maps: sentence-<id>-decomposition.npz
ATTRIBUTION_MAPS = "attribution"  # the attribution analysis' rolled-out maps: sentence-<id>-attribution.npz
_MAP = re.compile(r"^sentence-(\d+)\.npz$")  # the maps of a whole sentence
_KIND_MAP = re.compile(r"^sentence-(\d+)-([a-z]+)\.npz$")  # another kind of maps of a whole sentence
# what the manifest's "tables" says about the run's tables
TABLE_DOCS = {
    SCORES: f"{SCORES}/*.parquet: sentence_id, layer, head, metric, value (layer/head 0-based)",
    SENTENCES: f"{SENTENCES}/*.parquet: one row per corpus item, analysed or skipped with reason",
    "heads": f"{HEADS}: metric, level, layer, head, label (1-based), count, mean, std, min, max",
}


def join(root: str, rel: str) -> str:
    """The path of ``rel`` (``/``-separated, relative to ``root``) under ``root``."""
    return os.path.join(root, *rel.split("/")) if rel else root


def part_file(table: str, part: int) -> str:
    """The relative path of part ``part`` of ``table`` (scores, sentences: Parquet; plan: JSON)."""
    return f"{table}/part-{part:05d}.{'json' if table == PLAN else 'parquet'}"


def part_path(run_dir: str, table: str, part: int) -> str:
    return join(run_dir, part_file(table, part))


def part_number(rel: str) -> int | None:
    """The number of the part file ``rel`` (a name or a relative path), None for another file."""
    m = PART.match(rel.rsplit("/", 1)[-1])
    return int(m.group(1)) if m else None


def collect_dir(name: str) -> str:
    """The relative folder of collector ``name``'s parts."""
    return f"{COLLECT}/{name}"


def collect_file(name: str, part: int) -> str:
    """The relative path of collector ``name``'s part ``part``."""
    return f"{collect_dir(name)}/part-{part:05d}.npz"


def collect_path(run_dir: str, name: str, part: int) -> str:
    return join(run_dir, collect_file(name, part))


def map_name(sentence_id: int, window: int | None = None, kind: str | None = None) -> str:
    """The stem of a maps file: ``sentence-<id>``, ``-window-<k>`` for a window of a long sentence,
    ``-<kind>`` for another kind of maps (``decomposition``)."""
    return f"sentence-{sentence_id}" + (f"-window-{window}" if window is not None else "") + (f"-{kind}" if kind else "")


def map_file(name: str) -> str:
    """The relative path of the maps file with stem ``name`` (see :func:`map_name`)."""
    return f"{MAPS}/{name}{MAP_SUFFIX}"


def map_files(run_dir: str) -> list[str]:
    """The relative paths of the maps files in ``run_dir`` (none being written), sorted."""
    folder = os.path.join(run_dir, MAPS)
    if not os.path.isdir(folder):
        return []
    return [f"{MAPS}/{f}" for f in sorted(os.listdir(folder)) if TMP not in f and not f.startswith(".")]


def map_path(run_dir: str, sentence_id: int, kind: str | None = None) -> str:
    """The maps of the whole sentence ``sentence_id`` (of another ``kind``: e.g. :data:`DECOMPOSITION_MAPS`)."""
    return join(run_dir, map_file(map_name(sentence_id, kind=kind)))


def map_sentence(filename: str) -> int | None:
    """The sentence id of a whole sentence's maps file name, None for any other file."""
    m = _MAP.match(filename)
    return int(m.group(1)) if m else None


def map_ids(run_dir: str, kind: str | None = None) -> list[int]:
    """The sentences whose whole maps (of ``kind``: e.g. :data:`ATTRIBUTION_MAPS`) ``run_dir`` stored, sorted."""
    folder = os.path.join(run_dir, MAPS)
    if not os.path.isdir(folder):
        return []
    if kind is None:
        return sorted(i for i in map(map_sentence, os.listdir(folder)) if i is not None)
    found = (_KIND_MAP.match(f) for f in os.listdir(folder))
    return sorted(int(m.group(1)) for m in found if m and m.group(2) == kind)


def table_file(name: str) -> str:
    """The file name of table ``name`` in an output directory."""
    return f"{name}{TABLE_SUFFIX}"


def table_name(filename: str) -> str | None:
    """The table a file name holds, None for a file that is not a table."""
    return filename[: -len(TABLE_SUFFIX)] if filename.endswith(TABLE_SUFFIX) else None


def output_dir(analysis: str, name: str = DEFAULT_OUTPUT) -> str:
    """The relative folder of an analysis' outputs called ``name``."""
    return f"{analysis}/{name}"


def catalog_path(root: str) -> str:
    """The runs catalog of the runs root ``root``."""
    return os.path.join(root, CATALOG)
