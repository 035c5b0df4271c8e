"""CoNLL-U reader: gold words, UPOS, XPOS, heads and relations, streamed sentence by sentence.

Multiword-token lines (``4-5``) give the surface form that stands in the text; the syntactic
words inside get character spans by splitting that form (exactly when the words concatenate to
it, proportionally otherwise). Empty nodes (``8.1``) carry no surface text and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ..digits import ascii_int
from ..errors import CorpusError, shorten
from .lines import Line, reject
from .types import ROOT, Sentence, Skipped, Word

SCHEME = "ud"
FIELDS = ("ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC")


@dataclass
class _Block:
    first_line: int
    comments: dict[str, str] = field(default_factory=dict)
    # (line number, 10 fields) of word lines; MWT ranges separately
    words: list[tuple[int, list[str]]] = field(default_factory=list)
    mwts: list[tuple[int, int, int, str, bool]] = field(default_factory=list)  # line, a, b, form, space_after


class _Malformed(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line


def _number(text: str) -> int | None:
    """The value of an ID or HEAD field: ASCII digits only (not '²'), at most 9 of them; None otherwise."""
    return ascii_int(text, 9)


def _space_after(misc: str) -> bool:
    return "SpaceAfter=No" not in misc or "SpaceAfter=No" not in misc.split("|")


def _parse_line(block: _Block, line: Line) -> None:
    assert line.text is not None
    if line.text.startswith("#"):
        body = line.text[1:].strip()
        if "=" in body:
            key, _, value = body.partition("=")
            block.comments.setdefault(key.strip(), value.strip())
        return
    cols = line.text.split("\t")
    if len(cols) != 10:
        raise _Malformed(
            line.number,
            f"a word line needs 10 tab-separated fields, found {len(cols)}. "
            "CoNLL-U separates fields by TAB characters, not spaces.",
        )
    if "" in cols:
        empty = [name for name, col in zip(FIELDS, cols) if not col]
        raise _Malformed(line.number, f"empty {', '.join(empty)} field; CoNLL-U writes '_' for no value.")
    ident = cols[0]
    if "." in ident:  # empty node: no surface text, not part of the basic tree
        return
    if "-" in ident:
        a, _, b = (_number(x) for x in ident.partition("-"))
        if a is None or b is None or a >= b:
            raise _Malformed(line.number, f"bad multiword-token range {shorten(ident)}; expected e.g. '4-5' (ASCII digits).")
        block.mwts.append((line.number, a, b, cols[1], _space_after(cols[9])))
        return
    number = _number(ident)
    if number is None:
        raise _Malformed(line.number, f"bad word ID {shorten(ident)}; expected an integer (ASCII digits), a range "
                         "'a-b' or 'a.b'.")
    expected = len(block.words) + 1
    if number != expected:
        raise _Malformed(line.number, f"word ID {ident} out of order; expected {expected}.")
    block.words.append((line.number, cols))


def _locate(text: str, forms: list[str]) -> list[tuple[int, int]] | None:
    """Character spans of consecutive ``forms`` in ``text``, skipping only whitespace between them."""
    spans = []
    pos = 0
    for form in forms:
        at = text.find(form, pos) if form and not form[0].isspace() else -1
        if at < 0 or at > pos and not text[pos:at].isspace():  # not next after whitespace: the same test, step by step
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if not text.startswith(form, pos):
                return None
            at = pos
        spans.append((at, at + len(form)))
        pos = at + len(form)
    return spans


def _split_span(start: int, end: int, forms: list[str], surface: str) -> list[tuple[int, int]]:
    """Spans of a multiword token's words inside its surface span."""
    if "".join(forms).lower() == surface.lower():
        out, pos = [], start
        for f in forms:
            out.append((pos, pos + len(f)))
            pos += len(f)
        return out
    # forms differ from the surface ("gonna" -> "gon" "na", "wanna" -> "wan" "na" ...): share the
    # surface characters in proportion to the forms' lengths, at least one character each.
    total = sum(max(len(f), 1) for f in forms)
    width = end - start
    out, pos, acc = [], start, 0
    for i, f in enumerate(forms):
        acc += max(len(f), 1)
        stop = end if i == len(forms) - 1 else start + max(round(width * acc / total), pos - start + 1)
        stop = min(stop, end)
        out.append((pos, max(stop, pos)))
        pos = stop
    return out


