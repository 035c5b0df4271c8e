"""Writes a run directory: manifest, per-sentence scores and sentence records in parts, head summaries.

The layout of the run directory, and every file name in it: ``store/layout.py``; what the maps
files hold: ``runner/maps.py``.

Every file is written under a temporary name and renamed; parts are flushed every
``part_size`` sentences, so a killed run keeps every finished part. A part counts as committed
once ``progress.json`` records it (see ``store/resume.py``, which ``--resume`` relies on).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from ..errors import RunStoreError
from . import layout
from .atomic import AtomicParquetWriter, atomic_write_json, atomic_write_parquet
from .layout import MANIFEST, MAPS, SCORES, SENTENCES
from .npz import NpzWriter, write_npz
from .tables import SCORES_WRITE_OPTIONS, SENTENCES_SCHEMA, scores_schema, scores_table


def prepare_run_dir(out: str, overwrite: bool) -> str:
    """The absolute run directory, made ready for a new run. An existing empty directory is used
    in place (never removed); a run is replaced only with ``overwrite``; anything else, and a
    symbolic link, is refused."""
    if not os.fspath(out).strip():
        raise RunStoreError("--out is empty: give the run directory to create, e.g. --out runs/NAME.")
    out = os.path.abspath(out)
    if os.path.islink(out):
        raise RunStoreError(
            f"{out} is a symbolic link (to {os.readlink(out)}); a run is written into a real directory, never "
            f"through a link that --overwrite could follow. Pass the target ({os.path.realpath(out)}) or another --out."
        )
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise RunStoreError(f"{out} exists and is a file; choose another --out.")
        entries = os.listdir(out)
        if entries and not overwrite:
            raise RunStoreError(f"{out} already exists. Choose another --out, or pass --overwrite to replace it.")
        if entries and MANIFEST not in entries:
            raise RunStoreError(
                f"{out} is not empty and is not a headlens run (no {MANIFEST}); refusing to delete it even with "
                "--overwrite. Choose another --out."
            )
        if entries:
            shutil.rmtree(out)
    try:
        os.makedirs(os.path.join(out, SCORES))  # an empty --out is kept: only its contents are made
        os.makedirs(os.path.join(out, SENTENCES))
    except OSError as e:
        raise RunStoreError(f"cannot create the run directory {out}: {e.strerror}.") from e
    return out


class RunWriter:
    def __init__(self, out: str, metric_names: list[str], part_size: int = 2000, parts: int = 0,
                 on_commit: Callable[[int], None] | None = None, score_dtype: str = "float32"):
        self.out = out
        self.schema = scores_schema(score_dtype)  # the values' type: the engine's compute precision
        self.metric_names = metric_names
        self.part_size = part_size
        self._scores: AtomicParquetWriter | None = None  # the open part: batches stream into it
        self._sentences: list[dict] = []
        self.parts = parts  # committed parts (a resumed run starts at its count)
        self.on_commit = on_commit  # called with the number of committed parts after each part's commit
        self.digests: dict[str, dict] = {}  # maps files written by this writer -> their integrity.digest

    def write_manifest(self, manifest: dict) -> None:
        atomic_write_json(os.path.join(self.out, MANIFEST), manifest)

    def add_scores(self, sentence_ids: np.ndarray, values: np.ndarray) -> None:
        self._open_scores().write(scores_table(sentence_ids, values, self.metric_names, self.schema))

    def add_sentence(self, record: dict) -> None:
        self._sentences.append(record)

    def end_batch(self) -> None:
        """Flush a part once it holds ``part_size`` sentences (parts never split a batch)."""
        if len(self._sentences) >= self.part_size:
            self.flush()

    def flush(self) -> None:
        """Commit the current part: its scores file, then its sentences file (the part's marker)."""
        if not self._sentences and self._scores is None:
            return
        self._open_scores().commit()  # a part of skipped items only has an empty scores file
        atomic_write_parquet(self._part_path(SENTENCES), pa.Table.from_pylist(self._sentences, schema=SENTENCES_SCHEMA))
        self._scores, self._sentences = None, []
        self.parts += 1
        if self.on_commit is not None:
            self.on_commit(self.parts)

    def discard(self) -> None:
        """Drop the open part (a run stopped while storing a batch): nothing of it is committed."""
        if self._scores is not None:
            self._scores.abandon()
        self._scores, self._sentences = None, []

    def _open_scores(self) -> AtomicParquetWriter:
        if self._scores is None:
            self._scores = AtomicParquetWriter(self._part_path(SCORES), self.schema, **SCORES_WRITE_OPTIONS)
        return self._scores

    def _part_path(self, table: str) -> str:
        return layout.part_path(self.out, table, self.parts)

    def write_table(self, name: str, table: pa.Table) -> None:
        atomic_write_parquet(os.path.join(self.out, name), table)

    def open_maps(self, name: str) -> NpzWriter:
        """The maps file with stem ``name``, to be written member by member (``store/npz.py``) and then
        committed with :meth:`commit_maps`. Not compressed: zlib saved 7% of a map's float32s for 1.2 s
        per 16 MB map (T = 236), the largest fixed cost of a run (docs/performance.md)."""
        os.makedirs(os.path.join(self.out, MAPS), exist_ok=True)
        return NpzWriter(layout.join(self.out, layout.map_file(name)))

    def commit_maps(self, name: str, npz: NpzWriter) -> None:
        """Publish a maps file of :meth:`open_maps`; its checksum, computed while it was written, is kept
        for the run's index (``digests``)."""
        self.digests[layout.map_file(name)] = npz.commit()

    def write_maps(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        """A maps file from whole arrays (a scaled-out run's worker sent them)."""
        os.makedirs(os.path.join(self.out, MAPS), exist_ok=True)
        rel = layout.map_file(name)
        self.digests[rel] = write_npz(layout.join(self.out, rel), arrays)
