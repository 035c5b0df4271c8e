"""Sequence classifiers: loading (with a check that the head was trained), batching, prediction."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from ..errors import ModelError
from ..models.loading import resolve_model_dir
from .data import Examples

HEAD_HINT = "Fine-tune it first: headlens finetune --model M --train FILE --dev FILE --columns ... --out DIR."


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load report ('newly initialized' notes are expected for a new head)."""
    from transformers.utils import logging as tf_logging

    tf_logging.disable_progress_bar()
    logger = logging.getLogger("transformers")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"cannot load the tokenizer in {path}: {type(e).__name__}: {e}") from e


def new_classifier(name_or_path: str, label_names: tuple[str, ...]):
    """A pre-trained encoder with a new, randomly initialised classification head."""
    from transformers import AutoModelForSequenceClassification

    path = resolve_model_dir(name_or_path)
    with quiet_transformers():
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=len(label_names), id2label=dict(enumerate(label_names)),
                label2id={lab: k for k, lab in enumerate(label_names)}, attn_implementation="eager")
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"cannot build a sequence classifier from {path}: {type(e).__name__}: {e}") from e
    return model, load_tokenizer(path), path


def load_classifier(name_or_path: str):
    """A fine-tuned classifier (model, tokenizer, path); ModelError when it has no trained head."""
    from transformers import AutoModelForSequenceClassification

    path = resolve_model_dir(name_or_path)
    with quiet_transformers():
        try:
            model, info = AutoModelForSequenceClassification.from_pretrained(
                path, output_loading_info=True, attn_implementation="eager")
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"cannot load a sequence classifier from {path}: {type(e).__name__}: {e}") from e
    encoder_prefix = getattr(model, "base_model_prefix", "")
    head = [k for k in info.get("missing_keys", []) if not k.startswith(encoder_prefix + ".")]
    if head:
        raise ModelError(
            f"{name_or_path} has no classification head: its weights lack {', '.join(sorted(head)[:3])} "
            f"(config architectures: {getattr(model.config, 'architectures', None)}), so its predictions would be "
            f"random. {HEAD_HINT}")
    model.eval()
    return model, load_tokenizer(path), path


def encode(tokenizer, ex: Examples, max_length: int) -> list[dict[str, list[int]]]:
    """Token ids per example (truncated to ``max_length``, longest first for pairs)."""
    enc = tokenizer(ex.texts, ex.texts_b, truncation="longest_first" if ex.texts_b else True,
                    max_length=max_length, return_attention_mask=False)
    keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
    return [{k: enc[k][i] for k in keys} for i in range(len(ex))]


def collate(rows: list[dict[str, list[int]]], pad_id: int, device: torch.device) -> dict[str, torch.Tensor]:
    n = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), n), dtype=torch.long)
    types = torch.zeros((len(rows), n), dtype=torch.long)
    for i, r in enumerate(rows):
        k = len(r["input_ids"])
        ids[i, :k] = torch.tensor(r["input_ids"])
        mask[i, :k] = 1
        if "token_type_ids" in r:
            types[i, :k] = torch.tensor(r["token_type_ids"])
    out = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in rows[0]:
        out["token_type_ids"] = types
    return {k: v.to(device) for k, v in out.items()}


def predict(model, tokenizer, ex: Examples, max_length: int = 128, batch_size: int = 64,
            device: str | torch.device = "cpu") -> np.ndarray:
    """Predicted class per example (batches sorted by length; results in file order)."""
    rows = encode(tokenizer, ex, max_length)
    order = np.argsort([len(r["input_ids"]) for r in rows], kind="stable")
    pred = np.zeros(len(rows), dtype=np.int64)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            idx = order[start:start + batch_size]
            logits = model(**collate([rows[i] for i in idx], tokenizer.pad_token_id or 0, torch.device(device))).logits
            pred[idx] = logits.argmax(-1).cpu().numpy()
    return pred

