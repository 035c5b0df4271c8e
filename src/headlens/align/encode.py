"""Tokenize sentences and align sub-tokens to words by character offsets.

The alignment never looks at token strings ("##", "Ġ", "▁"): each token's character span
(from the fast tokenizer's offsets, whitespace trimmed) is matched to the words' spans in the
same segment, and the token goes to the word it overlaps most (the first on a tie). A token
that overlaps no word (a lone whitespace or control piece) joins the word of the token before
it in its segment, or after it when there is none. A word that receives no token (its only
token went to a neighbour, or truncation cut it) is absent from word-level views.

Special tokens are units of their own; word units follow the order of their first token.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from ..corpus.types import Sentence, Skipped, Word
from .windows import split_windows

WORD, CLS, SEP, OTHER_SPECIAL = 0, 1, 2, 3
DOT_COMMA = (".", ",")  # Clark et al.'s punctuation: the tokens "." and "," (General_Analysis.ipynb)


@dataclass(frozen=True, slots=True)
class Encoded:
    """A tokenized sentence with its token -> word-unit map (arrays of length n_tokens)."""

    sentence: Sentence
    input_ids: np.ndarray  # int64 [n]
    token_type_ids: np.ndarray  # int64 [n]
    kinds: np.ndarray  # int8 [n]: WORD, CLS, SEP, OTHER_SPECIAL
    segment: np.ndarray  # int8 [n]: 0, 1 for the second text of a pair, -1 for specials
    token_unit: np.ndarray  # int32 [n]: index of the token's unit, -1 for none
    unit_kind: np.ndarray  # int8 [U]
    unit_word: np.ndarray  # int32 [U]: index into sentence.words, -1 for special units
    unit_punct: np.ndarray  # bool [U]
    truncated: bool
    window: int = 0  # with --long window: this piece's position ...
    n_windows: int = 1  # ... among the pieces of one long sentence
    origin: Sentence | None = None  # the whole sentence, for a window
    # bool [n]: the token's text is "." or "," (Clark et al.'s punctuation; --replicate clark2019)
    dot_comma: np.ndarray | None = None

    @property
    def n_tokens(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def n_units(self) -> int:
        return int(self.unit_kind.shape[0])

    @property
    def token_punct(self) -> np.ndarray:
        """bool [n]: the token belongs to a punctuation word."""
        out = np.zeros(self.n_tokens, dtype=bool)
        has = self.token_unit >= 0
        out[has] = self.unit_punct[self.token_unit[has]]
        return out

    @property
    def words_without_tokens(self) -> int:
        return len(self.sentence.words or ()) - int((self.unit_word >= 0).sum())


def is_punctuation(word: Word) -> bool:
    """UPOS PUNCT when the word is tagged; otherwise every character is Unicode punctuation."""
    if word.upos is not None:
        return word.upos == "PUNCT"
    return bool(word.form) and all(unicodedata.category(c).startswith("P") for c in word.form)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def align_tokens(
    texts: tuple[str, ...],
    words: tuple[Word, ...],
    offsets: list[tuple[int, int]],
    sequence_ids: list[int | None],
    special: list[int],
) -> list[int]:
    """For each token, the index of its word in ``words`` (-1 for special tokens and none)."""
    by_seg: dict[int, tuple[list[int], list[int], list[int]]] = {}
    for wi, w in enumerate(words):
        starts, ends, idx = by_seg.setdefault(w.segment, ([], [], []))
        starts.append(w.start)
        ends.append(w.end)
        idx.append(wi)
    out = [-1] * len(offsets)
    orphan = [False] * len(offsets)
    for t, ((a, b), seg, sp) in enumerate(zip(offsets, sequence_ids, special)):
        if sp or seg is None:
            continue
        orphan[t] = True
        if seg not in by_seg or seg >= len(texts):
            continue
        a, b = _trim(texts[seg], a, b)
        if a >= b:
            continue
        starts, ends, idx = by_seg[seg]
        best, best_overlap = -1, 0
        k = bisect_right(ends, a)  # first word ending after a (spans are sorted)
        while k < len(starts) and starts[k] < b:
            overlap = min(b, ends[k]) - max(a, starts[k])
            if overlap > best_overlap:
                best, best_overlap = idx[k], overlap
            k += 1
        if best >= 0:
            out[t], orphan[t] = best, False
    for t in range(len(out)):  # orphans join the previous word token of their segment, else the next
        if not orphan[t]:
            continue
        seg = sequence_ids[t]
        for step in (-1, 1):
            u = t + step
            while 0 <= u < len(out) and sequence_ids[u] == seg and out[u] < 0:
                u += step
            if 0 <= u < len(out) and sequence_ids[u] == seg and out[u] >= 0:
                out[t] = out[u]
                break
    return out


def build_encoded(sentence: Sentence, encoding, cls_id: int | None, sep_id: int | None, truncated: bool) -> Encoded:
    """An Encoded from a ``tokenizers.Encoding`` of the sentence's text(s)."""
    words = sentence.words or ()
    ids = np.asarray(encoding.ids, dtype=np.int64)
    special = encoding.special_tokens_mask
    seq_ids = encoding.sequence_ids
    word_of = align_tokens(sentence.texts, words, encoding.offsets, seq_ids, special)
    n = len(ids)
    kinds = np.zeros(n, dtype=np.int8)
    token_unit = np.full(n, -1, dtype=np.int32)
    unit_kind: list[int] = []
    unit_word: list[int] = []
    unit_of_word: dict[int, int] = {}
    for t in range(n):
        if special[t]:
            kind = CLS if ids[t] == cls_id else SEP if ids[t] == sep_id else OTHER_SPECIAL
            kinds[t] = kind
            token_unit[t] = len(unit_kind)
            unit_kind.append(kind)
            unit_word.append(-1)
        elif word_of[t] >= 0:
            w = word_of[t]
            if w not in unit_of_word:
                unit_of_word[w] = len(unit_kind)
                unit_kind.append(WORD)
                unit_word.append(w)
            token_unit[t] = unit_of_word[w]
    uw = np.asarray(unit_word, dtype=np.int32)
    dot_comma = np.zeros(n, dtype=bool)
    for t, ((a, b), seg) in enumerate(zip(encoding.offsets, seq_ids)):
        if not special[t] and seg is not None and seg < len(sentence.texts):
            dot_comma[t] = sentence.texts[seg][a:b].strip() in DOT_COMMA
    return Encoded(
        sentence=sentence,
        input_ids=ids,
        token_type_ids=np.asarray(encoding.type_ids, dtype=np.int64),
        kinds=kinds,
        segment=np.asarray([-1 if s is None or special[t] else s for t, s in enumerate(seq_ids)], dtype=np.int8),
        token_unit=token_unit,
        unit_kind=np.asarray(unit_kind, dtype=np.int8),
        unit_word=uw,
        unit_punct=np.asarray([w >= 0 and is_punctuation(words[w]) for w in unit_word], dtype=bool),
        truncated=truncated,
        dot_comma=dot_comma,
    )


