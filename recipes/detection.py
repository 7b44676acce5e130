"""Boxes for grid (YOLO-style) detectors: encode, decode, IoU, NMS and COCO mAP.

Numpy only; nothing here imports TensorFlow. Conventions, used everywhere:

* A box is ``(x1, y1, x2, y2)`` in pixels, ``x2 > x1``, ``y2 > y1``; its area is
  ``(x2 - x1) * (y2 - y1)`` (continuous coordinates, no "+1" pixel convention).
* A grid tensor has shape ``(S, S, 5 + C)``; cell ``[row, col]`` covers pixels
  ``y in [row * cell, (row + 1) * cell)``, ``x in [col * cell, ...)`` with
  ``cell = image_size / S``. Its channels are::

      0        objectness        1 if an object's centre lies in this cell
      1, 2     cx, cy            the centre's offset inside the cell, in [0, 1)
      3, 4     w, h              the box size as a fraction of the image size
      5 ...    class one-hot     (probabilities once decoded)

  A detector head predicts the same channels as raw logits: ``decode_grid(...,
  from_logits=True)`` applies a sigmoid to channels 0-4 and a softmax to the classes.
* Class indices are 0-based.

mAP is computed by pycocotools, the reference COCO evaluator: 101-point interpolated
AP per class (precision made monotone, sampled at recall 0, 0.01, ..., 1, zero past
the highest recall reached), at IoU thresholds 0.50:0.05:0.95, a detection matching
when IoU >= threshold, at most 100 detections per image and class, no area ranges,
averaged over the classes that have ground truth.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, NamedTuple, Sequence

import numpy as np

COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # exactly what pycocotools uses
MAX_DETECTIONS = 100


class Detections(NamedTuple):
    """Boxes of one image: ``boxes`` (K, 4) xyxy pixels, ``scores`` (K,), ``classes`` (K,) int."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray


def encode_grid(boxes: Any, classes: Any, *, grid_size: int, image_size: int, num_classes: int) -> np.ndarray:
    """The dense ``(S, S, 5 + C)`` float32 target for one image's boxes.

    Each box goes to the cell holding its centre; two centres in one cell are refused
    (the target could not hold both). Boxes with integer or half-integer coordinates,
    as the shapes dataset makes, round-trip through ``decode_grid`` exactly."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    classes = np.asarray(classes, dtype=np.int64).reshape(-1)
    cell = image_size / grid_size
    grid = np.zeros((grid_size, grid_size, 5 + num_classes), dtype=np.float32)
    for (x1, y1, x2, y2), cls in zip(boxes, classes):
        cx, cy = (x1 + x2) / 2 / cell, (y1 + y2) / 2 / cell
        col, row = int(np.floor(cx)), int(np.floor(cy))
        if not (0 <= col < grid_size and 0 <= row < grid_size):
            raise ValueError(f"box {(x1, y1, x2, y2)} has its centre outside the {image_size}px image")
        if grid[row, col, 0]:
            raise ValueError(f"two box centres fall in grid cell ({row}, {col})")
        grid[row, col, :5] = (1.0, cx - col, cy - row, (x2 - x1) / image_size, (y2 - y1) / image_size)
        grid[row, col, 5 + cls] = 1.0
    return grid


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def decode_grid(grid: Any, *, image_size: int, score_threshold: float = 0.5, from_logits: bool = False) -> Detections:
    """The boxes in one ``(S, S, 5 + C)`` grid whose score passes ``score_threshold``.

    A cell's score is objectness times the probability of its most likely class, and
    its class that argmax. ``from_logits`` for raw head output; leave it False for
    targets (then every object cell scores exactly 1). Sorted by descending score."""
    grid = np.asarray(grid, dtype=np.float32)
    size = grid.shape[0]
    cell = image_size / size
    if from_logits:
        obj, box = _sigmoid(grid[..., 0]), _sigmoid(grid[..., 1:5])
        logits = grid[..., 5:] - grid[..., 5:].max(axis=-1, keepdims=True)
        probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    else:
        obj, box, probs = grid[..., 0], grid[..., 1:5], grid[..., 5:]
    classes = probs.argmax(axis=-1)
    scores = obj * np.take_along_axis(probs, classes[..., None], axis=-1)[..., 0]
    rows, cols = np.nonzero(scores >= score_threshold)
    b = box[rows, cols]
    cx, cy = (cols + b[:, 0]) * cell, (rows + b[:, 1]) * cell
    w, h = b[:, 2] * image_size, b[:, 3] * image_size
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1).astype(np.float32)
    s, c = scores[rows, cols].astype(np.float32), classes[rows, cols].astype(np.int64)
    order = np.argsort(-s, kind="stable")
    return Detections(boxes[order].reshape(-1, 4), s[order], c[order])


def iou(boxes_a: Any, boxes_b: Any) -> np.ndarray:
    """Pairwise intersection over union, ``(N, M)``, of xyxy boxes ``(N, 4)`` and ``(M, 4)``."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=-1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def non_max_suppression(detections: Detections, iou_threshold: float = 0.5, max_detections: int = MAX_DETECTIONS) -> Detections:
    """Class-aware greedy NMS: keep the best box, drop same-class boxes with IoU > threshold, repeat.

    The same rule as ``tf.image.non_max_suppression`` applied per class (a box is
    suppressed when its IoU with a kept, higher-scoring box exceeds ``iou_threshold``);
    boxes of different classes never suppress each other. Sorted by descending score."""
    boxes, scores, classes = (np.asarray(a) for a in detections)
    order = np.argsort(-scores, kind="stable")
    overlaps = iou(boxes, boxes)
    same_class = classes[:, None] == classes[None, :]
    suppressed = np.zeros(len(scores), dtype=bool)
    keep = []
    for i in order:
        if suppressed[i]:
            continue
        keep.append(i)
        if len(keep) == max_detections:
            break
        suppressed |= same_class[i] & (overlaps[i] > iou_threshold)
    keep = np.asarray(keep, dtype=np.int64)
    return Detections(boxes[keep].reshape(-1, 4), scores[keep], classes[keep])


