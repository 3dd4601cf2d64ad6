#!/usr/bin/env bash
# The benchmark comparison on a CUDA device, float32 and bfloat16 autocast (channels_last), in
# under 5 minutes; writes its tables (with the device name) into docs/benchmarks.md between the
# <!-- bench:gpu:start/end --> markers and the full results to docs/benchmarks-gpu.json; then
# torch.compile against eager (benchmarks/bench_compile.py, up to $COMPILE_BUDGET_S more seconds,
# default 300) into docs/benchmarks-gpu-compile.md.
#
#   bash benchmarks/gpu.sh                 # uses benchmarks/.venv-peers (with POT) when present, else .venv
#   PYTHON=/path/to/python bash benchmarks/gpu.sh
#   DEVICE=cuda:1 BUDGET_S=280 bash benchmarks/gpu.sh
#
# The environment needs a CUDA build of torch (the CPU build of constraints.txt has no CUDA) and
# the VGG16 weights (`pdloss weights fetch vgg16-hed`, or `--weights` below to another source).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then
  py="$PYTHON"
elif [ -x benchmarks/.venv-peers/bin/python ]; then
  py=benchmarks/.venv-peers/bin/python
else
  py=.venv/bin/python
fi
device="${DEVICE:-cuda}"
budget="${BUDGET_S:-290}"   # hard limit for the whole run (seconds)
weights="${WEIGHTS:-vgg16-hed}"

"$py" - "$device" <<'PY'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit(f"benchmarks/gpu.sh: torch {torch.__version__} sees no CUDA device (a CPU build of torch?)")
print(f"benchmarks/gpu.sh: {torch.cuda.get_device_name(torch.device(sys.argv[1]))}, torch {torch.__version__}",
      file=sys.stderr)
PY

# The GPU is fast enough for more rounds and for the exact contextual loss at 1024 px
# (estimated 8 GiB of N x N matrices; the cap stops it on smaller cards).
timeout --signal=INT "$budget" "$py" -m pdloss bench \
  --device "$device" \
  --suite table1,terms,scaling,projections \
  --precision fp32,bf16 \
  --batch 8 --size 128 --weights "$weights" \
  --repeats 10 --warmup 2 \
  --crops 64,128,256,512,1024 --factors 1,2,4,8 \
  --memory-cap-gib 16 \
  --json docs/benchmarks-gpu.json \
  --update-doc docs/benchmarks.md --section gpu

# torch.compile against eager on the GPU (PDL term; small-unet training steps with the PDL and the
# L1-perceptual loss), float32 and bf16 autocast, side by side; the tables go to
# docs/benchmarks-gpu-compile.md (compiling takes a minute or two of the budget).
timeout --signal=INT "${COMPILE_BUDGET_S:-300}" "$py" benchmarks/bench_compile.py \
  --device "$device" --precision fp32,bf16 --batch 8 --size 128 --weights "$weights" \
  --repeats 10 --warmup 2 | tee docs/benchmarks-gpu-compile.md
