"""shapes-yolo: a tiny single-stage, grid-based (YOLO-style) detector, a subclassed ``keras.Model``.

The image (64x64 RGB) goes through a stride-2 conv and two conv + max-pool stages
(8, 16, 32 filters) down to an 8x8 grid of 8x8-pixel cells, a 3x3 "neck" conv (64
filters), and a 1x1 conv head (25k parameters in all) that predicts, per cell, raw logits for
objectness, the box (centre offset in the cell, size as a fraction of the image) and
the three classes, laid out as ``zoo.recipes.detection`` documents. One box per cell, no
anchors: the synthetic dataset keeps at most one object centre per cell.

The loss is YOLOv1's, with BCE for objectness: objectness BCE on every cell (empty
cells weighted 0.5), squared error on the centre offset and on sqrt(size) in object
cells (weighted 5), and class cross-entropy in object cells; summed over the cells,
averaged over the batch. Training reports mAP@0.5 and mAP@0.5:0.95 (pycocotools)
and the loss per split; ``val/map50`` picks the best epoch.

Importing this module imports no TensorFlow: the model class lives in ``yolo_model.py``,
imported when a model is built.
"""

from __future__ import annotations

import functools

from zoo.formats.manifest import TrainConfig
from zoo.recipes.datasets import rgb_raw_input
from zoo.recipes.shapes_data import CLASS_NAMES, GRID_SIZE, IMAGE_SIZE, SHAPES
from zoo.registry import register_recipe

NO_OBJECT_WEIGHT = 0.5
BOX_WEIGHT = 5.0
EVAL_SCORE_THRESHOLD = 0.01  # keep low-scoring boxes for mAP: they extend the recall
NMS_IOU_THRESHOLD = 0.5
PREDICT_BATCH = 256


def yolo_loss(y_true, y_pred):
    """Per-image YOLO loss of raw head logits ``y_pred`` against grid targets ``y_true``.

    A plain function, registered as ``zoo>yolo_loss`` by ``yolo_model.py``, so a compiled
    model saves to ``.keras`` and loads back with its loss."""
    from zoo.tf import keras

    ops = keras.ops
    y_true = ops.convert_to_tensor(y_true, dtype="float32")
    y_pred = ops.convert_to_tensor(y_pred, dtype="float32")
    obj = y_true[..., 0]
    obj_bce = ops.binary_crossentropy(obj, y_pred[..., 0], from_logits=True)
    obj_loss = ops.sum(obj_bce * (obj + NO_OBJECT_WEIGHT * (1.0 - obj)), axis=(1, 2))
    xy, wh = ops.sigmoid(y_pred[..., 1:3]), ops.sigmoid(y_pred[..., 3:5])
    box_error = ops.sum(ops.square(xy - y_true[..., 1:3]), axis=-1) + ops.sum(
        ops.square(ops.sqrt(wh) - ops.sqrt(y_true[..., 3:5])), axis=-1
    )
    box_loss = BOX_WEIGHT * ops.sum(obj * box_error, axis=(1, 2))
    class_ce = ops.categorical_crossentropy(y_true[..., 5:], y_pred[..., 5:], from_logits=True, axis=-1)
    class_loss = ops.sum(obj * class_ce, axis=(1, 2))
    return obj_loss + box_loss + class_loss


def _predict(model, images):
    """Raw head output for ``images``, in batches of ``PREDICT_BATCH``.

    The last batch is zero-padded to full size: one input shape means one trace of
    Keras's predict function, however many splits and sizes are evaluated."""
    import numpy as np

    x = np.asarray(images, dtype="float32")
    n, pad = len(x), -len(x) % PREDICT_BATCH
    if pad:
        x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), dtype=x.dtype)])
    return np.asarray(model.predict(x, batch_size=PREDICT_BATCH, verbose=0))[:n]


def _detections(raw, score_threshold: float, iou_threshold: float):
    from zoo.recipes.detection import decode_grid, non_max_suppression

    return [
        non_max_suppression(decode_grid(grid, image_size=IMAGE_SIZE, score_threshold=score_threshold, from_logits=True), iou_threshold)
        for grid in raw
    ]


def evaluate(model, x, y) -> dict[str, float]:
    """``{"map50", "map50_95", "loss"}`` of ``model`` on images ``x`` with grid targets ``y``."""
    import numpy as np

    from zoo.recipes.detection import decode_grid, mean_average_precision

    raw = _predict(model, x)
    loss = float(np.mean(np.asarray(yolo_loss(y, raw))))
    truth = [decode_grid(t, image_size=IMAGE_SIZE)[::2] for t in y]  # (boxes, classes)
    detections = _detections(raw, EVAL_SCORE_THRESHOLD, NMS_IOU_THRESHOLD)
    return {**mean_average_precision(detections, truth, len(CLASS_NAMES)), "loss": loss}


def predict_detections(model, images, score_threshold: float = 0.3, iou_threshold: float = 0.5):
    """Per image, a list of ``(box, score, class_index)``: box ``(x1, y1, x2, y2)`` in pixels, after NMS."""
    return [
        [(tuple(float(v) for v in box), float(score), int(cls)) for box, score, cls in zip(*dets)]
        for dets in _detections(_predict(model, images), score_threshold, iou_threshold)
    ]


def image_input(image):
    """An RGB image in [0, 1] of any size -> the detector's 64x64 input."""
    import numpy as np
    from PIL import Image

    pixels = Image.fromarray((np.clip(image[..., :3], 0, 1) * 255).round().astype("uint8"))
    return np.asarray(pixels.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR), dtype="float32") / 255.0


@register_recipe(
    name="shapes-yolo",
    version=1,
    description="Subclassed keras.Model, a tiny YOLO-style grid detector (8x8 cells, one box each) "
    "on seeded synthetic 64x64 images of circles, squares and triangles.",
    input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
    dataset=SHAPES,
    train=TrainConfig(optimizer="adam", learning_rate=1e-3, batch_size=32, epochs=100, seed=0),
    builder_kwargs={"filters": [8, 16, 32], "neck": 64},
    kwargs_schema={"type": "object", "additionalProperties": False, "properties": {
        "filters": {"type": "array", "minItems": 3, "maxItems": 3, "items": {"type": "integer", "minimum": 1, "maximum": 512}},
        "neck": {"type": "integer", "minimum": 1, "maximum": 1024}}},
    max_params=20_000_000,
    loss=yolo_loss,
    metrics=(),
    evaluator=evaluate,
    selection_metric="val/map50",
    selection_mode="max",
    task="detection",
    class_names=CLASS_NAMES,
    preprocess=image_input,
    raw_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
    raw_input=rgb_raw_input,
    detect=functools.partial(predict_detections, score_threshold=0.0),  # callers filter by their own threshold
    style="subclassed",
    input_description="A 64x64 RGB image (zoo predict resizes any image bilinearly), values divided by 255. "
    "Output: an 8x8 grid of 8 raw logits per cell: objectness, box centre x, y in the cell, width, height as a "
    "fraction of the image (sigmoid each), then 3 class logits (circle, square, triangle).",
)
def build(filters=(8, 16, 32), neck=64, num_classes=len(CLASS_NAMES)):
    if IMAGE_SIZE // 2 ** len(filters) != GRID_SIZE:
        raise ValueError(f"{len(filters)} pooling stages do not bring {IMAGE_SIZE}px down to the {GRID_SIZE}x{GRID_SIZE} grid")
    from zoo.recipes.yolo_model import ShapesYOLO  # imports TensorFlow

    return ShapesYOLO(filters=filters, neck=neck, num_classes=num_classes, name="shapes_yolo")
