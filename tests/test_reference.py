"""The main job's reuse of training runs: what it publishes is what was asked for."""

from __future__ import annotations

import shutil

import pytest
from conftest import tree_digest

from zoo.formats import manifest as mf
from zoo.errors import RunDirError
from zoo.workflows.reference import train_or_reuse


def test_a_complete_run_with_the_asked_epochs_is_reused_untouched(small_runs, tmp_path):
    run = shutil.copytree(small_runs["digits-mlp"], tmp_path / "digits-mlp")
    before = tree_digest(run)
    assert train_or_reuse("digits-mlp", run, epochs=2, save_at=[1, 2], progress=False) == "reused"
    assert tree_digest(run) == before


@pytest.mark.parametrize("epochs,save_at", [(2, [2]), (1, [1]), (3, [2, 3])], ids=["fewer-saves", "fewer-epochs", "other-saves"])
def test_a_run_that_saved_other_epochs_is_refused_and_kept(epochs, save_at, small_runs, tmp_path):
    """runs/NAME saved epochs [1, 2]; asked for something else, it is neither published
    as if it were what was asked, nor deleted."""
    run = shutil.copytree(small_runs["digits-mlp"], tmp_path / "digits-mlp")
    before = tree_digest(run)
    with pytest.raises(RunDirError, match=r"holds epochs \[1, 2\], not the epochs") as info:
        train_or_reuse("digits-mlp", run, epochs=epochs, save_at=save_at, progress=False)
    assert "`runs_dir`" in info.value.hint and "`save_at=[1, 2]`" in info.value.hint
    assert tree_digest(run) == before


def test_a_partial_run_is_resumed_to_the_asked_epochs(small_runs, tmp_path):
    run = shutil.copytree(small_runs["digits-mlp"], tmp_path / "digits-mlp")
    assert train_or_reuse("digits-mlp", run, epochs=3, save_at=[1, 2, 3], progress=False) == "resumed"
    assert mf.load(run / "zoo.json").epoch_numbers == [1, 2, 3]
