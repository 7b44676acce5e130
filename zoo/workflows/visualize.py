"""Every PNG zoo writes: detections drawn on their image, epochs side by side, and metrics
plotted against the epoch.

matplotlib is imported inside the functions and drawn through its Agg canvas directly:
no pyplot, so no global figure state, no display needed, and a user's backend is never
changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence


def draw_detections(
    image: Any,
    detections: Sequence[tuple[Sequence[float], float, int]],
    class_names: Sequence[str],
    path: Path | str,
    *,
    scale: int = 6,
) -> Path:
    """Write ``image`` (H, W, 3 floats in [0, 1], or uint8) with each ``(box, score, class_index)``
    drawn as a rectangle (box ``(x1, y1, x2, y2)`` in pixels) labelled ``"name 0.93"``.

    The PNG is ``scale`` times the image size, pixels kept sharp. Returns ``path``."""
    import numpy as np

    image = np.asarray(image)
    height, width = image.shape[:2]
    fig = _figure(width * scale, height * scale)
    _draw(fig.add_axes((0, 0, 1, 1)), image, detections, class_names, scale)
    return _save(fig, path)


def draw_side_by_side(
    image: Any,
    panels: Sequence[tuple[str, Sequence[tuple[Sequence[float], float, int]]]],
    class_names: Sequence[str],
    path: Path | str,
    *,
    scale: int = 5,
) -> Path:
    """One image, several sets of detections (e.g. one per epoch), titled, in a row."""
    import numpy as np

    image = np.asarray(image)
    height, width = image.shape[:2]
    fig = _figure(len(panels) * width * scale, height * scale + 40)
    for i, (title, detections) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        _draw(ax, image, detections, class_names, scale)
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_comparison(comparison: Any, path: Path | str) -> Path:
    """Each metric against the epoch: a line per model (measured), its published values as
    hollow markers on top (visible where they coincide), and the best epoch marked."""
    keys = comparison.metrics
    fig = _figure(550 * len(keys), 420)
    for i, key in enumerate(keys):
        ax = fig.add_subplot(1, len(keys), i + 1)
        for index, model in enumerate(comparison.models):
            points = [(e.epoch, e.measured[key]) for e in model.epochs if key in e.measured]
            if not points:  # a detector's mAP has no place on a classifier's plot
                continue
            line, = ax.plot(*zip(*points), marker="o", color=_colour(index), label=f"{model.name} (measured)")
            published = [(e.epoch, e.published[key]) for e in model.epochs if key in e.published]
            if published:
                ax.plot(*zip(*published), linestyle="none", marker="o", markersize=11, markerfacecolor="none",
                        markeredgecolor=line.get_color(), label=f"{model.name} (published)")
            chooser = model.selection_metric
            if chooser and chooser != key and chooser.partition("/")[2] == key.partition("/")[2]:  # val beside test
                picked = [(e.epoch, e.selection) for e in model.epochs if e.selection is not None]
                if picked:
                    ax.plot(*zip(*picked), linestyle="--", marker=".", color=line.get_color(), alpha=0.6,
                            label=f"{model.name} {chooser} (picks best)")
            formats = sorted({x.format for e in model.epochs for x in e.exports if key in x.measured})
            for n, fmt in enumerate(formats):  # deployment formats, measured in their own runtimes
                exported = [(e.epoch, x.measured[key]) for e in model.epochs for x in e.exports if x.format == fmt and key in x.measured]
                ax.plot(*zip(*exported), linestyle=":", marker="sxd^v"[n % 5], markersize=5, color=line.get_color(), alpha=0.8,
                        label=f"{model.name} {fmt}")
            best = [e for e in model.epochs if e.best and key in e.measured]
            if best:
                ax.plot([best[0].epoch], [best[0].measured[key]], linestyle="none", marker="*", markersize=15,
                        color=line.get_color(), label=f"{model.name} best epoch ({model.selection_metric})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.set_title(f"{key} by epoch")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


def plot_transfer(study: Any, path: Path | str) -> Path:
    """Which epoch transfers best: the fine-tuned score against the source epoch, beside
    the source epoch's own score on its dataset, the best starting epoch starred."""
    key = study.selection_metric
    fig = _figure(600, 420)
    ax = fig.add_subplot(1, 1, 1)
    epochs = [r.source_epoch for r in study.rows]
    tuned = [r.fine_tuned.get(key, float("nan")) for r in study.rows]
    ax.plot(epochs, tuned, marker="o", color=_colour(0), label=f"fine-tuned {study.finetune_epochs} epochs on {study.data}")
    ax.plot(epochs, [r.source.get(key, float("nan")) for r in study.rows], marker="o", linestyle="--", color=_colour(1),
            label=f"{study.name} on its own dataset (published)")
    best = study.best_source_epoch
    ax.plot([best], [tuned[epochs.index(best)]], linestyle="none", marker="*", markersize=15, color=_colour(0), label="best starting epoch")
    ax.set_xlabel(f"{study.name}: source epoch")
    ax.set_ylabel(key)
    ax.set_title(f"which epoch of {study.name} transfers best ({study.backbone} backbone)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


_DPI = 100


def _colour(index: int) -> Any:
    """One colour per model, the same on every plot of a figure."""
    from matplotlib import colormaps

    return colormaps["tab10"](index % 10)


def _figure(width_px: float, height_px: float) -> Any:
    """A figure of that many pixels on its own Agg canvas (no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_px / _DPI, height_px / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=_DPI)
    return path


def _draw(ax: Any, image: Any, detections: Sequence[tuple[Sequence[float], float, int]], class_names: Sequence[str], scale: int) -> None:
    from matplotlib import colormaps
    from matplotlib.patches import Rectangle

    height, width = image.shape[:2]
    ax.imshow(image.squeeze(), cmap="gray", interpolation="nearest", extent=(0, width, height, 0))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    palette = colormaps["tab10"]
    for box, score, cls in detections:
        x1, y1, x2, y2 = (float(v) for v in box)
        colour = palette(int(cls) % 10)
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour, linewidth=2))
        name = class_names[int(cls)] if 0 <= int(cls) < len(class_names) else str(int(cls))
        ax.text(x1, y1, f"{name} {float(score):.2f}", color="white", fontsize=max(6, 1.6 * scale), va="bottom",
                bbox={"facecolor": colour, "edgecolor": "none", "pad": 1, "alpha": 0.85}, clip_on=True)

