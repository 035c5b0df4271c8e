"""``headlens ablate``: remove heads or layers of a fine-tuned classifier and score its dev set.

The dev set is cut into length-sorted batches once (the lengths come from a first tokenization,
a chunk of examples at a time, of which only the lengths are kept); each batch is encoded when it
runs, so the sweep holds one batch encoded, not the dev set (issue 16). For each batch the
unablated model runs once (its predictions are the baseline, its layer outputs are kept for the
replay of the layers below an ablation), then the ablations run stacked: as many copies of the
batch as ``max_tokens`` allows go through one forward pass, each copy without its own heads
(:mod:`.hooks`). Ablations are grouped by their first layer so that a pass replays the layers
below it instead of recomputing them.

Resumable: each batch's predictions (every ablation and the baseline) are written to
``OUT/parts/batch-NNNNN.parquet`` atomically as the batch finishes; ``--resume`` keeps the
finished parts and computes the others. The settings are recorded in ``OUT/sweep.json`` when
the sweep starts, and a resume with other settings is refused with the fields that differ. The
packing of ablations into passes depends only on the settings and the batch, so a resumed
sweep computes exactly what an uninterrupted one does.

The statistics then read the parts once, one at a time (:class:`.streamed.AblationSums`, then
:func:`.results.sums_table`), whatever the dev set's size.

Outputs: ``ablations.parquet`` (one row per ablation and metric, see :mod:`.results`),
``params.json`` (written last: a directory without it is unfinished), ``sweep.json``,
``parts/`` (per-example predictions) and, for ``mode='mean'``, ``head_means.npy``.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from ...lazy import torch  # imported on first use (headlens.lazy): the analysis registers without torch

from ...errors import ConfigError, RunStoreError, param_error
from ...finetune.card import read_card
from ...finetune.classifier import collate, encode, load_classifier
from ...finetune.data import Columns, Examples, read_examples
from ...finetune.evaluate import classifier_labels
from ...finetune.scores import confusion_scores
from ...corpus.reader import fingerprint
from ...models.adapters import adapter_for
from ...models.loading import DTYPES, resolve_device, sha256_files, weight_files
from ...runner.progress import make_progress
from ...store.atomic import atomic_write, atomic_write_json, atomic_write_parquet
from ...store.layout import PARAMS
from ...store.publish import check_new_dir
from .hooks import AblationHooks
from .options import AblationStats
from ...stats.equivalence import VERDICTS
from .parts import PARTS, iter_parts, part_path, read_part, write_part
from .results import detectable, sums_table
from .spec import MODES, Ablation, sweep_ablations
from .streamed import AblationSums, ci_method

SWEEP, MEANS, TABLE = "sweep.json", "head_means.npy", "ablations.parquet"
LENGTH_CHUNK = 4096  # examples tokenized at once for their lengths
DEFAULT_MAX_LENGTH = 128
# settings that do not change what the sweep computes: they may differ on --resume
FREE = ("out", "resume", "progress", "threads")


@dataclass
class AblationConfig:
    """One ablation sweep (all fields but ``FREE`` ones are recorded and checked on resume)."""

    model: str
    dev: str
    columns: str | Columns
    out: str
    heads: str | None = None  # "all" or "L:H,L:H" (0-based)
    layers: str | None = None  # "all" or "0,3" (0-based)
    mode: str = "uniform"
    labels: tuple[str, ...] | None = None  # must equal the classifier's labels when given
    format: str = "auto"
    batch_size: int = 32
    max_length: int | None = None  # None: the fine-tuning max length from the model card, else 128
    max_tokens: int = 8192  # token budget of one stacked pass (copies x batch rows x longest row)
    device: str = "cpu"
    dtype: str = "float32"
    stats: AblationStats = field(default_factory=AblationStats)
    resume: bool = False
    threads: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        owner = "AblationConfig"
        if self.mode not in MODES:
            raise param_error(owner, "mode", f"one of {MODES}", self.mode)
        if self.dtype not in DTYPES:
            raise param_error(owner, "dtype", f"one of {sorted(DTYPES)}", self.dtype)
        for name in ("batch_size", "max_tokens"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise param_error(owner, name, "an int in the range [1, inf)", v)
        if self.max_length is not None and (not isinstance(self.max_length, int) or self.max_length < 8):
            raise param_error(owner, "max_length", "an int >= 8 or None", self.max_length)
        if not isinstance(self.columns, Columns):
            self.columns = Columns.parse(str(self.columns))
        self.stats = AblationStats.coerce(self.stats, owner, "stats")  # an AblationStats, a dict of its fields or None

    def recorded(self) -> dict:
        d = asdict(self)
        d["columns"] = str(self.columns)
        d["labels"] = list(self.labels) if self.labels else None
        d["stats"] = self.stats.to_dict()
        return d


@dataclass
class AblationResult:
    out: str
    table: pa.Table
    params: dict


def _lengths(tokenizer, examples: Examples, max_length: int) -> np.ndarray:
    """Tokens per example, tokenized a chunk at a time (the ids are not kept)."""
    out = np.zeros(len(examples), dtype=np.int64)
    for s in range(0, len(examples), LENGTH_CHUNK):
        rows = encode(tokenizer, examples.take(range(s, min(s + LENGTH_CHUNK, len(examples)))), max_length)
        out[s:s + len(rows)] = [len(r["input_ids"]) for r in rows]
    return out


def _batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Length-sorted batches of example indices, cut once for the whole sweep."""
    order = np.argsort(lengths, kind="stable")
    return [order[s:s + batch_size] for s in range(0, len(order), batch_size)]


