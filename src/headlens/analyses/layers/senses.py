"""Word-sense geometry per layer (Coenen et al. 2019, the part that needs no sense annotation; numpy
only): how far apart a lemma's vectors lie across its contexts.

Lemmas: the gold LEMMA of the sampled words (CoNLL-U), lower-cased; those found in at least
``MIN_CONTEXTS`` sentences, one occurrence per sentence, at most ``MAX_OCCURRENCES`` (a seeded
subset; ``geometry.contexts``). Per layer, with cosine distance (1 - cosine similarity):

- ``spread``: a lemma's mean pairwise distance between its occurrences, averaged over lemmas;
- ``spread_adjusted``: spread - (1 - anisotropy), anisotropy as in ``geometry`` (the mean similarity
  of random word pairs from different sentences): below 0 when a lemma's occurrences lie closer
  together than random words do, as Ethayarajh's self-similarity is adjusted;
- ``between``: the between-lemma baseline, a lemma's mean distance to ``OTHERS`` occurrences of other
  selected lemmas (seeded, the same at every layer), averaged over lemmas;
- ``ratio``: spread / between per lemma, averaged: near 1 when a lemma's occurrences are as scattered
  as different lemmas are, small when the lemma's vectors cluster; a lemma used in two senses that
  the layer tells apart has a larger ratio than a lemma with one sense (tests/test_layers.py).

Intervals: bootstrap percentiles over lemmas (``stats.mean_ci``). Left out: quantitative word-sense
disambiguation (the nearest-neighbour sense classifier of Coenen et al. trained on SemCor), which
needs sense-annotated text that cannot be had here (docs/layers.md).
"""

from __future__ import annotations

import numpy as np

from .geometry import MIN_CONTEXTS, anisotropy, contexts, pair_similarity, random_pairs, unit

OTHERS = 50  # occurrences of other lemmas each lemma is compared with (the between-lemma baseline)
NO_LEMMAS = ("word-sense geometry needs gold lemmas (a CoNLL-U corpus with the LEMMA column filled); "
             "the run's sampled words have none (runs made before the lemmas were stored have none either: rerun)")


def _others(groups: dict[str, np.ndarray], rng) -> dict[str, np.ndarray]:
    """lemma -> ``OTHERS`` rows drawn from the other lemmas' occurrences (seeded)."""
    rows = np.concatenate(list(groups.values()))
    owner = np.concatenate([np.full(len(g), k) for k, g in enumerate(groups.values())])
    out = {}
    for k, lemma in enumerate(groups):
        pool = rows[owner != k]
        out[lemma] = rng.choice(pool, size=min(OTHERS, len(pool)), replace=False) if len(pool) else pool
    return out


def lemma_spreads(vectors: np.ndarray, sentences: np.ndarray, lemmas: np.ndarray, seed: int,
                  min_contexts: int = MIN_CONTEXTS) -> tuple[list[str], np.ndarray, np.ndarray, list[float]]:
    """Per lemma and layer of ``vectors`` [W, L, D]: (lemmas, spread [n, L], between [n, L], anisotropy
    per layer). Only the lemmas in at least ``min_contexts`` sentences."""
    rng = np.random.default_rng(seed)
    a, b = random_pairs(sentences, rng)
    groups = contexts(sentences, np.char.lower(lemmas.astype(str)), rng, min_contexts)
    groups.pop("", None)  # words without a lemma
    others = _others(groups, rng) if len(groups) > 1 else {}
    names = list(groups)
    layers = vectors.shape[1]
    spread, between = np.full((len(names), layers), np.nan), np.full((len(names), layers), np.nan)
    base = []
    for layer in range(layers):
        u = unit(vectors[:, layer])
        base.append(anisotropy(u, a, b))
        for k, lemma in enumerate(names):
            g = groups[lemma]
            spread[k, layer] = 1 - pair_similarity(u[g])
            if lemma in others and len(others[lemma]):
                between[k, layer] = 1 - float(np.mean(u[g] @ u[others[lemma]].T))
    return names, spread, between, base


def word_senses(vectors: np.ndarray, sentences: np.ndarray, lemmas: np.ndarray, seed: int, n_boot: int = 2000,
                ci: float = 0.95, min_contexts: int = MIN_CONTEXTS) -> tuple[list[dict], dict]:
    """Per layer: spread, spread_adjusted, between and ratio with bootstrap intervals over lemmas; and a
    summary (the lemmas, and those with the largest ratio at the last layer)."""
    from ...stats import mean_ci

    names, spread, between, base = lemma_spreads(vectors, sentences, lemmas, seed, min_contexts)
    if len(names) < 2:
        raise ValueError(f"word-sense geometry needs at least 2 lemmas found in >= {min_contexts} sentences of the "
                         f"sample, got {len(names)}; raise --layers-max-words.")
    ratio = spread / between
    layers = spread.shape[1]
    low, high = mean_ci(np.concatenate([spread, ratio], 1), ci=ci, n_boot=n_boot, seed=seed)
    rows = []
    for layer in range(layers):
        s, r = float(spread[:, layer].mean()), float(ratio[:, layer].mean())
        rows.append({"layer": layer, "lemmas": len(names), "anisotropy": base[layer], "spread": s,
                     "spread_low": float(low[layer]), "spread_high": float(high[layer]),
                     "spread_adjusted": s - (1 - base[layer]), "between": float(between[:, layer].mean()),
                     "ratio": r, "ratio_low": float(low[layers + layer]), "ratio_high": float(high[layers + layer])})
    top = np.argsort(-ratio[:, -1])[:10]
    summary = {"lemmas": len(names), "min_contexts": min_contexts, "others": OTHERS,
               "most_spread_last_layer": [{"lemma": names[k], "ratio": float(ratio[k, -1])} for k in top]}
    return rows, summary
