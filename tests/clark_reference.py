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


# --- Syntax_Analysis.ipynb, cell "Evaluating individual heads at dependency syntax" -------------
# examples: dicts with "words", "heads" (1-based, 0 = ROOT) and "relns", as the notebook's dev_data.


def evaluate_predictor(examples: list[dict], prediction_fn) -> dict[str, float]:
    """evaluate_predictor: accuracy per relation and "all" over every word; the dict is built over
    the relations with at least one error (B3: a perfect relation has no entry)."""
    n_correct, n_incorrect = {}, {}
    for example in examples:
        words, predictions = example["words"], prediction_fn(example)
        for i, (p, y, r) in enumerate(zip(predictions, example["heads"], example["relns"])):
            is_correct = p == y
            if r == "poss" and p < len(words):  # the PTB special case (never "poss" in UD)
                if i < len(words) and words[i + 1] == "'s" or words[i + 1] == "s'":
                    is_correct = predictions[i + 1] == y
            for key in (r, "all"):
                target = n_correct if is_correct else n_incorrect
                target[key] = target.get(key, 0) + 1
    return {k: n_correct.get(k, 0) / float(n_correct.get(k, 0) + n_incorrect[k]) for k in n_incorrect}


def attn_head_predictor(attn: np.ndarray, mode: str = "normal") -> list[int]:
    """attn_head_predictor's predict on one head's word map [W + 2, W + 2] ([CLS] and [SEP] at the
    ends): the most attended other word (1-based), "transpose" = the word attending most."""
    attn = np.array(attn.T if mode == "transpose" else attn)
    attn[range(attn.shape[0]), range(attn.shape[0])] = 0
    return list(np.argmax(attn[1:-1, 1:-1], axis=-1) + 1)


def offset_predictor(n_words: int, offset: int) -> list[int]:
    """offset_predictor's predict: word i + offset (1-based), clipped to [ROOT, last word]."""
    return [max(0, min(i + offset + 1, n_words)) for i in range(n_words)]


def table1_best(scores: dict[tuple, dict[str, float]], reln: str) -> tuple:
    """The Table 1 loop's ``sorted(get_all_scores(reln))[-1]`` over {(layer, head, key): scores}:
    (accuracy, layer, head, key), the highest, ties to the last. The notebook raises KeyError where
    a cell is missing (B3); a missing cell is a perfect one, read here as 1.0."""
    return sorted((s.get(reln, 1.0), layer, head, key) for (layer, head, key), s in scores.items())[-1]


def head_distances(docs: list[np.ndarray]) -> np.ndarray:
    """head_distances.py, main: the JS divergence between every pair of heads summed over the query
    rows of every document; each doc's maps [K, n, n] smoothed as 0.001 / n + 0.999 attns, natural log."""
    k = docs[0].shape[0]
    out = np.zeros((k, k))
    for attns_flat in docs:
        smoothed = 0.001 / attns_flat.shape[1] + attns_flat * 0.999
        for head in range(k):
            p = smoothed[head][None]
            m = (p + smoothed) / 2
            js = (-p * np.log(m / p) - smoothed * np.log(m / smoothed)) / 2
            out[head] += js.sum(-1).sum(-1)
    return out
