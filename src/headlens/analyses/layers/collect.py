"""The ``layers`` collector: word vectors at every layer (embeddings included) and pooled sentence
vectors, for a seeded sample of whole sentences (``sample.py``), stored as float16.

A word's vector at a layer is the mean of its sub-tokens' hidden states (words without a token,
e.g. cut by truncation, are left out); a sentence's pooled vector is the mean over its word
tokens ([CLS], [SEP] and padding left out) and its [CLS] vector the hidden state of its first
token. Memory: the held sample (at most ``max_words`` words x (L + 1) x D float16, plus
``max_sentences`` x 2 x (L + 1) x D) and one batch's hidden states, whatever the corpus size.

Each part file (``collect/layers/part-N.npz``) holds the sentences of the part (``sentence_ids``)
and those of its sentences taken into the samples and still held when it was committed, with
their words' form, UPOS, head and relation; ``stats.read_sample`` merges the parts into the
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
        for b in rows:
            e = batch.items[b]
            sid = e.sentence.index
            self._ids.append(sid)
            index, position = _words(e)
            n = e.n_tokens
            self.words.offer(sid, len(index), lambda: self._word_vectors(hidden, b, n, index, position, e.sentence))
            self.sentences.offer(sid, 1, lambda: self._sentence_vectors(hidden, b, e))

    @staticmethod
    def _layers(hidden, b: int, n: int):
        return torch.stack([h[b, :n] for h in hidden]).float()  # [L + 1, n, D]

    def _word_vectors(self, hidden, b, n, index, position, sentence) -> dict:
        states = self._layers(hidden, b, n)
        has = torch.as_tensor(position >= 0, device=states.device)
        pos = torch.as_tensor(position, device=states.device)[has]
        sums = torch.zeros(states.shape[0], len(index), states.shape[2], dtype=states.dtype, device=states.device)
        sums.index_add_(1, pos, states[:, has])
        counts = torch.bincount(pos, minlength=len(index)).to(states.dtype)
        vectors = (sums / counts[None, :, None]).transpose(0, 1).to(torch.float16).cpu().numpy()  # [n, L + 1, D]
        words = sentence.words or ()
        info = [words[i] if i < len(words) else None for i in index]
        return {
            "vectors": vectors, "index": index,
            "form": np.asarray([w.form if w else "" for w in info], dtype=str),
            "upos": np.asarray([(w.upos or "") if w else "" for w in info], dtype=str),
            "head": np.asarray([NO_HEAD if w is None or w.head is None else (ROOT if w.head == ROOT else w.head)
                                for w in info], dtype=np.int64),
            "deprel": np.asarray([(w.deprel or "") if w else "" for w in info], dtype=str),
        }

    def _sentence_vectors(self, hidden, b, e) -> np.ndarray:
        states = self._layers(hidden, b, e.n_tokens)  # [L + 1, n, D]
        word = torch.as_tensor(e.kinds == WORD, device=states.device)
        pooled = states[:, word].mean(1) if bool(word.any()) else states.mean(1)
        return torch.stack([pooled, states[:, 0]], dim=1).to(torch.float16).cpu().numpy()  # [L + 1, 2, D]

    def take(self) -> dict[str, np.ndarray]:
        words, sentences = self.words.fresh(), self.sentences.fresh()
        ids, self._ids = self._ids, []
        out = {"sentence_ids": np.asarray(ids, dtype=np.int64),
               "word_sentences": np.asarray([s for s, _, _ in words], dtype=np.int64),
               "word_keys": np.asarray([k for _, k, _ in words], dtype=np.uint64),
               "word_counts": np.asarray([len(p["index"]) for _, _, p in words], dtype=np.int64),
               "pooled_sentences": np.asarray([s for s, _, _ in sentences], dtype=np.int64),
               "pooled_keys": np.asarray([k for _, k, _ in sentences], dtype=np.uint64),
               "pooled": _stack([p for _, _, p in sentences], 3)}
        for field, ndim in (("vectors", 3), ("index", 1), ("form", 1), ("upos", 1), ("head", 1), ("deprel", 1)):
            out[f"word_{field}"] = _stack([p[field] for _, _, p in words], ndim, concat=True)
        return out


def _stack(arrays: list[np.ndarray], ndim: int, concat: bool = False) -> np.ndarray:
    if not arrays:
        return np.zeros((0,) * ndim, dtype=np.float16 if ndim > 1 else np.int64)
    return np.concatenate(arrays) if concat else np.stack(arrays)


def make(cfg, lm) -> LayerFeatures:
    return LayerFeatures(cfg.options_of("layers"))
