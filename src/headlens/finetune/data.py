"""Classification examples from TSV / JSONL by a column spec and a label spec.

The column spec names where the text, the optional second text of a pair and the label are:
``text=0,label=1`` (TSV, 0-based indices), ``text=sentence1,text_b=sentence2,label=label``
(TSV header names or JSONL field names). It is read by the corpus readers
(:mod:`headlens.corpus`), so line numbers and encoding errors are reported the same way.
The label spec (``labels``) fixes the classes and their order (class k = k-th label); without
it the classes are the training file's labels, sorted. A label outside the spec is an error
with its file and line, never a silent new class.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..corpus.columns import ColumnError
from ..corpus.lines import check_readable
from ..corpus.reader import Corpus, CorpusSpec
from ..corpus.types import Skipped
from ..digits import column_ref
from ..errors import ConfigError, CorpusError, listing, shorten

KEYS = ("text", "text_b", "label")
MAX_DERIVED_LABELS = 100  # more classes than this, most of them seen once: the label column holds text


@dataclass(frozen=True)
class Columns:
    """Where the text(s) and the label are: TSV column indices or names, JSONL field names."""

    text: int | str
    label: int | str
    text_b: int | str | None = None

    @classmethod
    def parse(cls, spec: str) -> Columns:
        """``"text=0,label=1"`` or ``"text=sentence1,text_b=sentence2,label=label"``."""
        found: dict[str, int | str] = {}
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            key, sep, value = part.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or key not in KEYS or not value:
                raise ConfigError(
                    f"--columns: {part!r} is not KEY=COLUMN with KEY one of {', '.join(KEYS)}. "
                    "Example: text=0,label=1 (TSV indices) or text=sentence1,text_b=sentence2,label=label (names)."
                )
            if key in found:
                raise ConfigError(f"--columns names {key!r} twice in {spec!r}.")
            found[key] = column_ref(value)
        missing = [k for k in ("text", "label") if k not in found]
        if missing:
            raise ConfigError(f"--columns {spec!r} lacks {' and '.join(missing)}; both text= and label= are required.")
        return cls(text=found["text"], label=found["label"], text_b=found.get("text_b"))

    def __str__(self) -> str:
        parts = [f"text={self.text}"] + ([f"text_b={self.text_b}"] if self.text_b is not None else [])
        return ",".join(parts + [f"label={self.label}"])

    def corpus_spec(self, path: str, fmt: str = "auto") -> CorpusSpec:
        probe = CorpusSpec(path, format=fmt)
        if probe.resolved_format == "jsonl":
            return CorpusSpec(path, format="jsonl", text_field=str(self.text), text_b_field=self._name(self.text_b),
                              label_field=str(self.label))
        if probe.resolved_format != "tsv":
            raise ConfigError(f"{path}: fine-tuning reads TSV or JSONL (by extension or --format), not {probe.resolved_format}.")
        return CorpusSpec(path, format="tsv", text_column=self.text, text_b_column=self.text_b, label_column=self.label)

    @staticmethod
    def _name(v: int | str | None) -> str | None:
        return None if v is None else str(v)


@dataclass
class Examples:
    """Texts, optional second texts, class indices and the file:line of each example."""

    path: str
    texts: list[str]
    texts_b: list[str] | None
    labels: list[int]
    sources: list[str]
    label_names: tuple[str, ...]  # class k is label_names[k]
    width: int | None = None  # TSV: tab-separated columns per row

    def __len__(self) -> int:
        return len(self.texts)

    def subsample(self, n: int | None, seed: int) -> Examples:
        """A seeded random subset of ``n`` examples in file order (all when n is None or >= len)."""
        if n is None or n >= len(self):
            return self
        return self.take(sorted(random.Random(seed).sample(range(len(self)), n)))

    def take(self, keep) -> Examples:
        """The examples at indices ``keep``, in that order."""
        pick = lambda xs: [xs[int(i)] for i in keep]  # noqa: E731
        return Examples(self.path, pick(self.texts), pick(self.texts_b) if self.texts_b else None,
                        pick(self.labels), pick(self.sources), self.label_names, self.width)


def _tsv_width(path: str, header: bool) -> int | None:
    with open(path, encoding="utf-8", errors="replace") as fh:
        rows = (line.rstrip("\n\r") for line in fh if line.strip())
        first = next(rows, None)
        if header:
            first = next(rows, None)
    return None if first is None else len(first.split("\t"))


def _read_items(spec: CorpusSpec, columns: Columns) -> list:
    try:
        items = list(Corpus(spec))
    except ColumnError as e:  # the advice in this command's terms: --columns, not --text-column
        given = {"text": columns.text, "text_b": columns.text_b, "label": columns.label}
        hint = e.hint(lambda c: "--columns " + ",".join(f"{k}={v}" for k, v in (given | c).items() if v is not None))
        raise CorpusError(e.problem + hint, path=e.path, line=e.line) from None
    bad = next((s for s in items if isinstance(s, Skipped)), None)
    if bad is not None:
        raise CorpusError(f"{bad.reason}: {bad.detail or 'the text is empty'}; fix or remove the row.", path=bad.source)
    if not items:
        raise CorpusError("no examples: the file is empty.", path=spec.path)
    return items


def read_examples(path: str, columns: Columns, labels: tuple[str, ...] | None = None, fmt: str = "auto",
                  like: Examples | None = None) -> Examples:
    """The examples of ``path``; classes ``labels`` (None: this file's labels, sorted).

    ``like``: the training examples that a dev file must match in layout.
    """
    spec = columns.corpus_spec(check_readable(path), fmt)
    named = any(isinstance(c, str) for c in (columns.text, columns.text_b, columns.label))
    width = _tsv_width(path, header=named) if spec.resolved_format == "tsv" else None
    if like is not None and like.width is not None and width is not None and width != like.width:
        raise CorpusError(
            f"the dev file has another layout: {width} tab-separated columns per row, the training file "
            f"{like.path} has {like.width}. The same --columns ({columns}) apply to both; convert the dev "
            "file to the training file's layout.", path=path)
    items = _read_items(spec, columns)
    if labels is None:
        labels = tuple(sorted({(s.label or "").strip() for s in items}))
        if len(labels) > MAX_DERIVED_LABELS and 2 * len(labels) > len(items):
            raise CorpusError(
                f"the label column {columns.label!r} has {len(labels):,} different values in {len(items):,} rows "
                f"(e.g. {listing(labels, 3)}): it holds text, not labels. Check --columns, or give the classes with "
                "--labels.", path=path)
    index = {lab: k for k, lab in enumerate(labels)}
    out: list[int] = []
    for s in items:
        lab = (s.label or "").strip()
        if lab not in index:
            hint = " The file may have another layout than the column spec says (check --columns)." if like else ""
            raise CorpusError(
                f"label {shorten(lab)} is not one of the labels {listing(labels)} (label column {columns.label!r}).{hint} "
                "Give every class with --labels, or fix the row.", path=s.source)
        out.append(index[lab])
    pairs = columns.text_b is not None
    return Examples(path, [s.text for s in items], [s.text_b for s in items] if pairs else None, out,
                    [s.source for s in items], tuple(labels), width)
