"""Joining the windows of a long sentence (``--long window``) into the sentence's scores."""

from __future__ import annotations

import numpy as np

from ..align.encode import Encoded


class WindowCombiner:
    """Collects window rows until a sentence's windows are all scored (they may sit in different
    batches), then gives one row: per cell, the mean over windows weighted by their token counts
    (windows where the cell is undefined do not count)."""

    def __init__(self) -> None:
        self._open: dict[int, list[tuple[Encoded, np.ndarray]]] = {}

    def add(self, items: list[Encoded], values: np.ndarray) -> list[tuple[list[Encoded], np.ndarray]]:
        """(windows, row) for every sentence completed by this batch; a whole sentence is one window."""
        done = []
        for enc, row in zip(items, values):
            if enc.n_windows == 1:
                done.append(([enc], row))
                continue
            parts = self._open.setdefault(enc.sentence.index, [])
            parts.append((enc, row))
            if len(parts) == enc.n_windows:
                del self._open[enc.sentence.index]
                parts.sort(key=lambda p: p[0].window)
                done.append(([e for e, _ in parts], combine([e.n_tokens for e, _ in parts], [r for _, r in parts])))
        return done


def combine(weights: list[int], rows: list[np.ndarray]) -> np.ndarray:
    stack = np.stack(rows)
    w = np.asarray(weights, dtype=np.float64).reshape(-1, *([1] * (stack.ndim - 1)))
    ok = np.isfinite(stack)
    total = np.where(ok, w, 0.0).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.where(ok, stack * w, 0.0).sum(0) / total, np.nan)
