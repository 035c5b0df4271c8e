"""Length-sorted batches under a token budget, formed within a bounded window of the stream.

Sorting the whole corpus would need it all in memory; sorting within a window of
``window`` sentences keeps memory bounded and still removes most padding.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..align.encode import Encoded
from ..corpus.types import Skipped


def plan_batches(
    items: Iterable[Encoded | Skipped], max_tokens: int, max_batch: int, window: int
) -> Iterator[list[Encoded] | Skipped]:
    """Yield Skipped items as they come and lists of Encoded whose padded size fits ``max_tokens``.

    A batch holds at most ``max_batch`` sentences and ``len(batch) * longest <= max_tokens``
    (a single sentence longer than the budget forms a batch of its own).
    """
    buf: list[Encoded] = []

    def drain() -> Iterator[list[Encoded]]:
        buf.sort(key=lambda e: e.n_tokens)
        batch: list[Encoded] = []
        for enc in buf:
            longest = max(enc.n_tokens, batch[-1].n_tokens if batch else 0)
            if batch and (len(batch) + 1 > max_batch or (len(batch) + 1) * longest > max_tokens):
                yield batch
                batch = []
            batch.append(enc)
        if batch:
            yield batch
        buf.clear()

    for item in items:
        if isinstance(item, Skipped):
            yield item
            continue
        buf.append(item)
        if len(buf) >= window:
            yield from drain()
    if buf:
        yield from drain()
