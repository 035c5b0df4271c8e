"""Atomic file writes: write to a temporary name in the same directory, fsync, rename.

A reader never sees a half-written file; a crash leaves at most a hidden ``.NAME.tmp-*`` file
behind, which dataset readers (pyarrow, DuckDB globs on ``*.parquet``) skip.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager

from ..errors import RunStoreError


class WriteError(RunStoreError):
    """A file could not be written (disk full, no permission, I/O error): names the file; ``errno`` as OSError's."""

    def __init__(self, path: str, error: OSError):
        self.path = path
        self.errno = error.errno
        reason = error.strerror or str(error) or type(error).__name__
        super().__init__(f"cannot write {path}: {reason}" + (f" (errno {error.errno})" if error.errno else "") +
                         "; nothing of this file was kept.")


@contextmanager
def writing(path: str):
    """Turn an OSError raised while writing ``path`` into a WriteError that names it."""
    try:
        yield
    except WriteError:
        raise
    except OSError as e:
        raise WriteError(path, e) from e


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


def temporary_file(path: str) -> str:
    """A new, hidden temporary file beside ``path`` (same filesystem, so the rename is atomic),
    with the permissions of a file created by open() (mkstemp makes it private)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp-", dir=directory)
    os.fchmod(fd, FILE_MODE)
    os.close(fd)
    return tmp


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then rename ``tmp_path`` over ``path``."""
    with writing(path):
        tmp = temporary_file(path)
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
        with writing(path):
            self.tmp = temporary_file(path)
            self._writer = pq.ParquetWriter(self.tmp, schema, **({"compression": "zstd"} | options))

    def write(self, table) -> None:
        with writing(self.path):
            self._writer.write_table(table)

    def commit(self) -> None:
        with writing(self.path):
            self._writer.close()
            _publish(self.tmp, self.path)

    def abandon(self) -> None:
        """Close and delete the temporary file (nothing of it is committed)."""
        try:
            self._writer.close()
        except OSError:
            pass  # a failed write may leave it unclosable; the file goes anyway
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)
