#!/usr/bin/env bash
# The CPU benchmark tables of docs/benchmarks.md (about 5 minutes on 2 quiet cores; run it on a quiet
# machine: `uptime` load average well under the number of cores). Writes the tables between the
# <!-- bench:cpu:start/end --> markers of docs/benchmarks.md and the full results to
# docs/benchmarks-cpu.json.
#
#   bash benchmarks/setup_peers.sh   # once: benchmarks/.venv-peers with POT (optional)
#   bash benchmarks/cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then
  py="$PYTHON"
elif [ -x benchmarks/.venv-peers/bin/python ]; then
  py=benchmarks/.venv-peers/bin/python
else
  py=.venv/bin/python
fi
"$py" -m pdloss bench \
  --device cpu \
  --suite table1,terms,scaling,projections \
  --precision fp32,bf16 \
  --batch 8 --size 128 --weights "${WEIGHTS:-vgg16-hed}" \
  --repeats "${REPEATS:-5}" --warmup 1 \
  --crops 64,128,256,512,1024 --factors 1,2,4,8 \
  --memory-cap-gib "${MEMORY_CAP_GIB:-4}" \
  --json docs/benchmarks-cpu.json \
  --update-doc docs/benchmarks.md --section cpu
