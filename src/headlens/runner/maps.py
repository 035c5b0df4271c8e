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
"""

from __future__ import annotations

import numpy as np
import torch

from ..align.encode import CLS, SEP, Encoded
from ..store import layout
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


def word_maps(enc: Encoded, attention: np.ndarray, aggregation: str) -> np.ndarray:
    """float32 [L, H, U, U]: the token maps ``attention`` [L, H, T, T] of ``enc`` aggregated to its units,
    R @ A @ C (``metrics.view.aggregate``) as sums into each token's unit: a token belongs to at most
    one unit, so C has one weight per token row and R one per token column: O(L H T^2) instead of the
    O(L H T^2 U) of the dense products (MiniLM's 6 x 12 maps at T = 512, U = 400, on the loaded 2-core
    machine: 1.7-2.2 s against 2.9-3.3 s)."""
    batch = Batch([enc], torch.device("cpu"), torch.float32, words=True, aggregation=aggregation)
    u, t = enc.n_units, enc.n_tokens
    index = batch.token_unit[0, :t].clamp(min=0)  # a token of no unit weighs 0 on both sides
    key_weight = batch.key_weight[0, :t]  # C[t, unit(t)]
    row_weight = batch.row_agg[0, :, :t].sum(0)  # R[unit(t), t]
    a = torch.from_numpy(np.ascontiguousarray(attention, dtype=np.float32))  # [L, H, T, T]
    cols = a.new_zeros((*a.shape[:-1], u)).index_add_(-1, index, a * key_weight)  # A C [L, H, T, U]
    return a.new_zeros((*a.shape[:-2], u, u)).index_add_(-2, index, cols.mul_(row_weight[:, None])).numpy()


def map_arrays(enc: Encoded, attention: np.ndarray, tokenizer, aggregation: str,
               logits: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """What ``maps/<map_name(enc)>.npz`` holds (see the module's docstring)."""
    labels, kinds = unit_labels(enc, tokenizer)
    words = enc.sentence.words or ()
    out = {
        "attention": attention,
        "input_ids": enc.input_ids,
        "tokens": tokenizer.convert_ids_to_tokens(enc.input_ids.tolist()),
        "token_unit": enc.token_unit,
        "unit_word": enc.unit_word,
        "words": [w.form for w in words],
        "segment": enc.segment,
        "word_head": np.asarray([-2 if w.head is None else w.head for w in words], dtype=np.int64),
        "word_deprel": [w.deprel or "" for w in words],
        "word_attention": word_maps(enc, attention, aggregation),
        "unit_labels": labels,
        "unit_kinds": kinds,
    }
    if logits is not None:
        out["logits"] = logits
    return out


def batch_maps(item: list[Encoded], maps: dict[int, dict[str, np.ndarray]], tokenizer,
               aggregation: str) -> dict[str, dict[str, np.ndarray]]:
    """The maps files of a scored batch ``item``: file stem -> arrays, for each row the engine kept (``maps``:
    row -> its ``attention`` and, where the engine took them, its ``logits``)."""
    return {map_name(item[row]): map_arrays(item[row], kept["attention"], tokenizer, aggregation, logits=kept.get("logits"))
            for row, kept in maps.items()}
