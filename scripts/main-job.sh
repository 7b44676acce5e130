#!/usr/bin/env bash
# The main job, end to end on a fresh machine: set up, train a recipe with per-epoch
# checkpoints, and show its epochs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
rm -rf runs/digits-mlp
zoo train digits-mlp --epochs 100 --save-at 10,50,100 --out runs/digits-mlp
zoo info runs/digits-mlp
