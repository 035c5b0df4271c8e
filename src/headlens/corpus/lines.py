"""Streaming line reading with strict UTF-8 decoding and exact line numbers."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import CorpusError
from .types import Skipped

MAX_LINE_BYTES = 8 << 20
"""A longer line is a bad line (``line_too_long``): it is read past in chunks, never held whole."""
_CHUNK = 1 << 20  # bytes read at a time (then to the end of the line they stop in)

_BOM = "\ufeff"
_WIDE_BOMS = {b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32", b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16"}
_FIX = "; fix the file or pass --on-error skip."


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based
    text: str | None  # None when the line cannot be read as text (see ``reason`` and ``error``)
    error: str | None = None  # what is wrong and how to go on
    reason: str = "invalid_utf8"  # the skip reason counted in the manifest


def check_readable(path: str | os.PathLike[str]) -> str:
    """Return ``path`` as a string, or raise a CorpusError saying why it cannot be read."""
    p = os.fspath(path)
    if not p:
        raise CorpusError("the corpus path is empty. Pass a file with --corpus.")
    if not os.path.exists(p):
        raise CorpusError("file not found. Check the path given to --corpus.", path=p)
    if os.path.isdir(p):
        raise CorpusError("is a directory, not a corpus file. Pass a file with --corpus.", path=p)
    mode = os.stat(p).st_mode
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):  # /dev/zero has no line end: it would be read forever
        raise CorpusError("is a device, not a corpus file; write the corpus to a file (or a pipe) and pass that "
                          "with --corpus.", path=p)
    if not os.access(p, os.R_OK):
        raise CorpusError("permission denied: the file is not readable by this user.", path=p)
    return p


def reject(path: str, line: int, on_error: str, index: int, reason: str, message: str, text: str | None = None) -> Skipped:
    """A bad line: a CorpusError naming file and line (``on_error='raise'``), or its Skipped record."""
    if on_error != "skip":
        raise CorpusError(message, path=path, line=line)
    return Skipped(index, f"{path}:{line}", reason, message, text=text)


def _skip_rest(fh, size: int) -> int:
    """Read past the rest of an overlong line in chunks; its full size in bytes (without the LF)."""
    while (rest := fh.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
        size += len(rest)
    return size + len(rest.rstrip(b"\n"))


def _decode(number: int, raw: bytes, oversize: int) -> Line:
    if oversize:
        return Line(number, None, f"the line has {oversize:,} bytes, over the limit of {MAX_LINE_BYTES:,}; split it" + _FIX,
                    "line_too_long")
    nul = raw.find(b"\x00")
    if nul >= 0:
        return Line(number, None, f"NUL byte at column {nul + 1}: binary data or a UTF-16 file? headlens reads UTF-8 text"
                    + _FIX, "nul_byte")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = raw[e.start : e.start + 4]
        return Line(number, None, f"invalid UTF-8 (byte {bad!r} at column {e.start + 1}); fix the encoding or pass "
                    "--on-error skip.")
    cr = text.find("\r")
    if cr >= 0:  # CRLF is stripped above: this CR would end a line elsewhere, or hide inside a text
        return Line(number, None, f"carriage return (CR) at column {cr + 1} inside the line: old Mac (CR) line endings? "
                    "Convert them to LF (e.g. tr '\\r' '\\n')" + _FIX, "carriage_return")
    return Line(number, text[1:] if text.startswith(_BOM) else text)


def iter_lines(path: str) -> Iterator[Line]:
    """Yield the file's lines without their line ending (LF or CRLF), one at a time (never the whole file).

    A line that cannot be read as text (invalid UTF-8, a NUL byte, a CR that is not part of a
    CRLF ending, longer than MAX_LINE_BYTES)
    is yielded with ``text=None``, its ``reason`` and a description, so that the caller decides
    whether to stop or skip. A UTF-8 byte-order mark at the start of a line is dropped (files
    joined with ``cat`` carry one at each join); a UTF-16 or UTF-32 file is refused.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in finally
    except OSError as e:
        raise CorpusError(f"cannot open: {e.strerror}.", path=path) from e
    try:
        start = fh.peek(4)[:4]
        wide = next((name for bom, name in _WIDE_BOMS.items() if start.startswith(bom)), None)
        if wide is not None:
            raise CorpusError(f"the file is {wide} (it starts with a {wide} byte-order mark); headlens reads UTF-8. "
                              f"Convert it, e.g. iconv -f {wide} -t UTF-8.", path=path, line=1)
        number = 0
        while block := fh.read(_CHUNK):
            if not block.endswith(b"\n"):  # finish the chunk's last line, up to the limit
                block += fh.readline(MAX_LINE_BYTES + 1)
            raws = block.split(b"\n")
            last = raws.pop()  # b"" after a final LF; else a line at the end of the file or over the limit
            yield from _lines(raws, number)
            number += len(raws)
            if last:
                number += 1
                size = _skip_rest(fh, len(last)) if len(last) > MAX_LINE_BYTES else 0
                yield _decode(number, b"" if size else last.rstrip(b"\r"), size)
    finally:
        fh.close()


def _lines(raws: list[bytes], number: int) -> Iterator[Line]:
    """The lines ``raws`` (without their LF) numbered from ``number + 1``: decoded together when none
    can be a bad line (no NUL, no CR, none over the limit, valid UTF-8 as a whole), else one by one."""
    if b"\x00" not in (joined := b"\n".join(raws)) and b"\r" not in joined and max(map(len, raws), default=0) <= MAX_LINE_BYTES:
        try:
            texts = joined.decode("utf-8").split("\n") if raws else []
        except UnicodeDecodeError:
            texts = None
        if texts is not None:
            for number, text in enumerate(texts, start=number + 1):
                yield Line(number, text[1:] if text.startswith(_BOM) else text)
            return
    for number, raw in enumerate(raws, start=number + 1):
        yield _decode(number, b"", len(raw)) if len(raw) > MAX_LINE_BYTES else _decode(number, raw.rstrip(b"\r"), 0)
