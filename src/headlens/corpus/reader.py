"""One entry point over every corpus format, plus the corpus fingerprint for provenance."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from ..errors import param_error
from .conllu import read_conllu
from .jsonl import read_jsonl
from .lines import check_readable, iter_lines
from .text import read_text
from .tsv import read_tsv
from .types import Sentence, Skipped

FORMATS = ("text", "conllu", "tsv", "jsonl")
_EXT = {".conllu": "conllu", ".conll": "conllu", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "text"}


@dataclass(frozen=True)
class CorpusSpec:
    """Where a corpus is and how to read it.

    ``format='auto'`` picks by extension (.conllu, .tsv, .jsonl; anything else is plain text).
    TSV columns are 0-based indices or header names; JSONL fields are names.
    ``on_error='raise'`` stops at the first bad line with its file and line number;
    ``'skip'`` records it as skipped and goes on. ``skip`` passes over the first items (they are
    read, not yielded; the others keep their corpus positions as ids); ``limit`` then stops after
    that many items (e.g. train on ``limit=1500``, evaluate on ``skip=1500`` of one file).
    """

    path: str
    format: str = "auto"
    text_column: int | str = 0
    text_b_column: int | str | None = None
    label_column: int | str | None = None
    header: str = "auto"
    text_field: str = "text"
    text_b_field: str | None = None
    label_field: str | None = None
    on_error: str = "raise"
    limit: int | None = None
    skip: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", os.fspath(self.path))
        if self.format not in ("auto", *FORMATS):
            raise param_error("CorpusSpec", "format", f"one of {('auto', *FORMATS)}", self.format)
        if self.on_error not in ("raise", "skip"):
            raise param_error("CorpusSpec", "on_error", "'raise' or 'skip'", self.on_error)
        if self.header not in ("auto", "yes", "no"):
            raise param_error("CorpusSpec", "header", "'auto', 'yes' or 'no'", self.header)
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise param_error("CorpusSpec", "limit", "an int in the range [1, inf) or None", self.limit)
        if not isinstance(self.skip, int) or isinstance(self.skip, bool) or self.skip < 0:
            raise param_error("CorpusSpec", "skip", "an int in the range [0, inf)", self.skip)
        for name in ("text_column", "text_b_column", "label_column"):
            value = getattr(self, name)
            if value is None and name != "text_column":
                continue
            if isinstance(value, bool) or not (isinstance(value, int) and value >= 0 or isinstance(value, str) and value):
                raise param_error("CorpusSpec", name, "a 0-based column index (int >= 0) or a header name", value)
        for name in ("text_field", "text_b_field", "label_field"):
            value = getattr(self, name)
            if not (value is None and name != "text_field" or isinstance(value, str) and value):
                raise param_error("CorpusSpec", name, "a field name (a non-empty string)", value)

    @property
    def resolved_format(self) -> str:
        if self.format != "auto":
            return self.format
        return _EXT.get(os.path.splitext(self.path)[1].lower(), "text")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["format"] = self.resolved_format
        return d


class Corpus:
    """An iterable over a corpus's items (Sentence or Skipped), streamed from disk.

    Iterating twice reads the file twice. ``blank_lines`` counts blank lines seen by the last
    iteration in line-based formats (they separate nothing and are not sentences).
    """

    def __init__(self, spec: CorpusSpec):
        check_readable(spec.path)
        self.spec = spec
        self.blank_lines = 0

    def __iter__(self) -> Iterator[Sentence | Skipped]:
        spec, fmt = self.spec, self.spec.resolved_format
        self.blank_lines = 0
        lines = iter_lines(spec.path)
        if fmt == "conllu":
            items = read_conllu(lines, spec.path, spec.on_error)
        elif fmt == "tsv":
            items = read_tsv(lines, spec.path, spec.on_error, spec.text_column, spec.text_b_column, spec.label_column, spec.header)
        elif fmt == "jsonl":
            items = read_jsonl(lines, spec.path, spec.on_error, spec.text_field, spec.text_b_field, spec.label_field)
        else:
            items = read_text(lines, spec.path, spec.on_error)
        n = passed = 0
        for item in items:
            if item is None:
                self.blank_lines += 1
                continue
            if passed < spec.skip:
                passed += 1
                continue
            yield item
            n += 1
            if spec.limit is not None and n >= spec.limit:
                return


def read_corpus(path: str | os.PathLike[str], **options) -> Corpus:
    """``read_corpus("dev.conllu")`` or ``read_corpus("dev.tsv", text_column=1, label_column=0)``."""
    return Corpus(CorpusSpec(path=os.fspath(path), **options))


def fingerprint(path: str, fmt: str) -> tuple[str, int]:
    """sha256 of the file's bytes and an estimate of its item count, in one streaming pass.

    The estimate (for the progress bar only) counts non-blank lines, or blank-line separated
    blocks for CoNLL-U.
    """
    h = hashlib.sha256()
    lines = blank = blocks = 0
    in_block = False
    with open(path, "rb") as fh:
        for line in fh:
            h.update(line)
            lines += 1
            empty = not line.strip()
            blank += empty
            blocks += in_block and empty
            in_block = not empty
    if fmt == "conllu":
        return h.hexdigest(), blocks + in_block
    return h.hexdigest(), lines - blank
