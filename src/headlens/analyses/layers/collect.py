"""The ``layers`` collector: word vectors at every layer (embeddings included) and pooled sentence
vectors, for a seeded sample of whole sentences (``sample.py``), stored as float16.

A word's vector at a layer is the mean of its sub-tokens' hidden states (words without a token,
e.g. cut by truncation, are left out); a sentence's pooled vector is the mean over its word
tokens ([CLS], [SEP] and padding left out) and its [CLS] vector the hidden state of its first
token. Memory: the held sample (at most ``max_words`` words x (L + 1) x D float16, plus
``max_sentences`` x 2 x (L + 1) x D) and one batch's hidden states, whatever the corpus size.

Each part file (``collect/layers/part-N.npz``) holds the sentences of the part (``sentence_ids``)
and those of its sentences taken into the samples and still held when it was committed, with
their words' form, UPOS, head, relation and lemma; ``stats.read_sample`` merges the parts into the
final samples, identical whatever the batching and across ``--resume``.
"""

from __future__ import annotations

import numpy as np

from ...align.encode import WORD
from ...collect import Collector
from ...corpus.types import ROOT
from ...lazy import torch
from .sample import Budget

NO_HEAD = -2  # the head of a word without syntax (ROOT is -1)


def _words(encoded) -> tuple[np.ndarray, np.ndarray]:
    """(word index [n], token -> position in that array [T], -1 for none) of a sentence's words with tokens."""
    units = encoded.token_unit
    unit_word = encoded.unit_word
    word_of_token = np.where(units >= 0, unit_word[np.maximum(units, 0)], -1)
    present = np.unique(word_of_token[word_of_token >= 0])
    position = np.full(len(units), -1, dtype=np.int64)
    has = word_of_token >= 0
    position[has] = np.searchsorted(present, word_of_token[has])
    return present.astype(np.int64), position


class LayerFeatures(Collector):
    name = "layers"
    needs_hidden = True

    def __init__(self, options):
        self.words = Budget(options.max_words, options.seed)
        self.sentences = Budget(options.max_sentences, options.seed)
        self._hidden = None
        self._ids: list[int] = []

    def on_hidden(self, hidden, batch) -> None:
        self._hidden = hidden

    def add(self, batch, rows) -> None:
        hidden, self._hidden = self._hidden, None
        if hidden is None:
            return
        found = []
        for b in rows:
            e = batch.items[b]
            index, position = _words(e)
            found.append((b, e, index, position))
        wanted = [f for f in found if self.words.open(f[1].sentence.index, len(f[2]))
                  or self.sentences.open(f[1].sentence.index, 1)]
        self._ids.extend(e.sentence.index for _, e, _, _ in found)
        if not wanted:
            return
        words, pooled = _vectors(hidden, wanted)
        for k, (_, e, index, _) in enumerate(wanted):
            sid = e.sentence.index
            self.words.offer(sid, len(index), lambda: _word_info(words[k].copy(), index, e.sentence))
            self.sentences.offer(sid, 1, lambda: (pooled[k].copy(), e.sentence.label or ""))  # copies: no batch array held

    def take(self) -> dict[str, np.ndarray]:
        words, sentences = self.words.fresh(), self.sentences.fresh()
        ids, self._ids = self._ids, []
        out = {"sentence_ids": np.asarray(ids, dtype=np.int64),
               "word_sentences": np.asarray([s for s, _, _ in words], dtype=np.int64),
               "word_keys": np.asarray([k for _, k, _ in words], dtype=np.uint64),
               "word_counts": np.asarray([len(p["index"]) for _, _, p in words], dtype=np.int64),
               "pooled_sentences": np.asarray([s for s, _, _ in sentences], dtype=np.int64),
               "pooled_keys": np.asarray([k for _, k, _ in sentences], dtype=np.uint64),
               "pooled": _stack([v for _, _, (v, _) in sentences], 3),
               "pooled_labels": np.asarray([label for _, _, (_, label) in sentences], dtype=str)}
        for field, ndim in (("vectors", 3), ("index", 1), ("form", 1), ("upos", 1), ("head", 1), ("deprel", 1), ("lemma", 1)):
            out[f"word_{field}"] = _stack([p[field] for _, _, p in words], ndim, concat=True)
        return out


