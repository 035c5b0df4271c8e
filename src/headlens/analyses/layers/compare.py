"""``headlens layers compare RUN_A RUN_B``: how two models' layers relate on the same words.

Linear CKA (``geometry.linear_cka``) between every layer of run A and every layer of run B, over
the words both samples hold (matched by sentence id and word index, so the two models may
tokenize differently: a word's vector is the mean of its sub-tokens in each). Both runs must
read the same corpus with the same ``--layers-seed``; the samples then coincide except where
truncation left a word without tokens in one model.
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


def compare(run_a, run_b) -> tuple[pa.Table, dict]:
    (a, _), (b, _) = data.read(run_a), data.read(run_b)
    ia, ib = matched(a, b)
    if len(ia) < 2:
        raise ConfigError(f"{run_a.path} and {run_b.path} share {len(ia)} sampled words: run both on the same corpus "
                          "with the same --layers-seed and --layers-max-words.")
    xa = [a.vectors[ia, k].astype(np.float32) for k in range(a.layers)]
    xb = [b.vectors[ib, k].astype(np.float32) for k in range(b.layers)]
    rows = [{"layer_a": i, "layer_b": j, "cka": linear_cka(x, y)} for i, x in enumerate(xa) for j, y in enumerate(xb)]
    summary = {"run_a": run_a.path, "run_b": run_b.path, "words": int(len(ia)),
               "words_a": int(len(a.form)), "words_b": int(len(b.form)), "layers_a": a.layers, "layers_b": b.layers}
    return pa.Table.from_pylist(rows), summary
