"""Every epoch is a revision: its own commit, tagged epoch-N, whose root plain Keras and
``hf`` understand. The tools a user already has run in subprocesses that never import zoo
(except Keras on a subclassed model, whose class zoo defines)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import NO_ZOO, run_python as _python, runner

import zoo
from zoo.cli import app
from zoo.fileio import sha256_file


def test_a_revision_selects_its_epoch(hub):
    m = zoo.get_manifest("digits-mlp")
    [f] = zoo.fetch("hf://zoo/digits-mlp@epoch-1")
    assert f.epoch == 1 and sha256_file(f.local_path) == m.epochs[0].weights.sha256
    [f] = zoo.fetch("digits-mlp", revision="epoch-1")  # a bundled name, resolved without a request
    assert f.epoch == 1
    batch = np.random.default_rng(0).random((4, 64), dtype="float32")
    tagged = zoo.load_pretrained("zoo/digits-mlp", revision="epoch-1").predict(batch, verbose=0)
    np.testing.assert_array_equal(tagged, zoo.load_pretrained("digits-mlp", epoch=1).predict(batch, verbose=0))
    result = zoo.compare("hf://zoo/digits-mlp@epoch-1")
    assert [e.epoch for e in result.models[0].epochs] == [1]


def test_an_epoch_that_disagrees_with_the_tag_is_refused_naming_both(hub):
    for epoch in (2, "99"):  # "last" at the epoch-1 commit is epoch 1: no disagreement
        with pytest.raises(zoo.UsageError, match="selects epoch 1 \\(tag epoch-1\\), but `epoch` asks for"):
            zoo.fetch("hf://zoo/digits-mlp@epoch-1", epoch)
    out = runner.invoke(app, ["fetch", "hf://zoo/digits-mlp@epoch-1", "--epoch", "2"])
    assert out.exit_code == 2 and "--epoch" in out.stderr and "epoch-1" in out.stderr


def test_info_lists_each_epoch_with_its_revision(hub):
    text = runner.invoke(app, ["info", "zoo/digits-cnn"]).stdout
    assert re.search(r"1 .*epoch-1", text) and re.search(r"2 .*epoch-2", text)


def test_hf_download_of_an_epoch_gets_that_epoch_and_no_other(hub, tools_env, tmp_path):
    m = zoo.get_manifest("digits-cnn")
    hf = str(Path(sys.executable).with_name("hf"))
    subprocess.run([hf, "download", "zoo/digits-cnn", "--revision", "epoch-1", "--local-dir", str(tmp_path / "e1")],
                   env=tools_env, check=True, capture_output=True)
    got = {p.name: sha256_file(p) for p in (tmp_path / "e1").iterdir() if p.is_file()}
    assert sorted(got) == [".gitattributes", "README.md", "config.json", "metadata.json", "model.weights.h5", "resume.keras", "zoo.json"]
    assert got["model.weights.h5"] == m.epochs[0].weights.sha256 and got["resume.keras"] == m.epochs[0].file("resume").sha256
    others = {f.sha256 for e in m.epochs[1:] for f in e.files if f.role in ("weights", "resume")}
    assert not others & set(got.values())


def test_huggingface_hub_lists_the_epochs_as_tags(hub, tools_env, tmp_path):
    out = _python(NO_ZOO + "import json\nfrom huggingface_hub import HfApi\n"
                  "refs = HfApi().list_repo_refs('zoo/digits-cnn')\n"
                  "print(json.dumps({t.name: t.target_commit for t in refs.tags}))\n", tools_env, tmp_path)
    m = zoo.get_manifest("digits-cnn")
    assert json.loads(out) == {f"epoch-{e.epoch}": e.commit for e in m.epochs}


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn", "mnist-lenet"])
def test_plain_keras_loads_the_last_epoch_from_hf(name, hub, tools_env, tmp_path):
    """keras.saving.load_model("hf://ORG/NAME"), in a process that never imports zoo (a
    subclassed recipe needs its model class: that one imports zoo's model module)."""
    recipe = zoo.get_recipe(name)
    batch = recipe.dataset.load().test[0][:8]
    np.save(tmp_path / "batch.npy", batch)
    register = "import zoo.recipes.lenet_model\n" if recipe.style == "subclassed" else NO_ZOO
    _python(register + "import keras, numpy as np\n"
            f"model = keras.saving.load_model('hf://zoo/{name}')\n"
            "np.save('plain.npy', model.predict(np.load('batch.npy'), verbose=0))\n"
            + ("" if recipe.style == "subclassed" else NO_ZOO), tools_env, tmp_path)
    ours = zoo.load_pretrained(name, epoch="last").predict(batch, verbose=0)
    np.testing.assert_array_equal(np.load(tmp_path / "plain.npy"), ours)


def test_the_model_cards_snippets_work_as_written(hub, tools_env, tmp_path):
    """The card of epoch 1's commit: its zoo, plain-Keras and hf-download snippets run."""
    from huggingface_hub import hf_hub_download

    card = Path(hf_hub_download("zoo/mnist-lenet", "README.md", revision="epoch-1", endpoint=hub.endpoint, cache_dir=tmp_path / "c")).read_text()
    blocks = re.findall(r"```(python|bash)\n(.*?)```", card, re.S)
    assert [kind for kind, _ in blocks] == ["python", "python", "bash", "python"]
    assert "shape `[28, 28, 1]`" in card and "divided by 255" in card and "classes, in output order: 0, 1, 2" in card
    env = {**tools_env, "ZOO_HOME": os.environ["ZOO_HOME"]}
    for kind, code in blocks:
        if kind == "bash":
            subprocess.run(code.strip().split(), env={**env, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
                           cwd=tmp_path, check=True, capture_output=True)
        else:
            _python(code + "\nprint(type(model).__name__)\n", env, tmp_path)
