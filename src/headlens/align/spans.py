"""Sub-token alignment over a batch of sentences at once (the rule: align/encode.py's docstring).

Every sentence's segments are laid end to end on one axis of characters, each after the last
and at least one blank apart, so that one sorted search over every word's span places every
token of the batch, and the whitespace trimming, the overlaps and the orphans' neighbours are
array operations: no loop over tokens or words, only over the few words one token overlaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np

from ..corpus.types import Word

_ASCII_SPACE = np.array([chr(c).isspace() for c in range(128)])


def _is_space(codes: np.ndarray) -> np.ndarray:
    """bool: ``str.isspace()`` of each code point (uint32)."""
    out = _ASCII_SPACE[np.minimum(codes, 127)]
    high = codes >= 128
    if high.any():
        distinct, inverse = np.unique(codes[high], return_inverse=True)
        out[high] = np.array([chr(c).isspace() for c in distinct.tolist()], dtype=bool)[inverse]
    return out


def flat(lists, dtype) -> np.ndarray:
    return np.fromiter(chain.from_iterable(lists), dtype=dtype)


@dataclass(frozen=True)
class Aligned:
    """The alignment of a batch of sentences, their tokens concatenated (``sentence``: each token's)."""

    sentence: np.ndarray  # int64 [N]: the token's sentence in the batch
    word: np.ndarray  # int64 [N]: the token's word in its sentence's ``words``, -1 for none
    seq: np.ndarray  # int64 [N]: the token's segment, -1 for none (the tokenizer's None)
    special: np.ndarray  # bool [N]
    dot_comma: np.ndarray  # bool [N]: the token's whitespace-trimmed text is "." or ","
    bounds: np.ndarray  # int64 [S + 1]: the first token of each sentence


def _axis(texts: list[tuple[str, ...]], words: list[tuple[Word, ...]]):
    """The batch's characters on one axis: (code points, first position of each (sentence, segment) in
    order, and each word's [start, end, index in its sentence] there, in segment order). A segment
    reaches at least its words' ends, so that no word's span runs into the next segment's."""
    bases, pieces, rows, pos = [], [], [], 0
    for ts, ws in zip(texts, words):
        spans = [(w.start, w.end, w.segment, i) for i, w in enumerate(ws)]
        first = []
        for g, text in enumerate(ts):
            reach = max([len(text), *(e for _, e, seg, _ in spans if seg == g)])
            first.append(pos)
            pieces.append(text + " " * (reach - len(text) + 1))
            pos += reach + 1
        bases += first
        rows += [(first[seg] + a, first[seg] + b, i) for a, b, seg, i in sorted(spans, key=lambda r: r[2]) if 0 <= seg < len(ts)]
    codes = np.frombuffer("".join(pieces).encode("utf-32-le"), dtype=np.uint32)
    return codes, np.asarray(bases + [0], dtype=np.int64), np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def _best_word(a: np.ndarray, b: np.ndarray, live: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the tokens ``live`` with spans [a, b): the word (w's index column) each overlaps most, the
    first on a tie, -1 for none; from the first word that ends after a, while words start before b
    (the spans of a segment are in order). Also the overlap."""
    word = np.full(len(a), -1, dtype=np.int64)
    best = np.zeros(len(a), dtype=np.int64)
    k = np.searchsorted(w[:, 1], a[live], side="right")
    while live.size:
        go = k < len(w)
        live, k = live[go], k[go]
        go = w[k, 0] < b[live]
        live, k = live[go], k[go]
        overlap = np.minimum(b[live], w[k, 1]) - np.maximum(a[live], w[k, 0])
        better = overlap > best[live]
        word[live[better]], best[live[better]] = w[k[better], 2], overlap[better]
        k = k + 1
    return word, best


def _fill_orphans(word: np.ndarray, orphan: np.ndarray, run: np.ndarray) -> None:
    """Each orphan token takes the word of the previous worded token in its run (tokens of one
    segment of one sentence, consecutive), else of the next one; -1 when the run has none."""
    n = len(word)
    at = np.arange(n)
    prev = np.maximum.accumulate(np.where(word >= 0, at, -1))[orphan]
    nxt = np.minimum.accumulate(np.where(word >= 0, at, n)[::-1])[::-1][orphan]
    use_prev = (prev >= 0) & (run[np.maximum(prev, 0)] == run[orphan])
    use_next = ~use_prev & (nxt < n) & (run[np.minimum(nxt, n - 1)] == run[orphan])
    fill = np.full(orphan.size, -1, dtype=np.int64)
    fill[use_prev] = word[prev[use_prev]]
    fill[use_next] = word[nxt[use_next]]
    word[orphan] = fill


def align_batch(texts: list[tuple[str, ...]], words: list[tuple[Word, ...]], offsets: list, sequence_ids: list,
                special: list) -> Aligned:
    """The alignment of a batch: per sentence its texts, words and its tokens' offsets, sequence ids and
    special-token mask (as a ``tokenizers.Encoding`` gives them)."""
    codes, base_of, w = _axis(texts, words)
    solid = np.flatnonzero(~_is_space(codes))  # positions of the characters that are not whitespace
    counts = np.fromiter((len(o) for o in offsets), dtype=np.int64, count=len(offsets))
    bounds = np.concatenate([[0], np.cumsum(counts)])
    sent = np.repeat(np.arange(len(offsets)), counts)
    span = flat((chain.from_iterable(o) for o in offsets), np.int64).reshape(-1, 2)
    seq_f = np.asarray(list(chain.from_iterable(sequence_ids)), dtype=np.float64).reshape(-1)  # None -> NaN
    seq = np.where(np.isnan(seq_f), -1, seq_f).astype(np.int64)
    spec = flat(special, np.int64).astype(bool)
    n_texts = np.asarray([len(t) for t in texts], dtype=np.int64)
    cand = ~spec & (seq >= 0)  # tokens that belong to a word, or else to a neighbour's
    placed = cand & (seq < n_texts[sent])  # ... and whose segment is a text of the sentence
    group = np.cumsum(np.concatenate([[0], n_texts]))[:-1][sent] + np.where(placed, seq, 0)
    base = base_of[np.where(placed, group, len(base_of) - 1)]
    # whitespace trimmed: from the first solid character at or after the start to the last before the end
    lo = np.searchsorted(solid, span[:, 0] + base)
    hi = np.searchsorted(solid, span[:, 1] + base) - 1
    has = placed & (lo <= hi)
    a, b = np.zeros(len(seq), dtype=np.int64), np.zeros(len(seq), dtype=np.int64)
    a[has], b[has] = solid[lo[has]], solid[hi[has]] + 1
    dot_comma = has & (b - a == 1)
    dot_comma[dot_comma] = np.isin(codes[a[dot_comma]], (ord("."), ord(",")))
    word, _ = _best_word(a, b, np.flatnonzero(has), w)
    orphan = np.flatnonzero(cand & (word < 0))
    if orphan.size:
        _fill_orphans(word, orphan, np.cumsum(np.concatenate([[0], (sent[1:] != sent[:-1]) | (seq[1:] != seq[:-1])])))
    return Aligned(sent, word, seq, spec, dot_comma, bounds)
