"""Pande et al.'s (2021) sieve scores, one sentence at a time, in plain numpy.

Written from the original code (github.com/iitmnlp/heads-hypothesis), not from headlens's:
``get_score`` follows syntactic_score.ipynb, ``Heads1.get_score`` with the arc ends of
``dataset.get_data_for_pred``; ``calc_score_band2`` follows local_score.ipynb; ``block_score``
follows block_score.ipynb.
"""

from __future__ import annotations

import numpy as np


def _matches(label: str, relation: str) -> bool:
    return label.split(":")[0] != "punct" if relation == "all" else label == relation or label.startswith(relation + ":")


def arc_ends(tokens, segment, token_unit, unit_word, word: int, first_occurrence: bool) -> list[int]:
    """The token positions of ``word``: its aligned tokens, or, with ``first_occurrence``, each of its
    token strings looked up with ``list.index`` in its own segment (get_data_for_pred: ``final_sent.index(x)``
    for the first text, ``sentb_tok.index(x) + len(senta_tok) + 2`` for the second)."""
    unit = int(np.flatnonzero(np.asarray(unit_word) == word)[0])
    own = [int(i) for i in np.flatnonzero(np.asarray(token_unit) == unit)]
    if not first_occurrence:
        return own
    seg = int(segment[own[0]])
    start = int(np.flatnonzero(np.asarray(segment) == seg)[0])
    text = [str(t) for t, s in zip(tokens, segment) if int(s) == seg]
    return [start + text.index(str(tokens[i])) for i in own]


def get_score(attn, tokens, segment, token_unit, unit_word, word_head, word_deprel, relation: str, direction: str,
              first_occurrence: bool = False) -> float:
    """Heads1.get_score for one sentence: per arc (w1 = dependent, w2 = head), 'l2r' (d2h) = mean over
    w1's tokens of the mean over w2's of attn[w1, w2], divided by w1's mean row mass / sent_len; 'r2l'
    (h2d) the same from w2 to w1; then the mean over the sentence's ARCS (NaN without one)."""
    n = attn.shape[0]
    words = {int(w) for w in unit_word if w >= 0}
    scores = []
    for dep, (head, label) in enumerate(zip(word_head, word_deprel)):
        if head < 0 or dep not in words or head not in words or not _matches(str(label), relation):
            continue
        w1, w2 = (arc_ends(tokens, segment, token_unit, unit_word, w, first_occurrence) for w in (dep, head))
        src, dst = (w1, w2) if direction == "d2h" else (w2, w1)
        mean = np.mean([np.mean([attn[i, j] for j in dst]) for i in src])
        total = np.mean([attn[i].sum() for i in src]) / n
        scores.append(mean / total)
    return float(np.mean(scores)) if scores else float("nan")


def calc_score_band2(attn, width=2):
    """local_score.ipynb, calc_score_band2 (its band of 2 as ``width``), including its window count
    ``(min(token+k, sent_len)+1) - max(0, token-k)`` (B1)."""
    sent_len = attn.shape[0]
    total = 0.0
    for token in range(sent_len):
        avg = attn[token].sum() / sent_len
        band_size = (min(token + width, sent_len) + 1) - max(0, token - width)
        total += attn[token, max(0, token - width):min(token + width, sent_len) + 1].sum() / band_size / avg
    return total / sent_len


def first_occurrence_positions_differ(tokens, segment, token_unit, unit_word, word_head, word_deprel, relation) -> bool:
    """Whether list.index moves an end of one of the sentence's arcs of ``relation`` (B2 changes its scores)."""
    words = {int(w) for w in unit_word if w >= 0}
    for dep, (head, label) in enumerate(zip(word_head, word_deprel)):
        if head < 0 or dep not in words or head not in words or not _matches(str(label), relation):
            continue
        for w in (dep, int(head)):
            if arc_ends(tokens, segment, token_unit, unit_word, w, True) != arc_ends(tokens, segment, token_unit, unit_word, w, False):
                return True
    return False


def calc_block_attn_score(attn, tokens) -> float:
    """block_score.ipynb, calc_block_attn_score for one sentence pair and head: every token of the
    sequence (CLS and the SEPs too) is a query; a token before the first SEP sieves the first text
    (1 .. sep1 - 1), any other the second (sep1 + 1 .. sep2 - 1); score = (mean over the block /
    (row sum / sent_len)) x entropy(row), then the mean over the sent_len tokens."""
    sent_len = attn.shape[0]
    sep1, sep2 = [i for i, t in enumerate(tokens) if str(t) == "[SEP]"][0], sent_len - 1
    total = 0.0
    for token in range(sent_len):
        avg = attn[token].sum() / sent_len
        lo, hi = (1, sep1) if token < sep1 else (sep1 + 1, sep2)
        row = attn[token] / attn[token].sum()  # scipy.stats.entropy normalises its argument
        total += attn[token, lo:hi].sum() / (hi - lo) / avg * -(row[row > 0] * np.log(row[row > 0])).sum()
    return total / sent_len
