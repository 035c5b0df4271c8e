#!/usr/bin/env bash
# Regenerate the evidence of docs/patterns.md and docs/ablation.md (Kovaleva et al. 2019) on MiniLM and its
# GLUE fine-tunes (models/minilm-{sst2,rte}, made by scripts/finetune_glue.sh; nothing here is committed):
#
#   patterns  pattern types and features of interest on each task's dev sentences, base and fine-tuned model
#   compare   features of interest, base vs fine-tuned (paired over sentences)
#   heads     uniform ablation of every head (72) of each fine-tuned classifier on its dev set
#   layers    uniform, zero and mean ablation of every layer
#   thresholds  the pattern distributions again with other thresholds (from the stored features)
#
#   scripts/ablation_glue.sh [STEP ...]     # default: patterns compare heads layers thresholds
#
# One torch thread (a shared 2-core machine). Finished outputs are kept (a directory that exists is
# skipped; an interrupted sweep is continued with --resume). Logs with wall times: runs/glue/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."  # the repository root
HL=${HEADLENS:-.venv/bin/headlens} GLUE=${GLUE:-../shared/data/glue} OUT=runs/glue
LOGS=$OUT/logs && mkdir -p "$LOGS"
STEPS="${*:-patterns compare heads layers thresholds}"
BASE="$(.venv/bin/python -c 'import headlens; print(headlens.default_model_path())')"
FEATURES=feat_recv_noun,feat_recv_verb,feat_recv_pronoun,feat_recv_subject,feat_recv_object,feat_recv_negation,feat_recv_cls,feat_recv_sep

logged() {  # logged LOGNAME command...: the command's output and its wall time, also in $LOGS/LOGNAME.log
  local log="$LOGS/$1.log" start
  shift
  start=$(date +%s.%N)
  printf '$ %s\n' "$*" >"$log"
  "$@" 2>&1 | tee -a "$log"
  awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "wall seconds %.1f\n", e - s }' | tee -a "$log"
}

# task|folder|ablate --columns|run corpus columns
TASKS=(
  "sst2|SST-2|text=1,label=0|--text-column 1 --label-column 0"
  "rte|RTE|text=sentence1,text_b=sentence2,label=label|--text-column sentence1 --text-b-column sentence2 --label-column label"
  "cola|CoLA|text=0,label=1|--text-column 0 --label-column 1"
)

sweep() {  # sweep NAME ARGS...: a new sweep, or --resume of an interrupted one
  local name=$1; shift
  local out=$OUT/ablate-$name
  [[ -e $out/params.json ]] && return 0
  local resume=(); [[ -e $out/sweep.json ]] && resume=(--resume)
  logged "ablate-$name" "$HL" ablate "$@" "${resume[@]}" --threads 1 --quiet --out "$out"
}

for task in "${TASKS[@]}"; do
  IFS='|' read -r name folder columns corpus_cols <<<"$task"
  dev="$GLUE/$folder/dev.tsv"
  if [[ " $STEPS " == *" patterns "* ]]; then
    for which in base "$name"; do
      model="$BASE"; [[ $which != base ]] && model="models/minilm-$name"
      # shellcheck disable=SC2086
      [[ -e $OUT/patterns-$name-$which ]] || logged "patterns-$name-$which" "$HL" run --model "$model" --corpus "$dev" \
        --format tsv $corpus_cols --analyses patterns,features --long truncate --threads 1 --quiet \
        --out "$OUT/patterns-$name-$which"
    done
  fi
  if [[ " $STEPS " == *" compare "* && ! -e $OUT/patterns-$name-$name/compare/features ]]; then
    logged "compare-features-$name" "$HL" compare "$OUT/patterns-$name-base" "$OUT/patterns-$name-$name" \
      --metrics "$FEATURES" --name features
  fi
  [[ $name == cola ]] && continue  # the CoLA classifier predicts the majority class for every sentence
  if [[ " $STEPS " == *" heads "* ]]; then
    sweep "$name-heads" --model "models/minilm-$name" --dev "$dev" --columns "$columns" --heads all --mode uniform \
      --metrics accuracy,mcc
  fi
  if [[ " $STEPS " == *" layers "* ]]; then
    for mode in uniform zero mean; do
      sweep "$name-layers-$mode" --model "models/minilm-$name" --dev "$dev" --columns "$columns" --layers all \
        --mode "$mode" --metrics accuracy,mcc
    done
  fi
done

if [[ " $STEPS " == *" thresholds "* ]]; then
  for run in "$OUT"/patterns-*-*; do
    for change in vertical_min_special=0.4 vertical_min_special=0.6 block_min_entropy=0.5 block_min_own=0.7; do
      "$HL" patterns "$run" --set "$change" --name "${change//=/-}" >/dev/null
    done
    logged "patterns-$(basename "$run")-thresholds" "$HL" patterns "$run"
  done
fi
