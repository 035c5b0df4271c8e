"""Crash safety and ``--resume``: which parts of a run are committed, and what a resumed run skips.

Part commit rule. Part N is written as ``scores/part-N.parquet``, then ``sentences/part-N.parquet``,
then ``plan/part-N.json`` (each under a temporary name, then renamed), and only then does
``progress.json`` (rewritten atomically) record it: a part is committed when, and only when,
``progress.json`` counts it. Whatever a kill left beyond that (a scores part without its
sentences part, a sentences part or plan not yet recorded, any ``*.tmp-*`` file) is deleted on
resume and its sentences are computed again; nothing committed is ever computed again or lost.

``progress.json`` holds what the run had accumulated when its last part was committed: the head
moments (exact, mergeable), the counts, the maps found, how many stream steps (batches and
skipped items) the committed parts cover, and the size and sha256 of every committed file
(``store/integrity.py``). A resumed run starts from that state, so it ends with the same
sentences, scores and ``heads.parquet`` as a run that was never stopped.

Damaged parts. Resume first checks every committed file against its checksum. At the first
missing or damaged part k it drops parts k and later and starts from the state recorded with part
k-1 (``plan/part-(k-1).json`` keeps the state the run had after it), so those sentences are
computed again; a complete run with a damaged part is resumed the same way. Every option that
changes results, the weights' and each tokenizer file's sha256 and the corpus sha256 must equal the
stored ones (``differences``), for incomplete and complete runs alike; a refusal releases the lock.

The batch plan. Batches are a deterministic function of the corpus, the tokenizer and
``max_tokens``/``max_batch``/``sort_window``/``long``; ``plan/part-N.json`` records the steps of
each part (a batch as ``[[sentence_id, window], ...]``, a skipped item as its sentence id). On
resume the stream is formed again, each committed step is checked against the record (a
difference stops the resume) and skipped without a forward pass; the one exception is a batch
holding a window of a long sentence (``--long window``) whose other windows come later: that same
batch runs again and only those windows are kept. A run on a Ray cluster (``--engine ray``,
docs/scale.md) records blocks of corpus items as its steps (``{"block": [first id, last id,
size]}``); its parts always end with a block, so a committed block is passed over whole.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter
from datetime import datetime, timezone

import pyarrow.parquet as pq

from ..accumulate import Moments
from ..corpus.types import Skipped
from ..errors import RunStoreError
from . import integrity, layout
from .atomic import atomic_write_json
from .layout import COLLECT, HEADS, LOCK, MANIFEST, MAPS, PART_DIRS, PLAN, PROGRESS, SENTENCES
from .lock import acquire as _lock

# options that do not change what a run computes: they may differ on resume
FREE_OPTIONS = ("out", "overwrite", "resume", "progress", "threads", "keep_freed_memory", "annotation_cache", "cache_dir", "model",
                "part_size", "ray_address", "workers", "gpus_per_worker")
PART = layout.PART


def step_key(item) -> int | list | dict:
    """How the plan records a step: a skipped item's sentence id, a batch's [sentence_id, window]
    pairs, or a block of a scaled-out run as its own ``step_key()`` (runner/blocks.py)."""
    if isinstance(item, Skipped):
        return item.index
    if hasattr(item, "step_key"):
        return item.step_key()
    return [[e.sentence.index, e.window] for e in item]


def read_manifest(out: str) -> dict | None:
    path = os.path.join(out, MANIFEST)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as e:
        raise RunStoreError(f"cannot read {path}: {e}. The run cannot be resumed; start it again with --overwrite.") from e


def completed(out: str) -> bool:
    """True when ``out`` holds a complete run (``--resume`` then has nothing to do)."""
    m = read_manifest(os.path.abspath(out)) if os.path.isdir(out) else None
    return bool(m) and m.get("status") == "complete"


def differences(old: dict, new: dict) -> list[str]:
    """The fields that make ``new`` compute something else than the stored run ``old``."""
    def config(m: dict) -> dict:
        c = {k: v for k, v in m.get("config", {}).items() if k not in FREE_OPTIONS}
        c.setdefault("engine", "local")  # runs from before --engine were local
        if c["engine"] == "local":  # blocks are a scaled-out run's steps only
            c.pop("block_size", None)
        c["corpus"] = {k: v for k, v in (c.get("corpus") or {}).items() if k != "path"}
        return c

    pairs = {
        "format_version": (old.get("format_version"), new.get("format_version")),
        "model sha256": (old["model"].get("weights_sha256"), new["model"].get("weights_sha256")),
        "model tokenizer": _tokenizer(old["model"].get("tokenizer"), new["model"].get("tokenizer")),
        "corpus sha256": (old["corpus"].get("sha256"), new["corpus"].get("sha256")),
        "annotator": (old.get("annotator"), new.get("annotator")),
    }
    a, b = config(old), config(new)
    for k in sorted(set(a) | set(b)):
        pairs[k] = (a.get(k), b.get(k))
    return [f"{k} (stored {x!r}, now {y!r})" for k, (x, y) in pairs.items() if json.dumps(x, default=str) != json.dumps(y, default=str)]


def _tokenizer(old: dict | None, new: dict | None) -> tuple:
    """The stored and the current tokenizer description; a run from before tokenizer file hashes
    were recorded is compared on what it recorded (class, vocabulary size, lowercasing)."""
    if old is not None and new is not None and "files_sha256" not in old:
        warnings.warn("the stored run records no tokenizer file hashes (older headlens): only the tokenizer's class, "
                      "vocabulary size and lowercasing are compared.", stacklevel=4)
        new = {k: v for k, v in new.items() if k in old}
    return old, new


def clean_uncommitted(out: str, parts: int) -> list[str]:
    """Delete temporary files and the files of parts numbered ``parts`` or more; return their names."""
    removed = []
    collect = [os.path.join(COLLECT, c) for c in sorted(os.listdir(os.path.join(out, COLLECT)))] \
        if os.path.isdir(os.path.join(out, COLLECT)) else []
    for sub in ("", *PART_DIRS, MAPS, *collect):
        d = os.path.join(out, sub)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            m = PART.match(name)
            if layout.TMP in name or (sub not in ("", MAPS) and m and int(m.group(1)) >= parts):
                os.unlink(os.path.join(d, name))
                removed.append(os.path.join(sub, name))
    return removed


class ResumeState:
    """The accumulated state of a run, fresh or loaded from ``progress.json``, and the skip logic."""

    def __init__(self, out: str, moments: Moments, progress: dict | None = None, plan: list | None = None,
                 stored: set[int] | None = None):
        p = progress or {}
        self.out = out
        self.parts = p.get("parts", 0)
        self.moments = Moments.from_dict(p["moments"]) if "moments" in p else moments
        self.counts: Counter = Counter(p.get("counts", {}))
        self.skipped: Counter = Counter(p.get("skipped", {}))
        self.maps_found: set[str] = set(p.get("maps_found", []))
        self.files: dict[str, dict] = dict(p.get("files", {}))  # checksums of the committed files
        self.saved = {"counts": dict(self.counts), "skipped": dict(self.skipped)}  # as of the last committed part
        self.plan = plan or []  # the committed steps, checked and skipped on resume
        self.stored = stored or set()  # sentence ids in the committed parts
        self.seen = 0  # steps of the stream so far
        self.committed = len(self.plan)  # steps the committed parts cover
        self.pending: list = []  # steps since the last committed part
        self.lock = None  # the run directory's lock file, held while the run lives

    def release(self) -> None:
        if self.lock is not None:
            self.lock.close()
            self.lock = None

    def todo(self, item) -> list[int] | None:
        """None for a new step; for a committed step, the positions of its windows still to compute (mostly [])."""
        i, self.seen = self.seen, self.seen + 1
        if i >= len(self.plan):
            return None
        if step_key(item) != self.plan[i]:
            raise RunStoreError(
                f"cannot resume {self.out}: step {i} of the batch plan differs from the recorded one "
                f"(recorded {str(self.plan[i])[:200]}, now {str(step_key(item))[:200]}); the corpus reading or the "
                "tokenizer behaves differently than in the first session. Start the run again with --overwrite."
            )
        if isinstance(item, Skipped) or hasattr(item, "step_key"):  # a block's parts end with it: all stored
            return []
        return [j for j, e in enumerate(item) if e.sentence.index not in self.stored]

    def done(self, item, todo: list[int] | None) -> None:
        """A step's results are in the open part (a new step joins the part's plan)."""
        if todo is None:
            self.pending.append(step_key(item))

    def check_end(self) -> None:
        if self.seen < len(self.plan):
            raise RunStoreError(
                f"cannot resume {self.out}: the corpus ended after {self.seen} steps but the run recorded "
                f"{len(self.plan)}. Start the run again with --overwrite."
            )

    def commit(self, parts: int) -> None:
        """After part ``parts - 1`` is written: record its plan (with the state it ends in), then the
        progress, with the checksums of the part's files, that commits it."""
        snapshot = {"counts": dict(self.counts), "skipped": dict(self.skipped), "maps_found": sorted(self.maps_found),
                    "moments": self.moments.to_dict()}
        atomic_write_json(layout.part_path(self.out, PLAN, parts - 1), {"steps": self.pending, "state": snapshot})
        files = {**self.files, **integrity.record(self.out, integrity.part_files(self.out, parts - 1))}
        atomic_write_json(os.path.join(self.out, PROGRESS), {"parts": parts, "steps": self.committed + len(self.pending),
                                                             **snapshot, "files": files})
        self.committed += len(self.pending)
        self.pending = []
        self.parts = parts
        self.files = files
        self.saved = {"counts": snapshot["counts"], "skipped": snapshot["skipped"]}


