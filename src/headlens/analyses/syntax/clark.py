"""Clark et al.'s evaluation (``headlens run --replicate clark2019``): how the original code turns
counts into its Table 1 (github.com/clarkkev/attention-analysis, ``Syntax_Analysis.ipynb``).

- ``evaluate_predictor``: a relation's accuracy is correct / (correct + incorrect) over the corpus,
  "all" over EVERY word, punct and root included (an attention head never predicts ROOT: the
  argmax runs over the words, so a root word is always wrong for a head); see :func:`all_counts`.
- ``offset_predictor``: the baseline's position is clipped to [ROOT, last word] (collect.py).
- the Table 1 loop: ``sorted(get_all_scores(reln))[-1]`` and ``max((scores[reln], i) ...)`` break
  ties of accuracy towards the last (layer, head, direction) and the largest offset: :func:`best_offset`,
  :func:`head_key` ("head<-dep", the transpose = h2d, sorts after "dep->head").
- **B3** (a bug, only with ``bug_compatible``): ``evaluate_predictor`` returns its accuracies for
  ``n_incorrect.keys()``, so a (predictor, relation) without an error has no entry; :func:`kept`.
  In the notebook the Table 1 loop then raises KeyError for that relation; here the cell is
  left out and the best of the others is reported (docs/fidelity.md).
"""

from __future__ import annotations

import numpy as np

from ...metrics.arcs import EVERY


def all_counts(counts: np.ndarray, roots: np.ndarray, relations: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(arcs [S], offset hits [S, O]) of Clark et al.'s "all": the ``every`` relation's arcs plus the
    words attached to ROOT, and their clipped-offset hits. ``counts`` [S, R, 1 + O], ``roots`` [S, 1 + O]."""
    e = relations.index(EVERY)
    return counts[:, e, 0] + roots[:, 0], counts[:, e, 1:] + roots[:, 1:]


def kept(hits: np.ndarray, total: int, bug_compatible: bool) -> np.ndarray:
    """bool, the shape of ``hits`` (corpus sums): the cells evaluate_predictor reports (B3 drops
    those with every arc correct when ``bug_compatible``)."""
    return np.ones(np.shape(hits), dtype=bool) if not bug_compatible else np.asarray(hits) != total


def best_offset(hits: np.ndarray, keep: np.ndarray) -> int | None:
    """Index of the best kept offset (corpus hits [O]), ties to the LAST (``max((score, offset))``);
    None when none is kept."""
    if not keep.any():
        return None
    scores = np.where(keep, hits, -1)
    return int(len(scores) - 1 - np.argmax(scores[::-1]))


def head_key(row: dict) -> tuple:
    """Sort key of a head row as Clark et al.'s ``sorted(...)[-1]``: accuracy, then the last layer,
    head and direction (h2d after d2h)."""
    return row["accuracy"], row["layer"], row["head"], row["direction"] == "h2d"
