"""Per-sentence probe inputs: word-level attention of every head, gold heads, punctuation, word vectors.

One forward pass per batch through the run engine (no metrics; a collector keeps each layer's
word-level attention), then one ``Sentence`` per corpus sentence, in corpus order. Units are
the encoder's: [CLS], the words that have tokens, [SEP]. Word attention uses Clark's
aggregation (to a word = sum over its sub-tokens, from a word = mean).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from ...lazy import torch  # imported on first use (headlens.lazy): the analysis registers without torch

from ...align.encode import WORD
from ...collect.words import WordMaps
from ...corpus.reader import CorpusSpec
from ...corpus.types import ROOT, Skipped
from ...errors import CorpusError
from ...runner import Batch, Engine
from ...runner.stream import FrontHalf

NO_HEAD = -2  # the gold head word has no tokens (or the word has no gold head)


@dataclass
class ProbeSentence:
    index: int
    attn: torch.Tensor  # float [K, U, U]: word-level attention of the K = L * H heads, all units
    words: np.ndarray  # int [n]: the units that are words, in order
    gold: np.ndarray  # int [n]: position in ``words`` of each word's gold head, -1 = ROOT, NO_HEAD = unknown
    deprel: list[str]  # [n]
    punct: np.ndarray  # bool [n]
    specials: np.ndarray  # int: the [CLS] / [SEP] units
    vectors: torch.Tensor | None  # float [U, d]: mean input embedding of each unit's tokens (None unless asked)



def _sentence(enc, attn: torch.Tensor, vectors: torch.Tensor | None) -> ProbeSentence:
    u = enc.n_units
    words = np.flatnonzero((enc.unit_kind == WORD) & (enc.unit_word >= 0))
    position = {int(enc.unit_word[k]): i for i, k in enumerate(words)}
    gold, deprel = [], []
    for k in words:
        w = enc.sentence.words[int(enc.unit_word[k])]
        gold.append(-1 if w.head == ROOT else position.get(w.head, NO_HEAD) if w.head is not None else NO_HEAD)
        deprel.append(w.deprel or "")
    return ProbeSentence(enc.sentence.index, attn[:, :u, :u], words, np.asarray(gold, dtype=np.int64), deprel,
                         enc.unit_punct[words], np.flatnonzero(enc.unit_kind != WORD), vectors)


def _unit_vectors(batch: Batch, b: int, n_units: int, table: torch.nn.Embedding) -> torch.Tensor:
    emb = table(batch.input_ids[b]).float()  # [T, d]
    return (batch.row_agg[b, :n_units].float() @ emb).cpu()  # mean over each unit's tokens (Clark rows are means)


def stream(lm, spec: CorpusSpec, vectors: bool = False, max_tokens: int = 4096, max_batch: int = 16) -> Iterator[ProbeSentence]:
    """The probe inputs of the gold CoNLL-U corpus ``spec``, sentence by sentence in corpus order."""
    # a sort window of one batch: every batch holds consecutive sentences, given back in corpus order
    front = FrontHalf(spec, long="skip", max_tokens=max_tokens, max_batch=max_batch, sort_window=max_batch)
    if spec.resolved_format != "conllu":
        raise CorpusError("the probe trains on gold dependency trees: give a CoNLL-U file (.conllu).", path=spec.path)
    collector = WordMaps()
    engine = Engine(lm, [], "clark", [collector])
    table = lm.model.get_input_embeddings() if vectors else None
    for item in front.batches(lm.tokenizer, lm.max_tokens):
        if isinstance(item, Skipped):
            continue
        batch = Batch(item, lm.device, engine.compute_dtype, words=True, aggregation="clark")
        engine.score(batch)
        attn = collector.stacked().flatten(1, 2)  # [B, L * H, U, U]
        with torch.no_grad():
            out = [_sentence(e, attn[b], _unit_vectors(batch, b, e.n_units, table) if vectors else None)
                   for b, e in enumerate(item)]
        yield from sorted(out, key=lambda s: s.index)
