"""Streaming line reading with strict UTF-8 decoding and exact line numbers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import CorpusError


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based
    text: str | None  # None when the line is not valid UTF-8
    error: str | None = None


def check_readable(path: str | os.PathLike[str]) -> str:
    """Return ``path`` as a string, or raise a CorpusError saying why it cannot be read."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise CorpusError("file not found. Check the path given to --corpus.", path=p)
    if os.path.isdir(p):
        raise CorpusError("is a directory, not a corpus file. Pass a file with --corpus.", path=p)
    if not os.access(p, os.R_OK):
        raise CorpusError("permission denied: the file is not readable by this user.", path=p)
    return p


def iter_lines(path: str) -> Iterator[Line]:
    """Yield the file's lines without their line ending, one at a time (never the whole file).

    A line that is not valid UTF-8 is yielded with ``text=None`` and a description of the bad
    bytes, so that the caller decides whether to stop or skip. A UTF-8 byte-order mark at the
    start of the file is dropped.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in finally
    except OSError as e:
        raise CorpusError(f"cannot open: {e.strerror}.", path=path) from e
    try:
        for number, raw in enumerate(fh, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            raw = raw.rstrip(b"\n").rstrip(b"\r")
            try:
                yield Line(number, raw.decode("utf-8"))
            except UnicodeDecodeError as e:
                bad = raw[e.start : e.start + 4]
                yield Line(number, None, f"invalid UTF-8 (byte {bad!r} at column {e.start + 1})")
    finally:
        fh.close()
