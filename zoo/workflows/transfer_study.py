"""Which epoch transfers best: fine-tune each chosen epoch of a model on the user's data,
under the same seed, data order and budget, and report the fine-tuned scores beside the
source epoch's own. The latest epoch is not always the best starting point (a model
trained longer can be more specialised to its own classes); this measures it.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from zoo.errors import UsageError
from zoo.resolve import HubSource, resolve


@dataclass(frozen=True)
class TransferRow:
    source_epoch: int
    source: dict[str, float]  # the source epoch's published metrics, on its own dataset
    fine_tuned: dict[str, float]  # after fine-tuning, on the user's data (train/val/test splits)
    seconds: float


@dataclass
class TransferComparison:
    name: str
    data: str
    classes: tuple[str, ...]
    finetune_epochs: int
    backbone: str  # how the backbone trained: "trainable", "frozen" or "frozen-until-N"
    selection_metric: str  # what ranks the fine-tuned models (the recipe's, e.g. val/accuracy)
    selection_mode: str  # "max" or "min"
    rows: list[TransferRow] = field(default_factory=list)

    @property
    def best_source_epoch(self) -> int:
        """The source epoch whose fine-tuned model scores best on the selection metric (val)."""
        sign = 1.0 if self.selection_mode == "max" else -1.0
        return max(self.rows, key=lambda r: sign * r.fine_tuned.get(self.selection_metric, -sign * float("inf"))).source_epoch

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "data": self.data, "classes": list(self.classes), "finetune_epochs": self.finetune_epochs,
                "backbone": self.backbone, "selection_metric": self.selection_metric, "selection_mode": self.selection_mode, "best_source_epoch": self.best_source_epoch,
                "rows": [r.__dict__ for r in self.rows]}

    def plot(self, path: Path | str) -> Path:
        from zoo.workflows import visualize

        return visualize.plot_transfer(self, path)


def compare_transfer(
    name: str,
    epochs: Iterable[int | str] | None,
    data: Path | str,
    *,
    finetune_epochs: int = 5,
    freeze_backbone: bool = False,
    unfreeze_at: int | None = None,
    learning_rate: float | None = None,
    progress: bool = False,
) -> TransferComparison:
    """Fine-tune each of ``epochs`` of ``name`` on ``data`` for ``finetune_epochs`` epochs
    (the same recipe seed and data order for each) and report the results side by side.
    ``name`` is resolved once: every run starts from the commit it named then, even if a
    branch moves meanwhile."""
    from zoo.workflows.training import train

    source = resolve(name)
    if not isinstance(source, HubSource):
        raise UsageError(f"{name} is not a published model: fine-tuning starts from a published epoch")
    entries = source.default_entries() if epochs is None else source.entries(epochs)
    recipe_name = source.manifest.recipe.name
    result: TransferComparison | None = None
    with tempfile.TemporaryDirectory(prefix="zoo-transfer-") as scratch:
        for entry in entries:
            start = time.perf_counter()
            run = train(recipe_name, epochs=finetune_epochs, save_at=[finetune_epochs], out=Path(scratch) / f"from-{entry.epoch}",
                        start_from=f"hf://{source.repo_id}@{entry.commit}@{entry.epoch}", data=data, freeze_backbone=freeze_backbone, unfreeze_at=unfreeze_at,
                        learning_rate=learning_rate, progress=progress)
            tuned = run.manifest
            if result is None:
                chooser = tuned.selection["best"]
                result = TransferComparison(source.manifest.name, tuned.recipe.dataset.name, tuned.classes, finetune_epochs,
                                            tuned.parent.backbone, chooser.metric, chooser.mode)
            result.rows.append(TransferRow(entry.epoch, dict(entry.metrics), dict(tuned.epochs[-1].metrics), time.perf_counter() - start))
    return result
