"""shapes-yolo: box utilities and COCO mAP against hand-computed values, the dataset, the recipe.

AP values follow COCO's 101-point convention (zoo/detection.py): precision is made
monotone and sampled at recall 0, 0.01, ..., 1.00; past the highest recall reached it
is 0. So a class that reaches recall 0.5 at precision 1 has AP = 51/101, not 0.5.
pycocotools divides by ``tp + fp + eps``, so a perfect AP is 1 - 2e-16: compare with approx.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys

import numpy as np
import pytest

from zoo.recipes.detection import Detections, decode_grid, encode_grid, iou, mean_average_precision, non_max_suppression

BOX = [0.0, 0.0, 10.0, 10.0]


def dets(*rows) -> Detections:
    """``dets((box, score, class), ...)`` for one image."""
    boxes = np.array([r[0] for r in rows], dtype=np.float32).reshape(-1, 4)
    return Detections(boxes, np.array([r[1] for r in rows], dtype=np.float32), np.array([r[2] for r in rows], dtype=np.int64))


def truth(*rows):
    """``truth((box, class), ...)`` for one image: ``(boxes, classes)``."""
    return np.array([r[0] for r in rows], dtype=np.float32).reshape(-1, 4), np.array([r[1] for r in rows], dtype=np.int64)


# -- IoU -----------------------------------------------------------------------------

def test_iou_by_hand():
    got = iou([BOX], [BOX, [2, 0, 12, 10], [5, 5, 15, 15], [20, 20, 30, 30]])
    # identical; 80 / (100 + 100 - 80); 25 / (200 - 25); disjoint
    np.testing.assert_allclose(got, [[1.0, 80 / 120, 25 / 175, 0.0]])


# -- mAP against hand-computed values --------------------------------------------------

def test_perfect_detections_score_one():
    gts = [truth((BOX, 0), ([20, 20, 40, 36], 1)), truth(([5, 30, 25, 50], 2))]
    found = [dets((BOX, 0.9, 0), ([20, 20, 40, 36], 0.8, 1)), dets(([5, 30, 25, 50], 0.7, 2))]
    assert mean_average_precision(found, gts, 3) == pytest.approx({"map50": 1.0, "map50_95": 1.0})


def test_shifted_box_counts_at_low_iou_thresholds_only():
    # IoU of [0,0,10,10] and [2,0,12,10] = 80/120 = 0.667: a match at 0.50, 0.55, 0.60
    # and 0.65 (AP 1 each), a miss at 0.70 ... 0.95 (AP 0): 4 of 10 thresholds.
    result = mean_average_precision([dets(([2, 0, 12, 10], 0.9, 0))], [truth((BOX, 0))], 1)
    assert result["map50"] == pytest.approx(1.0)
    assert result["map50_95"] == pytest.approx(0.4)


def test_wrong_class_scores_zero():
    # class 0 has ground truth and no detection: AP 0. Class 1 has no ground truth: left out.
    assert mean_average_precision([dets((BOX, 0.9, 1))], [truth((BOX, 0))], 2) == {"map50": 0.0, "map50_95": 0.0}


def test_duplicate_detection_is_a_false_positive():
    # Image 0 has one object, detected twice (0.9, then 0.8, same box); image 1 has one,
    # detected at 0.7. By score: TP, FP, TP -> recall 0.5, 0.5, 1; precision 1, 1/2, 2/3.
    # Monotone precision: 1 up to recall 0.5 (51 points), 2/3 above it (50 points).
    expected = (51 * 1.0 + 50 * 2 / 3) / 101
    found = [dets((BOX, 0.9, 0), (BOX, 0.8, 0)), dets(([30, 30, 40, 40], 0.7, 0))]
    result = mean_average_precision(found, [truth((BOX, 0)), truth(([30, 30, 40, 40], 0))], 1)
    assert result["map50"] == pytest.approx(expected) and result["map50_95"] == pytest.approx(expected)


def test_missed_detection_halves_recall():
    # Two objects, one found: recall 0.5 at precision 1 -> 51 of the 101 recall points.
    result = mean_average_precision([dets((BOX, 0.9, 0))], [truth((BOX, 0), ([30, 30, 40, 40], 0))], 1)
    assert result["map50"] == pytest.approx(51 / 101) and result["map50_95"] == pytest.approx(51 / 101)


def test_map_is_the_mean_over_classes_with_ground_truth():
    # class 0 perfect (1), class 1 missed (0), class 2 only a detection (left out): mean 0.5
    found = [dets((BOX, 0.9, 0), ([40, 40, 50, 50], 0.5, 2))]
    result = mean_average_precision(found, [truth((BOX, 0), ([20, 20, 30, 30], 1))], 3)
    assert result == pytest.approx({"map50": 0.5, "map50_95": 0.5})


def test_no_detections_at_all_score_zero():
    assert mean_average_precision([dets()], [truth((BOX, 0))], 1) == {"map50": 0.0, "map50_95": 0.0}


# -- NMS --------------------------------------------------------------------------------

def test_nms_drops_an_overlapping_lower_score_box_and_keeps_the_rest():
    kept = non_max_suppression(dets(
        ([1, 0, 11, 10], 0.8, 0),      # IoU 0.82 with the 0.9 box, same class: dropped
        (BOX, 0.9, 0),
        ([30, 30, 40, 40], 0.7, 0),    # no overlap: kept
        ([1, 0, 11, 10], 0.6, 1),      # overlaps, but another class: kept
    ), iou_threshold=0.5)
    np.testing.assert_array_equal(kept.boxes, [BOX, [30, 30, 40, 40], [1, 0, 11, 10]])
    np.testing.assert_array_equal(kept.scores, np.float32([0.9, 0.7, 0.6]))
    np.testing.assert_array_equal(kept.classes, [0, 0, 1])


def test_nms_agrees_with_tensorflow_per_class():
    from zoo.tf import tf

    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, (60, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 20, (60, 2))], axis=1).astype(np.float32)
    scores, classes = rng.permutation(60).astype(np.float32) / 60, rng.integers(0, 3, 60)
    kept = non_max_suppression(Detections(boxes, scores, classes), iou_threshold=0.4)
    for c in range(3):
        idx = np.nonzero(classes == c)[0]
        yxyx = boxes[idx][:, [1, 0, 3, 2]]
        ref = tf.image.non_max_suppression(yxyx, scores[idx], max_output_size=100, iou_threshold=0.4).numpy()
        np.testing.assert_array_equal(kept.scores[kept.classes == c], scores[idx][ref])


# -- grid encode / decode -----------------------------------------------------------------

def test_encode_grid_by_hand_and_decode_inverts_it():
    grid = encode_grid([[10, 20, 24, 34], [40, 3, 60, 23]], [2, 0], grid_size=8, image_size=64, num_classes=3)
    # centre (17, 27) -> cell (row 3, col 2), offset (1/8, 3/8), size 14/64
    np.testing.assert_array_equal(grid[3, 2], np.float32([1, 1 / 8, 3 / 8, 14 / 64, 14 / 64, 0, 0, 1]))
    assert grid[..., 0].sum() == 2
    decoded = decode_grid(grid, image_size=64)
    order = np.argsort(decoded.boxes[:, 0])
    np.testing.assert_array_equal(decoded.boxes[order], np.float32([[10, 20, 24, 34], [40, 3, 60, 23]]))
    np.testing.assert_array_equal(decoded.classes[order], [2, 0])
    np.testing.assert_array_equal(decoded.scores, [1, 1])


def test_encode_grid_refuses_two_centres_in_one_cell():
    with pytest.raises(ValueError, match="cell"):
        encode_grid([[0, 0, 10, 10], [1, 1, 11, 11]], [0, 1], grid_size=8, image_size=64, num_classes=3)


def test_decode_from_logits_scores_objectness_times_class_probability():
    grid = np.full((8, 8, 8), -20.0, dtype=np.float32)
    grid[1, 2] = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, np.log(3.0), 0.0]  # obj 0.5, centre of cell, size 0.5
    found = decode_grid(grid, image_size=64, score_threshold=0.1, from_logits=True)
    np.testing.assert_allclose(found.boxes, [[20 - 16, 12 - 16, 20 + 16, 12 + 16]], atol=1e-5)
    np.testing.assert_allclose(found.scores, [0.5 * 3 / 5], rtol=1e-5)
    np.testing.assert_array_equal(found.classes, [1])


# -- the dataset ---------------------------------------------------------------------------

DIGEST = """
import hashlib
from zoo.recipes import shapes_data
splits, h = shapes_data.load(), hashlib.sha256()
for split in ("train", "val", "test"):
    for a in splits.get(split):
        h.update(a.tobytes())
