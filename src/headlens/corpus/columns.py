"""Column sanity for TSV and JSONL: the text column must hold text, not labels or a header.

The readers hold back their first ``SAMPLE_ROWS`` rows, check them, then stream on, so a
corpus stays streamed. A text column whose sampled values are all numeric, or all short single
tokens from a small repeated set, holds labels (SST-2's ``dev.tsv`` read with the default
``--text-column 0`` would analyse "0"/"1" as sentences): that stops the run with a sample, the
flag to use and, for the GLUE layouts, the exact columns. A first row of known header names
(``sentence``, ``label``...) read as data is refused the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from ..errors import CorpusError, listing

SAMPLE_ROWS = 50
_NUMERIC = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
HEADER_NAMES = frozenset(
    "index id idx label labels sentence sentence1 sentence2 text text_a text_b question question1 question2 "
    "premise hypothesis source".split()
)

# (name, header names or None for a file without header, column kinds or None, the flags that read it)
LAYOUTS: tuple[tuple[str, tuple[str, ...] | None, tuple[str | None, ...] | None, str], ...] = (
    ("SST-2's (label, sentence; no header)", None, ("label", "text"), "--text-column 1 --label-column 0"),
    ("CoLA's (sentence, label; no header)", None, ("text", "label"), "--text-column 0 --label-column 1"),
    ("GLUE CoLA's (source, label, mark, sentence; no header)", None, (None, "label", None, "text"),
     "--text-column 3 --label-column 1"),
    ("SST-2's (header 'sentence label')", ("sentence", "label"), None, "--text-column sentence --label-column label"),
    ("RTE's / WNLI's (header 'index sentence1 sentence2 label')", ("index", "sentence1", "sentence2", "label"), None,
     "--text-column sentence1 --text-b-column sentence2 --label-column label"),
)

T = TypeVar("T")


def label_like(values: Sequence[str]) -> bool:
    """All numeric, or all short single tokens from a small set that repeats."""
    values = [v.strip() for v in values]
    if not values:
        return False
    if all(_NUMERIC.fullmatch(v) for v in values):
        return True
    distinct = set(values)
    return all(len(v) <= 20 and " " not in v for v in values) and len(distinct) <= 10 and 2 * len(distinct) <= len(values)


def _kind(values: Sequence[str]) -> str:
    if label_like(values):
        return "label"
    return "text" if sum(len(v.split()) for v in values) >= 3 * len(values) else "other"


def held_back(items: Iterator[T], sampled: Callable[[], int], check: Callable[[], None]) -> Iterator[T]:
    """``items`` unchanged, but the first ones are held until ``sampled()`` reaches SAMPLE_ROWS
    (or the stream ends) and ``check()`` has passed."""
    buffer: list[T] = []
    for item in items:
        buffer.append(item)
        if sampled() >= SAMPLE_ROWS:
            break
    check()
    yield from buffer
    yield from items


def _layout(header: Sequence[str] | None, kinds: Sequence[str]) -> str:
    names = tuple(h.strip().lower() for h in header) if header is not None else None
    for name, head, want, flags in LAYOUTS:
        if head is not None and names == head:
            return f" This looks like {name} layout: use {flags}."
        if head is None and names is None and want is not None and len(want) == len(kinds):
            if all(w is None or w == k for w, k in zip(want, kinds)):
                return f" This looks like {name} layout: use {flags}."
    return ""


def check_tsv(path: str, rows: list[tuple[int, list[str]]], header: list[str] | None, header_mode: str,
              columns: dict[str, int]) -> None:
    """Refuse a header row read as data, or a text column (``columns``: flag -> index) of labels."""
    if not rows:
        return
    first_line, first = rows[0]
    if header is None and header_mode == "auto" and all(f.strip().lower() in HEADER_NAMES for f in first):
        raise CorpusError(
            f"the first row looks like a header ({listing(first)}), but it would be read as a sentence."
            f"{_layout(first, ()) or ' Name the columns (e.g. --text-column sentence) or pass --header yes.'}",
            path=path, line=first_line)
    width = len(first)
    values = [[fields[i] for _, fields in rows] for i in range(width)]
    kinds = [_kind(v) for v in values]
    for flag, i in columns.items():
        if kinds[i] != "label":
            continue
        texts = [k for k, kind in enumerate(kinds) if kind == "text"]
        hint = _layout(header, kinds)
        if not hint and texts:
            hint = (f" Column {texts[0]} holds text (e.g. {listing(values[texts[0]][:1], width=50)}): "
                    f"use {flag} {header[texts[0]] if header else texts[0]}.")
        raise CorpusError(
            f"{flag} {header[i] if header else i} holds labels, not text: {listing(values[i][:5], width=20)} "
            f"in the first {len(rows)} rows.{hint or ' Choose the text column with ' + flag + '.'}",
            path=path, line=first_line)


def check_jsonl(path: str, first_line: int, objects: list[dict], fields: dict[str, str]) -> None:
    """Refuse a text field (``fields``: flag -> name) whose sampled values are labels."""
    for flag, name in fields.items():
        values = [str(o[name]) for o in objects]
        if not label_like(values):
            continue
        texts = [k for k in objects[0] if all(isinstance(o.get(k), str) for o in objects)
                 and _kind([o[k] for o in objects]) == "text"]
        hint = f" Field {texts[0]!r} holds text: use {flag} {texts[0]}." if texts else f" Name the text field with {flag}."
        raise CorpusError(
            f"field {name!r} ({flag}) holds labels, not text: {listing(values[:5], width=20)} in the first "
            f"{len(objects)} lines.{hint}", path=path, line=first_line)
