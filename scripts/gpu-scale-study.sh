#!/usr/bin/env bash
# The feature-map-size comparison at the paper's settings on one CUDA device (configs/gpu-scale-denoise.yaml):
# train and evaluate every run, export the results folder, regenerate the reports.
#   bash scripts/gpu-scale-study.sh [OVERRIDE ...]        # e.g. data.train=data/DIV2K/DIV2K_train_HR
#   DEVICE=cuda:1 bash scripts/gpu-scale-study.sh
#   CONFIG=tiny.yaml DEVICE=cpu OUT=/tmp/check/results RUNS=/tmp/check/runs bash scripts/gpu-scale-study.sh
#       # a CPU check of the pipeline on a copy of the preset with tiny steps and crops
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
device=${DEVICE:-cuda}
config=${CONFIG:-configs/gpu-scale-denoise.yaml}
out=${OUT:-docs/results}
runs=${RUNS:-runs/gpu-scale-denoise}
start=$(date +%s)
"$py" -m pdloss.cli sweep "$config" output="$runs" "$@" --device "$device" --images offline:test --images-only
pairs=()
for lam in 0.02 0.08; do
  pairs+=(--compare "gpu-256-perceptual-l1-$lam:gpu-256-pdl-$lam" --compare "gpu-256-l1:gpu-256-pdl-$lam")
done
"$py" -m pdloss.cli export "$config" "$out/gpu-scale-denoise" --runs-root "$runs" "${pairs[@]}" \
  --note "Trained with: bash scripts/gpu-scale-study.sh $* (DEVICE=$device), $(( $(date +%s) - start )) s in all."
"$py" -m pdloss.cli report "$out"
echo "results: $out/gpu-scale-denoise/report.md ($(( $(date +%s) - start )) s)"
