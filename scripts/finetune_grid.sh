#!/usr/bin/env bash
# The hyper-parameter grid of docs/finetuning.md: can MiniLM (the embedded all-MiniLM-L6-v2) learn
# CoLA and RTE within the CPU budget of the evidence (under 15 minutes here)? Each configuration is
# a `headlens finetune` run; one line per run with the dev scores of its model card.
#
#   scripts/finetune_grid.sh [DEVICE]        # DEVICE: cpu (default) or cuda; OUT=/tmp/hl-grid by default
#
# On a 2-core CPU the whole grid takes hours; on one GPU about ten minutes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
HL="${HEADLENS:-.venv/bin/headlens}"
GLUE="${GLUE:-../shared/data/glue}"
DEVICE="${1:-cpu}"
OUT="${OUT:-/tmp/hl-grid}"
mkdir -p "$OUT"

# name|task|options (seed added below)
GRID=(
  "c1|CoLA|--subsample 2000 --epochs 2 --lr 1e-4 --batch-size 16"
  "c2|CoLA|--subsample 2000 --epochs 2 --lr 5e-5 --batch-size 16"
  "c3|CoLA|--subsample 2000 --epochs 2 --lr 3e-5 --batch-size 8"
  "c4|CoLA|--subsample 2500 --epochs 2 --lr 5e-5 --batch-size 8"
  "c5|CoLA|--subsample 4000 --epochs 1 --lr 5e-5 --batch-size 8"
  "c6|CoLA|--subsample 2000 --epochs 3 --lr 3e-5 --batch-size 16"
  "c8|CoLA|--subsample 2000 --epochs 2 --lr 2e-4 --batch-size 16"
  "r1|RTE|--subsample 800 --epochs 1 --lr 5e-5 --batch-size 16"
  "r2|RTE|--subsample 2490 --epochs 1 --lr 3e-5 --batch-size 16"
  "r3|RTE|--subsample 1200 --epochs 2 --lr 3e-5 --batch-size 8"
  "r5|RTE|--subsample 800 --epochs 3 --lr 5e-5 --batch-size 8"
  "r6|RTE|--subsample 2490 --epochs 1 --lr 5e-5 --batch-size 8"
)
# beyond the budget: the whole training set, three epochs (seed 0 only)
FULL=(
  "c7|CoLA|--epochs 3 --lr 2e-5 --batch-size 32"
  "c9|CoLA|--epochs 3 --lr 5e-5 --batch-size 32"
  "r4|RTE|--epochs 3 --lr 2e-5 --batch-size 16"
  "r8|RTE|--epochs 3 --lr 5e-5 --batch-size 16"
)

one() {  # name task seed options...
  local name=$1 task=$2 seed=$3; shift 3
  local cols=(--columns text=0,label=1 --labels 0,1 --max-length 64)
  [[ $task == RTE ]] && cols=(--columns text=sentence1,text_b=sentence2,label=label --labels not_entailment,entailment --max-length 128)
  local dir="$OUT/$name-s$seed"
  [[ -e $dir ]] || "$HL" finetune --train "$GLUE/$task/train.tsv" --dev "$GLUE/$task/dev.tsv" "${cols[@]}" "$@" \
    --seed "$seed" --device "$DEVICE" --quiet --out "$dir" >"$dir.log" 2>&1 || { echo "$name-s$seed failed: $dir.log"; return; }
  "${PYTHON:-.venv/bin/python}" - "$dir" "$*" <<'PY'
import json, os, sys
d = json.load(open(os.path.join(sys.argv[1], "headlens_finetune.json")))
s, base, tr = d["dev_scores"], d["majority_baseline"], d["training"]
print(f"{os.path.basename(sys.argv[1]):7s} acc {s['accuracy']:.3f} (majority {base['accuracy']:.3f}) "
      f"mcc {s['mcc']:.3f} f1 {s['f1']:.3f} steps {tr['steps']} | {sys.argv[2]}")
PY
}

for seed in 0 1; do
  for row in "${GRID[@]}"; do
    IFS='|' read -r name task options <<<"$row"
    # shellcheck disable=SC2086
    one "$name" "$task" "$seed" $options
  done
done
for row in "${FULL[@]}"; do
  IFS='|' read -r name task options <<<"$row"
  # shellcheck disable=SC2086
  one "$name" "$task" 0 $options
done