def _vectors(hidden, wanted) -> tuple[list[np.ndarray], np.ndarray]:
    """For the ``wanted`` rows of a batch (row, encoded, word index, token -> word position): each
    sentence's word vectors float16 [n, L + 1, D] (the mean of a word's tokens) and the pooled
    vectors float16 [P, L + 1, 2, D] (the mean over word tokens, then [CLS]), in one pass over the
    batch's hidden states (one stack, one scatter-add, one float16 conversion)."""
    device = hidden[0].device
    rows = [b for b, _, _, _ in wanted]
    if rows == list(range(len(hidden[0]))):  # every row of the batch: no gather
        states = torch.stack(hidden, 2)
    else:
        picked = torch.as_tensor(rows, device=device)
        states = torch.stack([h.index_select(0, picked) for h in hidden], 2)
    states = states.float()  # [P, T, L + 1, D]
    p, t, layers, dim = states.shape
    sizes = [len(index) for _, _, index, _ in wanted]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    slot = np.full((p, t), -1, dtype=np.int64)
    word = np.zeros((p, t), dtype=bool)
    for k, (_, e, _, position) in enumerate(wanted):
        n = len(position)
        slot[k, :n] = np.where(position >= 0, position + offsets[k], -1)
        word[k, :n] = e.kinds == WORD
    flat = states.reshape(p * t, layers * dim)
    has = torch.as_tensor(slot.reshape(-1) >= 0, device=device)
    to = torch.as_tensor(slot.reshape(-1), device=device)[has]
    sums = torch.zeros(int(sum(sizes)), layers * dim, dtype=flat.dtype, device=device).index_add_(0, to, flat[has])
    counts = torch.bincount(to, minlength=sums.shape[0]).clamp_(min=1).to(flat.dtype)
    vectors = (sums / counts[:, None]).reshape(-1, layers, dim).to(torch.float16).cpu().numpy()  # [W, L + 1, D]
    real = np.arange(t)[None] < np.asarray([len(x[3]) for x in wanted])[:, None]
    m = torch.as_tensor(np.where(word.any(1, keepdims=True), word, real), device=device)  # all tokens if no word
    m = m.to(states.dtype)
    mean = torch.einsum("pt,ptld->pld", m, states) / m.sum(1).clamp_(min=1)[:, None, None]  # [P, L + 1, D]
    pooled = torch.stack([mean, states[:, 0]], dim=2).to(torch.float16).cpu().numpy()  # [P, L + 1, 2, D]
    return np.split(vectors, np.cumsum(sizes)[:-1]), pooled


def _word_info(vectors: np.ndarray, index: np.ndarray, sentence) -> dict:
    """A sentence's sampled words: vectors [n, L + 1, D] with each word's form, UPOS, head and relation."""
    words = sentence.words or ()
    info = [words[i] if i < len(words) else None for i in index]
    return {
        "vectors": vectors, "index": index,
        "form": np.asarray([w.form if w else "" for w in info], dtype=str),
        "upos": np.asarray([(w.upos or "") if w else "" for w in info], dtype=str),
        "head": np.asarray([NO_HEAD if w is None or w.head is None else (ROOT if w.head == ROOT else w.head)
                            for w in info], dtype=np.int64),
        "deprel": np.asarray([(w.deprel or "") if w else "" for w in info], dtype=str),
        "lemma": np.asarray([(w.lemma or "") if w else "" for w in info], dtype=str),
    }


def _stack(arrays: list[np.ndarray], ndim: int, concat: bool = False) -> np.ndarray:
    if not arrays:
        return np.zeros((0,) * ndim, dtype=np.float16 if ndim > 1 else np.int64)
    return np.concatenate(arrays) if concat else np.stack(arrays)


def make(cfg, lm) -> LayerFeatures:
    return LayerFeatures(cfg.options_of("layers"))
