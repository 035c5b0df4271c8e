"""The ``syntax`` collector: per sentence and relation, the arcs and the fixed-offset baseline hits.

For every analysed sentence and relation: ``arcs`` = the relation's arcs with both ends present
as word units (the same arcs the ``dep_*`` head metrics count), and for each offset o in
OFFSETS the number of those arcs whose head is the word at position dependent + o (word
positions in the sentence). Clark et al.'s baseline predictor clips a position past the
sentence to the first / last word; here a position outside the sentence is simply wrong (the
clipped prediction is a different offset). With ``replicate="clark2019"`` the collector counts as
Clark et al.'s ``offset_predictor`` (Syntax_Analysis.ipynb): the predicted head position is
clipped to [ROOT, last word], and ``roots`` holds, per sentence, the words attached to ROOT and
the offsets whose clipped prediction is ROOT (Clark et al.'s "all" counts those words).
"""

from __future__ import annotations

import numpy as np

from ...metrics.arcs import item_arcs, relation_matches
from ...corpus.types import ROOT
from .metrics import syntax_relations
from ...collect import Collector

OFFSETS = (-3, -2, -1, 0, 1, 2)


def offset_hits(dep_word: int, head_word: int, n_words: int, clip: bool) -> np.ndarray:
    """int64 [len(OFFSETS)]: 1 where the word at dep_word + offset is the head (head_word -1 = ROOT);
    ``clip``: the position is clipped to [-1, n_words - 1] first (Clark et al.'s offset_predictor)."""
    at = dep_word + np.asarray(OFFSETS)
    if clip:
        at = np.clip(at, -1, n_words - 1)
    return (at == head_word).astype(np.int64)


def sentence_counts(enc, relations: tuple[str, ...], clip: bool = False) -> np.ndarray:
    """int64 [R, 1 + len(OFFSETS)]: arcs, then the hits of each offset, for one Encoded item."""
    out = np.zeros((len(relations), 1 + len(OFFSETS)), dtype=np.int64)
    n_words = len(enc.sentence.words or ())
    for dep_unit, head_unit, label in item_arcs(enc):
        hits = offset_hits(int(enc.unit_word[dep_unit]), int(enc.unit_word[head_unit]), n_words, clip)
        for r, rel in enumerate(relations):
            if relation_matches(label, rel):
                out[r, 0] += 1
                out[r, 1:] += hits
    return out


def root_counts(enc) -> np.ndarray:
    """int64 [1 + len(OFFSETS)]: the words of an Encoded item attached to ROOT (with tokens), then
    how many of them each clipped offset predicts (Clark et al.'s offset_predictor gives ROOT)."""
    out = np.zeros(1 + len(OFFSETS), dtype=np.int64)
    words = enc.sentence.words or ()
    for u, w in enumerate(enc.unit_word):
        if w >= 0 and words[w].head == ROOT and words[w].deprel is not None:
            out[0] += 1
            out[1:] += offset_hits(int(w), -1, len(words), True)
    return out


class SyntaxBaselines(Collector):
    name = "syntax"
    per_sentence = ("sentence_ids", "counts", "roots")

    def __init__(self, relations: tuple[str, ...], clark: bool = False):
        self.relations, self.clark = relations, clark
        self._ids: list[int] = []
        self._counts: list[np.ndarray] = []
        self._roots: list[np.ndarray] = []

    def add(self, batch, rows) -> None:
        for b in rows:
            enc = batch.items[b]
            self._ids.append(enc.sentence.index)
            self._counts.append(sentence_counts(enc, self.relations, self.clark))
            self._roots.append(root_counts(enc))

    def take(self) -> dict[str, np.ndarray]:
        shape = (0, len(self.relations), 1 + len(OFFSETS))
        out = {
            "sentence_ids": np.asarray(self._ids, dtype=np.int64),
            "counts": np.stack(self._counts) if self._counts else np.zeros(shape, np.int64),
            "relations": np.asarray(self.relations, dtype=str),
            "offsets": np.asarray(OFFSETS, dtype=np.int64),
            "roots": np.stack(self._roots) if self._roots else np.zeros((0, 1 + len(OFFSETS)), np.int64),
            "clipped": np.asarray(self.clark),
        }
        self._ids, self._counts, self._roots = [], [], []
        return out


def make(cfg, lm) -> SyntaxBaselines:
    """The collector of a run: the relations of its syntax options."""
    options = cfg.options_of("syntax")
    return SyntaxBaselines(syntax_relations(options), options.replicate == "clark2019")
