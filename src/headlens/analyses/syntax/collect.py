"""The ``syntax`` collector: per sentence and relation, the arcs and the fixed-offset baseline hits.

For every analysed sentence and relation: ``arcs`` = the relation's arcs with both ends present
as word units (the same arcs the ``dep_*`` head metrics count), and for each offset o in
OFFSETS the number of those arcs whose head is the word at position dependent + o (word
positions in the sentence). Clark et al.'s baseline predictor clips a position past the
sentence to the first / last word; here a position outside the sentence is simply wrong (the
clipped prediction is a different offset).
"""

from __future__ import annotations

import numpy as np

from ...metrics.arcs import item_arcs, relation_matches
from .metrics import SYNTAX_RELATIONS, check_relations
from ...collect import Collector

OFFSETS = (-3, -2, -1, 0, 1, 2)


def sentence_counts(enc, relations: tuple[str, ...]) -> np.ndarray:
    """int64 [R, 1 + len(OFFSETS)]: arcs, then the hits of each offset, for one Encoded item."""
    out = np.zeros((len(relations), 1 + len(OFFSETS)), dtype=np.int64)
    for dep_unit, head_unit, label in item_arcs(enc):
        shift = int(enc.unit_word[head_unit]) - int(enc.unit_word[dep_unit])
        for r, rel in enumerate(relations):
            if relation_matches(label, rel):
                out[r, 0] += 1
                if shift in OFFSETS:
                    out[r, 1 + OFFSETS.index(shift)] += 1
    return out


class SyntaxBaselines(Collector):
    name = "syntax"

    def __init__(self, relations: tuple[str, ...]):
        self.relations = relations
        self._ids: list[int] = []
        self._counts: list[np.ndarray] = []

    def add(self, batch, rows) -> None:
        for b in rows:
            enc = batch.items[b]
            self._ids.append(enc.sentence.index)
            self._counts.append(sentence_counts(enc, self.relations))

    def take(self) -> dict[str, np.ndarray]:
        shape = (0, len(self.relations), 1 + len(OFFSETS))
        out = {
            "sentence_ids": np.asarray(self._ids, dtype=np.int64),
            "counts": np.stack(self._counts) if self._counts else np.zeros(shape, np.int64),
            "relations": np.asarray(self.relations, dtype=str),
            "offsets": np.asarray(OFFSETS, dtype=np.int64),
        }
        self._ids, self._counts = [], []
        return out


def make(cfg, lm) -> SyntaxBaselines:
    """The collector of a run: the relations of its syntax options."""
    return SyntaxBaselines(check_relations(cfg.options_of("syntax").relations or SYNTAX_RELATIONS))
