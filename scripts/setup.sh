#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: git-lfs (apt), a virtualenv in .venv, and zoo
# installed editable with the CPU TensorFlow, the local hub (olah) and the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v git-lfs >/dev/null 2>&1; then
  echo "setup: installing git-lfs" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq git-lfs >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip "setuptools>=77" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[cpu,hub,test]" 2>&1 | grep -v "^WARNING: Location" || true
# tf-keras writes the Keras-2 HDF5 files the import tests read; --no-deps keeps it from
# pulling in the 2.2 GB CUDA TensorFlow wheel (tensorflow-cpu provides the module).
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps "tf-keras>=2.21,<2.22" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import zoo.tf" # fail loudly if the install did not work
