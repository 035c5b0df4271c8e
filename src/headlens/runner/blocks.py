"""Blocks of corpus items, and what scoring one gives: the unit of work of a scaled-out run.

A run on a Ray cluster (``--engine ray``, docs/scale.md) cuts the corpus's items, as the driver
reads them, into blocks of ``block_size`` consecutive items. A worker scores a block with the same
front half (runner/stream.py: annotation, alignment, encoding, masking, batch planning) and the
same engine as a local run, and returns only per-sentence reduced rows (``Scored``): the scores
[n, metrics, layers, heads], the sentences-table rows, the skipped items, the maps that
``--store-maps`` asks for, the block's head statistics (mergeable ``Moments``) and its collectors'
arrays (those of analyses that scale out: ``collect.merge_parts``). The driver alone writes the
run directory and merges the statistics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field

import numpy as np

from ..accumulate import Moments
from ..corpus.types import Skipped
from .maps import map_name, sentence_maps
from .records import maps_to_keep, sentence_record
from .windows import WindowCombiner


@dataclass(frozen=True)
class Block:
    """``items``: consecutive corpus items (Sentence or Skipped); ``index``: the block's position."""

    index: int
    items: tuple

    def step_key(self) -> dict:
        """How the run's plan records the block (store/resume.py): its first and last ids, its size."""
        return {"block": [self.items[0].index, self.items[-1].index, len(self.items)]}


def blocks(items: Iterable, size: int) -> Iterator[Block]:
    """``items`` in blocks of ``size`` (the last one may be shorter)."""
    buf: list = []
    k = 0
    for item in items:
        buf.append(item)
        if len(buf) == size:
            yield Block(k, tuple(buf))
            buf, k = [], k + 1
    if buf:
        yield Block(k, tuple(buf))


@dataclass
class Scored:
    """What a block gives: per-sentence reduced rows in the order the sentences were completed."""

    block: int
    skipped: list[Skipped] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)  # each [metrics, layers, heads], float64
    records: list[dict] = field(default_factory=list)  # the sentences-table rows of ``ids``
    maps: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # maps file stem -> arrays
    maps_found: set[str] = field(default_factory=set)
    moments: Moments | None = None  # the block's head statistics, merged into the run's by the driver
    collected: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # collector name -> its arrays

    @property
    def items(self) -> int:
        return len(self.skipped) + len(self.ids)


class BlockScorer:
    """Scores blocks with a front half that is given its items (``FrontHalf.of(cfg, read=False)``)
    and an engine; ``store_maps``: the sentence ids or sent_ids whose maps are kept; ``collectors``:
    the run's ``CollectorSet`` (built with the engine), fed every batch of a block."""

    def __init__(self, front, engine, store_maps: Iterable[str] = (), collectors=None):
        self.front, self.engine, self.collectors = front, engine, collectors
        self.maps_wanted = set(store_maps)

    def __call__(self, block: Block) -> Scored:
        lm, engine = self.engine.lm, self.engine
        out, windows = Scored(block.index), WindowCombiner()
        if self.collectors is not None:
            self.collectors.take()  # nothing left from a block that failed on this worker
        with closing(self.front.batches(lm.tokenizer, lm.max_tokens, items=block.items)) as steps:
            for item in steps:
                if isinstance(item, Skipped):
                    out.skipped.append(item)
                    continue
                keep, found = maps_to_keep(item, range(len(item)), self.maps_wanted)
                batch = engine.batch(item)
                maps = sentence_maps(item, keep, lm.tokenizer, engine.aggregation, lm.num_layers)  # in memory
                values, _ = engine.score(batch, maps)
                if self.collectors is not None:
                    self.collectors.add(batch, range(len(item)))
                out.maps_found |= found
                out.maps.update({map_name(item[row]): sentence.finish().arrays for row, sentence in maps.items()})
                for parts, row in windows.add(item, values):
                    out.ids.append(parts[0].sentence.index)
                    out.rows.append(row)
                    out.records.append(sentence_record(parts))
        if out.rows:
            out.moments = Moments(out.rows[0].shape).update(np.stack(out.rows))
        if self.collectors is not None:
            out.collected = self.collectors.take()
        return out