COMPLETE = "complete"  # what ``start`` returns as the state of an intact complete run: nothing to do


def start(out: str, moments: Moments, manifest: dict, resume: bool, prepare) -> tuple[str, ResumeState | str]:
    """The run directory and the state a run starts from: ``prepare(out)`` for a new run, else the
    stored one (``COMPLETE`` for an intact complete run with the same settings). The directory's lock
    is held on return, and released on any refusal."""
    if not resume:
        out = prepare(out)
        os.makedirs(os.path.join(out, PLAN))
        state = ResumeState(out, moments)
        state.lock = _lock(out)
        return out, state
    out = os.path.abspath(out)
    if not os.path.isdir(out):
        raise RunStoreError(f"{out} does not exist, so there is no run to resume: drop --resume to start it.")
    lock = _lock(out)
    try:
        old = read_manifest(out)
        if old is None:
            if any(f != LOCK for _, _, files in os.walk(out) for f in files):
                raise RunStoreError(f"{out} has no {MANIFEST}: it is not a headlens run. Choose another --out.")
            lock.close()
            os.unlink(os.path.join(out, LOCK))
            for sub in PART_DIRS:  # stopped before its first batch: start afresh
                if os.path.isdir(os.path.join(out, sub)):
                    os.rmdir(os.path.join(out, sub))
            return start(out, moments, manifest, False, prepare)
        state = _resumed(out, old, moments, manifest)
    except BaseException:
        lock.close()
        raise
    if state == COMPLETE:
        lock.close()
    else:
        state.lock = lock
    return out, state


