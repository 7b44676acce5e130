"""The reference zoo: every built-in recipe trained and published to a local hub.

This is the main job. Runs are reused when already complete and resumed when
partial, so running it again costs only what is missing; with the same machine and
``SOURCE_DATE_EPOCH`` it republishes byte-identical commits (a no-op).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from zoo import manifest as mf
from zoo.constants import MANIFEST_FILENAME
from zoo.publishing import PublishResult, publish
from zoo.registry import list_recipes


def train_or_reuse(recipe: str, run_dir: Path, epochs: int, save_at: Iterable[int], progress: bool = True) -> Path:
    from zoo.training import train

    path = run_dir / MANIFEST_FILENAME
    if path.is_file():
        if mf.load(path).last_epoch >= epochs:
            return run_dir
        train(recipe, epochs=epochs, save_at=save_at, out=run_dir, resume=True, progress=progress)
    else:
        train(recipe, epochs=epochs, save_at=save_at, out=run_dir, progress=progress)
    return run_dir


def build_reference_zoo(
    hub_dir: Path,
    *,
    recipes: Iterable[str] | None = None,
    epochs: int = 100,
    save_at: Iterable[int] = (10, 50, 100),
    runs_dir: Path = Path("runs"),
    org: str = "zoo",
    manifests_dir: Path | None = None,
    progress: bool = True,
    on_published: Callable[[PublishResult], None] | None = None,
) -> list[PublishResult]:
    names = list(recipes) if recipes else [r.name for r in list_recipes()]
    results = []
    for name in names:
        run = train_or_reuse(name, Path(runs_dir) / name, epochs, save_at, progress)
        result = publish(run, f"{org}/{name}", hub_dir=hub_dir, manifests_dir=manifests_dir)
        results.append(result)
        if on_published:
            on_published(result)
    return results
