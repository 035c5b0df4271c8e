"""A seeded sample of whole sentences under a budget, the same whatever the batching, the order of
the corpus stream or a resume (numpy only).

Every sentence gets a key, a hash of (seed, sentence id) (splitmix64). The sample is the longest
run of sentences in key order whose sizes sum to at most the budget: sort every sentence by key,
keep them while the running total stays within the budget, stop at the first that does not fit
(a sentence larger than the whole budget is never taken). That set depends only on the keys and
the sizes, so any order of arrival gives it, and it can be kept with bounded memory: a
:class:`Budget` holds the sentences of the prefix among those seen so far and a cutoff (the
smallest key that ever overflowed), and a sentence at or past the cutoff is never taken again.
Each part of a run stores the sentences taken during that part that are still held when it
ends; the union of the parts therefore contains the final sample, which :func:`prefix` recovers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
_INT_MASK = 0xFFFFFFFFFFFFFFFF


def _mix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return x ^ (x >> np.uint64(31))


def _mix_int(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _INT_MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _INT_MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _INT_MASK
    return x ^ (x >> 31)


def sentence_key(seed: int, sentence_id: int) -> int:
    """``keys(seed, [sentence_id])[0]`` in Python integers: one sentence's key without numpy's
    per-call cost (the collector asks for it several times a sentence)."""
    return _mix_int(_mix_int(int(seed) & _INT_MASK) ^ (int(sentence_id) & _INT_MASK))


def keys(seed: int, ids) -> np.ndarray:
    """uint64 keys of the sentence ids under ``seed`` (splitmix64 of the seed, then of the id)."""
    ids = np.asarray(ids, dtype=np.int64).astype(np.uint64)
    return _mix(_mix(np.full(ids.shape, seed, dtype=np.int64).astype(np.uint64)) ^ ids)


def prefix(keys_: np.ndarray, ids: np.ndarray, sizes: np.ndarray, budget: int) -> np.ndarray:
    """The indices, in key order, of the sample: the sentences in key order while their sizes sum to
    at most ``budget`` (sentences larger than the budget are left out first). Ties break by id."""
    sizes = np.asarray(sizes, dtype=np.int64)
    order = np.array([i for i in np.lexsort((ids, keys_)) if sizes[i] <= budget], dtype=np.int64)
    fits = np.cumsum(sizes[order]) <= budget
    stop = int(np.argmin(fits)) if not fits.all() else len(order)
    return order[:stop]


class Budget:
    """The sample among the sentences seen so far (see the module's docstring).

    ``offer(sentence_id, size, payload)`` takes the sentence if it belongs to the sample of what
    has been seen; ``payload()`` is called only then. ``fresh()`` hands over the sentences taken
    since the last call that are still held.
    """

    def __init__(self, budget: int, seed: int):
        self.budget, self.seed = budget, seed
        self.held: dict[int, tuple[int, int, object]] = {}  # sentence id -> (key, size, payload)
        self.total = 0
        self.cutoff: int | None = None  # the smallest key that overflowed: never taken again
        self._fresh: set[int] = set()

    def open(self, sentence_id: int, size: int) -> bool:
        """Whether ``offer`` would take this sentence now (so that its payload is worth computing)."""
        key = sentence_key(self.seed, sentence_id)
        return size <= self.budget and (self.cutoff is None or (key, sentence_id) < self.cutoff)

    def offer(self, sentence_id: int, size: int, payload: Callable[[], object]) -> bool:
        if not self.open(sentence_id, size):
            return False
        key = sentence_key(self.seed, sentence_id)
        self.held[sentence_id] = (key, size, payload())
        self.total += size
        self._fresh.add(sentence_id)
        if self.total > self.budget:
            running = 0
            for sid in sorted(self.held, key=lambda s: (self.held[s][0], s)):
                running += self.held[sid][1]
                if running > self.budget:
                    self.cutoff = min(self.cutoff or (self.held[sid][0], sid), (self.held[sid][0], sid))
                if self.cutoff is not None and (self.held[sid][0], sid) >= self.cutoff:
                    self.total -= self.held.pop(sid)[1]
                    self._fresh.discard(sid)
        return sentence_id in self.held

    def fresh(self) -> list[tuple[int, int, object]]:
        """(sentence id, key, payload) of the sentences taken since the last call and still held, by id."""
        out = [(sid, self.held[sid][0], self.held[sid][2]) for sid in sorted(self._fresh)]
        self._fresh = set()
        return out