def _resumed(out: str, old: dict, moments: Moments, manifest: dict) -> ResumeState | str:
    """The state to continue ``out`` from, after checking its settings and its committed files."""
    diff = differences(old, manifest)
    if diff:
        raise RunStoreError(
            f"cannot resume {out}: it was {'completed' if old.get('status') == COMPLETE else 'started'} with other "
            f"settings: {'; '.join(diff)}. Resume with the options, model and corpus it was started with (see its "
            f"{MANIFEST}), or start a new run with another --out (or --overwrite)."
        )
    progress = integrity.read_progress(out)
    progress, damaged = _intact(out, progress)
    if old.get("status") == COMPLETE and not damaged:
        heads = integrity.check_files(out, old.get("files") or {}, only=(HEADS,))
        if not heads and (progress is not None or "files" not in old):
            return COMPLETE
    parts = (progress or {}).get("parts", 0)
    removed = clean_uncommitted(out, parts)
    if damaged:
        warnings.warn(f"resuming {out}: {'; '.join(str(p) for p in damaged)}; the sentences of part {parts} and later "
                      "parts are computed again.", stacklevel=3)
    elif removed:
        warnings.warn(f"resuming {out}: dropped uncommitted files {', '.join(removed)}; their sentences are computed again.", stacklevel=3)
    plan, stored = [], set()
    n = 0
    try:
        for n in range(parts):
            with open(layout.part_path(out, PLAN, n), encoding="utf-8") as fh:
                plan.extend(json.load(fh)["steps"])
            table = pq.read_table(layout.part_path(out, SENTENCES, n), columns=["sentence_id"])
            stored.update(table["sentence_id"].to_pylist())
    except (OSError, ValueError, KeyError) as e:
        raise RunStoreError(f"cannot resume {out}: committed part {n} is unreadable ({e}); the run directory was "
                            "changed by hand. Start it again with --overwrite.") from e
    if len(plan) != (progress or {}).get("steps", 0):
        raise RunStoreError(f"cannot resume {out}: {PLAN}/ holds {len(plan)} steps but {PROGRESS} records "
                            f"{(progress or {}).get('steps')}; the run directory was changed by hand. Start it again with --overwrite.")
    for sub in PART_DIRS:
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    manifest["started"] = old.get("started", manifest["started"])
    kept = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "parts_kept": parts, "items_kept": len(stored)}
    if damaged:
        kept["recomputed"] = [str(p) for p in damaged]
    manifest["resumed"] = [*old.get("resumed", []), kept]
    return ResumeState(out, moments, progress, plan, stored)


