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
from contextlib import closing
from datetime import datetime, timezone
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
from .runner.maps import map_arrays, map_name
from .runner.progress import make_progress
from .runner.stream import FrontHalf
from .runner.windows import WindowCombiner
from .store import Run, RunWriter, integrity, layout, open_run, prepare_run_dir, resume
from .store.atomic import WriteError
from .store.catalog import register_run
from .store.tables import STORE_FORMAT, heads_table

FORMAT_VERSION = STORE_FORMAT  # store/tables.py: 2 stores score values in the compute precision
SPECIAL_TOKENS_POLICY = "kept: [CLS]/[SEP] are queries and keys in token and word views (Clark et al.)"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in ("headlens", "torch", "transformers", "tokenizers", "numpy", "pyarrow", "spacy", "rich"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _sentence_record(item: list[Encoded] | Skipped) -> dict:
    """The sentences-table row of a skipped item, or of a sentence given as its window(s)."""
    if isinstance(item, Skipped):
        return {
            "sentence_id": item.index, "source": item.source, "sent_id": None, "text": item.text, "text_b": None,
            "label": None, "status": "skipped", "reason": f"{item.reason}: {item.detail}" if item.detail else item.reason,
            "n_tokens": None, "n_words": None, "words_without_tokens": None, "truncated": None, "windows": None,
        }
    s = item[0].origin or item[0].sentence
    n_words = sum(int((e.unit_word >= 0).sum()) for e in item)
    return {
        "sentence_id": s.index, "source": s.source, "sent_id": s.sent_id, "text": s.text, "text_b": s.text_b,
        "label": s.label, "status": "analysed", "reason": None, "n_tokens": sum(e.n_tokens for e in item),
        "n_words": n_words, "words_without_tokens": len(s.words or ()) - n_words,
        "truncated": item[0].truncated, "windows": len(item),
    }


def _map_names(item: Encoded, names: set[str]) -> set[str]:
    """The names in ``names`` (sentence ids or sent_ids) that designate this sentence."""
    return names & {str(item.sentence.index), item.sentence.sent_id or str(item.sentence.index)}


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
        "attention": {"path": engine.path, "why": engine.path_reason, "metrics": engine.metric_paths()},
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
        manifest["files"] = {**state.files, **integrity.record(out, ended)}
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
        self.state.skipped[item.reason] += 1
        self.writer.add_sentence(_sentence_record(item))
        self.state.done(item, None)

    def maps_of(self, item: list[Encoded], rows) -> list[int]:
        """The rows of ``item`` whose maps are stored (--store-maps)."""
        keep = [i for i in rows if self.maps_wanted and _map_names(item[i], self.maps_wanted)]
        for i in keep:
            self.state.maps_found.update(_map_names(item[i], self.maps_wanted))
        return keep

    def add(self, item: list[Encoded], todo: list[int] | None, batch, rows, values: np.ndarray, maps: dict) -> None:
        """Store a scored batch (``todo``: the windows of a committed step still to keep, None: all)."""
        try:
            new = item if todo is None else [item[i] for i in todo]
            self._sentences(self.windows.add(new, values if todo is None else values[todo]))
            self.collectors.add(batch, rows)
            for row, kept in maps.items():
                self.writer.write_maps(map_name(item[row]), map_arrays(item[row], kept["attention"], self.lm.tokenizer,
                                                                       self.aggregation, logits=kept.get("logits")))
            self.state.done(item, todo)
        except BaseException:
            self.torn = True
            raise
        self.writer.end_batch()

    def _sentences(self, done: list) -> None:
        """Accumulate and write the scores and records of the sentences a batch completed."""
        if not done:
            return
        counts = self.state.counts
        rows = np.stack([row for _, row in done])
        self.state.moments.update(rows)
        self.writer.add_scores(np.asarray([parts[0].sentence.index for parts, _ in done]), rows)
        for parts, _ in done:
            record = _sentence_record(parts)
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
            values, maps = engine.score(batch, store.maps_of(item, rows))
            store.add(item, todo, batch, rows, values, maps)
            progress.advance(task, len(item))
    state.check_end()


def _drive(batches, engine: Engine, store: _Store, progress, estimate: int) -> None:
    """Score the stream into the store; whatever happens, the manifest then records the end
    ('complete', 'interrupted' or 'failed', with the error) and the lock is released. A write
    error (disk full, ...) keeps what is committed: the run can be resumed."""
    status, error = "failed", None
    try:
        _score(batches, engine, store, progress, estimate)
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


def _set_up_torch(cfg: RunConfig) -> None:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
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
    metrics = resolve(cfg.analyses, cfg.metrics, cfg.options)
    _set_up_torch(cfg)
    annotator = front.annotator  # an annotator's model (spaCy) loads before the language model
    lm = load_model(cfg.model, device=cfg.device, dtype=cfg.dtype)
    collectors = CollectorSet.for_run(cfg, lm, collector_factories())  # batch-level accumulators (syntax, cluster)
    engine = Engine(lm, metrics, cfg.word_aggregation, collectors.attention, cfg.attention)
    manifest = _manifest(cfg, lm, annotator, front, metrics, engine)
    manifest["finalizers"] = {name: "pending" for name in finalizers(() if cfg.metrics else cfg.analyses)}
    fresh = Moments((len(metrics), lm.num_layers, lm.num_heads))
    out, state = resume.start(cfg.out, fresh, manifest, cfg.resume, lambda o: prepare_run_dir(o, cfg.overwrite))
    if state == resume.COMPLETE:  # same settings, every recorded file intact
        return _complete_already(cfg, out)
    store = _Store(out, state, manifest, cfg, lm, metrics, collectors, front.corpus, started)
    with closing(front.batches(lm.tokenizer, lm.max_tokens)) as batches:
        _drive(batches, engine, store, make_progress(cfg.progress), front.fingerprint[1])
    result = open_run(out)
    finalize(result, () if cfg.metrics else cfg.analyses)  # derived tables (e.g. roles) of the finished run
    return result
