"""Batch-level collectors: what an analysis accumulates over whole batches, all layers together.

A per-layer metric (``headlens.metrics``) sees one layer at a time and gives one number per
sentence and head. Some analyses need more: the Jensen-Shannon distance between every pair of
heads needs the rows of all layers of a query token at once (``cluster``), and the dependency
baselines need per-sentence counts that belong to no head (``syntax``). A collector has:

- ``on_layer(layer, attn, batch)``: called by the engine in the attention hook, attn
  [B, H, T, T] on the device; only for collectors with ``needs_attention``. A collector with
  ``reads_rows`` gets the layer's rows instead (``runner.rows.Rows``: blocks of query rows made on
  request from q and k on the fused path), so that no whole map of a batch is formed;
- ``on_hidden(hidden_states, batch)``: only for collectors with ``needs_hidden``: the model's
  hidden states after the forward pass (L + 1 tensors [B, T, D], the embeddings first);
- ``add(batch, rows)``: after the forward pass, accumulate batch rows ``rows`` (the rows the
  run stores) and drop any per-batch state;
- ``take()``: the arrays accumulated since the last call (one run-store part), then reset.
  Every part holds ``sentence_ids``: the sentences it covers, once each.

Persistence and crash safety: when the run store commits part N, the pipeline writes each
collector's arrays to ``collect/<name>/part-N.npz`` (atomically) *before* ``progress.json``
records part N. A part counts only once recorded, so after a kill a resumed run recomputes the
unrecorded sentences and overwrites those files. ``read_parts`` takes exactly the run's committed
parts and checks that together they cover every analysed sentence exactly once.

An analysis names its collector factory ``collect(cfg, lm)`` (``headlens.analyses.base.Analysis``);
runs that ask for none pay nothing. ``--long window`` is refused with a collector: windows of
one sentence may sit in different parts, and a resumed run recomputes an incomplete sentence's
earlier windows, which a sum would count twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow.compute as pc

from ..errors import ConfigError, RunStoreError
from ..store import layout
from ..store.atomic import atomic_write

DIRECTORY = layout.COLLECT


class Collector:
    name = "collector"
    needs_attention = False
    needs_parts = False  # a layer analysis (runner/parts.py): sees every layer's parts, not only its attention
    needs_hidden = False  # gets on_hidden(hidden_states, batch) after the forward pass (analyses/layers)
    # how the parts of blocks merge into one run-store part (a scaled-out run, --engine ray: see merge_parts):
    per_sentence: tuple[str, ...] = ("sentence_ids",)  # arrays with a row per sentence, concatenated
    summed: tuple[str, ...] = ()  # sums over the sentences, added; every other array is the same in every part

    def on_layer(self, layer: int, attn, batch) -> None:  # pragma: no cover - only attention collectors
        pass

    def add(self, batch, rows) -> None:
        raise NotImplementedError

    def take(self) -> dict[str, np.ndarray]:
        raise NotImplementedError


def part_path(run_dir: str, name: str, part: int) -> str:
    return layout.collect_path(run_dir, name, part)


class CollectorSet:
    """The collectors of one run, and their part files."""

    def __init__(self, collectors: list[Collector]):
        self.collectors = collectors
        self._absorbed: dict[str, list[dict[str, np.ndarray]]] = {}  # blocks scored by workers, not yet committed
        # what the engine calls during the forward pass: attention collectors and layer analyses (runner/parts.py)
        self.attention = [c for c in collectors if c.needs_attention or c.needs_parts or c.needs_hidden]

    @classmethod
    def for_run(cls, cfg, lm, factories: dict[str, Callable]) -> CollectorSet:
        """The collectors of ``cfg``'s analyses: ``factories`` maps an analysis to ``factory(cfg, lm)``."""
        wanted = [a for a in dict.fromkeys(cfg.analyses) if a in factories] if not cfg.metrics else []
        if wanted and cfg.long == "window":
            raise ConfigError(f"--analyses {','.join(wanted)} cannot run with --long window (a collector sums per part and "
                              "windows of one sentence may fall in different parts); use --long skip or truncate.")
        return cls([factories[a](cfg, lm) for a in wanted])

    def add(self, batch, rows) -> None:
        for c in self.collectors:
            c.add(batch, list(rows))

    def take(self) -> dict[str, dict[str, np.ndarray]]:
        """Every collector's arrays since the last call (what a worker returns with a scored block)."""
        return {c.name: c.take() for c in self.collectors}

    def absorb(self, taken: dict[str, dict[str, np.ndarray]]) -> None:
        """Hold what a worker's collectors took from a block; the next commit merges it (a scaled-out
        run's driver, whose own collectors see no batch)."""
        if set(taken) != {c.name for c in self.collectors}:
            raise RuntimeError(f"a worker's collectors {sorted(taken)} are not the run's "
                               f"{sorted(c.name for c in self.collectors)}")
        for name, arrays in taken.items():
            self._absorbed.setdefault(name, []).append(arrays)

    def _part(self, c: Collector) -> dict[str, np.ndarray]:
        held = self._absorbed.pop(c.name, None)
        return c.take() if held is None else merge_parts(c, held)

    def on_commit(self, run_dir: str, then: Callable[[int], None]) -> Callable[[int], None]:
        """Wrap the store's commit: write every collector's part, then let ``then`` record it."""
        if not self.collectors:
            return then

        def commit(parts: int) -> None:
            for c in self.collectors:
                arrays = self._part(c)
                path = part_path(run_dir, c.name, parts - 1)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                atomic_write(path, lambda tmp, a=arrays: _save(tmp, a))
            then(parts)

        return commit


