"""The main job: corpus -> annotation -> alignment -> batched forward passes with metrics -> run store.

``run`` composes four stages: the front half (runner/stream.py: corpus -> sentences with words ->
encoded batches), the engine (forward passes and metrics), the store (``_Store``: the run
directory's parts, the collectors' parts, stored maps, the manifest) and the analyses' finalizers.
"""

from __future__ import annotations

import platform
import time
import warnings
from collections import Counter
from collections.abc import Callable
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from functools import cache, partial
from importlib import metadata

import numpy as np
import torch

from .accumulate import Moments
from .align.encode import Encoded
from .config import RunConfig
from .corpus.reader import Corpus
from .corpus.types import Skipped
from .errors import RunStoreError
from .analyses.registry import collectors as collector_factories, finalize, finalizers, resolve
from .models import load_model
from .collect import CollectorSet
from .runner import Engine
from .runner.allocator import keep_freed_memory
from .runner.blocks import Block, BlockScorer, Scored, blocks
from .runner.fused import kernel_record
from .runner.maps import map_name, sentence_maps
from .runner.progress import make_progress
from .runner.records import maps_to_keep, sentence_record
from .runner.stream import FrontHalf
from .runner.windows import WindowCombiner
from .store import Run, RunWriter, integrity, layout, open_run, prepare_run_dir, resume
from .store.atomic import WriteError
from .store.catalog import register_run
from .store.tables import STORE_FORMAT, heads_table
from .scale.actors import score_blocks
from .scale.cluster import Cluster

FORMAT_VERSION = STORE_FORMAT  # store/tables.py: 2 stores score values in the compute precision
SPECIAL_TOKENS_POLICY = "kept: [CLS]/[SEP] are queries and keys in token and word views (Clark et al.)"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str | None]:
    """The versions of the packages a run's results depend on, for its manifest (a copy of the
    process's one reading: package metadata takes about 20 ms to read, at every run)."""
    return dict(_package_versions())


