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
from .geometry import context_sensitivity
from .pca import pca_tables
from .probes import probe_table, split
from .senses import NO_LEMMAS, word_senses

NO_LABELS = ("the sentence-label probe needs a labelled corpus (TSV or JSONL with --label-column / --label-field, "
             "e.g. GLUE's dev.tsv); the run's sentences have no label")
SCATTER = ("pca", "pca_points")  # the report's PCA scatter (pca.py): tables of points, not of layers
POOLINGS = ("pooled", "cls")  # the sentence vector: the mean over word tokens, the [CLS] token's
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


def upos_task(words: data.WordSample):
    """The UPOS probe's inputs: (features(layer), labels, control types, sentences), one item per word."""
    return (lambda layer: _layer(words, layer)), words.upos, np.char.lower(words.form.astype(str)), words.sentences


def relation_task(words: data.WordSample):
    """The edge probe's inputs, one item per arc: features [head; dependent], the relation (subtype
    cut), the control type (head form, dependent form) and the sentence."""
    dep, head = arcs(words)
    labels = np.asarray([r.split(":")[0] for r in words.deprel[dep]])
    lower = np.char.lower(words.form.astype(str))
    types = np.char.add(np.char.add(lower[head], " "), lower[dep])

    def features(layer: int) -> np.ndarray:
        x = _layer(words, layer)
        return np.concatenate([x[head], x[dep]], axis=1)

    return features, labels, types, words.sentences[dep]


def upos_probe(words: data.WordSample, test: np.ndarray, settings: LayersSettings):
    features, labels, types, sentences = upos_task(words)
    return probe_table(features, words.layers, labels, types, sentences, test, settings, "upos")


def relation_probe(words: data.WordSample, test: np.ndarray, settings: LayersSettings):
    features, labels, types, sentences = relation_task(words)
    return probe_table(features, words.layers, labels, types, sentences, test, settings, "relation")


def sentence_probe(sentences: data.SentenceSample, settings: LayersSettings) -> tuple[pa.Table, dict]:
    """The sentence label (van Aken et al. 2019's layer-wise view) from the pooled and from the [CLS]
    vector of each layer, split by sentence; control: one label per sentence drawn from the labels'
    distribution (shuffled labels)."""
    test = split(sentences.ids, settings.test_share, settings.seed)
    tables, summary = [], {}
    for kind, pooling in enumerate(POOLINGS):
        table, summary[pooling] = probe_table(lambda layer: sentences.vectors[:, layer, kind].astype(np.float32),
                                              sentences.vectors.shape[1], sentences.labels, sentences.ids.astype(str),
                                              sentences.ids, test, settings, f"sentence_{pooling}")
        tables.append(table)
    return pa.concat_tables(tables), summary


def trees(words: data.WordSample) -> list[tuple[int, np.ndarray]]:
    """(sentence id, rows into the sample) of the sentences kept whole with a tree (one root, every
    head among the kept words)."""
    out = []
    bounds = np.flatnonzero(np.diff(words.sentences)) + 1
    for rows in np.split(np.arange(len(words.sentences)), bounds):
        h, idx = words.head[rows], words.index[rows]
        if len(rows) > 1 and np.array_equal(idx, np.arange(len(rows))) and (h == -1).sum() == 1 and (h < len(rows)).all() \
                and (h >= -1).all():
            out.append((int(words.sentences[rows[0]]), rows))
    return out


def structural_probe(words: data.WordSample, test: np.ndarray, settings: LayersSettings) -> tuple[pa.Table, dict]:
    """Per layer: UUAS (CI, and its difference from layer 0 with a paired bootstrap p) and Spearman of
    the structural probe on held-out sentences, and the Spearman of the plain squared distance."""
    from ...stats import mean_ci, paired_ratio_bootstrap
    from .structural import evaluate, train, tree_distances

    found = trees(words)
    held = [rows for sid, rows in found if sid in set(test.tolist())]
    fit = [rows for sid, rows in found if sid not in set(test.tolist())]
    if not held or not fit:
        raise ValueError(f"the structural probe needs whole trees on both sides of the split: {len(fit)} training and "
                         f"{len(held)} test sentences; raise --layers-max-words.")
    gold = [tree_distances(words.head[r]) for r in fit]
    scores = []
    for layer in range(words.layers):
        x = _layer(words, layer)
        b = train([x[r] for r in fit], gold, settings.rank, settings.epochs, settings.seed)
        scores.append(evaluate(b, [x[r] for r in held], [words.head[r] for r in held]))
    boot = dict(n_boot=settings.n_boot, seed=settings.seed, ci=settings.ci)
    edges = scores[0]["edges"]
    uuas = paired_ratio_bootstrap(edges, scores[0]["correct"], np.stack([s["correct"] for s in scores], 1), **boot)
    rows = []
    for layer, s in enumerate(scores):
        rho, raw = (_ci(k, s[k][~np.isnan(s[k])], mean_ci, boot) for k in ("spearman", "raw_spearman"))
        rows.append({"task": "structural", "layer": layer, "uuas": float(uuas.acc_b[layer]),
                     "uuas_low": float(uuas.acc_low[layer]), "uuas_high": float(uuas.acc_high[layer]),
                     "uuas_vs_layer0_p": float(uuas.p[layer]), **rho, **raw})
    summary = {"train_sentences": len(fit), "test_sentences": len(held), "rank": settings.rank,
               "best_uuas_layer": int(np.argmax(uuas.acc_b)), "best_spearman_layer": int(np.nanargmax([r["spearman"] for r in rows]))}
    return pa.Table.from_pylist(rows), summary


def _ci(name: str, values: np.ndarray, mean_ci, boot: dict) -> dict:
    """{name: the mean, name_low, name_high: its bootstrap interval} (NaN without values)."""
    if not len(values):
        return {name: float("nan"), f"{name}_low": float("nan"), f"{name}_high": float("nan")}
    low, high = mean_ci(values[:, None], **boot)
    return {name: float(values.mean()), f"{name}_low": float(low[0]), f"{name}_high": float(high[0])}


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
        result.tables["structural"], result.summary["probes"]["structural"] = structural_probe(words, test, settings)
    else:
        skipped["relation"] = "the relation edge probe " + NO_SYNTAX
        skipped["structural"] = "the structural probe " + NO_SYNTAX
    if sentences.has_labels():
        result.tables["sentence"], result.summary["probes"]["sentence"] = sentence_probe(sentences, settings)
    else:
        skipped["sentence"] = NO_LABELS
    types = np.char.lower(words.form.astype(str))
    result.tables["context"] = pa.Table.from_pylist(context_sensitivity(words.vectors, words.sentences, types, settings.seed))
    if not words.has_lemmas():
        skipped["senses"] = NO_LEMMAS
    else:
        try:
            rows, result.summary["senses"] = word_senses(words.vectors, words.sentences, words.lemma, settings.seed,
                                                         n_boot=settings.n_boot, ci=settings.ci)
            result.tables["senses"] = pa.Table.from_pylist(rows)
        except ValueError as e:  # too few repeated lemmas in the sample: the other tasks stand
            skipped["senses"] = str(e)
    result.tables.update(pca_tables(words, seed=settings.seed))
    result.summary["pca_points"] = int(result.tables["pca_points"].num_rows)
    return result


def save(run, result: LayersResult) -> str:
    params = {"settings": asdict(result.settings), **result.summary}
    return write_outputs(run, data.NAME, result.settings.name, result.tables, params)
