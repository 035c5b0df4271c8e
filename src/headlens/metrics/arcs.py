"""Dependency arcs of a batch, as the syntactic sieve scores need them.

An arc joins a dependent word to its head word; both must have tokens in the sequence (the
root arc, arcs leaving a window and words without tokens are left out). A relation selects
arcs by label:

- a plain UD label (``nsubj``) matches it and its subtypes (``nsubj:pass``); a subtype
  (``nmod:poss``) matches only itself;
- ``obj`` and ``dobj`` are one relation (UD v2 and spaCy's ClearNLP scheme name the direct
  object differently); no other label is translated between schemes, because the schemes
  differ in tree shape, not only in names (see docs/roles.md);
- ``all`` is every arc except ``punct``.

For each relation and direction the batch carries per-arc weights that turn a sum over arcs
into the sieve formula's mean over queries of the mean over each query's sieve set:
``d2h`` (the dependent attends to its head: one query per arc) and ``h2d`` (the head attends
to its dependents with that relation: one query per distinct head, whose set is all of them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..corpus.types import ROOT

DEFAULT_RELATIONS = ("nsubj", "obj", "amod", "advmod", "det", "nmod", "all")
DIRECTIONS = ("d2h", "h2d")
ALIASES = {"obj": ("obj", "dobj"), "dobj": ("obj", "dobj")}
NOT_IN_ALL = ("punct",)


def relation_matches(label: str, relation: str) -> bool:
    if relation == "all":
        return label.split(":")[0] not in NOT_IN_ALL
    for name in ALIASES.get(relation, (relation,)):
        if label == name or (":" not in name and label.startswith(name + ":")):
            return True
    return False


def item_arcs(enc) -> list[tuple[int, int, str]]:
    """(dependent unit, head unit, label) for every arc of an Encoded item with both ends present."""
    unit_of_word = {int(w): u for u, w in enumerate(enc.unit_word) if w >= 0}
    out = []
    for wi, word in enumerate(enc.sentence.words or ()):
        if word.head is None or word.head == ROOT or word.deprel is None:
            continue
        du, hu = unit_of_word.get(wi), unit_of_word.get(word.head)
        if du is not None and hu is not None:
            out.append((du, hu, word.deprel))
    return out


def arc_weights(heads: np.ndarray, selected: np.ndarray, direction: str) -> np.ndarray:
    """Per-arc weights summing to 1 over the selected arcs of one sentence (all 0 when none)."""
    w = np.zeros(len(heads), dtype=np.float64)
    if not selected.any():
        return w
    if direction == "d2h":
        w[selected] = 1.0 / selected.sum()
        return w
    chosen = heads[selected]
    distinct, counts = np.unique(chosen, return_counts=True)
    size = dict(zip(distinct.tolist(), counts.tolist()))
    w[selected] = [1.0 / (size[h] * len(distinct)) for h in chosen.tolist()]
    return w


@dataclass
class Arcs:
    dep: torch.Tensor  # long [B, K]: unit of the dependent (0 for padding arcs)
    head: torch.Tensor  # long [B, K]
    weights: dict[tuple[str, str], torch.Tensor]  # (relation, direction) -> float [B, K]

    @classmethod
    def build(cls, items, relations, device, dtype) -> Arcs:
        per_item = [item_arcs(e) for e in items]
        k = max(1, max(len(a) for a in per_item))
        dep = np.zeros((len(items), k), dtype=np.int64)
        head = np.zeros((len(items), k), dtype=np.int64)
        weights = {(r, d): np.zeros((len(items), k)) for r in relations for d in DIRECTIONS}
        for b, arcs in enumerate(per_item):
            if not arcs:
                continue
            n = len(arcs)
            dep[b, :n] = [a[0] for a in arcs]
            head[b, :n] = [a[1] for a in arcs]
            for r in relations:
                selected = np.asarray([relation_matches(a[2], r) for a in arcs])
                for d in DIRECTIONS:
                    weights[(r, d)][b, :n] = arc_weights(head[b, :n], selected, d)
        to = lambda a, dt: torch.from_numpy(a).to(device=device, dtype=dt)  # noqa: E731
        return cls(to(dep, torch.long), to(head, torch.long), {key: to(w, dtype) for key, w in weights.items()})