def _intact(out: str, progress: dict | None) -> tuple[dict | None, list]:
    """``progress`` cut back to the parts before the first missing or damaged one, and the problems found.

    The state a run had after part k-1 is in ``plan/part-(k-1).json``; a run written before that
    state was recorded cannot restart in the middle and is refused, naming the damaged file."""
    parts = (progress or {}).get("parts", 0)
    if not parts:
        return progress, []
    index = progress.get("files")
    if index is None:  # an older run: only whether the part files exist can be checked
        damaged = [integrity.Problem(layout.part_file(d, n), "missing") for n in range(parts) for d in PART_DIRS
                   if not os.path.exists(layout.part_path(out, d, n))]
    else:
        damaged = integrity.check_files(out, index)
    if not damaged:
        return progress, []
    first = min(layout.part_number(p.file) for p in damaged)
    if first == 0:
        return None, damaged
    try:
        with open(layout.part_path(out, PLAN, first - 1), encoding="utf-8") as fh:
            state = json.load(fh)["state"]
    except (OSError, ValueError, KeyError) as e:
        raise RunStoreError(f"cannot resume {out}: {'; '.join(str(p) for p in damaged)}, and this run (written by an "
                            f"older headlens) recorded no state to restart from part {first} ({e}). Start it again "
                            "with --overwrite.") from e
    steps = 0
    for n in range(first):
        with open(layout.part_path(out, PLAN, n), encoding="utf-8") as fh:
            steps += len(json.load(fh)["steps"])
    keep = {f: v for f, v in (index or {}).items() if layout.part_number(f) < first}
    return {"parts": first, "steps": steps, **state, "files": keep}, damaged