def merge_parts(collector: Collector, parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One part from the parts of consecutive blocks (in corpus order): the collector's
    ``per_sentence`` arrays concatenated, its ``summed`` arrays added, every other array the same in
    each part (checked). Equal to the part one process would have made, up to the order of the sums."""
    out = {}
    for key in parts[0]:
        values = [p[key] for p in parts]
        if key in collector.per_sentence:
            out[key] = np.concatenate(values)
        elif key in collector.summed:
            out[key] = np.sum(values, axis=0)
        elif all(v.shape == values[0].shape and np.array_equal(v, values[0]) for v in values[1:]):
            out[key] = values[0]
        else:
            raise RuntimeError(f"collector {collector.name!r}: the workers' parts disagree on {key!r}, which is neither "
                               "per sentence nor summed; the collector cannot run scaled out.")
    return out


def write_sentence_maps(maps_dir: str, enc, kind: str, arrays: dict[str, np.ndarray], tokenizer) -> None:
    """A layer analysis' maps of one stored sentence (``enc``, an Encoded item), with its token ids and tokens, to
    ``maps_dir/<layout.map_name(id, kind=kind)>.npz`` (compressed, written atomically)."""
    path = os.path.join(maps_dir, layout.map_name(enc.sentence.index, kind=kind) + layout.MAP_SUFFIX)
    arrays = {**arrays, "input_ids": enc.input_ids,
              "tokens": np.asarray(tokenizer.convert_ids_to_tokens(enc.input_ids.tolist()))}
    os.makedirs(maps_dir, exist_ok=True)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    atomic_write(path, write)


def _save(tmp: str, arrays: dict[str, np.ndarray]) -> None:
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def iter_parts(run, name: str) -> Iterator[dict[str, np.ndarray]]:
    """The committed parts of collector ``name`` of ``run``, one at a time (memory: one part), checked
    against their recorded checksums and, once all are read, against the run's analysed sentences."""
    run._verified(layout.collect_dir(name) + "/")
    ids = []
    for n in range(run.committed["parts"]):
        path = part_path(run.path, name, n)
        if not os.path.exists(path):
            raise RunStoreError(f"{path} is missing: run {run.path} was not made with this analysis's collector "
                                f"(--analyses {name}); run it again with that analysis.")
        with np.load(path) as z:
            part = {k: z[k] for k in z.files}
        ids.append(part["sentence_ids"])
        yield part
    ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    sentences = run.sentences()
    analysed = sentences.filter(pc.equal(sentences["status"], "analysed"))["sentence_id"].to_numpy()
    if len(ids) != len(np.unique(ids)) or not np.array_equal(np.sort(ids), np.sort(analysed)):
        raise RunStoreError(f"{run.path}/{layout.collect_dir(name)}: the parts cover {len(np.unique(ids))} sentences "
                            f"({len(ids)} rows) but the run analysed {len(analysed)}; the run directory is inconsistent. "
                            "Run it again with --overwrite.")


def read_parts(run, name: str) -> list[dict[str, np.ndarray]]:
    """The committed parts of collector ``name`` of ``run`` (all of them: :func:`iter_parts` reads one
    at a time), checked against its analysed sentences and against their recorded checksums."""
    return list(iter_parts(run, name))
