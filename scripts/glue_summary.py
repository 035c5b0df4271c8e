"""Print the evidence tables of docs/finetuning.md from the outputs of scripts/finetune_glue.sh.

    .venv/bin/python scripts/glue_summary.py [runs/glue] [models]
"""

from __future__ import annotations

import json
import os
import sys

import pyarrow.parquet as pq

TASKS = ("cola", "sst2", "rte", "colafull")  # colafull: all of CoLA, 3 epochs (beyond the budget)


def _json(path: str) -> dict | None:
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def dev_scores(models: str) -> None:
    print("| task | rows used / epochs / lr | steps | wall s | dev acc | dev F1 | dev MCC | majority acc | majority F1 | majority MCC |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for task in TASKS:
        card = _json(os.path.join(models, f"minilm-{task}", "headlens_finetune.json"))
        if card is None:
            print(f"| {task} | (not trained) |")
            continue
        h, d, m, t = card["hyperparameters"], card["dev_scores"], card["majority_baseline"], card["training"]
        print(f"| {task} | {card['data']['train']['used']} / {h['epochs']} / {h['lr']:g} | {t['steps']} | {t['seconds']:.0f} | "
              f"{d['accuracy']:.3f} | {d['f1']:.3f} | {d['mcc']:.3f} | {m['accuracy']:.3f} | {m['f1']:.3f} | {m['mcc']:.3f} |")


def categories(root: str, name: str = "categories") -> None:
    params = _json(os.path.join(root, name, "params.json"))
    if params is None:
        print("(no cross-task summary yet)")
        return
    rows = pq.read_table(os.path.join(root, name, "layers.parquet")).to_pylist()
    print("| task | layer | pref base | pref tuned | delta pref [95% CI] | change | d recv content | d recv function | bias |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (r["task"], r["layer"])):
        print(f"| {os.path.basename(r['task'])} | L{r['layer'] + 1} | {r['pref_base']:+.4f} | {r['pref_tuned']:+.4f} | "
              f"{r['delta']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}] | {r['change'] or '-'} | "
              f"{r['delta_recv_content']:+.4f} | {r['delta_recv_function']:+.4f} | {r['bias'] or '-'} |")
    print("\ntask-agnostic:", json.dumps(params["task_agnostic"]))


def changed_layers(root: str) -> None:
    print("| task | layer | map cosine base vs tuned [95% CI] | least similar head | layer-level metric changes (of 25) |")
    print("|---|---|---|---|---|")
    for task in TASKS:
        folder = os.path.join(root, f"models-{task}")
        if not os.path.exists(os.path.join(folder, "params.json")):
            print(f"| {task} | (pending) |")
            continue
        heads = pq.read_table(os.path.join(folder, "cosine_heads.parquet")).to_pylist()
        layers = pq.read_table(os.path.join(folder, "layers.parquet")).to_pylist()
        for r in pq.read_table(os.path.join(folder, "cosine_layers.parquet")).to_pylist():
            low = min((h for h in heads if h["layer"] == r["layer"]), key=lambda h: h["cosine"])
            n_layer = sum(1 for x in layers if x["changed"] and x["layer"] == r["layer"])
            print(f"| {task} | L{r['layer'] + 1} | {r['cosine']:.4f} [{r['ci_low']:.4f}, {r['ci_high']:.4f}] | "
                  f"{low['label']} {low['cosine']:.3f} | {n_layer} |")


if __name__ == "__main__":
    root = sys.argv[1] if len(sys.argv) > 1 else "runs/glue"
    models = sys.argv[2] if len(sys.argv) > 2 else "models"
    print("## dev scores\n")
    dev_scores(models)
    for name in ("categories", "categories-colafull"):
        print(f"\n## {name}\n")
        categories(root, name)
    print("\n## changed layers\n")
    changed_layers(root)
