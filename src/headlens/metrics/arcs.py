"""Dependency arcs of a batch, as the syntactic sieve scores need them.

An arc joins a dependent word to its head word; both must have tokens in the sequence (the
root arc, arcs leaving a window and words without tokens are left out). A relation selects
arcs by label:

- a plain UD label (``nsubj``) matches it and its subtypes (``nsubj:pass``); a subtype
  (``nmod:poss``) matches only itself;
- ``obj`` and ``dobj`` are one relation (UD v2 and spaCy's ClearNLP scheme name the direct
  object differently); no other label is translated between schemes, because the schemes
  differ in tree shape, not only in names (see docs/roles.md);
- ``all`` is every arc except ``punct``; ``every`` is every arc, ``punct`` included (Clark et
  al.'s "all", with ``--replicate clark2019``: analyses/syntax);
- ``subj`` is any nominal subject: ``nsubj`` and its subtypes (UD ``nsubj:pass``) and spaCy's
  ``nsubjpass`` (used by the features of interest, analyses/features/metrics.py).

For each relation and direction the batch carries per-arc weights that turn a sum over arcs
into the sieve formula's mean over queries of the mean over each query's sieve set:
``d2h`` (the dependent attends to its head: one query per arc) and ``h2d`` (the head attends
to its dependents with that relation: one query per distinct head, whose set is all of them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ..lazy import torch  # imported on first use: the names register without torch (headlens.lazy)

from ..corpus.types import ROOT

DEFAULT_RELATIONS = ("nsubj", "obj", "amod", "advmod", "det", "nmod", "all")
DIRECTIONS = ("d2h", "h2d")
ALIASES = {"obj": ("obj", "dobj"), "dobj": ("obj", "dobj"),
           "subj": ("nsubj", "nsubjpass")}  # any nominal subject (UD nsubj, nsubj:pass; spaCy nsubj, nsubjpass)
NOT_IN_ALL = ("punct",)
EVERY = "every"


def relation_matches(label: str, relation: str) -> bool:
    if relation == "all":
        return label.split(":")[0] not in NOT_IN_ALL
    if relation == EVERY:
        return True
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


def arc_weights(sentence: np.ndarray, head: np.ndarray, selected: np.ndarray, direction: str, n_sentences: int) -> np.ndarray:
    """Per-arc weights of a batch's arcs (flattened: ``sentence`` and ``head`` unit per arc)
    summing to 1 over each sentence's selected arcs (all 0 for a sentence without any).

    ``d2h``: 1 / (selected arcs of the sentence). ``h2d``: 1 / (selected arcs sharing the
    arc's head x distinct heads of the sentence): a mean over heads of a mean over dependents.
    """
    w = np.zeros(len(sentence), dtype=np.float64)
    if not selected.any():
        return w
    s = sentence[selected]
    if direction == "d2h":
        w[selected] = 1.0 / np.bincount(s, minlength=n_sentences)[s]
        return w
    key = s * (int(head.max()) + 1) + head[selected]
    _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    heads_per_sentence = np.bincount(s[first], minlength=n_sentences)
    w[selected] = 1.0 / (counts[inverse.ravel()] * heads_per_sentence[s])
    return w


@dataclass
class Arcs:
    dep: torch.Tensor  # long [B, K]: unit of the dependent (0 for padding arcs)
    head: torch.Tensor  # long [B, K]
    weights: dict[tuple[str, str], torch.Tensor]  # (relation, direction) -> float [B, K]
    # the token pairs of every arc (fused path): dependent token, head token, arc slot, [B, P]
    # (padding pairs: slot K, tokens 0), and |dependent| x |head| sub-tokens per arc [B, K]
    pair_dep: torch.Tensor | None = None
    pair_head: torch.Tensor | None = None
    pair_slot: torch.Tensor | None = None
    pair_count: torch.Tensor | None = None
    # the same pairs with each token replaced by the first token of its segment with the same id
    # (Pande et al.'s list.index, --role-bug-compatible: docs/fidelity.md, B2) [B, P]
    pair_dep_first: torch.Tensor | None = None
    pair_head_first: torch.Tensor | None = None

    @classmethod
    def build(cls, items, relations, device, dtype) -> Arcs:
        per_item = [item_arcs(e) for e in items]
        lengths = np.asarray([len(a) for a in per_item], dtype=np.int64)
        k = max(1, int(lengths.max(initial=0)))
        sentence = np.repeat(np.arange(len(items)), lengths)  # one entry per arc of the batch
        slot = np.arange(len(sentence)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        flat = [a for arcs in per_item for a in arcs]
        dep = np.zeros((len(items), k), dtype=np.int64)
        head = np.zeros((len(items), k), dtype=np.int64)
        heads = np.asarray([a[1] for a in flat], dtype=np.int64)
        dep[sentence, slot] = [a[0] for a in flat]
        head[sentence, slot] = heads
        labels, code = np.unique(np.asarray([a[2] for a in flat], dtype=object).astype(str), return_inverse=True)
        weights = {}
        for r in relations:
            selected = np.asarray([relation_matches(str(label), r) for label in labels], dtype=bool)[code.ravel()]
            for d in DIRECTIONS:
                w = np.zeros((len(items), k))
                w[sentence, slot] = arc_weights(sentence, heads, selected, d, len(items))
                weights[(r, d)] = w
        to = lambda a, dt: torch.from_numpy(a).to(device=device, dtype=dt)  # noqa: E731
        pairs = token_pairs(items, per_item, k)
        first = pad_rows([(first_occurrence(e),) for e in items], (np.int64(0),))[0]  # [B, T]; padding -> token 0
        firsts = [np.take_along_axis(first, pairs[i], 1) for i in (0, 1)]
        return cls(to(dep, torch.long), to(head, torch.long), {key: to(w, dtype) for key, w in weights.items()},
                   *(to(a, torch.long) for a in pairs[:3]), to(pairs[3], dtype), *(to(a, torch.long) for a in firsts))


def first_occurrence(enc) -> np.ndarray:
    """int64 [n]: for each token, the first token of the same segment with the same id, as Pande et
    al.'s ``final_sent.index(token)`` finds it (syntactic_score.ipynb, dataset.get_data_for_pred);
    special tokens map to themselves."""
    key = enc.input_ids.astype(np.int64) * 4 + (enc.segment.astype(np.int64) + 1)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    out = first[inverse.ravel()].astype(np.int64)
    special = np.flatnonzero(enc.segment < 0)
    out[special] = special
    return out


def pair_means(p: torch.Tensor, arcs: Arcs) -> torch.Tensor:
    """[B, H, K]: the mean over each arc's token pairs of ``p`` [B, H, P] (padding pairs dropped)."""
    b, h, _ = p.shape
    k = arcs.dep.shape[1]
    sums = torch.zeros((b, h, k + 1), dtype=p.dtype, device=p.device)
    sums.scatter_add_(2, arcs.pair_slot[:, None, :].expand(b, h, -1), p)  # slot k collects the padding
    return sums[..., :k] / arcs.pair_count.clamp(min=1).to(p.dtype)[:, None, :]


def unit_tokens(enc) -> tuple[np.ndarray, np.ndarray]:
    """(order, bounds) of an encoded item: the tokens of unit u are ``order[bounds[u]:bounds[u + 1]]``."""
    order = np.argsort(enc.token_unit, kind="stable")
    return order, np.searchsorted(enc.token_unit[order], np.arange(enc.n_units + 1))


def pad_rows(rows: list[tuple[np.ndarray, ...]], fills: tuple) -> list[np.ndarray]:
    """Per item index lists (equal lengths within an item) as arrays [B, P], padded with ``fills``."""
    p = max(1, max(len(r[0]) for r in rows))
    out = [np.full((len(rows), p), fill, dtype=np.asarray(fill).dtype) for fill in fills]
    for b, r in enumerate(rows):
        for a, values in zip(out, r):
            a[b, : len(values)] = values
    return out


def token_pairs(items, per_item: list[list[tuple[int, int, str]]], k: int) -> tuple[np.ndarray, ...]:
    """(dependent token, head token, arc slot) [B, P] of every sub-token pair of every arc, and the
    pair count of each arc [B, K] (0 for padding slots); padding pairs point at slot ``k``."""
    rows = []
    counts = np.zeros((len(items), k))
    for b, (enc, arcs) in enumerate(zip(items, per_item)):
        order, bounds = unit_tokens(enc)
        dep, head = (np.asarray([a[i] for a in arcs], dtype=np.int64) for i in (0, 1))
        n_dep, n_head = bounds[dep + 1] - bounds[dep], bounds[head + 1] - bounds[head]
        n = n_dep * n_head  # pairs of each arc
        slot = np.repeat(np.arange(len(arcs)), n)
        within = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        rows.append((order[bounds[dep][slot] + within // n_head[slot]],
                     order[bounds[head][slot] + within % n_head[slot]], slot))
        counts[b, : len(arcs)] = n
    return (*pad_rows(rows, (np.int64(0), np.int64(0), np.int64(k))), counts)
