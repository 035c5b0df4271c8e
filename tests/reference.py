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


def surface(attn: np.ndarray, kinds: np.ndarray, punct: np.ndarray, smoothing: float = 0.0) -> dict[str, float]:
    """All surface metrics of one head's map [n, n] (rows = queries). The entropy is Shannon's
    (0 log 0 = 0); ``smoothing=1e-4`` gives Clark et al.'s smoothed one."""
    n = attn.shape[0]
    cls_cols = [j for j in range(n) if kinds[j] == CLS]
    sep_cols = [j for j in range(n) if kinds[j] == SEP]
    punct_cols = [j for j in range(n) if punct[j]]

    def mean(xs):
        return float(np.mean(xs)) if len(xs) else float("nan")

    def entropy(row):
        p = (1 - smoothing) * row + smoothing / n
        p = p[p > 0]
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


def _matches(label: str, rel: str) -> bool:
    if rel == "all":
        return label != "punct"
    return label == rel or label.startswith(rel + ":")


def sieve(attn, kinds, segment, token_unit, unit_word, word_head, word_deprel, width=2, relations=()) -> dict[str, float]:
    """Every role sieve score of one head's map [n, n] by loops (Pande et al.'s formula)."""
    n = attn.shape[0]
    nan = float("nan")

    def rel_mean(queries, sets, weight=None):
        vals = [np.mean([attn[i, j] for j in sets(i)]) * n * (1 if weight is None else weight(i)) for i in queries]
        return float(np.mean(vals)) if vals else nan

    cls = [j for j in range(n) if kinds[j] == CLS]
    sep = [j for j in range(n) if kinds[j] == SEP]
    out = {
        f"role_local_w{width}": rel_mean(range(n), lambda i: range(max(0, i - width), min(n - 1, i + width) + 1)),
        "role_delim": rel_mean(range(n), lambda i: cls + sep),
        "role_delim_cls": rel_mean(range(n), lambda i: cls) if cls else nan,
        "role_delim_sep": rel_mean(range(n), lambda i: sep) if sep else nan,
    }
    pair = any(s == 1 for s in segment)
    content = [i for i in range(n) if segment[i] >= 0]
    own = lambda i: [j for j in content if segment[j] == segment[i]]  # noqa: E731
    entropy = lambda i: float(-sum(p * np.log(p) for p in attn[i] if p > 0))  # noqa: E731
    out["role_block"] = rel_mean(content, own) if pair else nan
    out["role_block_h"] = rel_mean(content, own, entropy) if pair else nan
    unit_of = {int(w): u for u, w in enumerate(unit_word) if w >= 0}
    words = word_map(attn, token_unit, len(unit_word), "mean")
    arcs = [(unit_of[d], unit_of[h], word_deprel[d]) for d, h in enumerate(word_head)
            if h >= 0 and d in unit_of and h in unit_of]
    for rel in relations:
        chosen = [(d, h) for d, h, lab in arcs if _matches(lab, rel)]
        out[f"role_syn_{rel}_d2h"] = float(np.mean([words[d, h] * n for d, h in chosen])) if chosen else nan
        heads = sorted({h for _, h in chosen})
        per_head = [np.mean([words[h, d] * n for d, hh in chosen if hh == h]) for h in heads]
        out[f"role_syn_{rel}_h2d"] = float(np.mean(per_head)) if per_head else nan
    return out
