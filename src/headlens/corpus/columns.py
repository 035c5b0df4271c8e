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

# (name, header names or None for a file without header, column kinds or None, the columns that read it)
LAYOUTS: tuple[tuple[str, tuple[str, ...] | None, tuple[str | None, ...] | None, dict[str, int | str]], ...] = (
    ("SST-2's (label, sentence; no header)", None, ("label", "text"), {"text": 1, "label": 0}),
    ("CoLA's (sentence, label; no header)", None, ("text", "label"), {"text": 0, "label": 1}),
    ("GLUE CoLA's (source, label, mark, sentence; no header)", None, (None, "label", None, "text"), {"text": 3, "label": 1}),
    ("SST-2's (header 'sentence label')", ("sentence", "label"), None, {"text": "sentence", "label": "label"}),
    ("RTE's / WNLI's (header 'index sentence1 sentence2 label')", ("index", "sentence1", "sentence2", "label"), None,
     {"text": "sentence1", "text_b": "sentence2", "label": "label"}),
)
TSV_FLAGS = {"text": "--text-column", "text_b": "--text-b-column", "label": "--label-column"}
JSONL_FLAGS = {"text": "--text-field", "text_b": "--text-b-field", "label": "--label-field"}


def run_flags(columns: dict[str, int | str], flags: dict[str, str] = TSV_FLAGS) -> str:
    """``{"text": 1, "label": 0}`` as ``headlens run`` flags: ``--text-column 1 --label-column 0``."""
    return " ".join(f"{flags[k]} {v}" for k, v in columns.items())


class ColumnError(CorpusError):
    """The text column or field holds labels (or a header): ``problem`` says what, ``columns`` are
    the ones that would read the file (may be empty), ``layout`` names a known layout ("" if none)."""

    def __init__(self, problem: str, columns: dict[str, int | str], layout: str, path: str, line: int,
                 flags: dict[str, str] = TSV_FLAGS, key: str = "text"):
        self.problem, self.columns, self.layout, self.key = problem, columns, layout, key
        super().__init__(problem + self.hint(lambda c: run_flags(c, flags)), path=path, line=line)

    def hint(self, render) -> str:
        """The advice, with ``render(columns)`` spelling the columns as the caller's flags."""
        if self.layout:
            return f" This looks like {self.layout} layout: use {render(self.columns)}."
        if self.columns:
            return f" Use {render(self.columns)}."
        return f" Name the one that holds the text: {render({self.key: 'NAME'})}."

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


def _layout(header: Sequence[str] | None, kinds: Sequence[str]) -> tuple[str, dict[str, int | str]]:
    """The known layout that ``header`` (or, without one, the column ``kinds``) matches: (name, columns)."""
    names = tuple(h.strip().lower() for h in header) if header is not None else None
    for name, head, want, columns in LAYOUTS:
        if head is not None and names == head:
            return name, columns
        if head is None and names is None and want is not None and len(want) == len(kinds):
            if all(w is None or w == k for w, k in zip(want, kinds)):
                return name, columns
    return "", {}


def check_tsv(path: str, rows: list[tuple[int, list[str]]], header: list[str] | None, header_mode: str,
              columns: dict[str, int]) -> None:
    """Refuse a header row read as data, or a text column (``columns``: flag -> index) of labels."""
    if not rows:
        return
    first_line, first = rows[0]
    if header is None and header_mode == "auto" and all(f.strip().lower() in HEADER_NAMES for f in first):
        layout, fix = _layout(first, ())
        raise ColumnError(
            f"the first row looks like a header ({listing(first)}), but it would be read as a sentence: name the "
            "columns by their header names.", fix, layout, path, first_line)
    width = len(first)
    values = [[fields[i] for _, fields in rows] for i in range(width)]
    kinds = [_kind(v) for v in values]
    for key, i in columns.items():
        if kinds[i] != "label":
            continue
        layout, fix = _layout(header, kinds)
        texts = [k for k, kind in enumerate(kinds) if kind == "text"]
        if not fix and texts:
            fix = {key: header[texts[0]] if header else texts[0]}
        raise ColumnError(
            f"the {key} column {header[i] if header else i} holds labels, not text: {listing(values[i][:5], width=20)} "
            f"in the first {len(rows)} rows.", fix, layout, path, first_line, key=key)


def check_jsonl(path: str, first_line: int, objects: list[dict], fields: dict[str, str]) -> None:
    """Refuse a text field (``fields``: "text"/"text_b" -> name) whose sampled values are labels."""
    for key, name in fields.items():
        values = [str(o[name]) for o in objects]
        if not label_like(values):
            continue
        texts = [k for k in objects[0] if all(isinstance(o.get(k), str) for o in objects)
                 and _kind([o[k] for o in objects]) == "text"]
        raise ColumnError(
            f"the {key} field {name!r} holds labels, not text: {listing(values[:5], width=20)} in the first "
            f"{len(objects)} lines.", {key: texts[0]} if texts else {}, "", path, first_line, JSONL_FLAGS, key)


# the classifier commands' column and label flags (headlens finetune, evaluate, ablate)
COLUMNS_HELP = ("where text, optional text_b and label are: TSV 0-based indices or header names, JSONL fields; "
                "e.g. text=0,label=1 or text=sentence1,text_b=sentence2,label=label")


def label_list(text: str | None) -> tuple[str, ...] | None:
    """``--labels a,b,c`` as a tuple (None when not given)."""
    return tuple(x for x in text.split(",") if x) if text else None
