"""The detector goes through train → publish → fetch → compare → predict like the others."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import runner

import zoo
from zoo.cli import app



@pytest.fixture()
def shapes_png(tmp_path):
    from PIL import Image

    x = zoo.get_recipe("shapes-yolo").dataset.load().test[0][0]
    path = tmp_path / "shapes.png"
    Image.fromarray((x * 255).round().astype("uint8")).save(path)
    return path


def test_compare_reports_map_per_epoch_and_reproduces_it(hub):
    result = zoo.compare("shapes-yolo", [1, 2])
    [model] = result.models
    assert set(result.metrics) == {"test/loss", "test/map50", "test/map50_95"}
    for e in model.epochs:
        assert 0.0 <= e.measured["test/map50"] <= 1.0
        assert e.measured["test/map50"] == pytest.approx(e.published["test/map50"], abs=1e-6)
    assert model.selection_metric == "val/map50"


def test_predict_draws_boxes_labels_and_scores(hub, shapes_png, tmp_path):
    import matplotlib.image

    out = tmp_path / "boxes.png"
    result = runner.invoke(app, ["predict", "shapes-yolo", str(shapes_png), "--epoch", "2", "--out", str(out), "--score-threshold", "0.0", "--json"])
    assert result.exit_code == 0, result.output
    [pred] = json.loads(result.stdout)
    assert pred["drawn"] == str(out) and pred["boxes"]
    assert all(b["label"] in ("circle", "square", "triangle") and 0 <= b["score"] <= 1 and len(b["box"]) == 4 for b in pred["boxes"])
    image = matplotlib.image.imread(out)
    assert image.shape[0] >= 300 and image[..., :3].std() > 0.05


def test_compare_show_renders_one_image_across_epochs(hub, shapes_png, tmp_path):
    import matplotlib.image

    out = tmp_path / "side.png"
    result = runner.invoke(app, ["compare", "shapes-yolo", "--epochs", "1,2", "--show", str(shapes_png), "--show-out", str(out)])
    assert result.exit_code == 0, result.output
    image = matplotlib.image.imread(out)
    height, width = image.shape[:2]
    assert width > 1.5 * height, "two panels side by side"
    assert runner.invoke(app, ["compare", "digits-mlp", "--show", str(shapes_png)]).exit_code == 2


def test_the_detector_is_published_with_map_in_its_model_card(hub_dir):
    import subprocess

    card = subprocess.run(["git", "-C", str(hub_dir / "models/zoo/shapes-yolo"), "show", "main:README.md"], capture_output=True, text=True, check=True).stdout
    assert "object-detection" in card and "map50" in card
