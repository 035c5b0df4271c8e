"""Plain-numpy reference implementations of the surface metrics, one sentence at a time.

Written independently of the vectorised code (loops, no masks) so the tests can compare both.
"""

from __future__ import annotations

import numpy as np

CLS, SEP = 1, 2


def word_map(attn: np.ndarray, token_unit: np.ndarray, n_units: int, mode: str = "clark") -> np.ndarray:
    """Word-level attention of one head's map [T, T] by explicit loops."""
    out = np.zeros((n_units, n_units))
    members = [np.nonzero(token_unit == u)[0] for u in range(n_units)]
    for u in range(n_units):
        rows = members[u][:1] if mode == "first" else members[u]
        for v in range(n_units):
            block = attn[np.ix_(rows, members[v])]
            col = block.sum(1) if mode != "mean" else block.mean(1)
            out[u, v] = col.mean()
    return out


def surface(attn: np.ndarray, kinds: np.ndarray, punct: np.ndarray, smoothing: float = 1e-4) -> dict[str, float]:
    """All surface metrics of one head's map [n, n] (rows = queries)."""
    n = attn.shape[0]
    cls_cols = [j for j in range(n) if kinds[j] == CLS]
    sep_cols = [j for j in range(n) if kinds[j] == SEP]
    punct_cols = [j for j in range(n) if punct[j]]

    def mean(xs):
        return float(np.mean(xs)) if len(xs) else float("nan")

    def entropy(row):
        p = (1 - smoothing) * row + smoothing / n
        return float(-(p * np.log(p)).sum())

    return {
        "cls": mean([attn[i, cls_cols].sum() for i in range(n)]),
        "sep": mean([attn[i, sep_cols].sum() for i in range(n)]),
        "punct": mean([attn[i, punct_cols].sum() for i in range(n)]),
        "self": mean([attn[i, i] for i in range(n)]),
        "prev": mean([attn[i, i - 1] for i in range(1, n)]),
        "next": mean([attn[i, i + 1] for i in range(n - 1)]),
        "sep_sep": mean([attn[i, sep_cols].sum() for i in sep_cols]),
        "entropy": mean([entropy(attn[i]) for i in range(n)]),
        "cls_entropy": mean([entropy(attn[i]) for i in cls_cols]),
    }
