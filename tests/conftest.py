"""Shared fixtures: an isolated zoo/HF home per session, and small trained runs built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zoo.constants import TF_ENV

os.environ.update(TF_ENV)  # before any test imports TensorFlow


@pytest.fixture(autouse=True, scope="session")
def isolated_home(tmp_path_factory: pytest.TempPathFactory):
    """No test reads or writes the user's real zoo or Hugging Face state."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZOO_HOME", str(home / "zoo"))
        mp.setenv("HF_HOME", str(home / "hf"))
        mp.delenv("HF_ENDPOINT", raising=False)
        mp.delenv("HF_HUB_OFFLINE", raising=False)
        mp.delenv("HF_TOKEN", raising=False)
        yield home


@pytest.fixture(scope="session")
def small_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each recipe trained for 2 epochs (saved at 1 and 2), once per test session."""
    from zoo.training import train

    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for name in ("digits-mlp", "digits-cnn", "mnist-lenet"):
        runs[name] = train(name, epochs=2, save_at=[1, 2], out=root / name, progress=False).run_dir
    return runs


def tree_digest(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes: proves a refused operation changed nothing."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
