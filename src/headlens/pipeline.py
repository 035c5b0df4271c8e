"""The main job: corpus -> annotation -> alignment -> batched forward passes with metrics -> run store."""

from __future__ import annotations

import os
import platform
import time
import warnings
from itertools import chain
from collections import Counter
from datetime import datetime, timezone
from importlib import metadata

import numpy as np
import torch

from .accumulate import Moments
from .align.encode import Encoded, Encoder
from .annotate import Annotation, AnnotationCache, make_annotator
from .config import RunConfig
from .corpus.reader import Corpus, fingerprint
from .corpus.types import Skipped
from .errors import CorpusError, RunStoreError
from .analyses.registry import collectors as collector_factories, finalize, resolve
from .models import load_model
from .collect import CollectorSet
from .runner import Engine, plan_batches
from .runner.allocator import keep_freed_memory
from .runner.maps import map_arrays, map_name
from .runner.masking import mask_stream
from .runner.windows import WindowCombiner
from .runner.progress import make_progress
from .store import Run, RunWriter, integrity, layout, open_run, prepare_run_dir, resume
from .store.atomic import WriteError
from .store.catalog import register_run
from .store.tables import heads_table

FORMAT_VERSION = 1
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


def _manifest(cfg: RunConfig, lm, annotator, spec, corpus_sha: str, metrics) -> dict:
    """The run's provenance, written with status 'running' before the first batch."""
    return {
        "format_version": FORMAT_VERSION,
        "status": "running",
        "started": _now(),
        "finished": None,
        "error": None,
        "model": lm.describe(),
        "annotator": annotator.describe() if annotator else {"name": "gold", "scheme": "ud"},
        "corpus": {"path": spec.path, "sha256": corpus_sha, "format": spec.resolved_format, "spec": spec.to_dict()},
        "analyses": list(cfg.analyses),
        "metrics": [{"name": m.name, "level": m.level, "analysis": m.analysis, "description": m.description} for m in metrics],
        "word_aggregation": cfg.word_aggregation,
        "special_tokens": SPECIAL_TOKENS_POLICY,
        "config": cfg.to_dict(),
        "versions": package_versions(),
        "counts": {},
        integrity.INTEGRITY: integrity.INTEGRITY_NOTE,
        "tables": dict(layout.TABLE_DOCS),
    }


def _store_sentences(done: list, writer: RunWriter, moments: Moments, counts: Counter) -> None:
    """Accumulate and write the scores and records of the sentences a batch completed."""
    if not done:
        return
    rows = np.stack([row for _, row in done])
    moments.update(rows)
    writer.add_scores(np.asarray([parts[0].sentence.index for parts, _ in done]), rows)
    for parts, _ in done:
        record = _sentence_record(parts)
        writer.add_sentence(record)
        counts["analysed"] += 1
        counts["tokens"] += record["n_tokens"]
        counts["truncated"] += record["truncated"]
        counts["windowed"] += record["windows"] > 1
        counts["words_without_tokens"] += record["words_without_tokens"]


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


