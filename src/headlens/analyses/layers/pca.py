"""The 2-D PCA of the sampled word vectors per layer (numpy only), for the report's interactive scatter
and the static ``layers-pca`` figure.

``POINTS`` words are drawn from the run's word sample (seeded, the same words at every layer); at
each layer their vectors are centred and projected on the first two right singular vectors. The
sign of each component is fixed (its largest coordinate in absolute value is positive), so the
picture does not flip between runs of the same sample. ``headlens layers RUN`` stores the result
as two tables of its output (``pca``: layer, point, x, y; ``pca_points``: each point's sentence,
word index, form, UPOS and sentence text), which the report draws.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

POINTS = 2000  # the words drawn for the scatter: the report holds POINTS x (L + 1) coordinates


def draw(n: int, points: int = POINTS, seed: int = 0) -> np.ndarray:
    """The sorted rows of ``points`` words drawn (seeded) from a sample of ``n``."""
    return np.sort(np.random.default_rng(seed).permutation(n)[:points])


def components(x: np.ndarray) -> np.ndarray:
    """[n, 2]: ``x`` [n, D] centred and projected on its first two principal axes (signs fixed)."""
    x = np.asarray(x, np.float64)
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    z = x @ vt[:2].T
    if z.shape[1] < 2:  # one dimension, or one word: pad
        z = np.pad(z, ((0, 0), (0, 2 - z.shape[1])))
    flip = np.sign(z[np.argmax(np.abs(z), axis=0), [0, 1]])
    return z * np.where(flip == 0, 1, flip)


def sentence_texts(words) -> dict[int, str]:
    """sentence id -> its sampled words' forms joined by spaces (the sample holds whole sentences)."""
    bounds = np.flatnonzero(np.diff(words.sentences)) + 1
    return {int(words.sentences[r[0]]): " ".join(words.form[r].tolist())
            for r in np.split(np.arange(len(words.sentences)), bounds) if len(r)}


def pca_tables(words, points: int = POINTS, seed: int = 0) -> dict[str, pa.Table]:
    """``pca`` (layer, point, x, y) and ``pca_points`` (point, sentence, index, form, upos, text)."""
    rows = draw(len(words.form), points, seed)
    coords = [components(words.vectors[rows, layer]) for layer in range(words.layers)]
    n = len(rows)
    pca = pa.table({"layer": np.repeat(np.arange(words.layers), n), "point": np.tile(np.arange(n), words.layers),
                    "x": np.concatenate([z[:, 0] for z in coords]), "y": np.concatenate([z[:, 1] for z in coords])})
    texts = sentence_texts(words)
    info = pa.table({"point": np.arange(n), "sentence": words.sentences[rows], "index": words.index[rows],
                     "form": words.form[rows].astype(str), "upos": words.upos[rows].astype(str),
                     "text": [texts[int(s)] for s in words.sentences[rows]]})
    return {"pca": pca, "pca_points": info}
