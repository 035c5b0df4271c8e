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


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def pair_similarity(u: np.ndarray) -> float:
    """The mean cosine similarity over the distinct pairs of the unit vectors ``u`` [n >= 2, D]."""
    return float(((u @ u.T).sum() - len(u)) / (len(u) * (len(u) - 1)))


def random_pairs(sentences: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Rows (a, b) of ``PAIRS`` random pairs of words from different sentences: the anisotropy baseline."""
    a, b = rng.integers(0, len(sentences), (2, PAIRS))
    other = sentences[a] != sentences[b]
    return a[other], b[other]


def anisotropy(u: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """The mean cosine similarity of the pairs (a, b) of unit vectors ``u`` (NaN without pairs)."""
    return float(np.mean(np.sum(u[a] * u[b], axis=1))) if len(a) else float("nan")


def contexts(sentences: np.ndarray, types: np.ndarray, rng, min_contexts: int = MIN_CONTEXTS) -> dict[str, np.ndarray]:
    """type -> rows of its occurrences, one per sentence, for the types found in at least
    ``min_contexts`` sentences (at most ``MAX_OCCURRENCES``, a seeded subset), in sorted type order."""
    out = {}
    for t in np.unique(types):
        rows = np.flatnonzero(types == t)
        _, first = np.unique(sentences[rows], return_index=True)  # one occurrence per sentence
        rows = rows[first]
        if len(rows) >= min_contexts:
            out[str(t)] = rng.permutation(rows)[:MAX_OCCURRENCES]
    return out


def context_sensitivity(vectors: np.ndarray, sentences: np.ndarray, types: np.ndarray, seed: int,
                        min_contexts: int = MIN_CONTEXTS) -> list[dict]:
    """Per layer of ``vectors`` [W, L, D]: anisotropy, self-similarity and intra-sentence similarity."""
    rng = np.random.default_rng(seed)
    a, b = random_pairs(sentences, rng)
    groups = list(contexts(sentences, types, rng, min_contexts).values())
    bounds = np.flatnonzero(np.diff(sentences)) + 1
    out = []
    for layer in range(vectors.shape[1]):
        u = unit(vectors[:, layer])
        base = anisotropy(u, a, b)
        selfsim = [pair_similarity(u[g]) for g in groups]
        intra = [float(np.mean(unit(vectors[rows, layer]) @ unit(vectors[rows, layer].mean(0, keepdims=True))[0]))
                 for rows in np.split(np.arange(len(sentences)), bounds) if len(rows) > 1]
        s, i = float(np.mean(selfsim)) if selfsim else float("nan"), float(np.mean(intra)) if intra else float("nan")
        out.append({"layer": layer, "anisotropy": base, "self_similarity": s, "self_similarity_adjusted": s - base,
                    "intra_similarity": i, "intra_similarity_adjusted": i - base, "types": len(groups)})
    return out