digest = h.hexdigest()
"""


def _digest() -> str:
    scope: dict = {}
    exec(DIGEST, scope)
    return scope["digest"]


def test_dataset_is_deterministic_and_decodes_back_to_its_boxes():
    from zoo.recipes import shapes_data

    first, digest = shapes_data.load(), _digest()
    shapes_data.load.cache_clear()
    again = shapes_data.load()
    assert first is not again and _digest() == digest
    for split, n in shapes_data.SPLIT_SIZES.items():
        x, y = again.get(split)
        assert x.shape == (n, 64, 64, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
        assert y.shape == (n, 8, 8, 8) and y.dtype == np.float32
    # the val split, regenerated with its boxes, decodes back exactly
    images, annotations = shapes_data.generate(shapes_data.SPLIT_SIZES["val"], [shapes_data.SEED, 1])
    x, y = again.val
    np.testing.assert_array_equal(images, x)
    counts = []
    for (boxes, classes), target in zip(annotations, y):
        decoded = decode_grid(target, image_size=64)
        want, got = np.lexsort(boxes.T[::-1]), np.lexsort(decoded.boxes.T[::-1])
        np.testing.assert_array_equal(decoded.boxes[got], boxes[want].astype(np.float32))
        np.testing.assert_array_equal(decoded.classes[got], classes[want])
        counts.append(len(boxes))
    assert set(counts) == {1, 2, 3}
    # and another process makes the same bytes
    out = subprocess.run([sys.executable, "-c", DIGEST + "print(digest)"], capture_output=True, text=True, check=True).stdout.strip()
    assert out == digest


# -- the recipe -----------------------------------------------------------------------------

def test_importing_the_recipe_imports_no_tensorflow_or_numpy():
    code = "import sys, zoo.recipes.shapes_yolo; print(sorted({'numpy', 'tensorflow', 'keras'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


@pytest.fixture(scope="module")
def recipe():
    import zoo.recipes.shapes_yolo  # noqa: F401  (registers it)
    from zoo.registry import get_recipe

    return get_recipe("shapes-yolo")


def test_recipe_declares_a_detector(recipe):
    assert (recipe.task, recipe.style, recipe.class_names) == ("detection", "subclassed", ("circle", "square", "triangle"))
    assert (recipe.selection_metric, recipe.selection_mode, recipe.save_at, recipe.train.seed) == ("val/map50", "max", (10, 50, 100), 0)
    model = recipe.build()
    out = np.asarray(model(np.zeros((2, 64, 64, 3), dtype=np.float32)))
    assert out.shape == (2, 8, 8, 8)
    assert [layer.name for layer in model.layers] == ["conv1", "conv2", "conv3", "pool2", "pool3", "neck", "head"]


@pytest.fixture(scope="module")
def small_run(recipe, tmp_path_factory):
    """shapes-yolo trained 1 epoch, then resumed to 2, on 128/32/32 images."""
    from zoo.registry import DatasetSpec, Splits
    from zoo.workflows.training import train

    full = recipe.dataset.load()
    small = Splits(train=tuple(a[:128] for a in full.train), val=tuple(a[:32] for a in full.val), test=tuple(a[:32] for a in full.test))
    tiny = dataclasses.replace(recipe, dataset=DatasetSpec(name="shapes-small", splits=recipe.dataset.splits, load=lambda: small))
    out = tmp_path_factory.mktemp("yolo") / "run"
    train(tiny, epochs=1, save_at=[1], out=out, progress=False)
    return train(tiny, epochs=2, save_at=[1, 2], out=out, resume=True, progress=False), small


def test_short_training_reports_detection_metrics(small_run):
    result, _ = small_run
    assert result.trained_epochs == [2] and [e.epoch for e in result.manifest.epochs] == [1, 2]
    metrics = result.manifest.epochs[-1].metrics
    assert set(metrics) == {f"{s}/{k}" for s in ("train", "val", "test") for k in ("loss", "map50", "map50_95")}
    for key, value in metrics.items():
        assert np.isfinite(value) and (key.endswith("loss") or 0.0 <= value <= 1.0), (key, value)
    assert result.manifest.selection["best"].metric == "val/map50"


def test_resume_state_loads_back_with_its_loss(small_run, recipe):
    from zoo.tf import keras

    result, small = small_run
    loaded = keras.models.load_model(result.run_dir / "epochs/e002/resume.keras")
    model = recipe.build()
    model.load_weights(result.run_dir / "epochs/e002/model.weights.h5")
    x = small.val[0][:4]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert int(loaded.optimizer.iterations) == 2 * 4  # 128 images / 32 per batch, 2 epochs
    measured = recipe.evaluator(loaded, *small.val)
    assert measured == pytest.approx({k.split("/")[1]: v for k, v in result.manifest.epochs[-1].metrics.items() if k.startswith("val/")}, rel=1e-5)


def test_predict_and_draw_detections(small_run, recipe, tmp_path):
    from zoo.recipes.shapes_yolo import predict_detections
    from zoo.workflows.visualize import draw_detections

    result, small = small_run
    model = recipe.build()
    model.load_weights(result.run_dir / "epochs/e002/model.weights.h5")
    found = predict_detections(model, small.val[0][:3], score_threshold=0.0)
    assert len(found) == 3
    for image_dets in found:
        assert 0 < len(image_dets) <= 64
        (x1, y1, x2, y2), score, cls = image_dets[0]
        assert x1 < x2 and y1 < y2 and 0 <= score <= 1 and cls in (0, 1, 2)
        assert [d[1] for d in image_dets] == sorted((d[1] for d in image_dets), reverse=True)
    path = draw_detections(small.val[0][0], found[0][:3], recipe.class_names, tmp_path / "out" / "d.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