def _inputs(tokenizer, examples: Examples, idx: np.ndarray, max_length: int, device: torch.device) -> dict:
    """One batch encoded and collated."""
    return collate(encode(tokenizer, examples.take(idx), max_length), tokenizer.pad_token_id or 0, device)


def _passes(ablations: list[Ablation], copies: int) -> list[list[int]]:
    """Ablation indices per stacked pass: grouped by first layer, at most ``copies`` per pass."""
    groups: dict[int, list[int]] = {}
    for k, a in enumerate(ablations):
        groups.setdefault(a.first_layer, []).append(k)
    return [idx[s:s + copies] for first in sorted(groups) for idx in [groups[first]]
            for s in range(0, len(idx), copies)]


def _masks(ablations: list[Ablation], chosen: list[int], layers: int, heads: int) -> torch.Tensor:
    masks = torch.zeros(layers, len(chosen), heads, dtype=torch.bool)
    for copy, k in enumerate(chosen):
        for layer, head in ablations[k].heads:
            masks[layer, copy, head] = True
    return masks


def _save_means(path: str, means: np.ndarray) -> None:
    def write(tmp: str) -> None:
        buf = io.BytesIO()
        np.save(buf, means)
        with open(tmp, "wb") as fh:
            fh.write(buf.getvalue())

    atomic_write(path, write)


def _start(cfg: AblationConfig, record: dict) -> str:
    """Create ``out`` with sweep.json, or check it against the recorded sweep on --resume."""
    out = os.path.abspath(cfg.out)
    if not cfg.resume:
        _refuse_existing(cfg.out)
        os.makedirs(os.path.join(out, PARTS), exist_ok=True)
        atomic_write_json(os.path.join(out, SWEEP), record)
        return out
    _check_resume(cfg, _read_sweep(cfg.out), record)
    os.makedirs(os.path.join(out, PARTS), exist_ok=True)
    return out


def _refuse_existing(out: str) -> None:
    if os.path.exists(os.path.join(out, SWEEP)):
        raise ConfigError(f"{out} holds an ablation sweep already; continue it with --resume, or choose another --out.")
    check_new_dir(os.path.abspath(out), "ablation sweep")


def _read_json(out: str, name: str, error: Exception) -> dict:
    path = os.path.join(out, name)
    if not os.path.exists(path):
        raise error
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _read_sweep(out: str) -> dict:
    return _read_json(out, SWEEP, ConfigError(f"--resume: {out} holds no ablation sweep ({SWEEP} is missing); "
                                              "start it without --resume."))


