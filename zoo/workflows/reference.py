"""The reference zoo: every built-in recipe trained and published to a local hub.

This is the main job. Runs are reused when already complete and resumed when
partial (a run that saved other epochs than asked is refused, not overwritten), so
running it again costs only what is missing; with the same machine and
``SOURCE_DATE_EPOCH`` it republishes byte-identical commits (a no-op).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from zoo.constants import MANIFEST_FILENAME, bundled_manifests_dir
from zoo.errors import RunDirError
from zoo.formats import manifest as mf
from zoo.registry import get_recipe, list_recipes
from zoo.workflows.publishing import PublishResult, publish
from zoo.workflows.training import plan_save_at, train


def train_or_reuse(recipe: str, run_dir: Path, epochs: int, save_at: Iterable[int], progress: bool = True) -> str:
    """Train ``recipe`` into ``run_dir``; resume a partial run; reuse a complete one only if
    it saved exactly the epochs asked for (it is refused, never deleted, otherwise).
    Returns what happened: "trained", "resumed" or "reused"."""
    path = run_dir / MANIFEST_FILENAME
    if path.is_file():
        held = mf.load(path).epoch_numbers
        planned = plan_save_at(save_at, epochs, get_recipe(recipe))
        if held != [e for e in planned if e <= held[-1]]:
            raise RunDirError(
                f"{run_dir} holds epochs {held}, not the epochs {planned} asked for: publishing it would not be what was asked",
                hint=f"Move or delete {run_dir} to train afresh, use another `runs_dir`, or ask for `epochs={held[-1]}` and `save_at={held}`.",
            )
        if held[-1] == epochs:
            return "reused"
        train(recipe, epochs=epochs, save_at=save_at, out=run_dir, resume=True, progress=progress)
        return "resumed"
    train(recipe, epochs=epochs, save_at=save_at, out=run_dir, progress=progress)
    return "trained"


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
    on_published: Callable[[str, PublishResult], None] | None = None,
) -> list[tuple[str, PublishResult]]:
    """Train (or reuse) every reference recipe (``Recipe.reference``) and publish it to ``hub_dir`` as ``ORG/NAME``, pinning
    ``manifests/NAME.json`` (the bundled catalog, unless ``manifests_dir``) to each commit."""
    names = list(recipes) if recipes else [r.name for r in list_recipes() if r.reference]
    results = []
    for name in names:
        run = Path(runs_dir) / name
        how = train_or_reuse(name, run, epochs, save_at, progress)
        # The reference zoo is what this code trains: a hub left by other code or another
        # machine is started over (on the same machine the same commits come back).
        result = publish(run, f"{org}/{name}", hub_dir=hub_dir, manifests_dir=manifests_dir or bundled_manifests_dir(), replace=True)
        results.append((how, result))
        if on_published:
            on_published(how, result)
    return results
