"""The CLI in-process (Typer's CliRunner), and its lazy-TensorFlow promise in a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import runner

from zoo.cli import app


# Makes every later `import tensorflow`/`import keras` fail, as on a machine without them.
BLOCK_TF = "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None; "


@pytest.mark.parametrize("args", [["--help"], ["list"], ["list", "--json"], ["info", "digits-cnn"], ["info", "digits-cnn", "--json"], ["train", "--help"]])
def test_cli_works_with_tensorflow_unimportable(args):
    code = BLOCK_TF + f"from zoo.cli import app; app({args!r})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_list_json_shows_recipes_with_their_style():
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {r["name"]: r["style"] for r in data["recipes"]} == {
        "digits-cnn": "functional",
        "digits-mlp": "sequential",
        "digits-wide-mlp": "sequential",
        "mnist-lenet": "subclassed",
        "shapes-yolo": "subclassed",
    }
    assert isinstance(data["models"], list)


def test_train_then_info_on_the_run_dir(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "digits-mlp", "--epochs", "2", "--save-at", "1,2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "best" in result.stdout and "last" in result.stdout
    info = runner.invoke(app, ["info", str(out), "--json"])
    data = json.loads(info.stdout)
    assert [e["epoch"] for e in data["epochs"]] == [1, 2]
    table = runner.invoke(app, ["info", str(out)])
    assert "acc" in table.stdout.split() and "digits-mlp" in table.stdout


def test_unknown_name_suggests_close_names_with_its_exit_code():
    result = runner.invoke(app, ["info", "digits-cn"])
    assert result.exit_code == 3
    assert "digits-cnn" in result.stderr and "Traceback" not in result.output


def test_bad_save_at_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["train", "digits-mlp", "--save-at", "ten", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "--save-at takes comma-separated integers" in result.stderr


def test_refused_resume_has_its_own_exit_code(tmp_path):
    result = runner.invoke(app, ["train", "digits-mlp", "--resume", "--out", str(tmp_path / "none")])
    assert result.exit_code == 6
    assert "nothing to resume" in result.stderr