class Encoder:
    """Tokenizes annotated sentences in chunks and aligns them; too-long ones are skipped or cut.

    ``long_policy='skip'`` (default) turns a sentence longer than ``max_tokens`` into a
    Skipped with reason ``too_long``; ``'truncate'`` cuts it to ``max_tokens`` (the tokenizer's
    longest-first truncation) and marks it ``truncated``; ``'window'`` splits it at word
    boundaries into consecutive windows that fit, each encoded with its own special tokens (see
    ``windows.split_windows``; single sentences only). Nothing is ever cut silently.
    """

    def __init__(self, tokenizer, max_tokens: int, long_policy: str = "skip", chunk: int = 256):
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.long_policy = long_policy
        self.chunk = chunk
        self.cls_id = tokenizer.cls_token_id
        self.sep_id = tokenizer.sep_token_id

    def _tokenize(self, sents: list[Sentence], truncate: bool):
        a = [s.text for s in sents]
        b = [s.text_b for s in sents] if sents[0].text_b is not None else None
        kw = dict(truncation="longest_first", max_length=self.max_tokens) if truncate else dict(truncation=False)
        enc = self.tokenizer(
            a, b, add_special_tokens=True, return_offsets_mapping=True, return_special_tokens_mask=True,
            return_token_type_ids=True, return_attention_mask=False, verbose=False,
            split_special_tokens=True,  # a literal '[SEP]' in the corpus is text, not a control token
            **kw,
        )
        return enc.encodings

    def encode(self, sents: list[Sentence]) -> list[Encoded | Skipped]:
        # pairs and single sentences are tokenized in separate calls
        groups: dict[bool, list[int]] = {}
        for i, s in enumerate(sents):
            groups.setdefault(s.text_b is not None, []).append(i)
        results: dict[int, Encoded | Skipped | list[Encoded]] = {}
        for idxs in groups.values():
            group = [sents[i] for i in idxs]
            for i, s, e in zip(idxs, group, self._tokenize(group, truncate=False)):
                if len(e.ids) <= self.max_tokens:
                    results[i] = build_encoded(s, e, self.cls_id, self.sep_id, truncated=False)
                elif self.long_policy == "truncate":
                    cut = self._tokenize([s], truncate=True)[0]
                    results[i] = build_encoded(s, cut, self.cls_id, self.sep_id, truncated=True)
                elif self.long_policy == "window":
                    results[i] = self._windows(s, e)
                else:
                    results[i] = Skipped(
                        s.index, s.source, "too_long",
                        f"{len(e.ids)} tokens > the model's limit of {self.max_tokens}; pass --long truncate or --long window",
                        text=s.text,
                    )
        out: list[Encoded | Skipped] = []
        for i in range(len(sents)):
            r = results[i]
            out.extend(r if isinstance(r, list) else [r])
        return out

    def _windows(self, s: Sentence, encoding) -> list[Encoded] | Skipped:
        word_of = align_tokens(s.texts, s.words or (), encoding.offsets, encoding.sequence_ids, encoding.special_tokens_mask)
        pieces = split_windows(s, word_of, self.max_tokens - sum(encoding.special_tokens_mask))
        if isinstance(pieces, str):
            return Skipped(s.index, s.source, "too_long", pieces, text=s.text)
        encoded = [build_encoded(p, e, self.cls_id, self.sep_id, truncated=False) for p, e in zip(pieces, self._tokenize(pieces, False))]
        if any(e.n_tokens > self.max_tokens for e in encoded):
            return Skipped(s.index, s.source, "too_long", "a window re-tokenized past the limit", text=s.text)
        return [replace(e, window=k, n_windows=len(encoded), origin=s) for k, e in enumerate(encoded)]

    def stream(self, items: Iterable[Sentence | Skipped]) -> Iterator[Encoded | Skipped]:
        buf: list[Sentence] = []
        for item in items:
            if isinstance(item, Skipped):
                yield item
                continue
            buf.append(item)
            if len(buf) >= self.chunk:
                yield from self.encode(buf)
                buf = []
        if buf:
            yield from self.encode(buf)
