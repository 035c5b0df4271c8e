"""The maps a run keeps of a few chosen sentences (``--store-maps``), as the report's head view reads them.

``maps/sentence-<id>.npz`` (``-window-<k>`` for the windows of a long sentence) holds:

- ``attention`` [L, H, T, T] float32: the token maps, with ``input_ids``, ``tokens``,
  ``token_unit``, ``unit_word``, ``words``, ``segment``, ``word_head`` (-2: none) and ``word_deprel``;
- ``word_attention`` [L, H, U, U] float32: the word maps of the run's word aggregation, the
  R @ A @ C the word metrics see ([CLS], the words that received a token, [SEP]);
- ``unit_labels`` and ``unit_kinds`` (``word``, ``cls``, ``sep`` or ``special``) of those units;
- ``logits`` [L, H, T, T] float32, where the engine could take them: the q.k logits
  ``s q_i . k_j`` (scaled dot products, before the padding bias and the softmax) of the token maps.

The report draws the head view from these alone, without a model (docs/architecture.md).

A run writes each file as the engine makes the maps (:class:`SentenceMaps`): the token maps, their
word maps and logits of one layer at a time go into ``store.npz``'s streamed archive, so that no
[L, H, T, T] array is ever held whole (at T = 512, 75 MB each on MiniLM); a scaled-out run's worker
keeps them in memory (``store.npz.MemoryNpz``) and the driver writes them. Either way ``np.load``
reads the same arrays as from ``np.savez`` of the whole maps (tests/test_maps_stream.py).
"""

from __future__ import annotations

import numpy as np
import torch

from ..align.encode import CLS, SEP, Encoded
from ..store import layout
from ..store.npz import MemoryNpz
from .batch import Batch


def map_name(enc: Encoded) -> str:
    return layout.map_name(enc.sentence.index, enc.window if enc.n_windows > 1 else None)


def unit_labels(enc: Encoded, tokenizer) -> tuple[list[str], list[str]]:
    """The label (word form, or the special token) and the kind of each unit of ``enc``."""
    words = enc.sentence.words or ()
    first: dict[int, int] = {}
    for t, u in enumerate(enc.token_unit.tolist()):
        first.setdefault(u, t)
    labels, kinds = [], []
    for u, (kind, w) in enumerate(zip(enc.unit_kind.tolist(), enc.unit_word.tolist())):
        if w >= 0:
            labels.append(words[w].form)
            kinds.append("word")
        else:
            labels.append(tokenizer.convert_ids_to_tokens(int(enc.input_ids[first[u]])) if u in first else "?")
            kinds.append("cls" if kind == CLS else "sep" if kind == SEP else "special")
    return labels, kinds


class WordMaps:
    """The token maps of ``enc`` aggregated to its units, R @ A @ C (``metrics.view.aggregate``) as sums
    into each token's unit: a token belongs to at most one unit, so C has one weight per token row and R
    one per token column: O(H T^2) a layer instead of the O(H T^2 U) of the dense products (MiniLM's
    6 x 12 maps at T = 512, U = 400, on the loaded 2-core machine: 1.7-2.2 s against 2.9-3.3 s)."""

    def __init__(self, enc: Encoded, aggregation: str):
        batch = Batch([enc], torch.device("cpu"), torch.float32, words=True, aggregation=aggregation)
        t = enc.n_tokens
        self.units = enc.n_units
        self.index = batch.token_unit[0, :t].clamp(min=0)  # a token of no unit weighs 0 on both sides
        self.key_weight = batch.key_weight[0, :t]  # C[t, unit(t)]
        self.row_weight = batch.row_agg[0, :, :t].sum(0)  # R[unit(t), t]

    def __call__(self, attention: torch.Tensor) -> torch.Tensor:
        """float32 [..., U, U] of float32 token maps [..., T, T] (a layer [H, T, T], or all [L, H, T, T])."""
        a, u = attention, self.units
        cols = a.new_zeros((*a.shape[:-1], u)).index_add_(-1, self.index, a * self.key_weight)  # A C [..., T, U]
        return a.new_zeros((*a.shape[:-2], u, u)).index_add_(-2, self.index, cols.mul_(self.row_weight[:, None]))


