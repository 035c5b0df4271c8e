"""The stored samples of a run made with ``--analyses layers``, merged from its parts (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...collect import read_parts
from ...errors import RunStoreError
from .sample import prefix

NAME = "layers"


@dataclass
class WordSample:
    """The sampled sentences' words, sorted by (sentence, word): vectors float16 [W, L + 1, D]."""

    sentences: np.ndarray  # int64 [W]: the word's sentence id
    index: np.ndarray  # int64 [W]: its index in the sentence's words
    vectors: np.ndarray
    form: np.ndarray
    upos: np.ndarray
    head: np.ndarray  # index of the head word, -1 root, -2 no syntax
    deprel: np.ndarray
    lemma: np.ndarray | None = None  # str [W]: the gold lemma ("" without one; runs made before lemmas were stored)

    def __post_init__(self):
        if self.lemma is None:
            self.lemma = np.full(len(self.form), "")

    @property
    def layers(self) -> int:
        return int(self.vectors.shape[1])

    def has_syntax(self) -> bool:
        return len(self.head) > 0 and bool((self.head != -2).all())

    def has_lemmas(self) -> bool:
        """Whether at least half the sampled words carry a lemma (CoNLL-U leaves some "_")."""
        return len(self.lemma) > 0 and bool((self.lemma != "").mean() >= 0.5)

    def has_upos(self) -> bool:
        return len(self.upos) > 0 and bool((self.upos != "").all())

    def subset(self, rows: np.ndarray) -> "WordSample":
        """The words at ``rows`` (in that order)."""
        return WordSample(**{f: getattr(self, f)[rows] for f in self.__dataclass_fields__})


@dataclass
class SentenceSample:
    ids: np.ndarray  # int64 [S]
    vectors: np.ndarray  # float16 [S, L + 1, 2, D]: the mean over word tokens, then [CLS]
    labels: np.ndarray  # str [S]: the corpus's label of the sentence ("" without one)

    def has_labels(self) -> bool:
        return len(self.labels) > 1 and bool((self.labels != "").all())


def _options(run):
    opts = (run.manifest.get("config", {}).get("options") or {}).get(NAME) or {}
    from .options import LayersOptions

    return LayersOptions.coerce(opts, "run manifest", f"options[{NAME!r}]") if opts else LayersOptions()


def read(run) -> tuple[WordSample, SentenceSample]:
    """The run's word and sentence samples (the parts' union cut to the budget: see ``sample.py``)."""
    parts = read_parts(run, NAME)
    opts = _options(run)
    with_words = [p for p in parts if len(p["word_sentences"])]
    if not with_words:
        raise RunStoreError(f"{run.path}: the layers analysis kept no words (empty corpus, or every sentence "
                            f"longer than --layers-max-words {opts.max_words}).")
    ids = np.concatenate([p["word_sentences"] for p in with_words])
    keys = np.concatenate([p["word_keys"] for p in with_words])
    counts = np.concatenate([p["word_counts"] for p in with_words])
    chosen = set(ids[prefix(keys, ids, counts, opts.max_words)].tolist())
    fields = {f: np.concatenate([p[f"word_{f}"] for p in with_words]) for f in ("vectors", "index", "form", "upos", "head", "deprel")}
    fields["lemma"] = np.concatenate([p["word_lemma"] if "word_lemma" in p else np.full(len(p["word_index"]), "")
                                      for p in with_words])  # runs made before the lemmas were stored have none
    owner = np.repeat(ids, counts)
    keep = np.isin(owner, list(chosen))
    order = np.lexsort((fields["index"][keep], owner[keep]))
    words = WordSample(owner[keep][order], **{f: v[keep][order] for f, v in fields.items()})
    with_pooled = [p for p in parts if len(p["pooled_sentences"])]
    sids = np.concatenate([p["pooled_sentences"] for p in with_pooled])
    pkeys = np.concatenate([p["pooled_keys"] for p in with_pooled])
    pooled = np.concatenate([p["pooled"] for p in with_pooled])
    labels = np.concatenate([p["pooled_labels"] if "pooled_labels" in p else np.full(len(p["pooled_sentences"]), "")
                             for p in with_pooled])  # runs made before the labels were stored have none
    pick = prefix(pkeys, sids, np.ones(len(sids), np.int64), opts.max_sentences)
    pick = pick[np.argsort(sids[pick])]
    return words, SentenceSample(sids[pick], pooled[pick], labels[pick])
