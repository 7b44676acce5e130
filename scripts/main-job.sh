#!/usr/bin/env bash
# The main job, end to end on a fresh machine, on the embedded default (a local hub):
#   1. build the reference zoo: train every recipe (epochs 10/50/100) and publish it to
#      the local hub directory (git + git-lfs), writing manifests/NAME.json pinned to it;
#   2. serve that directory with olah (a Hub-compatible server);
#   3. fetch and verify every bundled manifest's epochs from it, load an epoch and show
#      its metrics measured beside the published ones, and compare epochs 10/50/100 of
#      every model without training (--verify: the published numbers must reproduce).
# SOURCE_DATE_EPOCH (the reproducible-builds convention) fixes the timestamps, so on the
# same machine a rebuild reproduces byte-identical weights, commits and manifests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1764028800}"   # 2025-11-25T00:00:00Z
HUB_DIR="${ZOO_HUB_DIR:-$HOME/.local/share/zoo/hub}"

zoo hub build --dir "$HUB_DIR" --epochs 100 --save-at 10,50,100 --runs-dir runs

log="$(mktemp)"
zoo hub serve --dir "$HUB_DIR" >"$log" 2>/dev/null &
server=$!
trap 'status=$?; kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"; exit $status' EXIT
for _ in $(seq 300); do grep -q '^HF_ENDPOINT=' "$log" && break; kill -0 $server || exit 1; sleep 0.1; done
export "$(grep -m1 '^HF_ENDPOINT=' "$log")"
echo "local hub serving $HUB_DIR at $HF_ENDPOINT"

zoo list
for name in $(zoo list --json | python -c 'import json,sys; print(" ".join(m["name"] for m in json.load(sys.stdin)["models"]))'); do
  zoo fetch "$name" --all --with-resume >/dev/null && echo "verified every epoch of $name"
done
zoo info digits-cnn
zoo evaluate digits-cnn --epoch best
zoo compare digits-mlp digits-cnn mnist-lenet --epochs 10,50,100 --metric accuracy --plot runs/classifiers-by-epoch.png --verify
zoo compare shapes-yolo --epochs 10,50,100 --metric map50 --metric map50_95 --plot runs/detector-by-epoch.png --verify
