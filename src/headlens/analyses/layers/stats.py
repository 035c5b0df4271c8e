"""``headlens layers RUN``: the probes, the structural probe and the context sensitivity of every
layer, from the samples a ``--analyses layers`` run stored (see docs/layers.md).

Tasks that need syntax (UPOS, the relation edge probe, the structural probe) run only when the
sampled words carry it (a gold CoNLL-U corpus, or ``--annotator spacy``); otherwise the result
says so in ``skipped`` and the other tasks run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa

from ...store.outputs import write_outputs
from . import data
from .options import LayersSettings
from .probes import probe_table, split

NO_SYNTAX = ("needs gold syntax (a CoNLL-U corpus) or spaCy annotation (--annotator spacy); the run's words "
             "have none")


@dataclass
class LayersResult:
    settings: LayersSettings
    tables: dict[str, pa.Table] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)


def _layer(words: data.WordSample, layer: int) -> np.ndarray:
    return words.vectors[:, layer].astype(np.float32)


def arcs(words: data.WordSample) -> tuple[np.ndarray, np.ndarray]:
    """(dependent rows, head rows) into the sample: every arc whose two words were kept."""
    at = {(int(s), int(i)): k for k, (s, i) in enumerate(zip(words.sentences, words.index))}
    dep, head = [], []
    for k, (s, h) in enumerate(zip(words.sentences, words.head)):
        if h >= 0 and (int(s), int(h)) in at:
            dep.append(k)
            head.append(at[int(s), int(h)])
    return np.asarray(dep, dtype=np.int64), np.asarray(head, dtype=np.int64)


def upos_probe(words: data.WordSample, test: np.ndarray, settings: LayersSettings):
    types = np.char.lower(words.form.astype(str))
    return probe_table(lambda layer: _layer(words, layer), words.layers, words.upos, types, words.sentences, test,
                       settings, "upos")


def relation_probe(words: data.WordSample, test: np.ndarray, settings: LayersSettings):
    dep, head = arcs(words)
    labels = np.asarray([r.split(":")[0] for r in words.deprel[dep]])
    lower = np.char.lower(words.form.astype(str))
    types = np.char.add(np.char.add(lower[head], " "), lower[dep])

    def features(layer: int) -> np.ndarray:
        x = _layer(words, layer)
        return np.concatenate([x[head], x[dep]], axis=1)

    return probe_table(features, words.layers, labels, types, words.sentences[dep], test, settings, "relation")


def analyse(run, settings: LayersSettings | None = None) -> LayersResult:
    settings = settings or LayersSettings()
    words, sentences = data.read(run)
    test = split(words.sentences, settings.test_share, settings.seed)
    result = LayersResult(settings)
    result.summary = {"words": int(len(words.form)), "sentences": int(len(np.unique(words.sentences))),
                      "layers": words.layers, "test_sentences": int(len(test)), "pooled_sentences": int(len(sentences.ids)),
                      "skipped": {}, "probes": {}}
    skipped = result.summary["skipped"]
    if words.has_upos():
        result.tables["upos"], result.summary["probes"]["upos"] = upos_probe(words, test, settings)
    else:
        skipped["upos"] = "the UPOS probe " + NO_SYNTAX
    if words.has_syntax():
        result.tables["relation"], result.summary["probes"]["relation"] = relation_probe(words, test, settings)
    else:
        skipped["relation"] = "the relation edge probe " + NO_SYNTAX
    return result


def save(run, result: LayersResult) -> str:
    params = {"settings": asdict(result.settings), **result.summary}
    return write_outputs(run, data.NAME, result.settings.name, result.tables, params)
