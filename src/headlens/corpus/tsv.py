"""Tab-separated corpora (GLUE style): one sentence or a sentence pair per row, by column spec.

The layouts in circulation differ (header or not; label first or last), so columns are given
explicitly: a 0-based index, or a header name (which implies a header row). Fields are split on
TAB only; quotes are not interpreted (GLUE files contain unbalanced quotes). The first rows are
checked before any is yielded (see ``columns.py``): a text column of labels, or a header read as
data, stops the read with the flags to use.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..digits import column_ref
from ..errors import CorpusError, listing, shorten
from .columns import SAMPLE_ROWS, check_tsv, held_back
from .lines import Line, reject
from .types import Sentence, Skipped


def _resolve(col: int | str | None, header: list[str] | None, path: str, what: str, header_line: int = 1) -> int | None:
    if col is None:
        return None
    if isinstance(col, int):
        return col
    if isinstance(column_ref(col), int):
        return int(col)
    if header is None:
        raise CorpusError(
            f"{what} column {shorten(col)} is a name, but the file is read without a header row. "
            "Give a 0-based column index, or pass --header yes.",
            path=path,
        )
    if col not in header:
        raise CorpusError(f"{what} column {shorten(col)} is not in the header ({listing(header)}).", path=path, line=header_line)
    return header.index(col)


def read_tsv(
    lines: Iterator[Line],
    path: str,
    on_error: str,
    text_column: int | str,
    text_b_column: int | str | None,
    label_column: int | str | None,
    header: str,
) -> Iterator[Sentence | Skipped | None]:
    rows: list[tuple[int, list[str]]] = []  # the first rows read as sentences, for the column check
    found: dict = {}

    def check() -> None:
        head, idx = found.get("head"), found.get("idx")
        if idx is not None:
            check_tsv(path, rows, head, header, {"text": idx[0]} | ({"text_b": idx[1]} if idx[1] is not None else {}))

    items = _read_rows(lines, path, on_error, (text_column, text_b_column, label_column), header, rows, found)
    return held_back(items, lambda: len(rows), check)


def _read_rows(
    lines: Iterator[Line],
    path: str,
    on_error: str,
    columns: tuple[int | str, int | str | None, int | str | None],
    header: str,
    rows: list[tuple[int, list[str]]],
    found: dict,
) -> Iterator[Sentence | Skipped | None]:
    text_column, text_b_column, label_column = columns
    cols_named = any(isinstance(c, str) and isinstance(column_ref(c), str) for c in (text_column, text_b_column, label_column) if c is not None)
    has_header = header == "yes" or (header == "auto" and cols_named)
    head: list[str] | None = None
    width: int | None = None
    width_line = 0
    idx: tuple[int | None, int | None, int | None] | None = None
    checked = False
    index = 0

    for line in lines:
        if line.text is None:
            yield reject(path, line.number, on_error, index, line.reason, line.error or "")
            index += 1
            continue
        if not line.text.strip():
            yield None
            continue
        fields = line.text.split("\t")
        if has_header and head is None:
            head = found["head"] = [f.strip() for f in fields]
            width, width_line = len(head), line.number
            continue
        if idx is None:
            idx = found["idx"] = (
                _resolve(text_column, head, path, "text", width_line),
                _resolve(text_b_column, head, path, "text_b", width_line),
                _resolve(label_column, head, path, "label", width_line),
            )
        if width is None:
            width, width_line = len(fields), line.number
        if not checked:  # the spec must fit the first row (or the header), or every row would fail
            checked = True
            need = max(i for i in idx if i is not None) + 1
            if width < need:
                raise CorpusError(
                    f"{'the header' if head is not None else 'row'} has {width} columns but the column spec uses "
                    f"column {need - 1} (0-based). Check --text-column / --text-b-column / --label-column.",
                    path=path,
                    line=width_line,
                )
        if len(fields) != width:
            yield reject(
                path, line.number, on_error, index,
                "wrong_columns",
                f"row has {len(fields)} tab-separated columns, expected {width} "
                f"(as on line {width_line}). Fix the row or pass --on-error skip.",
            )
            index += 1
            continue
        ti, bi, li = idx
        text = fields[ti]
        text_b = fields[bi] if bi is not None else None
        if not text.strip() or (text_b is not None and not text_b.strip()):
            yield Skipped(index, f"{path}:{line.number}", "empty_text", "the text column is empty", text=text)
            index += 1
            continue
        if len(rows) < SAMPLE_ROWS:
            rows.append((line.number, fields))
        yield Sentence(
            index=index,
            text=text,
            text_b=text_b,
            label=fields[li] if li is not None else None,
            source=f"{path}:{line.number}",
        )
        index += 1
