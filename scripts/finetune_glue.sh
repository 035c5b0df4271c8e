#!/usr/bin/env bash
# Regenerate the fine-tuning evidence of docs/finetuning.md (checkpoints are not committed):
# MiniLM (the embedded all-MiniLM-L6-v2) fine-tuned on CoLA, SST-2 and RTE from ../shared/data/glue,
# each subsampled to finish in under 15 minutes on a 2-core CPU; then the category analysis on
# each task's dev sentences with the base and the fine-tuned model, the paired comparisons and the
# cross-task summary.
#
#   scripts/finetune_glue.sh [STEP ...]    # steps: finetune runs compare models categories (default: all)
#
# Finished steps are skipped (a checkpoint or run directory that exists is kept), so the script
# can be re-run after an interruption. Outputs: models/minilm-{cola,sst2,rte}/, runs/glue/...,
# logs with timings in runs/glue/logs/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
HL="${HEADLENS:-.venv/bin/headlens}"
GLUE="${GLUE:-../shared/data/glue}"
OUT=runs/glue
LOGS=$OUT/logs
mkdir -p "$LOGS" models
STEPS="${*:-finetune runs compare models categories}"

# task: name, folder, columns, labels, fine-tuning options (subsample / epochs / lr / max length)
# colafull: the whole CoLA training set for 3 epochs, beyond the 15-minute budget (16 minutes here
# under load), because no in-budget CoLA model beats the majority baseline (scripts/finetune_grid.sh);
# it shares cola's base run.
TASKS=(
  "cola|CoLA|text=0,label=1|0,1|--subsample 2000 --epochs 2 --lr 1e-4 --batch-size 16 --max-length 64"
  "sst2|SST-2|text=1,label=0|0,1|--subsample 2000 --epochs 1 --lr 1e-4 --batch-size 16 --max-length 64"
  "rte|RTE|text=sentence1,text_b=sentence2,label=label|not_entailment,entailment|--subsample 800 --epochs 1 --lr 5e-5 --batch-size 16 --max-length 128"
  "colafull|CoLA|text=0,label=1|0,1|--epochs 3 --lr 5e-5 --batch-size 32 --max-length 64"
)

timed() {  # timed LOGNAME command...: run, tee the output, append the wall and CPU times
  local log="$LOGS/$1.log"; shift
  echo "\$ $*" >"$log"
  local TIMEFORMAT="wall seconds %R; cpu seconds user %U, system %S"
  { time "$@" 2>&1 | tee -a "$log"; } 2>>"$log"
  tail -1 "$log"
}

for task in "${TASKS[@]}"; do
  IFS='|' read -r name folder columns labels options <<<"$task"
  dev="$GLUE/$folder/dev.tsv"
  base=${name%full}  # the base model's run of this corpus
  # the dev file's text (and pair) columns, as `headlens run` names them
  case "$folder" in
    RTE) corpus_cols=(--text-column sentence1 --text-b-column sentence2 --label-column label) ;;
    SST-2) corpus_cols=(--text-column 1 --label-column 0) ;;
    *) corpus_cols=(--text-column 0 --label-column 1) ;;
  esac
  if [[ " $STEPS " == *" finetune "* && ! -e models/minilm-$name ]]; then
    # shellcheck disable=SC2086
    timed "finetune-$name" "$HL" finetune --train "$GLUE/$folder/train.tsv" --dev "$dev" --columns "$columns" \
      --labels "$labels" $options --seed 0 --threads 2 --quiet --out "models/minilm-$name"
  fi
  if [[ " $STEPS " == *" runs "* ]]; then
    for which in base "$name"; do
      model=(); run="$OUT/$base-base"
      [[ $which != base ]] && model=(--model "models/minilm-$name") && run="$OUT/$name-$name"
      [[ -e $run ]] || timed "run-$(basename "$run")" "$HL" run "${model[@]}" --corpus "$dev" --format tsv \
        "${corpus_cols[@]}" --analyses categories,surface --word-aggregation mean --long truncate --threads 2 \
        --quiet --out "$run"
    done
  fi
  if [[ " $STEPS " == *" compare "* && ! -e $OUT/$name-$name/compare/vs-base/params.json ]]; then
    timed "compare-$name" "$HL" compare "$OUT/$base-base" "$OUT/$name-$name" --name vs-base
  fi
  if [[ " $STEPS " == *" models "* && ! -e $OUT/models-$name ]]; then
    timed "compare-models-$name" "$HL" compare-models "$(.venv/bin/python -c 'import headlens; print(headlens.default_model_path())')" \
      "models/minilm-$name" --corpus "$dev" --format tsv "${corpus_cols[@]}" --analyses categories,surface \
      --word-aggregation mean --long truncate --limit 600 --threads 2 --quiet --out "$OUT/models-$name"
  fi
done

if [[ " $STEPS " == *" categories "* ]]; then
  [[ -e $OUT/categories ]] || timed categories "$HL" categories --base "$OUT/cola-base" --base "$OUT/sst2-base" --base "$OUT/rte-base" \
    "$OUT/cola-cola" "$OUT/sst2-sst2" "$OUT/rte-rte" --out "$OUT/categories"
  [[ -e $OUT/categories-colafull ]] || timed categories-colafull "$HL" categories --base "$OUT/cola-base" --base "$OUT/sst2-base" --base "$OUT/rte-base" \
    "$OUT/colafull-colafull" "$OUT/sst2-sst2" "$OUT/rte-rte" --out "$OUT/categories-colafull"
fi