def mean_average_precision(
    detections: Sequence[Detections], ground_truths: Sequence[tuple[Any, Any]], num_classes: int
) -> dict[str, float]:
    """COCO mAP of per-image ``detections`` against per-image ``(boxes, classes)`` ground truth.

    Returns ``{"map50": AP at IoU 0.5, "map50_95": AP averaged over IoU 0.50:0.05:0.95}``,
    each the mean over the classes that have ground truth (COCO's convention, see the
    module docstring). Classes with no ground truth are left out; with no ground truth
    at all both are 0.0."""
    precision = coco_precision(detections, ground_truths, num_classes)  # (T, R, K)
    per_class = [k for k in range(num_classes) if (precision[:, :, k] > -1).all()]
    if not per_class:
        return {"map50": 0.0, "map50_95": 0.0}
    p = precision[:, :, per_class]
    return {"map50": float(p[0].mean(axis=0).mean()), "map50_95": float(p.mean(axis=(0, 1)).mean())}


def coco_precision(detections: Sequence[Detections], ground_truths: Sequence[tuple[Any, Any]], num_classes: int) -> np.ndarray:
    """pycocotools' interpolated precision, ``(10 IoU thresholds, 101 recall points, classes)``.

    -1 marks a class without ground truth. All of pycocotools' printing is swallowed."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if len(detections) != len(ground_truths):
        raise ValueError(f"{len(detections)} images of detections for {len(ground_truths)} images of ground truth")
    images, annotations, results = [], [], []
    for image_id, ((gt_boxes, gt_classes), dets) in enumerate(zip(ground_truths, detections)):
        images.append({"id": image_id})
        for box, cls in zip(np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4), np.asarray(gt_classes).reshape(-1)):
            w, h = box[2] - box[0], box[3] - box[1]
            # COCO ids start at 1: pycocotools reads a matched ground-truth id 0 as "unmatched".
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": int(cls) + 1,
                                "bbox": [box[0], box[1], w, h], "area": w * h, "iscrowd": 0})
        boxes, scores, classes = dets
        for box, score, cls in zip(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(scores), np.asarray(classes)):
            results.append({"image_id": image_id, "category_id": int(cls) + 1, "score": float(score),
                            "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]})
    has_gt = np.zeros(num_classes, dtype=bool)
    has_gt[[a["category_id"] - 1 for a in annotations]] = True
    empty = np.where(has_gt, 0.0, -1.0)[None, None, :]
    if not results:  # pycocotools cannot load an empty result list; AP is 0 where there is ground truth
        return np.broadcast_to(empty, (len(COCO_IOU_THRESHOLDS), 101, num_classes)).copy()

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": annotations, "categories": [{"id": k + 1} for k in range(num_classes)]}
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(results), "bbox")
        evaluator.params.areaRng, evaluator.params.areaRngLbl = [[0.0, 1e10]], ["all"]
        evaluator.params.maxDets = [MAX_DETECTIONS]
        evaluator.evaluate()
        evaluator.accumulate()
    return evaluator.eval["precision"][:, :, :, 0, 0]
