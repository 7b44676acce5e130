#!/usr/bin/env bash
# The main job, end to end on a fresh machine, on the embedded default (a local hub):
#   1. build the reference zoo: train every recipe (epochs 10/50/100) and publish it to
#      the local hub directory (git + git-lfs), one commit per epoch tagged epoch-N,
#      writing manifests/NAME.json pinned to every epoch's commit;
#   2. serve that directory with olah (a Hub-compatible server, with zoo's streaming patch);
#   3. fetch and verify every bundled manifest's epochs from it, load an epoch and show
#      its metrics measured beside the published ones, and compare epochs 10/50/100 of
#      every model without training (--verify: the published numbers must reproduce);
#   4. say what was proved, and how to serve the hub again.
# SOURCE_DATE_EPOCH (the reproducible-builds convention) fixes the timestamps, so on the
# same machine a rebuild reproduces byte-identical weights, commits and manifests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1764028800}"   # 2025-11-25T00:00:00Z
HUB_DIR="${ZOO_HUB_DIR:-$HOME/.local/share/zoo/hub}"
notes="$(mktemp)"

echo "== 1. build the reference zoo in $HUB_DIR"
zoo hub build --dir "$HUB_DIR" --epochs 100 --save-at 10,50,100 --runs-dir runs | tee -a "$notes"

log="$(mktemp)"
zoo hub serve --dir "$HUB_DIR" >"$log" 2>/dev/null &
server=$!
trap 'status=$?; kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log" "$notes"; exit $status' EXIT
for _ in $(seq 300); do grep -q '^HF_ENDPOINT=' "$log" && break; kill -0 $server || exit 1; sleep 0.1; done
export "$(grep -m1 '^HF_ENDPOINT=' "$log")"
echo "== 2. the local hub serves $HUB_DIR at $HF_ENDPOINT"

echo "== 3. fetch, verify, load and re-measure from it"
zoo list
files=0
epochs=0
for name in $(zoo list --json | python -c 'import json,sys; print(" ".join(m["name"] for m in json.load(sys.stdin)["models"]))'); do
  fetched="$(zoo fetch "$name" --all --with-resume --json 2>/dev/null)"
  n_files="$(echo "$fetched" | python -c 'import json,sys; print(len(json.load(sys.stdin)))')"
  n_epochs="$(echo "$fetched" | python -c 'import json,sys; print(len({f["epoch"] for f in json.load(sys.stdin)}))')"
  files=$((files + n_files))
  epochs=$((epochs + n_epochs))
  echo "verified every epoch of $name ($n_epochs epochs, $n_files files, sha256 each)"
done
zoo info digits-cnn
zoo evaluate digits-cnn --epoch best
COLUMNS=120 zoo compare digits-mlp digits-cnn mnist-lenet --epochs 10,50,100 --metric accuracy --plot runs/classifiers-by-epoch.png --verify | tee -a "$notes"
COLUMNS=120 zoo compare shapes-yolo --epochs 10,50,100 --metric map50 --metric map50_95 --plot runs/detector-by-epoch.png --verify | tee -a "$notes"

published="$(grep -c ': run .*published epochs' "$notes" || true)"
unchanged="$(grep -c 'hub unchanged' "$notes" || true)"
metrics="$(grep '^verified:' "$notes" | awk '{s += $2} END {print s + 0}')"
largest="$(grep '^verified:' "$notes" | sed 's/.*largest difference \([^)]*\)).*/\1/' | sort -g | tail -1)"
cat <<SUMMARY

== what this run proved
- runs: $(sed -n 's/.*: run \([a-z]*\);.*/\1/p' "$notes" | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}') (in runs/)
- published to $HUB_DIR: $published repo(s) with new commits, $unchanged unchanged (same bytes, same commits)
- fetched from the hub and verified: $epochs epochs, $files files, each against its sha256 and size
- re-measured: $metrics published metrics reproduce (largest difference $largest)
- wrote: manifests/*.json (pinned to every epoch's commit), runs/classifiers-by-epoch.png, runs/detector-by-epoch.png

== next
  zoo hub serve --dir $HUB_DIR        # prints HF_ENDPOINT=...; in another shell:
  export HF_ENDPOINT=http://127.0.0.1:PORT
  zoo fetch digits-cnn --epoch best   # or: hf download zoo/digits-cnn --revision epoch-10
SUMMARY
