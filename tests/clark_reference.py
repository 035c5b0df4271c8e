"""Clark et al.'s (2019) definitions, one document at a time, in plain numpy.

Written from the original code's definitions (github.com/clarkkev/attention-analysis), not from
headlens's: ``token_stats`` follows General_Analysis.ipynb, cell "Computing Average Attention to
Particular Tokens/Positions" (selectors built with np.eye / np.tile, sums over the whole map, one
denominator per statistic); ``entropies`` follows the cell "Computing Attention Head Entropies";
``word_word_attention`` follows bpe_utils.py, get_word_word_attention (its default mode "first").
The notebook accumulates ``x / n_docs`` over the documents; these return one document's ``x``.
"""

from __future__ import annotations

import numpy as np

SMOOTHING = 1e-4  # attns <- 0.9999 attns + 0.0001 / n ("smooth to avoid NaNs")


def token_stats(tokens: list[str], attns: np.ndarray) -> dict[str, np.ndarray]:
    """[L, H] per statistic for one document: attns [L, H, n, n], tokens its n token strings."""
    n = attns.shape[-1]
    seps = np.array([t == "[SEP]" for t in tokens], dtype=float)
    clss = np.array([t == "[CLS]" for t in tokens], dtype=float)
    puncts = np.array([t in (".", ",") for t in tokens], dtype=float)  # only "." and ","
    selectors = {
        "self": np.eye(n),
        "next": np.eye(n, k=1),  # the notebook's "right": query i, key i + 1
        "prev": np.eye(n, k=-1),  # the notebook's "left": query i, key i - 1
        "sep": np.broadcast_to(seps, (n, n)),
        "sep_sep": np.outer(seps, seps),
        "rest_sep": np.outer(1 - seps, seps),
        "cls": np.broadcast_to(clss, (n, n)),
        "punct": np.broadcast_to(puncts, (n, n)),
    }
    denominators = {"sep_sep": 2, "rest_sep": n - 2}  # every other statistic: n
    return {k: (attns * s).sum(axis=(-1, -2)) / denominators.get(k, n) for k, s in selectors.items()}


def entropies(attns: np.ndarray) -> dict[str, np.ndarray]:
    """[L, H] smoothed row entropies in nats for one document: mean over all rows, and row 0 ([CLS])."""
    p = (1 - SMOOTHING) * attns + SMOOTHING / attns.shape[-1]
    h = -(p * np.log(p)).sum(-1)  # [L, H, n]
    return {"entropy": h.mean(-1), "cls_entropy": h[..., 0]}


def word_word_attention(attn: np.ndarray, words_to_tokens: list[list[int]]) -> np.ndarray:
    """One head's token map [T, T] -> word map [W, W], mode "first": the key columns of a word's
    sub-tokens are summed into its first one; a word's row is its first sub-token's row."""
    starts = [w[0] for w in words_to_tokens]
    summed = np.stack([attn[:, w].sum(-1) for w in words_to_tokens], axis=-1)  # [T, W]
    return summed[starts]