def word_maps(enc: Encoded, attention: np.ndarray, aggregation: str) -> np.ndarray:
    """float32 [L, H, U, U]: the token maps ``attention`` [L, H, T, T] of ``enc`` aggregated to its units
    (:class:`WordMaps`)."""
    return WordMaps(enc, aggregation)(torch.from_numpy(np.ascontiguousarray(attention, dtype=np.float32))).numpy()


def _host(maps: torch.Tensor) -> np.ndarray:
    """float32 C-ordered numpy of a map on any device (one copy at most)."""
    return np.ascontiguousarray(maps.detach().to("cpu", torch.float32).numpy())


class KeptMaps:
    """What the engine hands over of a kept row, a layer at a time: its token maps [H, n, n]
    (``attention``) and, where the engine can take them, their q.k logits (``logits``), as members
    [L, H, n, n] of ``out`` (``store.npz``'s :class:`~headlens.store.npz.NpzWriter` or
    :class:`~headlens.store.npz.MemoryNpz`, the default)."""

    def __init__(self, layers: int, out=None):
        self.layers, self.out = layers, MemoryNpz() if out is None else out

    def attention(self, layer: int, maps: torch.Tensor) -> np.ndarray:
        host = _host(maps)
        self.out.add("attention", host, self.layers)
        return host

    def logits(self, layer: int, logits: torch.Tensor) -> None:
        self.out.add("logits", _host(logits), self.layers)


class SentenceMaps(KeptMaps):
    """The maps file of a kept sentence (see the module's docstring), written as the engine hands over
    each layer: the token maps, their word maps and logits a layer at a time; :meth:`finish` adds the
    rest. Nothing holds more than a layer of any of them."""

    def __init__(self, enc: Encoded, tokenizer, aggregation: str, layers: int, out=None):
        super().__init__(layers, out)
        self.enc, self.tokenizer = enc, tokenizer
        self.words = WordMaps(enc, aggregation)

    def attention(self, layer: int, maps: torch.Tensor) -> np.ndarray:
        host = super().attention(layer, maps)
        self.out.add("word_attention", self.words(torch.from_numpy(host)).numpy(), self.layers)
        return host

    def finish(self):
        """Add the token, word and unit arrays; ``out`` then holds the whole file."""
        for name, value in sentence_arrays(self.enc, self.tokenizer).items():
            self.out.array(name, value)
        return self.out


def sentence_arrays(enc: Encoded, tokenizer) -> dict:
    """What ``maps/<map_name(enc)>.npz`` holds besides the maps (see the module's docstring)."""
    labels, kinds = unit_labels(enc, tokenizer)
    words = enc.sentence.words or ()
    return {
        "input_ids": enc.input_ids,
        "tokens": tokenizer.convert_ids_to_tokens(enc.input_ids.tolist()),
        "token_unit": enc.token_unit,
        "unit_word": enc.unit_word,
        "words": [w.form for w in words],
        "segment": enc.segment,
        "word_head": np.asarray([-2 if w.head is None else w.head for w in words], dtype=np.int64),
        "word_deprel": [w.deprel or "" for w in words],
        "unit_labels": labels,
        "unit_kinds": kinds,
    }


def sentence_maps(item: list[Encoded], keep, tokenizer, aggregation: str, layers: int,
                  open_out=lambda name: None) -> dict[int, SentenceMaps]:
    """For each row of the batch ``item`` in ``keep``: its :class:`SentenceMaps`, into ``open_out(map_name)``
    (default: in memory)."""
    return {row: SentenceMaps(item[row], tokenizer, aggregation, layers, open_out(map_name(item[row]))) for row in keep}
