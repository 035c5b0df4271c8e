"""Representation geometry per layer (numpy only): linear CKA between two sets of vectors of the same
words (Kornblith et al. 2019) and context sensitivity (Ethayarajh 2019).

Linear CKA: with X [n, p] and Y [n, q] centred over the n words,
CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F). It is 1 for X against itself, and unchanged by an
orthogonal transform or an isotropic scaling of either side, but not by an arbitrary invertible
linear map (tests/test_layers.py).

Context sensitivity, per layer, with cosine similarity and the anisotropy baseline (the mean
similarity of ``PAIRS`` random pairs of sampled words from different sentences, seeded):
- self-similarity: for each word type (lower-cased form) found in at least ``min_contexts``
  sentences, the mean similarity between its vectors in different sentences, averaged over types;
- intra-sentence similarity: the mean similarity of each word to its sentence's mean vector,
  averaged over sentences;
both also reported minus the anisotropy baseline (``_adjusted``).
"""

from __future__ import annotations

import numpy as np

PAIRS = 5000
MIN_CONTEXTS = 5
MAX_OCCURRENCES = 50  # occurrences of one type used (a seeded subset): bounds the cost of frequent words


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA between x [n, p] and y [n, q] (rows: the same items)."""
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"linear CKA needs the same items (>= 2) on both sides, got {len(x)} and {len(y)} rows")
    x = np.asarray(x, np.float64) - np.mean(x, axis=0, dtype=np.float64)
    y = np.asarray(y, np.float64) - np.mean(y, axis=0, dtype=np.float64)
    cross = np.linalg.norm(y.T @ x) ** 2
    return float(cross / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def context_sensitivity(vectors: np.ndarray, sentences: np.ndarray, types: np.ndarray, seed: int,
                        min_contexts: int = MIN_CONTEXTS) -> list[dict]:
    """Per layer of ``vectors`` [W, L, D]: anisotropy, self-similarity and intra-sentence similarity."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(sentences), (2, PAIRS))
    a, b = a[sentences[a] != sentences[b]], b[sentences[a] != sentences[b]]
    groups = []
    for t in np.unique(types):
        rows = np.flatnonzero(types == t)
        _, first = np.unique(sentences[rows], return_index=True)  # one occurrence per sentence
        rows = rows[first]
        if len(rows) >= min_contexts:
            groups.append(rng.permutation(rows)[:MAX_OCCURRENCES])
    bounds = np.flatnonzero(np.diff(sentences)) + 1
    out = []
    for layer in range(vectors.shape[1]):
        u = _unit(vectors[:, layer])
        base = float(np.mean(np.sum(u[a] * u[b], axis=1))) if len(a) else float("nan")
        selfsim = [float(((u[g] @ u[g].T).sum() - len(g)) / (len(g) * (len(g) - 1))) for g in groups]
        intra = [float(np.mean(_unit(vectors[rows, layer]) @ _unit(vectors[rows, layer].mean(0, keepdims=True))[0]))
                 for rows in np.split(np.arange(len(sentences)), bounds) if len(rows) > 1]
        s, i = float(np.mean(selfsim)) if selfsim else float("nan"), float(np.mean(intra)) if intra else float("nan")
        out.append({"layer": layer, "anisotropy": base, "self_similarity": s, "self_similarity_adjusted": s - base,
                    "intra_similarity": i, "intra_similarity_adjusted": i - base, "types": len(groups)})
    return out
