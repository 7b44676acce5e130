"""A recipe from a package of its own (examples/zoo-shapes-recipe), pip-installed into the
test environment and found through its ``zoo.recipes`` entry point, runs the whole flow
against the local hub: train → publish → fetch → load → compare --verify."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "zoo-shapes-recipe"


@pytest.fixture()
def installed_example(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(EXAMPLE, source)  # pip builds in the source tree: keep the checkout clean
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", str(source)], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "-y", "zoo-shapes-recipe"], check=True, capture_output=True)


def test_a_recipe_from_an_installed_package_trains_publishes_fetches_loads_and_reproduces(installed_example, hub, hub_dir, tmp_path):
    from zoo.hub.git_publisher import repo_dir

    env = {**os.environ, "ZOO_HOME": str(tmp_path / "home"), "PYTHONPATH": ""}  # its own catalog and dataset folder

    def zoo(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "zoo.cli", *args], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"zoo {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    listed = json.loads(zoo("list", "--json").stdout)
    recipe = next(r for r in listed["recipes"] if r["name"] == "shapes-folder-cnn")
    assert recipe["dataset"]["name"] == "zoo-shapes-folder-v1"

    run = tmp_path / "run"
    trained = json.loads(zoo("train", "shapes-folder-cnn", "--epochs", "4", "--save-at", "2,4", "--out", str(run), "--json").stdout)["manifest"]
    assert trained["classes"] == ["circle", "square", "triangle"] and [e["epoch"] for e in trained["epochs"]] == [2, 4]
    try:
        zoo("publish", str(run), "--repo", "example/shapes", "--hub-dir", str(hub_dir))
        fetched = json.loads(zoo("fetch", "shapes", "--epoch", "4", "--json").stdout)
        assert [f["epoch"] for f in fetched] == [4] and Path(fetched[0]["local_path"]).is_file()

        image = next((tmp_path / "home" / "datasets" / "zoo-shapes-folder-v1" / "square").iterdir())
        check = (
            "import sys, numpy as np, zoo\n"
            "from zoo.workflows.predicting import load_image\n"
            "from zoo_shapes_recipe.images import to_input\n"
            "x = to_input(load_image(sys.argv[1]))[None]\n"
            "hub, local = zoo.load_pretrained('shapes', epoch=4), zoo.load_pretrained(sys.argv[2], epoch=4)\n"
            "assert hub.zoo.commit and np.array_equal(hub.predict(x, verbose=0), local.predict(x, verbose=0))\n"
            "print(hub.zoo.epoch)\n"
        )
        loaded = subprocess.run([sys.executable, "-c", check, str(image), str(run)], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert loaded.returncode == 0 and loaded.stdout.strip() == "4", loaded.stderr

        compared = zoo("compare", "shapes", "--epochs", "2,4", "--verify")
        assert "verified:" in compared.stdout
    finally:
        shutil.rmtree(repo_dir(hub_dir, "example/shapes"), ignore_errors=True)