def _check_resume(cfg: AblationConfig, old: dict, new: dict, config_only: bool = False) -> None:
    """ConfigError naming the settings that differ from the recorded sweep."""
    strip = lambda d: {k: v for k, v in d.get("config", {}).items() if k not in FREE}  # noqa: E731
    a, b = strip(old), strip(new)
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if not config_only:
        diff += [k for k in ("weights_sha256", "dev_sha256", "ablations") if old.get(k) != new.get(k)]
    if diff:
        raise ConfigError(f"--resume: the sweep in {cfg.out} was started with other settings ({', '.join(diff)} differ); "
                          "resume it with the same options, or start a new sweep in another --out.")


def ablate(config: AblationConfig | None = None, **options) -> AblationResult:
    """Run (or resume) the sweep described by ``config``; write and return its table and params."""
    cfg = config if config is not None else AblationConfig(**options)
    if cfg.resume and os.path.exists(os.path.join(cfg.out, PARAMS)):  # finished: nothing to compute
        _check_resume(cfg, _read_sweep(cfg.out), {"config": cfg.recorded()}, config_only=True)
        return load_result(cfg.out)
    if not cfg.resume:
        _refuse_existing(cfg.out)  # before the model is loaded
    t0 = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    model, tokenizer, path = load_classifier(cfg.model)  # refuses a checkpoint without a trained head
    labels = classifier_labels(model)
    if cfg.labels is not None and tuple(cfg.labels) != labels:
        raise ConfigError(f"--labels {','.join(cfg.labels)} differ from the classifier's labels {','.join(labels)} "
                          f"(config.json id2label of {cfg.model}); leave --labels out or give them in that order.")
    try:  # the head outputs are replaced after the attention: any implementation gives the same ablation
        model.set_attn_implementation("sdpa")
    except Exception:  # noqa: BLE001 - families without SDPA keep eager attention
        pass
    model.to(device=device, dtype=DTYPES[cfg.dtype]).eval()
    config = model.config
    num_layers, num_heads = int(config.num_hidden_layers), int(config.num_attention_heads)
    ablations = sweep_ablations(cfg.heads, cfg.layers, num_layers, num_heads)
    card = read_card(path) or {}
    max_length = cfg.max_length or int((card.get("hyperparameters") or {}).get("max_length") or DEFAULT_MAX_LENGTH)
    examples = read_examples(cfg.dev, cfg.columns, labels, cfg.format)
    batches = _batches(_lengths(tokenizer, examples, max_length), cfg.batch_size)
    inputs = lambda idx: _inputs(tokenizer, examples, idx, max_length, device)  # noqa: E731
    record = {"config": cfg.recorded(), "model_path": path, "weights_sha256": sha256_files(weight_files(path)),
              "dev_sha256": fingerprint(cfg.dev, "tsv")[0], "max_length": max_length,
              "ablations": [a.label for a in ablations]}
    out = _start(cfg, record)
    hooks = AblationHooks(model, adapter_for(config.model_type), num_layers, num_heads, cfg.mode)
    y = np.asarray(examples.labels, dtype=np.int64)
    computed = _predict(hooks, batches, inputs, ablations, cfg, out, len(y))
    sums = AblationSums(len(y), len(ablations), len(labels), cfg.stats).read(iter_parts(out, len(batches), len(ablations)), y)
    table, families = sums_table(sums, y, ablations, cfg.mode, len(labels), cfg.stats)
    base = confusion_scores(sums.counts[0])
    k, effect = detectable(len(y), len(ablations), cfg.stats.alpha, cfg.stats.correction)
    params = {
        **record, "labels": list(labels), "n": int(len(y)), "mode": cfg.mode, "num_layers": num_layers, "num_heads": num_heads,
        "base_scores": base, "model_card_dev_scores": card.get("dev_scores"),
        "batches": len(batches), "batches_computed_now": computed, "seconds_now": round(time.perf_counter() - t0, 1),
        "device": str(device), "threads": torch.get_num_threads(),
        "detectable": {"accuracy_changed_predictions": k, "accuracy_change": effect,
                       "rule": "exact McNemar smallest p 2 * 0.5**d must reach alpha / m (BH's first rejection)"},
        "decision_rule": f"helps / hurts: the corrected test rejects and |delta| > {cfg.stats.min_effect}",
        "underpowered_rule": f"n < {cfg.stats.min_n}; or no rejection and either the CI contains both "
                             f"-{cfg.stats.min_effect} and +{cfg.stats.min_effect} or the detectable accuracy change "
                             f"exceeds {cfg.stats.min_effect}",
        "families": families, "delta": "ablated - base", "ci_method": ci_method(len(y), cfg.stats),
        "counts": {m: {d: int(sum(1 for r in table.to_pylist() if r["metric"] == m and r["decision"] == d))
                       for d in ("helps", "hurts", "none")} for m in cfg.stats.metrics},
        "equivalence_rule": f"equivalent: the corrected TOST rejects |ablated - base| >= margin {cfg.stats.min_effect} "
                            "(accuracy: paired t TOST of per-example correctness; F1, MCC: bootstrap TOST)",
        "verdicts": {m: {v: int(sum(1 for r in table.to_pylist() if r["metric"] == m and r["verdict"] == v))
                         for v in VERDICTS} for m in cfg.stats.metrics},
    }
    atomic_write_parquet(os.path.join(out, TABLE), table)
    atomic_write_json(os.path.join(out, PARAMS), params)
    return AblationResult(out, table, params)


