"""Splitting a sentence longer than the model's limit into windows at word boundaries.

Greedy, in order: each window takes as many whole words as fit in the limit less the special
tokens. A window is an ordinary sentence (its own text slice, words re-based, arcs that leave
the window dropped) analysed as its own sequence; the runner combines the windows' scores into
the sentence's (a mean weighted by each window's token count).
"""

from __future__ import annotations

from dataclasses import replace

from ..corpus.types import ROOT, Sentence


def split_windows(sentence: Sentence, word_of: list[int], budget: int) -> list[Sentence] | str:
    """The windows of ``sentence`` (a single text), or the reason it cannot be windowed.

    ``word_of`` maps each token of the whole sentence to its word (-1: none); ``budget`` is the
    number of non-special tokens one window may hold.
    """
    if sentence.text_b is not None:
        return "windowing applies to single sentences, not pairs; pass --long truncate or skip"
    words = sentence.words or ()
    sizes = [0] * len(words)
    for w in word_of:
        if w >= 0:
            sizes[w] += 1
    if not words or max(sizes) > budget:
        return f"a single word has {max(sizes, default=0)} tokens, more than a window holds ({budget})"
    groups: list[list[int]] = [[]]
    used = 0
    for i, size in enumerate(sizes):
        if groups[-1] and used + size > budget:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += size
    return [_window(sentence, g) for g in groups]


def _window(sentence: Sentence, idx: list[int]) -> Sentence:
    words = sentence.words or ()
    first, last = idx[0], idx[-1]
    off = words[first].start
    inside = set(idx)

    def head(h: int | None) -> int | None:
        if h is None or h == ROOT:
            return h
        return h - first if h in inside else None

    return replace(
        sentence,
        text=sentence.text[off : words[last].end],
        words=tuple(replace(words[i], start=words[i].start - off, end=words[i].end - off, head=head(words[i].head)) for i in idx),
    )