def run(config: RunConfig | None = None, **options) -> Run:
    """Run the analyses of ``config`` (or of ``RunConfig(**options)``) and return the stored Run.

    >>> import headlens
    >>> run = headlens.run(out="runs/demo", overwrite=True)          # doctest: +SKIP
    >>> run.top_heads("prev", k=3)                                     # doctest: +SKIP
    """
    cfg = config if config is not None else RunConfig(**options)
    t0 = time.perf_counter()
    spec = cfg.corpus_spec
    corpus = Corpus(spec)  # checks the path before anything slow
    items = iter(corpus)
    first = next(items, None)  # refuse an empty corpus before anything is written
    if first is None:
        raise CorpusError(
            f"no sentences: the corpus has {corpus.blank_lines} blank lines and nothing else. "
            "Check the file, --format and the column/field options.",
            path=spec.path,
        )
    metrics = resolve(cfg.analyses, cfg.metrics, cfg.options)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.keep_freed_memory:
        keep_freed_memory()
    annotator = make_annotator(cfg.annotator, spec.resolved_format, cfg.spacy_model)
    lm = load_model(cfg.model, device=cfg.device, dtype=cfg.dtype)
    collectors = CollectorSet.for_run(cfg, lm, collector_factories())  # batch-level accumulators of analyses that need them (syntax, cluster)
    corpus_sha, estimate = fingerprint(spec.path, spec.resolved_format)
    if spec.limit:
        estimate = min(estimate, spec.limit)
    names = [m.name for m in metrics]
    engine = Engine(lm, metrics, cfg.word_aggregation, collectors.attention, cfg.attention)
    manifest = _manifest(cfg, lm, annotator, spec, corpus_sha, metrics)
    manifest["attention"] = {"path": engine.path, "why": engine.path_reason, "metrics": engine.metric_paths()}
    fresh = Moments((len(metrics), lm.num_layers, lm.num_heads))
    out, state = resume.start(cfg.out, fresh, manifest, cfg.resume, lambda o: prepare_run_dir(o, cfg.overwrite))
    if state == resume.COMPLETE:  # same settings, every recorded file intact
        warnings.warn(f"{cfg.out} is complete already: --resume has nothing to do.", stacklevel=2)
        result = open_run(out)
        result.note = f"{cfg.out} is complete already: nothing to resume (use --overwrite to run it again)."
        return result
    writer = RunWriter(out, names, part_size=cfg.part_size)
    writer.parts = state.parts
    writer.on_commit = collectors.on_commit(out, state.commit)  # a part counts once progress.json records it
    try:
        writer.write_manifest(manifest)
    except BaseException:
        state.release()
        raise
    register_run(out)  # listed (status running) while it runs: `headlens runs list --all`

    moments, counts, skipped, maps_found = state.moments, state.counts, state.skipped, state.maps_found
    maps_wanted = set(cfg.store_maps)
    status = "failed"
    write_error: WriteError | None = None
    cache = None
    progress = make_progress(cfg.progress)
    try:  # from here on, whatever happens, the manifest records the end and the lock is released
        cache = AnnotationCache(cfg.cache_dir) if annotator is not None and cfg.annotation_cache else None
        replace_gold = annotator is not None and spec.resolved_format == "conllu"
        annotated = chain([first], items)
        if annotator:
            annotated = Annotation(annotator, cache, replace_gold=replace_gold).stream(annotated)
        encoder = Encoder(lm.tokenizer, lm.max_tokens, cfg.long)
        windows = WindowCombiner()
        with progress:
            task = progress.add_task("headlens run", total=estimate or None)
            for item in plan_batches(mask_stream(encoder.stream(annotated), cfg.mask_rate, lm.tokenizer), cfg.max_tokens, cfg.max_batch, cfg.sort_window):
                todo = state.todo(item)  # None: a new step; a list: a step committed before a resume
                if isinstance(item, Skipped):
                    if todo is None:
                        skipped[item.reason] += 1
                        writer.add_sentence(_sentence_record(item))
                        state.done(item, todo)
                    progress.advance(task)
                    continue
                if todo == []:  # stored before the run was stopped
                    progress.advance(task, len(item))
                    continue
                batch = engine.batch(item)
                rows = range(len(item)) if todo is None else todo
                keep = [i for i in rows if maps_wanted and _map_names(item[i], maps_wanted)]
                for i in keep:
                    maps_found.update(_map_names(item[i], maps_wanted))
                values, maps = engine.score(batch, keep)
                state.storing = True
                new = item if todo is None else [item[i] for i in todo]
                _store_sentences(windows.add(new, values if todo is None else values[todo]), writer, moments, counts)
                collectors.add(batch, rows)
                for row, attention in maps.items():
                    writer.write_maps(map_name(item[row]), map_arrays(item[row], attention, lm.tokenizer, cfg.word_aggregation))
                state.done(item, todo)
                writer.end_batch()
                progress.advance(task, len(item))
        state.check_end()
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except WriteError as e:  # disk full or another write error: what is committed stays, resumable
        write_error = e
        manifest["error"] = f"{type(e).__name__}: {e}"
        raise _failed(out, e, state) from e
    except Exception as e:
        manifest["error"] = f"{type(e).__name__}: {e}"
        raise
    finally:
        # finished batches are kept even when the run stops early; a batch cut while being stored is not
        try:
            writer.discard() if state.storing or write_error else writer.flush()
        except WriteError as e:
            write_error, status = e, "failed"
            manifest["error"] = f"{type(e).__name__}: {e}"
            writer.discard()
        if write_error or state.storing:  # the open part was dropped: count what is committed
            counts, skipped = Counter(state.saved["counts"]), Counter(state.saved["skipped"])
        if cache is not None:
            cache.close()
        elapsed = time.perf_counter() - t0
        manifest["counts"] = {
            "read": counts["analysed"] + sum(skipped.values()),
            "analysed": counts["analysed"],
            "skipped": sum(skipped.values()),
            "skipped_by_reason": dict(skipped),
            "blank_lines": corpus.blank_lines,
            "tokens": counts["tokens"],
            "truncated": counts["truncated"],
            "windowed": counts["windowed"],
            "words_without_tokens": counts["words_without_tokens"],
        }
        manifest["maps"] = {"requested": list(cfg.store_maps), "not_found": sorted(maps_wanted - maps_found)}
        manifest["seconds"] = round(elapsed, 3)
        manifest["sentences_per_second"] = round(counts["analysed"] / elapsed, 2) if elapsed > 0 else None
        write_error = _end(writer, state, manifest, status, write_error,
                           lambda: heads_table(moments, names, [m.level for m in metrics]))
        register_run(out)  # the runs catalog of the parent directory; a failure only warns
    if write_error is not None:  # a write failed while the run was being closed
        raise _failed(out, write_error, state) from write_error
    result = open_run(out)
    finalize(result, () if cfg.metrics else cfg.analyses)  # derived tables (e.g. roles) of the finished run
    return result
