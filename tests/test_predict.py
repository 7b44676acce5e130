"""``zoo predict`` on image files: a classifier's top classes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import runner

import zoo
from zoo.cli import app



def _digit_png(x: np.ndarray, path, scale: int = 8) -> None:
    """A dataset digit as a photo would show it: dark ink on white, upscaled."""
    from PIL import Image

    side = int(round(x.size ** 0.5))
    ink = (1.0 - x.reshape(side, side)) * 255
    Image.fromarray(ink.round().astype("uint8")).resize((side * scale, side * scale), Image.Resampling.NEAREST).convert("RGB").save(path)


@pytest.mark.parametrize("name", ["digits-mlp", "mnist-lenet"])
def test_predict_gives_the_models_top_classes_for_an_image_file(name, hub, tmp_path):
    x = zoo.get_recipe(name).dataset.load().test[0][:3]
    paths = []
    for i, sample in enumerate(x):
        _digit_png(sample, tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    expected = zoo.load_pretrained(name, epoch=2).predict(x, verbose=0)
    out = runner.invoke(app, ["predict", name, *paths, "--epoch", "2", "--top", "2", "--json"])
    assert out.exit_code == 0, out.output
    results = json.loads(out.stdout)
    for probs, result in zip(expected, results):
        label, p = result["top"][0]
        assert label == str(int(np.argmax(probs)))
        assert p == pytest.approx(float(np.max(probs)), abs=0.02)
        assert len(result["top"]) == 2
    text = runner.invoke(app, ["predict", name, paths[0], "--epoch", "2"])
    assert text.exit_code == 0 and "%" in text.stdout


def test_predict_refuses_a_file_that_is_not_an_image(hub, tmp_path):
    (tmp_path / "x.png").write_text("not an image")
    out = runner.invoke(app, ["predict", "digits-mlp", str(tmp_path / "x.png")])
    assert out.exit_code == 16 and "not a readable image" in out.stderr
