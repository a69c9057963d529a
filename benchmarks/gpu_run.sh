#!/usr/bin/env bash
# One device session for every GPU figure in the README (run from the repo root on the GPU machine).
# Needs: .whl (wheels of pydantic, datasets, trl and their missing needs) and .gpu/build (a local build
# without the generated pool), both carried. Results land in $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
wheels=$(ls .whl/*.whl | grep -v pyarrow)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site $wheels || exit 1
if ! python3 -c "import pyarrow, sys; sys.exit(int(pyarrow.__version__.split('.')[0]) < 24)"; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/pyarrow-*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, peft, trl, datasets, pydantic; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'trl', trl.__version__, 'datasets', datasets.__version__)" | tee -a "$OUT/gpu.txt"
rc=0
timeout 260 python3 benchmarks/gpu_eval.py --data .gpu/build --out "$OUT/gpu_eval.json" 2>&1 | tee "$OUT/gpu_eval.log" || rc=1
timeout 300 python3 benchmarks/gpu_finetune.py --data .gpu/build --out "$OUT/gpu_finetune.json" 2>&1 | tee "$OUT/gpu_finetune.log" || rc=1
exit $rc