def _build(block: _Block, index: int, path: str) -> Sentence:
    if not block.words:
        raise _Malformed(block.first_line, "sentence has comment lines but no word lines.")
    n = len(block.words)
    in_mwt: dict[int, tuple[int, int, int, str, bool]] = {}
    for m in block.mwts:
        _, a, b, _, _ = m
        if a < 1 or b > n:
            raise _Malformed(m[0], f"multiword token {a}-{b} is outside the words of this sentence (1..{n}).")
        for k in range(a, b + 1):
            if k in in_mwt:
                raise _Malformed(m[0], f"multiword token {a}-{b} overlaps {in_mwt[k][1]}-{in_mwt[k][2]}.")
            in_mwt[k] = m
    # surface tokens in order: (form, word ids, space_after)
    surface: list[tuple[str, list[int], bool]] = []
    k = 1
    while k <= n:
        if k in in_mwt:
            _, a, b, form, sa = in_mwt[k]
            surface.append((form, list(range(a, b + 1)), sa))
            k = b + 1
        else:
            cols = block.words[k - 1][1]
            surface.append((cols[1], [k], _space_after(cols[9])))
            k += 1
    text = block.comments.get("text")
    spans = _locate(text, [s[0] for s in surface]) if text is not None else None
    if spans is None:  # no '# text' or it does not match the forms: rebuild it from the forms
        parts, spans, pos = [], [], 0
        for form, _, sa in surface:
            spans.append((pos, pos + len(form)))
            parts.append(form + (" " if sa else ""))
            pos += len(form) + (1 if sa else 0)
        text = "".join(parts).rstrip(" ")
    word_span: dict[int, tuple[int, int]] = {}
    for (form, ids, _), (s, e) in zip(surface, spans):
        if len(ids) == 1:
            word_span[ids[0]] = (s, e)
        else:
            forms = [block.words[i - 1][1][1] for i in ids]
            for i, sp in zip(ids, _split_span(s, e, forms, form)):
                word_span[i] = sp
    words = []
    for k, (lineno, cols) in enumerate(block.words, start=1):
        head_s = cols[6]
        number = _number(head_s)
        if head_s == "_":
            head = None
        elif number is not None and number <= n:
            head = ROOT if number == 0 else number - 1
        else:
            raise _Malformed(lineno, f"HEAD {shorten(head_s)} is not a word ID of this sentence (0..{n}, ASCII digits).")
        s, e = word_span[k]
        words.append(
            Word(
                form=cols[1],
                start=s,
                end=e,
                upos=None if cols[3] == "_" else cols[3],
                xpos=None if cols[4] == "_" else cols[4],
                head=head,
                deprel=None if cols[7] == "_" else cols[7],
                lemma=None if cols[2] == "_" else cols[2],
            )
        )
    return Sentence(
        index=index,
        text=text,
        source=f"{path}:{block.first_line}",
        sent_id=block.comments.get("sent_id"),
        words=tuple(words),
        scheme=SCHEME,
    )


def read_conllu(lines: Iterator[Line], path: str, on_error: str) -> Iterator[Sentence | Skipped]:
    """Yield one Sentence per CoNLL-U sentence block (or a Skipped when ``on_error='skip'``)."""
    index = 0
    block: _Block | None = None
    broken: tuple[int, str, str] | None = None  # (line, message, reason) of the first error in the block

    def finish() -> Sentence | Skipped | None:
        nonlocal index
        if block is None:
            return None
        item: Sentence | Skipped
        if broken is None:
            try:
                item = _build(block, index, path)
            except _Malformed as e:
                item = reject(path, e.line, on_error, index, "malformed", str(e))
        else:
            item = Skipped(index, f"{path}:{broken[0]}", broken[2], broken[1])
        index += 1
        return item

    for line in lines:
        if line.text is None:
            if on_error != "skip":
                raise CorpusError(line.error or "", path, line.number)
            if block is None:
                block = _Block(line.number)
            broken = broken or (line.number, line.error or "", line.reason)
            continue
        if not line.text.strip():
            item = finish()
            if item is not None:
                yield item
            block, broken = None, None
            continue
        if block is None:
            block = _Block(line.number)
        if broken is not None:
            continue
        try:
            _parse_line(block, line)
        except _Malformed as e:
            if on_error != "skip":
                raise CorpusError(str(e), path=path, line=e.line) from None
            broken = (e.line, str(e), "malformed")
    item = finish()
    if item is not None:
        yield item
