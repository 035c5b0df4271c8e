"""Atomic file writes: write to a temporary name in the same directory, fsync, rename.

A reader never sees a half-written file; a crash leaves at most a hidden ``.NAME.tmp-*`` file
behind, which dataset readers (pyarrow, DuckDB globs on ``*.parquet``) skip.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file: mkstemp's 0600 would hide outputs from others


def temporary_dir(out: str, hidden: bool = False) -> str:
    """A new temporary directory beside ``out`` (same filesystem, for an atomic rename), with the
    permissions of a directory created by os.makedirs (mkdtemp makes it private)."""
    prefix = ("." if hidden else "") + os.path.basename(out) + ".tmp-"
    tmp = tempfile.mkdtemp(prefix=prefix, dir=os.path.dirname(os.path.abspath(out)))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


def _temporary(path: str) -> str:
    """A new, hidden temporary file beside ``path`` (same filesystem, so the rename is atomic),
    with the permissions of a file created by open() (mkstemp makes it private)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp-", dir=directory)
    os.fchmod(fd, FILE_MODE)
    os.close(fd)
    return tmp


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then rename ``tmp_path`` over ``path``."""
    tmp = _temporary(path)
    try:
        write(tmp)
        _publish(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _publish(tmp: str, path: str) -> None:
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: str, text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    atomic_write(path, write)


def atomic_write_json(path: str, obj: object) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def atomic_write_parquet(path: str, table) -> None:
    import pyarrow.parquet as pq

    atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


class AtomicParquetWriter:
    """A Parquet file written one row group at a time, visible under ``path`` only once committed.

    Rows go to a temporary file in the same directory as they come (nothing accumulates in
    memory); ``commit()`` closes, fsyncs and renames it.
    """

    def __init__(self, path: str, schema, **options) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.tmp = _temporary(path)
        self._writer = pq.ParquetWriter(self.tmp, schema, **({"compression": "zstd"} | options))

    def write(self, table) -> None:
        self._writer.write_table(table)

    def commit(self) -> None:
        self._writer.close()
        _publish(self.tmp, self.path)
