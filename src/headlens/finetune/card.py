"""The model card of a fine-tuned checkpoint: README.md for people, headlens_finetune.json for tools."""

from __future__ import annotations

import json
import os

from ..store.atomic import atomic_write_json, atomic_write_text

RECORD = "headlens_finetune.json"


def _row(name: str, s: dict) -> str:
    return f"| {name} | {s['n']} | {s['accuracy']:.4f} | {s['f1']:.4f} | {s['mcc']:.4f} |"


def render_card(r: dict) -> str:
    d, h, t = r["data"], r["hyperparameters"], r["training"]
    hp = ", ".join(f"{k}={h[k]}" for k in ("seed", "epochs", "batch_size", "lr", "max_length", "subsample",
                                            "warmup", "weight_decay"))
    return "\n".join([
        "---",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        f"base_model: {r['base_model']['name']}",
        "tags: [headlens, fine-tuned]",
        "---",
        "",
        f"# {r['base_model']['name']} fine-tuned for classification (headlens)",
        "",
        "A standard `AutoModelForSequenceClassification` checkpoint written by `headlens finetune`.",
        "",
        "## Data",
        f"- train: `{d['train']['path']}` (sha256 {d['train']['sha256']}), {d['train']['used']} of "
        f"{d['train']['rows']} rows used",
        f"- dev: `{d['dev']['path']}` (sha256 {d['dev']['sha256']}), {d['dev']['rows']} rows",
        f"- columns: `{d['columns']}` ({'sentence pairs' if d['pairs'] else 'single sentences'}); "
        f"labels (class order): {', '.join(d['labels'])}",
        "",
        "## Hyper-parameters",
        hp + " (AdamW, linear warm-up and decay, gradient norm clipped at 1)",
        "",
        "## Dev scores",
        "F1: of the second label for two classes, macro otherwise. MCC: Matthews correlation.",
        "",
        "| predictor | n | accuracy | F1 | MCC |",
        "|---|---|---|---|---|",
        _row("this model", r["dev_scores"]),
        _row(f"majority baseline (always {d['labels'][r['majority_baseline']['predicted_class']]})", r["majority_baseline"]),
        "",
        "## Training",
        f"{t['steps']} steps in {t['seconds']} s; mean loss of the first 10 steps {t['loss_first_10']:.4f}, "
        f"of the last 10 {t['loss_last_10']:.4f}. Every step's loss is in `{RECORD}`.",
        "",
    ])


def write_card(path: str, record: dict) -> None:
    atomic_write_json(os.path.join(path, RECORD), record)
    atomic_write_text(os.path.join(path, "README.md"), render_card(record))


def read_card(path: str) -> dict | None:
    p = os.path.join(path, RECORD)
    if not os.path.exists(p):
        return None
    with open(p, encoding="utf-8") as fh:
        return json.load(fh)
