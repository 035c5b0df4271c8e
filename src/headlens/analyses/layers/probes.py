"""Linear probes per layer with control tasks (Hewitt & Liang 2019), scikit-learn's logistic
regression on standardised features.

- The split is by sentence (``split``): a seeded share of the sampled sentences is held out, so
  no sentence is in both the training and the test words.
- The control task gives every word type (its lower-cased form) one label drawn at random from
  the training labels' distribution; the same probe trained on those labels measures what the
  probe can memorise. Selectivity = accuracy - control accuracy.
- Intervals: accuracies are ratios of sums over test sentences (words are not independent
  inside a sentence), bootstrapped over test sentences (``stats.paired_ratio_bootstrap``), paired
  against the majority class (accuracy) and against the control (selectivity).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ...stats import paired_ratio_bootstrap

MAX_ITER = 300
THREADS = 1


def split(sentence_ids: np.ndarray, test_share: float, seed: int) -> np.ndarray:
    """The held-out sentence ids: a seeded ``test_share`` of the distinct ids (at least one each side)."""
    ids = np.unique(sentence_ids)
    if len(ids) < 2:
        raise ValueError(f"the probes need at least 2 sampled sentences, the run kept {len(ids)}; "
                         "raise --layers-max-words or give a longer corpus.")
    n_test = min(len(ids) - 1, max(1, int(round(test_share * len(ids)))))
    return np.sort(np.random.default_rng(seed).permutation(ids)[:n_test])


def control_labels(types: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """Type-level random labels: one label per distinct type, drawn from the labels' distribution."""
    values, counts = np.unique(labels, return_counts=True)
    kinds, inverse = np.unique(types, return_inverse=True)
    drawn = np.random.default_rng(seed).choice(values, size=len(kinds), p=counts / counts.sum())
    return drawn[inverse]


def fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, seed: int) -> np.ndarray:
    """A multinomial logistic regression on standardised features; its predictions on ``x_test``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    if len(np.unique(y_train)) < 2:
        return np.full(len(x_test), y_train[0])
    with threadpool_limits(THREADS):  # BLAS threads on a busy machine: 100x slower than one (measured)
        scale = StandardScaler().fit(x_train)
        model = LogisticRegression(max_iter=MAX_ITER, random_state=seed)
        model.fit(scale.transform(x_train), y_train)
        return model.predict(scale.transform(x_test))


def per_sentence(hits: np.ndarray, sentences: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Hits summed per test sentence, in the order of ``order`` (the test sentence ids)."""
    return np.bincount(np.searchsorted(order, sentences), weights=hits.astype(np.float64), minlength=len(order))


def sentence_hits(features, layers: int, labels: np.ndarray, sentences: np.ndarray, test: np.ndarray,
                  seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The probe trained on the items outside ``test`` and scored on those inside, per layer: (the test
    sentence ids [n], their items [n], their hits [n, layers])."""
    held = np.isin(sentences, test)
    train = ~held
    order = np.unique(sentences[held])
    den = per_sentence(np.ones(int(held.sum())), sentences[held], order)
    hits = [per_sentence(fit_predict(x[train], labels[train], x[held], seed) == labels[held], sentences[held], order)
            for x in map(features, range(layers))]
    return order, den, np.stack(hits, 1)


def probe_table(features, layers: int, labels: np.ndarray, types: np.ndarray, sentences: np.ndarray, test: np.ndarray,
                settings, task: str) -> tuple[pa.Table, dict]:
    """Per layer: accuracy and control accuracy with CIs, selectivity with its CI; and the baselines.

    ``features(layer) -> float32 [n, D]`` gives the items' features at a layer (items: words, or
    arcs for the edge probe); ``labels``, ``types`` (for the control task) and ``sentences`` [n].
    """
    held = np.isin(sentences, test)
    train = ~held
    values, counts = np.unique(labels[train], return_counts=True)
    majority = values[np.argmax(counts)]
    order, den, probe_hits = sentence_hits(features, layers, labels, sentences, test, settings.seed)
    _, _, control_hits = sentence_hits(features, layers, control_labels(types, labels, settings.seed), sentences, test,
                                       settings.seed)
    base = per_sentence(labels[held] == majority, sentences[held], order)
    boot = dict(n_boot=settings.n_boot, seed=settings.seed, ci=settings.ci)
    acc = paired_ratio_bootstrap(den, base, probe_hits, **boot)
    ctl = paired_ratio_bootstrap(den, base, control_hits, **boot)
    rows = []
    for layer in range(layers):
        sel = paired_ratio_bootstrap(den, control_hits[:, layer], probe_hits[:, layer:layer + 1], **boot)
        rows.append({
            "task": task, "layer": layer, "accuracy": float(acc.acc_b[layer]), "accuracy_low": float(acc.acc_low[layer]),
            "accuracy_high": float(acc.acc_high[layer]), "control": float(ctl.acc_b[layer]),
            "control_low": float(ctl.acc_low[layer]), "control_high": float(ctl.acc_high[layer]),
            "selectivity": float(sel.delta[0]), "selectivity_low": float(sel.delta_low[0]),
            "selectivity_high": float(sel.delta_high[0]), "vs_majority_p": float(acc.p[layer]),
        })
    summary = {"task": task, "majority_class": str(majority), "majority_accuracy": float(acc.acc_a),
               "train_items": int(train.sum()), "test_items": int(held.sum()), "test_sentences": len(order),
               "classes": int(len(values)), "best_layer": int(np.argmax(acc.acc_b)),
               "most_selective_layer": int(np.argmax([r["selectivity"] for r in rows]))}
    return pa.Table.from_pylist(rows), summary