@cache
def _package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in ("headlens", "torch", "transformers", "tokenizers", "numpy", "pyarrow", "spacy", "rich", "ray"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _manifest(cfg: RunConfig, lm, annotator, front: FrontHalf, metrics, engine: Engine) -> dict:
    """The run's provenance, written with status 'running' before the first batch."""
    spec = front.spec
    return {
        "format_version": FORMAT_VERSION,
        "score_dtype": "float64" if engine.compute_dtype == torch.float64 else "float32",
        "status": "running",
        "started": _now(),
        "finished": None,
        "error": None,
        "model": lm.describe(),
        "annotator": annotator.describe() if annotator else {"name": "gold", "scheme": "ud"},
        "corpus": {"path": spec.path, "sha256": front.fingerprint[0], "format": spec.resolved_format, "spec": spec.to_dict()},
        "analyses": list(cfg.analyses),
        "metrics": [{"name": m.name, "level": m.level, "analysis": m.analysis, "description": m.description} for m in metrics],
        "word_aggregation": cfg.word_aggregation,
        "special_tokens": SPECIAL_TOKENS_POLICY,
        "config": cfg.to_dict(),
        "versions": package_versions(),
        "counts": {},
        integrity.INTEGRITY: integrity.INTEGRITY_NOTE,
        "tables": dict(layout.TABLE_DOCS),
        "attention": {"path": engine.path, "why": engine.path_reason, "choice": engine.choice(),
                      "metrics": engine.metric_paths(),
                      **(kernel_record(lm.device, lm.model.dtype) if engine.path == "fused" else {})},
    }


def _failed(out: str, error: WriteError, state) -> RunStoreError:
    items = state.saved["counts"].get("analysed", 0) + sum(state.saved["skipped"].values())
    return RunStoreError(f"run {out} failed: {error} Its {state.parts} committed parts ({items} corpus items) are kept "
                         f"and its {layout.MANIFEST} says 'failed'; fix the cause (e.g. free disk space) and continue with: "
                         f"headlens run ... --out {out} --resume")


def _end(writer: RunWriter, state, manifest: dict, status: str, error: WriteError | None, heads) -> WriteError | None:
    """Write heads.parquet (a complete run) and the final manifest with the checksums of every
    committed file, then release the run directory's lock whatever happens; return the write error
    that failed the run, if any."""
    out = writer.out
    try:
        ended = []
        if status == "complete":
            try:
                writer.write_table(layout.HEADS, heads())
                ended = [layout.HEADS, *layout.map_files(out)]
            except WriteError as e:
                error, status = e, "failed"
                manifest["error"] = f"{type(e).__name__}: {e}"
        manifest["files"] = {**state.files, **integrity.record(out, ended, known=writer.digests)}
        manifest["status"] = status
        manifest["finished"] = _now()
        writer.write_manifest(manifest)
    finally:
        state.release()  # the run directory's lock (see store/resume.py)
    return error


class _Store:
    """Where a run's results go: the open part of the run directory (scores and sentence records),
    the collectors' sums, the stored maps, and the state a resume starts from (moments, counts; see
    store/resume.py). A part is committed with its collector parts before progress.json records it."""

    def __init__(self, out: str, state: resume.ResumeState, manifest: dict, cfg: RunConfig, lm, metrics,
                 collectors: CollectorSet, corpus: Corpus, started: float):
        self.state, self.manifest, self.collectors, self.corpus, self.started = state, manifest, collectors, corpus, started
        self.lm, self.metrics, self.aggregation = lm, metrics, cfg.word_aggregation
        self.maps_requested = list(cfg.store_maps)
        self.maps_wanted = set(cfg.store_maps)
        self.windows = WindowCombiner()
        self.torn = False  # a batch was cut while being stored: the open part is dropped, not committed
        self.writer = RunWriter(out, [m.name for m in metrics], part_size=cfg.part_size, parts=state.parts,
                                on_commit=collectors.on_commit(out, state.commit), score_dtype=manifest["score_dtype"])  # a part counts once progress.json records it
        try:
            self.writer.write_manifest(manifest)
        except BaseException:
            state.release()
            raise
        register_run(out)  # listed (status running) while it runs: `headlens runs list --all`

    def skipped(self, item: Skipped) -> None:
        self._skipped(item)
        self.state.done(item, None)

    def _skipped(self, item: Skipped) -> None:
        self.state.skipped[item.reason] += 1
        self.writer.add_sentence(sentence_record(item))

    @contextmanager
    def maps_of(self, item: list[Encoded], rows):
        """The maps files of the rows of ``item`` whose maps are stored (--store-maps), open for the engine
        to write a layer at a time (row -> ``runner.maps.SentenceMaps``); committed by :meth:`add`, and
        deleted if the step ends otherwise."""
        keep, found = maps_to_keep(item, rows, self.maps_wanted)
        self.state.maps_found |= found
        files = sentence_maps(item, keep, self.lm.tokenizer, self.aggregation, self.lm.num_layers, self.writer.open_maps)
        try:
            yield files
        finally:
            for maps in files.values():
                maps.out.abandon()  # nothing once committed

    def add(self, item: list[Encoded], todo: list[int] | None, batch, rows, values: np.ndarray, maps: dict) -> None:
        """Store a scored batch (``todo``: the windows of a committed step still to keep, None: all;
        ``maps``: its maps files, from :meth:`maps_of`)."""
        with self._storing():
            new = item if todo is None else [item[i] for i in todo]
            done = self.windows.add(new, values if todo is None else values[todo])
            self._analysed([p[0].sentence.index for p, _ in done], [r for _, r in done], [sentence_record(p) for p, _ in done])
            self.collectors.add(batch, rows)
            for row, sentence in maps.items():
                self.writer.commit_maps(map_name(item[row]), sentence.finish())
            self.state.done(item, todo)
        self.writer.end_batch()

    def add_block(self, block: Block, scored: Scored) -> None:
        """Store a block a worker scored (a scaled-out run, headlens.scale): its rows, records and maps."""
        with self._storing():
            for item in scored.skipped:
                self._skipped(item)
            self._analysed(scored.ids, scored.rows, scored.records, scored.moments)
            if scored.collected:
                self.collectors.absorb(scored.collected)
            for name, arrays in scored.maps.items():
                self.writer.write_maps(name, arrays)
            self.state.maps_found |= scored.maps_found
            self.state.done(block, None)
        self.writer.end_batch()

    @contextmanager
    def _storing(self):
        """A step being stored: cut by an error, the open part is dropped, not committed."""
        try:
            yield
        except BaseException:
            self.torn = True
            raise

    def _analysed(self, ids: list[int], rows: list[np.ndarray], records: list[dict], moments: Moments | None = None) -> None:
        """Accumulate and write the scores and records of completed sentences (``moments``: their
        statistics, accumulated by a worker, merged instead of computed here)."""
        if not ids:
            return
        counts = self.state.counts
        rows = np.stack(rows)
        if moments is None:
            self.state.moments.update(rows)
        else:
            self.state.moments.merge(moments)
        self.writer.add_scores(np.asarray(ids), rows)
        for record in records:
            self.writer.add_sentence(record)
            counts["analysed"] += 1
            counts["tokens"] += record["n_tokens"]
            counts["truncated"] += record["truncated"]
            counts["windowed"] += record["windows"] > 1
            counts["words_without_tokens"] += record["words_without_tokens"]

    def close(self, status: str, error: WriteError | None) -> WriteError | None:
        """End the run, whatever happened: commit the open part (finished batches are kept even when
        the run stops early; a batch cut while being stored, or a failed write, drops it), record the
        counts and the end in the manifest, release the lock; return the write error that failed the
        run, if any."""
        try:
            self.writer.discard() if self.torn or error else self.writer.flush()
        except WriteError as e:
            error, status = e, "failed"
            self.manifest["error"] = f"{type(e).__name__}: {e}"
            self.writer.discard()
        self.manifest.update(self._summary(committed_only=bool(error or self.torn)))
        levels = [m.level for m in self.metrics]
        error = _end(self.writer, self.state, self.manifest, status, error,
                     lambda: heads_table(self.state.moments, self.writer.metric_names, levels))
        register_run(self.writer.out)  # the runs catalog of the parent directory; a failure only warns
        return error

    def _summary(self, committed_only: bool) -> dict:
        """The manifest's counts, maps and timing; ``committed_only``: the open part was dropped."""
        state = self.state
        counts, skipped = state.counts, state.skipped
        if committed_only:
            counts, skipped = Counter(state.saved["counts"]), Counter(state.saved["skipped"])
        elapsed = time.perf_counter() - self.started
        return {
            "counts": {
                "read": counts["analysed"] + sum(skipped.values()),
                "analysed": counts["analysed"],
                "skipped": sum(skipped.values()),
                "skipped_by_reason": dict(skipped),
                "blank_lines": self.corpus.blank_lines,
                "tokens": counts["tokens"],
                "truncated": counts["truncated"],
                "windowed": counts["windowed"],
                "words_without_tokens": counts["words_without_tokens"],
            },
            "maps": {"requested": self.maps_requested, "not_found": sorted(self.maps_wanted - state.maps_found)},
            "seconds": round(elapsed, 3),
            "sentences_per_second": round(counts["analysed"] / elapsed, 2) if elapsed > 0 else None,
        }


def _score(batches, engine: Engine, store: _Store, progress, estimate: int) -> None:
    """Every step of the stream through the engine into the store; a step committed before a
    resume is checked and passed over (store/resume.py)."""
    state = store.state
    with progress:
        task = progress.add_task("headlens run", total=estimate or None)
        for item in batches:
            todo = state.todo(item)  # None: a new step; a list: a step committed before a resume
            if isinstance(item, Skipped):
                if todo is None:
                    store.skipped(item)
                progress.advance(task)
                continue
            if todo == []:  # stored before the run was stopped
                progress.advance(task, len(item))
                continue
            batch = engine.batch(item)
            rows = range(len(item)) if todo is None else todo
            with store.maps_of(item, rows) as maps:
                values, _ = engine.score(batch, maps)
                store.add(item, todo, batch, rows, values, maps)
            progress.advance(task, len(item))
    state.check_end()
    # the batches this session scored on each path (the eager maps or the fused kernel: runner/cost.py)
    store.manifest["attention"]["batches"] = {path: engine.batches[path] for path in ("fused", "eager")}


def _score_blocks(cfg: RunConfig, front: FrontHalf, store: _Store, progress, estimate: int) -> None:
    """A scaled-out run (``--engine ray``): the driver reads the corpus in blocks, Ray's workers score
    them (``_block_scorer``) and the driver stores each block's rows in block order; the blocks of
    parts committed before a resume are checked against the plan and not sent (docs/scale.md)."""
    state = store.state
    todo, stored = [], 0
    for block in blocks(front.items(), cfg.block_size):
        if state.todo(block) is None:
            todo.append(block)
        else:
            stored += len(block.items)
    state.check_end()
    if 0 < len(todo) < cfg.workers:
        warnings.warn(f"{len(todo)} blocks of up to {cfg.block_size} corpus items for {cfg.workers} workers: some stay idle "
                      f"(a smaller --block-size gives each one blocks).", stacklevel=3)
    with progress:
        task = progress.add_task("headlens run (ray)", total=estimate or None)
        progress.advance(task, stored)
        for block, scored in score_blocks(todo, partial(_block_scorer, cfg), cfg.workers, cpus=cfg.threads or 1,
                                          gpus=cfg.gpus_per_worker):
            store.add_block(block, scored)
            progress.advance(task, len(block.items))


def _drive(score: Callable[[], None], store: _Store) -> None:
    """Score into the store (``score()``); whatever happens, the manifest then records the end
    ('complete', 'interrupted' or 'failed', with the error) and the lock is released. A write
    error (disk full, ...) keeps what is committed: the run can be resumed."""
    status, error = "failed", None
    try:
        score()
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except WriteError as e:
        error = e
        store.manifest["error"] = f"{type(e).__name__}: {e}"
        raise _failed(store.writer.out, e, store.state) from e
    except Exception as e:
        store.manifest["error"] = f"{type(e).__name__}: {e}"
        raise
    finally:
        error = store.close(status, error)
    if error is not None:  # a write failed while the run was being closed
        raise _failed(store.writer.out, error, store.state) from error


def _set_up_torch(cfg: RunConfig, threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)
    if cfg.keep_freed_memory:
        keep_freed_memory()


def _complete_already(cfg: RunConfig, out: str) -> Run:
    """An intact complete run with the same settings: --resume has nothing to do."""
    warnings.warn(f"{cfg.out} is complete already: --resume has nothing to do.", stacklevel=3)
    result = open_run(out)
    result.note = f"{cfg.out} is complete already: nothing to resume (use --overwrite to run it again)."
    return result


def run(config: RunConfig | None = None, **options) -> Run:
    """Run the analyses of ``config`` (or of ``RunConfig(**options)``) and return the stored Run.

    >>> import headlens
    >>> run = headlens.run(out="runs/demo", overwrite=True)          # doctest: +SKIP
    >>> run.top_heads("prev", k=3)                                     # doctest: +SKIP
    """
    cfg = config if config is not None else RunConfig(**options)
    started = time.perf_counter()
    front = FrontHalf.of(cfg).require_sentences()  # the corpus is checked before anything slow
    cluster = Cluster(cfg.ray_address) if cfg.engine == "ray" else None  # an unreachable address fails here
    try:
        # a scaled-out run's driver needs the model only for its description and tokenizer
        metrics, annotator, lm, collectors, engine = _model_side(cfg, front, "cpu" if cluster else cfg.device, cfg.threads)
        manifest = _manifest(cfg, lm, annotator, front, metrics, engine)
        manifest["engine"] = _engine_record(cfg, cluster)
        manifest["finalizers"] = {name: "pending" for name in finalizers(() if cfg.metrics else cfg.analyses)}
        fresh = Moments((len(metrics), lm.num_layers, lm.num_heads))
        out, state = resume.start(cfg.out, fresh, manifest, cfg.resume, lambda o: prepare_run_dir(o, cfg.overwrite))
        if state == resume.COMPLETE:  # same settings, every recorded file intact
            return _complete_already(cfg, out)
        store = _Store(out, state, manifest, cfg, lm, metrics, collectors, front.corpus, started)
        progress, estimate = make_progress(cfg.progress), front.fingerprint[1]
        if cluster is not None:
            _drive(lambda: _score_blocks(cfg, front, store, progress, estimate), store)
        else:
            with closing(front.batches(lm.tokenizer, lm.max_tokens)) as batches:
                _drive(lambda: _score(batches, engine, store, progress, estimate), store)
    finally:
        if cluster is not None:
            cluster.close()
    result = open_run(out)
    finalize(result, () if cfg.metrics else cfg.analyses)  # derived tables (e.g. roles) of the finished run
    return result


def _model_side(cfg: RunConfig, front: FrontHalf, device: str, threads: int | None):
    """The metrics, the annotator, the model, the collectors and the engine of a run (or of a worker)."""
    metrics = resolve(cfg.analyses, cfg.metrics, cfg.options)
    _set_up_torch(cfg, threads)
    annotator = front.annotator  # an annotator's model (spaCy) loads before the language model
    lm = load_model(cfg.model, device=device, dtype=cfg.dtype)
    collectors = CollectorSet.for_run(cfg, lm, collector_factories())  # batch-level accumulators (syntax, cluster)
    engine = Engine(lm, metrics, cfg.word_aggregation, collectors.attention, cfg.attention)
    return metrics, annotator, lm, collectors, engine


def _block_scorer(cfg: RunConfig) -> BlockScorer:
    """What a worker of a scaled-out run holds: the front half (given its items) and the engine of a
    local run, with the model on the worker's device and ``--threads`` (default 1) CPU threads."""
    front = FrontHalf.of(cfg, read=False)
    *_, collectors, engine = _model_side(cfg, front, cfg.device, cfg.threads or 1)
    return BlockScorer(front, engine, cfg.store_maps, collectors if collectors.collectors else None)


def _engine_record(cfg: RunConfig, cluster: Cluster | None) -> dict:
    """The manifest's ``engine``: local, or Ray with its workers, their resources and the cluster."""
    if cluster is None:
        return {"name": "local"}
    return {"name": "ray", "workers": cfg.workers, "threads_per_worker": cfg.threads or 1,
            "gpus_per_worker": cfg.gpus_per_worker, "device": cfg.device, "block_size": cfg.block_size,
            "writer": "driver", **cluster.describe()}
