"""Fine-tune an encoder for sentence or sentence-pair classification; write a Hugging Face checkpoint.

The loop is plain PyTorch (AdamW, linear warm-up then linear decay, dropout on, shuffled
batches padded to their longest row): the same seed, data and settings give the same model on
the same machine. The output directory is a standard ``AutoModelForSequenceClassification``
checkpoint plus ``README.md`` (the model card: data, hyper-parameters, dev scores against the
majority baseline) and ``headlens_finetune.json`` (the same, machine-readable, with the loss of
every step). It is written under a temporary name and renamed when complete; an existing
non-empty ``out`` is never replaced.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..corpus.reader import fingerprint
from ..errors import ConfigError, param_error
from ..store.publish import check_new_dir, publish_dir
from ..runner.progress import make_progress
from .card import write_card
from .classifier import collate, encode, new_classifier, predict
from .data import Columns, Examples, read_examples
from .scores import classification_scores, majority_baseline


@dataclass
class FinetuneConfig:
    """Settings of one fine-tuning job (all recorded in the model card)."""

    model: str
    train: str
    dev: str
    columns: str | Columns
    out: str
    labels: tuple[str, ...] | None = None  # class order; None: the training file's labels, sorted
    format: str = "auto"
    seed: int = 0
    epochs: int = 3
    batch_size: int = 32
    lr: float = 3e-5
    max_length: int = 128
    subsample: int | None = None
    warmup: float = 0.1
    weight_decay: float = 0.01
    threads: int | None = None
    device: str = "cpu"
    progress: bool = True
    _columns: Columns = field(init=False, repr=False)

    def __post_init__(self) -> None:
        owner = "FinetuneConfig"
        self._columns = self.columns if isinstance(self.columns, Columns) else Columns.parse(str(self.columns))
        for name in ("epochs", "batch_size", "max_length"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise param_error(owner, name, "an int in the range [1, inf)", v)
        if self.subsample is not None and (not isinstance(self.subsample, int) or self.subsample < 2):
            raise param_error(owner, "subsample", "an int >= 2 or None", self.subsample)
        if not 0 < self.lr < 1:
            raise param_error(owner, "lr", "a float in (0, 1)", self.lr)
        if not 0 <= self.warmup < 1:
            raise param_error(owner, "warmup", "a fraction of the steps in [0, 1)", self.warmup)
        if self.labels is not None:
            self.labels = tuple(str(x).strip() for x in self.labels)
            if len(set(self.labels)) != len(self.labels) or len(self.labels) < 2:
                raise param_error(owner, "labels", "at least two distinct labels", self.labels)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("_columns", None)
        d["columns"] = str(self._columns)
        return d


@dataclass
class FinetuneResult:
    out: str
    labels: tuple[str, ...]
    losses: list[float]
    dev: dict
    majority: dict
    seconds: float
    train_rows: int


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _schedule(optimizer, total: int, warmup: float):
    warm = int(total * warmup)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total - step) / max(1, total - warm))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _train(model, tokenizer, train: Examples, cfg: FinetuneConfig) -> list[float]:
    device = torch.device(cfg.device)
    rows = encode(tokenizer, train, cfg.max_length)
    labels = torch.tensor(train.labels)
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)], "weight_decay": cfg.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    try:  # the fused kernel is several times faster on CPU than the per-tensor loop
        optimizer = torch.optim.AdamW(groups, lr=cfg.lr, fused=True)
    except (RuntimeError, TypeError):
        optimizer = torch.optim.AdamW(groups, lr=cfg.lr)
    per_epoch = (len(rows) + cfg.batch_size - 1) // cfg.batch_size
    scheduler = _schedule(optimizer, per_epoch * cfg.epochs, cfg.warmup)
    generator = torch.Generator().manual_seed(cfg.seed)
    losses: list[float] = []
    model.to(device).train()
    with make_progress(cfg.progress) as progress:
        task = progress.add_task("fine-tuning", total=per_epoch * cfg.epochs)
        for epoch in range(cfg.epochs):
            order = torch.randperm(len(rows), generator=generator).tolist()
            for start in range(0, len(order), cfg.batch_size):
                idx = order[start:start + cfg.batch_size]
                batch = collate([rows[i] for i in idx], tokenizer.pad_token_id or 0, device)
                loss = model(**batch, labels=labels[idx].to(device)).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(float(loss.detach()))
                progress.update(task, advance=1, description=f"fine-tuning epoch {epoch + 1}/{cfg.epochs} loss {np.mean(losses[-20:]):.3f}")
    model.eval()
    return losses


def finetune(config: FinetuneConfig | None = None, **options) -> FinetuneResult:
    """Fine-tune ``config.model`` on ``config.train``, evaluate on ``config.dev``, write ``config.out``."""
    cfg = config if config is not None else FinetuneConfig(**options)
    out = os.path.abspath(cfg.out)
    check_new_dir(out, "checkpoint")
    t0 = time.perf_counter()
    cols = cfg._columns
    full = read_examples(cfg.train, cols, cfg.labels, cfg.format)
    labels = full.label_names
    if len(labels) < 2:
        raise ConfigError(f"{cfg.train}: every example has the label {labels[0]!r}; a classifier needs two classes or more.")
    dev = read_examples(cfg.dev, cols, labels, cfg.format, like=full)
    train = full.subsample(cfg.subsample, cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    _seed(cfg.seed)
    model, tokenizer, base_path = new_classifier(cfg.model, labels)
    losses = _train(model, tokenizer, train, cfg)
    pred = predict(model, tokenizer, dev, cfg.max_length, device=cfg.device)
    scores = classification_scores(dev.labels, pred, len(labels))
    majority = majority_baseline(train.labels, dev.labels, len(labels))
    seconds = time.perf_counter() - t0
    record = {
        "base_model": {"name": cfg.model, "path": base_path},
        "data": {
            "train": {"path": cfg.train, "sha256": fingerprint(cfg.train, "tsv")[0], "rows": len(full), "used": len(train)},
            "dev": {"path": cfg.dev, "sha256": fingerprint(cfg.dev, "tsv")[0], "rows": len(dev)},
            "columns": str(cols), "labels": list(labels), "pairs": cols.text_b is not None,
        },
        "hyperparameters": cfg.to_dict(),
        "dev_scores": scores, "majority_baseline": majority,
        "training": {"steps": len(losses), "loss_first_10": float(np.mean(losses[:10])),
                     "loss_last_10": float(np.mean(losses[-10:])), "losses": losses, "seconds": round(seconds, 1)},
    }
    def write(tmp: str) -> None:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_card(tmp, record)

    publish_dir(out, write, "checkpoint")
    return FinetuneResult(out, labels, losses, scores, majority, seconds, len(train))