def _predict(hooks: AblationHooks, batches: list[np.ndarray], inputs, ablations: list[Ablation], cfg: AblationConfig,
             out: str, n: int) -> int:
    """Write every batch's part that is not finished yet (``inputs(idx)``: a batch encoded); return how
    many batches were computed now."""
    computed = 0
    with torch.inference_mode(), hooks.attached():
        if cfg.mode == "mean":
            hooks.means = _head_means(hooks, out, (inputs(idx) for idx in batches))
        with make_progress(cfg.progress) as progress:
            task = progress.add_task(f"ablate ({cfg.mode})", total=n * (len(ablations) + 1))
            for b, idx in enumerate(batches):
                part = part_path(out, b)
                if os.path.exists(part) and read_part(part, idx, len(ablations)) is not None:
                    progress.advance(task, len(idx) * (len(ablations) + 1))
                    continue
                done = _run_batch(hooks, inputs(idx), ablations, cfg.max_tokens, hooks.num_layers, hooks.num_heads,
                                  lambda k: progress.advance(task, k))
                write_part(part, idx, done)
                computed += 1
    return computed


def _head_means(hooks: AblationHooks, out: str, batches: Iterator[dict]) -> torch.Tensor:
    """Mean ablation's per-head mean outputs: computed in a first pass, stored, reused on resume."""
    path = os.path.join(out, MEANS)
    if os.path.exists(path):
        means = np.load(path)
    else:
        means = hooks.head_means(batches).cpu().numpy()
        _save_means(path, means)
    device = next(hooks.model.parameters()).device
    return torch.from_numpy(means).to(device)


def _run_batch(hooks: AblationHooks, inputs: dict, ablations: list[Ablation], max_tokens: int, layers: int, heads: int,
               advance) -> np.ndarray:
    """[ablations + 1, rows] predictions of one batch: the baseline, then every ablation."""
    rows, length = inputs["input_ids"].shape
    pred = np.zeros((len(ablations) + 1, rows), dtype=np.int64)
    replay = any(a.first_layer > 0 for a in ablations)
    logits, outputs = hooks.unablated(inputs, keep_layers=replay)
    pred[0] = logits.argmax(-1).cpu().numpy()
    advance(rows)
    copies = max(1, max_tokens // (rows * length))
    for chosen in _passes(ablations, copies):
        logits = hooks.ablated(inputs, _masks(ablations, chosen, layers, heads), outputs)
        pred[np.asarray(chosen) + 1] = logits.argmax(-1).view(len(chosen), rows).cpu().numpy()
        advance(rows * len(chosen))
    return pred


def load_result(out: str) -> AblationResult:
    """A finished sweep's table and params."""
    params = _read_json(out, PARAMS, RunStoreError(f"{out} holds no finished ablation sweep ({PARAMS} is missing); "
                                                   "run or --resume it."))
    return AblationResult(os.path.abspath(out), pq.read_table(os.path.join(out, TABLE)), params)
