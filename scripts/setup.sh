#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: git-lfs (apt), a virtualenv in .venv, and zoo
# installed editable with the CPU TensorFlow, the local hub (olah) and the test tools.
# One line per step (what, and how long); a step with nothing to do says so in an instant.
# The install is skipped when pyproject.toml has not changed since the last one (the
# package is editable: code changes need no reinstall).
set -euo pipefail
cd "$(dirname "$0")/.."

step() {  # step "what" command...: run it quietly, print one line with its time
  local what=$1 start=$SECONDS
  shift
  printf 'setup: %-48s' "$what"
  local log
  log="$(mktemp)"
  if "$@" >"$log" 2>&1; then
    printf 'done (%d s)\n' $((SECONDS - start))
  else
    printf 'FAILED\n'
    cat "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}

install_git_lfs() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # apt-utils' absence only delays package configuration: say nothing about it.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 git-lfs
}

pip_install() {
  # The editable install's "Editable installation." banner is advice for setuptools users.
  PYTHONWARNINGS="ignore:Editable installation" .venv/bin/python -m pip install -q --disable-pip-version-check --progress-bar off "$@"
}

install_zoo() {
  pip_install --upgrade pip "setuptools>=77"
  pip_install -e ".[cpu,hub,export,test]"
  # tf-keras writes the Keras-2 HDF5 files the import tests read; --no-deps keeps it from
  # pulling in the 2.2 GB CUDA TensorFlow wheel (tensorflow-cpu provides the module).
  pip_install --no-deps "tf-keras>=2.21,<2.22"
}

if command -v git-lfs >/dev/null 2>&1; then
  printf 'setup: %-48s%s\n' "git-lfs" "present"
else
  step "git-lfs (apt)" install_git_lfs
fi

if [ -x .venv/bin/python ]; then
  printf 'setup: %-48s%s\n' "virtualenv .venv" "present"
else
  step "virtualenv .venv" python3 -m venv .venv
fi

stamp=".venv/.zoo-installed"
wanted="$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  printf 'setup: %-48s%s\n' "zoo, TensorFlow, olah, exporters, test tools" "up to date"
else
  step "zoo, TensorFlow, olah, exporters, test tools" install_zoo
  step "checking that zoo and TensorFlow import" .venv/bin/python -c "import zoo.tf"
  echo "$wanted" >"$stamp"
fi
