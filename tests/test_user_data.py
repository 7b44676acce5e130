"""Your model, your data: training on a folder of images, fine-tuning a published epoch for
other classes (with lineage, exact resume and publishing), a new head on load, and every
kind of bad data refused before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import runner

CLASSES = ("one", "seven", "zero")  # folder names: sorted, they are the label order
DIGITS = {"zero": 0, "one": 1, "seven": 7}


def write_folder(root: Path, per_class: int = 30, classes=CLASSES) -> Path:
    """PNG files of real MNIST digits in one sub-folder per class, as a user would have them."""
    from PIL import Image

    from zoo.recipes.datasets import MNIST_5K

    x, y = MNIST_5K.load().test
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in np.flatnonzero(y == DIGITS[name])[:per_class]:
            Image.fromarray((x[i, ..., 0] * 255).astype("uint8")).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    return write_folder(tmp_path_factory.mktemp("images") / "digits")


def weights_of(model, layer: str) -> list[np.ndarray]:
    return [np.asarray(w) for w in model.get_layer(layer).get_weights()]


def test_fine_tuning_a_published_epoch_records_its_data_and_lineage_resumes_exactly_and_publishes(hub, hub_dir, image_folder, tmp_path):
    import zoo
    from huggingface_hub import hf_hub_download

    from zoo.cli.app import app
    from zoo.constants import user_manifests_dir

    args = dict(start_from="mnist-lenet@2", data=image_folder, save_at=[1, 2], unfreeze_at=1, progress=False)
    full = zoo.train("mnist-lenet", epochs=2, out=tmp_path / "full", **args)
    m = full.manifest
    assert m.classes == CLASSES
    assert m.recipe.builder_kwargs["num_classes"] == 3
    assert sum(m.recipe.dataset.counts.values()) == 90 and m.recipe.dataset.counts["train"] >= 64
    assert len(m.recipe.dataset.fingerprint) == 64
    published = zoo.load_pretrained("mnist-lenet", epoch=2)
    assert (m.parent.repo_id, m.parent.epoch, m.parent.commit) == ("zoo/mnist-lenet", 2, published.zoo.commit)
    assert m.parent.backbone == "frozen-until-1" and m.parent.layout_sha256 == zoo.get_manifest("mnist-lenet").compat.layout_sha256

    first, second = zoo.load_pretrained(str(full.run_dir), epoch=1), zoo.load_pretrained(str(full.run_dir), epoch=2)
    for layer in ("conv1", "conv2", "fc1", "fc2"):  # frozen through epoch 1, trained after
        assert all(np.array_equal(a, b) for a, b in zip(weights_of(first, layer), weights_of(published, layer)))
        assert not all(np.array_equal(a, b) for a, b in zip(weights_of(second, layer), weights_of(first, layer)))
    assert weights_of(first, "classes")[0].shape == (84, 3)

    # Killed after epoch 1 and resumed: the same bytes as the uninterrupted run.
    zoo.train("mnist-lenet", epochs=1, out=tmp_path / "part", **args)
    resumed = zoo.train("mnist-lenet", epochs=2, out=tmp_path / "part", data=image_folder, resume=True, progress=False).manifest
    assert [f.sha256 for e in resumed.epochs for f in e.files] == [f.sha256 for e in m.epochs for f in e.files]
    other = write_folder(tmp_path / "other", per_class=31)
    with pytest.raises(zoo.RunDirError, match="not the data the run started on"):
        zoo.train("mnist-lenet", epochs=3, out=tmp_path / "part", data=other, resume=True, progress=False)

    # Published with its lineage; the card carries base_model; predict names the folder's classes.
    result = zoo.publish(full.run_dir, "me/lenet-digits", hub_dir=hub_dir, manifests_dir=user_manifests_dir())
    assert result.manifest.parent == m.parent
    card = Path(hf_hub_download("me/lenet-digits", "README.md", endpoint=hub.endpoint, cache_dir=tmp_path / "c")).read_text()
    assert "base_model: zoo/mnist-lenet" in card and "frozen until epoch 1" in card
    image = next((image_folder / "seven").iterdir())
    out = runner.invoke(app, ["predict", "lenet-digits", str(image), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)[0]["top"][0][0] in CLASSES
    with pytest.raises(zoo.UsageError, match="trained on data of its own"):
        zoo.evaluate("lenet-digits")

    # Fine-tuned again from the fine-tuned model: zoo info shows the chain, nearest first.
    again = zoo.train("mnist-lenet", epochs=1, out=tmp_path / "again", start_from="lenet-digits@2", data=image_folder,
                      freeze_backbone=True, progress=False)
    zoo.publish(again.run_dir, "me/lenet-digits-2", hub_dir=hub_dir, manifests_dir=user_manifests_dir())
    info = runner.invoke(app, ["info", "lenet-digits-2"])
    assert info.exit_code == 0, info.output
    lines = [line.strip() for line in info.output.splitlines() if line.strip().startswith("fine-tuned from")]
    assert len(lines) == 2, info.output
    assert lines[0].startswith("fine-tuned from me/lenet-digits epoch 2") and "frozen throughout" in lines[0]
    assert lines[1].startswith("fine-tuned from zoo/mnist-lenet epoch 2")


def test_a_new_head_keeps_every_backbone_weight_and_names_exactly_the_head(hub):
    import zoo

    published = zoo.load_pretrained("mnist-lenet", epoch=2)
    three = zoo.load_pretrained("mnist-lenet", epoch=2, num_classes=3)
    head = three.get_layer("classes")
    assert head.get_weights()[0].shape == (84, 3)
    assert three.zoo.reinitialized == tuple(v.path for v in head.weights) and len(three.zoo.reinitialized) == 2
    for layer in three.layers:
        if layer.name != "classes":
            assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), published.get_layer(layer.name).get_weights()))
    same = zoo.load_pretrained("mnist-lenet", epoch=2, num_classes=10)
    assert same.zoo.reinitialized == ()
    assert np.array_equal(same.get_layer("classes").get_weights()[0], published.get_layer("classes").get_weights()[0])

    backbone = zoo.load_pretrained("digits-cnn", epoch=2, features_only=True)
    assert backbone.output_shape == (None, 64)
    with pytest.raises(zoo.UsageError, match="subclassed"):
        zoo.load_pretrained("mnist-lenet", epoch=2, features_only=True)
    with pytest.raises(zoo.UsageError, match="at least 2"):
        zoo.load_pretrained("mnist-lenet", epoch=2, num_classes=1)
    with pytest.raises(zoo.UsageError, match="declares no head"):
        zoo.load_pretrained("shapes-yolo", epoch=2, num_classes=3)


def test_training_from_scratch_on_an_npz_records_its_classes(tmp_path):
    import zoo
    from zoo.recipes.datasets import DIGITS_FLAT

    x, y = DIGITS_FLAT.load().train
    keep = y < 3
    np.savez(tmp_path / "three.npz", x=x[keep][:150], y=y[keep][:150], classes=np.array(["nought", "one", "two"]))
    run = zoo.train("digits-mlp", epochs=1, out=tmp_path / "run", data=tmp_path / "three.npz", progress=False)
    assert run.manifest.classes == ("nought", "one", "two") and run.manifest.parent is None
    assert run.manifest.recipe.dataset.name == "npz:three.npz"
    model = zoo.load_pretrained(str(run.run_dir))
    assert model.output_shape == (None, 3)
    zoo.train("digits-mlp", epochs=1, out=tmp_path / "plain", progress=False)
    with pytest.raises(zoo.RunDirError, match="recipe's own dataset"):
        zoo.train("digits-mlp", epochs=2, out=tmp_path / "plain", data=tmp_path / "three.npz", resume=True, progress=False)


def _bad(kind: str, root: Path) -> tuple[Path, str]:
    """A data path with one thing wrong, and what the message must say."""
    data = root / "data"
    if kind == "missing":
        return data, "no such folder"
    data.mkdir()
    if kind == "empty":
        return data, "holds no class folders"
    if kind == "one class":
        write_folder(data, per_class=80, classes=("one",))
        return data, "only one class"
    if kind == "too few for a batch":
        write_folder(data, per_class=20)
        return data, "fewer than one batch"
    write_folder(data, per_class=30)
    if kind == "not an image":
        (data / "seven" / "notes.txt").write_text("labels checked by hand")
        return data, "notes.txt is not an image file"
    if kind == "unreadable image":
        (data / "zero" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
        return data, "broken.png is not a readable image"
    if kind == "class without images":
        (data / "two").mkdir()
        return data, "two holds no images"
    if kind == "npz without labels":
        np.savez(root / "x.npz", x=np.zeros((100, 28, 28, 1), "float32"))
        return root / "x.npz", "not an .npz with arrays x and y"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing", "empty", "one class", "too few for a batch", "not an image", "unreadable image",
                                  "class without images", "npz without labels"])
def test_bad_data_is_refused_by_name_and_nothing_is_written(kind, tmp_path):
    import zoo

    data, says = _bad(kind, tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(zoo.DataError, match=says):
        zoo.train("mnist-lenet", epochs=1, out=tmp_path / "run", data=data, progress=False)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_the_cli_fine_tunes_with_a_frozen_backbone_and_refuses_bad_data_with_its_own_exit_code(hub, image_folder, tmp_path):
    import zoo
    from zoo.cli.app import app
    from zoo.cli.exit_codes import EXIT_CODES

    out = runner.invoke(app, ["train", "mnist-lenet", "--from", "mnist-lenet@2", "--data", str(image_folder), "--freeze-backbone",
                              "--epochs", "1", "--lr", "0.0005", "--out", str(tmp_path / "ft"), "--json"])
    assert out.exit_code == 0, out.output
    made = json.loads(out.stdout)["manifest"]
    assert made["parent"]["backbone"] == "frozen" and made["recipe"]["train_config"]["learning_rate"] == 0.0005
    tuned, published = zoo.load_pretrained(str(tmp_path / "ft")), zoo.load_pretrained("mnist-lenet", epoch=2)
    assert all(np.array_equal(a, b) for a, b in zip(weights_of(tuned, "fc2"), weights_of(published, "fc2")))

    bad = runner.invoke(app, ["train", "mnist-lenet", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")])
    assert bad.exit_code == EXIT_CODES[zoo.DataError] and "no such folder" in bad.output and "Traceback" not in bad.output
    flags = runner.invoke(app, ["train", "mnist-lenet", "--unfreeze-at", "2", "--out", str(tmp_path / "y")])
    assert flags.exit_code == EXIT_CODES[zoo.UsageError] and "--unfreeze-at" in flags.output and "--from" in flags.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_compare_finetune_says_which_epoch_transfers_best(hub, image_folder, tmp_path):
    import zoo
    from zoo.cli.app import app

    study = zoo.compare_transfer("mnist-lenet", [1, 2], image_folder, finetune_epochs=1, freeze_backbone=True)
    assert [r.source_epoch for r in study.rows] == [1, 2] and study.classes == CLASSES and study.backbone == "frozen"
    published = zoo.get_manifest("mnist-lenet")
    for row in study.rows:
        assert row.source == next(e.metrics for e in published.epochs if e.epoch == row.source_epoch)
        direct = zoo.train("mnist-lenet", epochs=1, out=tmp_path / f"by-hand-{row.source_epoch}", start_from=f"mnist-lenet@{row.source_epoch}",
                           data=image_folder, freeze_backbone=True, progress=False)
        assert row.fine_tuned == direct.manifest.epochs[-1].metrics  # the same seed and data order as a run by hand
    assert study.rows[0].fine_tuned != study.rows[1].fine_tuned
    best = max(study.rows, key=lambda r: r.fine_tuned["val/accuracy"]).source_epoch
    assert study.best_source_epoch == best

    out = runner.invoke(app, ["compare", "mnist-lenet", "--epochs", "1,2", "--finetune", str(image_folder), "--finetune-epochs", "1",
                              "--freeze-backbone", "--json", "--plot", str(tmp_path / "transfer.png")])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["best_source_epoch"] == best and [r["fine_tuned"] for r in data["rows"]] == [r.fine_tuned for r in study.rows]
    assert (tmp_path / "transfer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = runner.invoke(app, ["compare", "mnist-lenet", "--epochs", "1,2", "--finetune", str(image_folder), "--finetune-epochs", "1", "--freeze-backbone"])
    assert table.exit_code == 0 and f"best starting epoch: {best}" in table.output


def test_a_model_of_your_classes_exports_and_int8_calibrates_on_your_images(image_folder, tmp_path):
    """Its head is not the recipe's (3 classes, not 10): the weights export loads back into
    the manifest's architecture; int8 needs examples of the data it learnt, so without
    them it is refused, and with them it is calibrated on them."""
    import zoo
    from zoo.cli.app import app

    run = zoo.train("mnist-lenet", epochs=1, data=image_folder, out=tmp_path / "run", progress=False).run_dir
    assert zoo.export(str(run), None, "weights", tmp_path / "m.weights.h5").max_abs_diff == 0.0
    refused = runner.invoke(app, ["export", str(run), "--format", "litert", "--quantize", "int8", "--out", str(tmp_path / "q.tflite")])
    assert refused.exit_code == 2 and "--data" in refused.output and not (tmp_path / "q.tflite").exists()
    result = zoo.export(str(run), None, "litert", tmp_path / "q.tflite", quantize="int8", data=image_folder)
    assert result.path.exists() and result.quantize == "int8"
