"""``headlens layers compare RUN_A RUN_B``: how two models' layers relate on the same words.

Linear CKA (``geometry.linear_cka``) between every layer of run A and every layer of run B, over
the words both samples hold (matched by sentence id and word index, so the two models may
tokenize differently: a word's vector is the mean of its sub-tokens in each; matched words whose
forms differ, i.e. runs over different corpora or word annotations, are refused with the place). Both runs must
read the same corpus with the same ``--layers-seed``; the samples then coincide except where
truncation left a word without tokens in one model.

Probe deltas (``probe_deltas``, unless ``--no-compare-probes``): on those shared words, one split by
sentence (the same held-out sentences for both runs), the UPOS and relation probes of ``stats`` are
trained per layer on each run; per layer k (0 .. the smaller depth; layer k of A against layer k of
B), the accuracy delta B - A with a paired bootstrap over the held-out sentences (both runs' hits
resampled together, ``stats.paired_ratio_bootstrap``) and its two-sided p, Holm-corrected over the
layers of each task (``q``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ...errors import ConfigError
from . import data
from .geometry import linear_cka


def matched(a: data.WordSample, b: data.WordSample) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a and of b holding the same (sentence, word)."""
    ka = a.sentences * (1 << 20) + a.index
    kb = b.sentences * (1 << 20) + b.index
    common, ia, ib = np.intersect1d(ka, kb, return_indices=True)
    return ia, ib


def shared(run_a, run_b) -> tuple[data.WordSample, data.WordSample, dict]:
    """The words both runs' samples hold, in the same order in both; and the samples' sizes."""
    (a, _), (b, _) = data.read(run_a), data.read(run_b)
    ia, ib = matched(a, b)
    if len(ia) < 2:
        raise ConfigError(f"{run_a.path} and {run_b.path} share {len(ia)} sampled words: run both on the same corpus "
                          "with the same --layers-seed and --layers-max-words.")
    differ = np.flatnonzero(a.form[ia] != b.form[ib])
    if len(differ):
        k = differ[0]
        raise ConfigError(f"{run_a.path} and {run_b.path} do not hold the same words: {len(differ)} of {len(ia)} matched "
                          f"(sentence, word) places differ, first word {a.index[ia[k]]} of sentence {a.sentences[ia[k]]}: "
                          f"{a.form[ia[k]]!r} in A, {b.form[ib[k]]!r} in B. CKA and the probe deltas compare the vectors "
                          "of the same words: run both models on the same corpus with the same word annotation "
                          "(--annotator).")
    return a.subset(ia), b.subset(ib), {"words_a": int(len(a.form)), "words_b": int(len(b.form))}


def probe_deltas(a: data.WordSample, b: data.WordSample, settings) -> tuple[pa.Table | None, dict]:
    """Per task (UPOS, relation) and layer: both runs' held-out accuracy, the delta B - A with its
    paired bootstrap interval and p, and the p Holm-corrected over the task's layers. Tasks the
    words lack the annotation for are named in ``skipped``."""
    from ...stats import correct, paired_ratio_bootstrap
    from .probes import sentence_hits, split
    from .stats import NO_SYNTAX, relation_task, upos_task

    test = split(a.sentences, settings.test_share, settings.seed)
    layers = min(a.layers, b.layers)
    tasks = {"upos": (upos_task, a.has_upos()), "relation": (relation_task, a.has_syntax())}
    rows, skipped = [], {}
    for task, (inputs, ok) in tasks.items():
        if not ok:
            skipped[task] = f"the {task} probe " + NO_SYNTAX
            continue
        (fa, labels, _, sentences), (fb, _, _, _) = inputs(a), inputs(b)
        _, den, hits_a = sentence_hits(fa, layers, labels, sentences, test, settings.seed)
        _, _, hits_b = sentence_hits(fb, layers, labels, sentences, test, settings.seed)
        found = [paired_ratio_bootstrap(den, hits_a[:, k], hits_b[:, k:k + 1], n_boot=settings.n_boot,
                                        seed=settings.seed, ci=settings.ci) for k in range(layers)]
        q, _ = correct(np.asarray([float(r.p[0]) for r in found]), "holm")
        rows += [{"task": task, "layer": k, "accuracy_a": r.acc_a, "accuracy_b": float(r.acc_b[0]),
                  "delta": float(r.delta[0]), "delta_low": float(r.delta_low[0]), "delta_high": float(r.delta_high[0]),
                  "p": float(r.p[0]), "q": float(q[k])} for k, r in enumerate(found)]
    summary = {"test_sentences": int(len(test)), "layers_compared": layers, "correction": "holm over layers",
               "skipped": skipped}
    return (pa.Table.from_pylist(rows) if rows else None), summary


def compare(run_a, run_b, settings=None) -> tuple[dict[str, pa.Table], dict]:
    """Linear CKA between every layer of A and every layer of B on their shared words (table ``cka``);
    with ``settings`` whose ``compare_probes`` is on, also the probe deltas (table ``probes``)."""
    a, b, sizes = shared(run_a, run_b)
    xa = [a.vectors[:, k].astype(np.float32) for k in range(a.layers)]
    xb = [b.vectors[:, k].astype(np.float32) for k in range(b.layers)]
    rows = [{"layer_a": i, "layer_b": j, "cka": linear_cka(x, y)} for i, x in enumerate(xa) for j, y in enumerate(xb)]
    tables = {"cka": pa.Table.from_pylist(rows)}
    summary = {"run_a": run_a.path, "run_b": run_b.path, "words": int(len(a.form)), **sizes, "layers_a": a.layers,
               "layers_b": b.layers}
    if settings is not None and settings.compare_probes:
        probes, summary["probes"] = probe_deltas(a, b, settings)
        if probes is not None:
            tables["probes"] = probes
    return tables, summary
