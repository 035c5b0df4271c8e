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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from ..corpus.types import Sentence, Skipped, Word
from .spans import align_batch, flat
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


def align_tokens(
    texts: tuple[str, ...],
    words: tuple[Word, ...],
    offsets: list[tuple[int, int]],
    sequence_ids: list[int | None],
    special: list[int],
) -> list[int]:
    """For each token, the index of its word in ``words`` (-1 for special tokens and none)."""
    return align_batch([texts], [words], [offsets], [sequence_ids], [special]).word.tolist()


def _equal(ids: np.ndarray, token_id: int | None) -> np.ndarray:
    return ids == token_id if token_id is not None else np.zeros(len(ids), dtype=bool)


def encode_batch(sentences: list[Sentence], encodings: list, cls_id: int | None, sep_id: int | None,
                 truncated: list[bool]) -> list[Encoded]:
    """An Encoded for each sentence from its ``tokenizers.Encoding``, the batch's tokens aligned and
    numbered together (no loop over tokens)."""
    if not sentences:
        return []
    words = [s.words or () for s in sentences]
    al = align_batch([s.texts for s in sentences], words, [e.offsets for e in encodings],
                [e.sequence_ids for e in encodings], [e.special_tokens_mask for e in encodings])
    ids = flat((e.ids for e in encodings), np.int64)
    type_ids = flat((e.type_ids for e in encodings), np.int64)
    kinds = np.where(al.special, np.where(_equal(ids, cls_id), CLS, np.where(_equal(ids, sep_id), SEP, OTHER_SPECIAL)),
                     WORD).astype(np.int8)
    segment = np.where(al.special | (al.seq < 0), -1, al.seq).astype(np.int8)
    # units: each special token, and each word at its first token, in token order
    worded = np.flatnonzero(~al.special & (al.word >= 0))
    key = al.sentence[worded] * (max(map(len, words)) + 1) + al.word[worded]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    starts = al.special.copy()
    starts[worded[first]] = True
    unit_at = np.cumsum(starts) - 1  # the batch-wide number of the unit a start token opens
    token_unit = np.full(len(ids), -1, dtype=np.int64)
    token_unit[al.special] = unit_at[al.special]
    token_unit[worded] = unit_at[worded[first]][inverse.reshape(-1)]
    opened = np.flatnonzero(starts)
    unit_sentence = al.sentence[opened]
    unit_bounds = np.searchsorted(unit_sentence, np.arange(len(sentences) + 1))
    token_unit = np.where(token_unit >= 0, token_unit - unit_bounds[al.sentence], -1).astype(np.int32)
    unit_kind = kinds[opened]
    unit_word = np.where(al.special[opened], -1, al.word[opened])
    word_bounds = np.concatenate([[0], np.cumsum([len(w) for w in words])])
    punct = np.fromiter((is_punctuation(w) for ws in words for w in ws), dtype=bool, count=int(word_bounds[-1]))
    unit_punct = unit_word >= 0
    unit_punct[unit_punct] = punct[word_bounds[unit_sentence[unit_punct]] + unit_word[unit_punct]]
    unit_word = unit_word.astype(np.int32)
    out = []
    for i, s in enumerate(sentences):
        t = slice(al.bounds[i], al.bounds[i + 1])
        u = slice(unit_bounds[i], unit_bounds[i + 1])
        out.append(Encoded(sentence=s, input_ids=ids[t], token_type_ids=type_ids[t], kinds=kinds[t], segment=segment[t],
                           token_unit=token_unit[t], unit_kind=unit_kind[u], unit_word=unit_word[u],
                           unit_punct=unit_punct[u], truncated=truncated[i], dot_comma=al.dot_comma[t]))
    return out


def build_encoded(sentence: Sentence, encoding, cls_id: int | None, sep_id: int | None, truncated: bool) -> Encoded:
    """An Encoded from a ``tokenizers.Encoding`` of the sentence's text(s)."""
    return encode_batch([sentence], [encoding], cls_id, sep_id, [truncated])[0]


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
        # pairs and single sentences are tokenized in separate calls; the ones that fit are aligned together
        groups: dict[bool, list[int]] = {}
        for i, s in enumerate(sents):
            groups.setdefault(s.text_b is not None, []).append(i)
        results: dict[int, Encoded | Skipped | list[Encoded]] = {}
        fit: list[tuple[int, Sentence, object, bool]] = []
        long: list[tuple[int, Sentence, object]] = []
        for idxs in groups.values():
            group = [sents[i] for i in idxs]
            for i, s, e in zip(idxs, group, self._tokenize(group, truncate=False)):
                if len(e.ids) <= self.max_tokens:
                    fit.append((i, s, e, False))
                elif self.long_policy == "truncate":
                    fit.append((i, s, self._tokenize([s], truncate=True)[0], True))
                elif self.long_policy == "window":
                    long.append((i, s, e))
                else:
                    results[i] = Skipped(
                        s.index, s.source, "too_long",
                        f"{len(e.ids)} tokens > the model's limit of {self.max_tokens}; pass --long truncate or --long window",
                        text=s.text,
                    )
        if long:  # windows: the long sentences aligned together, then each split and encoded
            al = align_batch([s.texts for _, s, _ in long], [s.words or () for _, s, _ in long], [e.offsets for *_, e in long],
                        [e.sequence_ids for *_, e in long], [e.special_tokens_mask for *_, e in long])
            for k, (i, s, e) in enumerate(long):
                results[i] = self._windows(s, e, al.word[al.bounds[k]:al.bounds[k + 1]].tolist())
        built = encode_batch([f[1] for f in fit], [f[2] for f in fit], self.cls_id, self.sep_id, [f[3] for f in fit])
        results.update((f[0], e) for f, e in zip(fit, built))
        out: list[Encoded | Skipped] = []
        for i in range(len(sents)):
            r = results[i]
            out.extend(r if isinstance(r, list) else [r])
        return out

    def _windows(self, s: Sentence, encoding, word_of: list[int]) -> list[Encoded] | Skipped:
        pieces = split_windows(s, word_of, self.max_tokens - sum(encoding.special_tokens_mask))
        if isinstance(pieces, str):
            return Skipped(s.index, s.source, "too_long", pieces, text=s.text)
        encoded = encode_batch(pieces, self._tokenize(pieces, False), self.cls_id, self.sep_id, [False] * len(pieces))
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
