"""Rich tables and JSON-ready dicts for the CLI. Presentation only; no TensorFlow."""

from __future__ import annotations

from typing import Any

from zoo.formats.manifest import Manifest
from zoo.registry import Recipe

_KEY_METRICS = ("val/accuracy", "test/accuracy", "val/map50", "test/map50", "val/map50_95", "train/loss", "val/loss")


def recipe_dict(recipe: Recipe) -> dict[str, Any]:
    return {
        "name": recipe.name,
        "version": recipe.version,
        "style": recipe.style,
        "task": recipe.task,
        "description": recipe.description,
        "input_shape": list(recipe.input_shape),
        "builder_kwargs": recipe.builder_kwargs,
        "dataset": {"name": recipe.dataset.name, "splits": recipe.dataset.splits},
        "train_config": dict(recipe.train.__dict__),
        "save_at": list(recipe.save_at),
        "selection": {"metric": recipe.selection_metric, "mode": recipe.selection_mode},
    }


def model_summary(m: Manifest, entry: Any = None) -> dict[str, Any]:
    return {
        "name": m.name,
        "catalog": entry.origin if entry is not None else None,
        "shadowed": bool(entry is not None and entry.shadowed),
        "recipe": f"{m.recipe.name}@v{m.recipe.version}",
        "repo_id": m.hub.repo_id if m.hub else None,
        "revision": m.hub.revision if m.hub else None,
        "epochs": m.epoch_numbers,
        "default_epoch": m.default_epoch,
        "best_epoch": m.best_epoch,
        "best_metrics": m.resolve_epoch("best").metrics,
    }


def recipes_table(recipes: list[Recipe], models: list[Manifest]):
    from rich.table import Table

    published = {}
    for m in models:
        published.setdefault(m.recipe.name, []).append(m.name)
    table = Table(title="Recipes", title_justify="left")
    for col in ("name", "version", "style", "dataset", "input", "published as"):
        table.add_column(col)
    for r in recipes:
        table.add_row(r.name, str(r.version), r.style, r.dataset.name, "×".join(map(str, r.input_shape)), ", ".join(published.get(r.name, [])) or "-")
    return table


def models_table(models: list[tuple[Any, Manifest]]):
    """(catalog entry, manifest) pairs; a bundled model hidden by the user's is marked."""
    from rich.table import Table

    table = Table(title="Published models", title_justify="left")
    for col in ("name", "recipe", "repo", "revision", "epochs", "best epoch (by)"):
        table.add_column(col, no_wrap=col in ("name", "repo", "revision"), overflow="fold")
    for entry, m in models:
        best = m.resolve_epoch("best")
        metric = m.selection["best"].metric if "best" in m.selection else None
        by = f" ({metric} {_fmt(best.metrics.get(metric))})" if metric else ""
        table.add_row(
            m.name + (" (bundled, hidden by yours)" if entry.shadowed else " (yours)" if entry.origin == "user" else ""),
            f"{m.recipe.name} v{m.recipe.version}",
            m.hub.repo_id if m.hub else "-",
            (m.hub.revision or "-")[:8] if m.hub else "-",
            ", ".join(map(str, m.epoch_numbers)),
            f"{best.epoch}{by}",
        )
    if not models:
        table.add_row("(none yet: 'zoo publish' a run)", "", "", "", "", "")
    return table


def recipe_panel(r: Recipe):
    from rich.panel import Panel

    lines = [
        r.description,
        f"version {r.version} · {r.style} · task {r.task} · input {list(r.input_shape)}",
        f"builder kwargs {r.builder_kwargs}",
        f"dataset {r.dataset.name}: " + "; ".join(f"{k}: {v}" for k, v in r.dataset.splits.items()),
        f"train {r.train.optimizer} lr={r.train.learning_rate} batch={r.train.batch_size} epochs={r.train.epochs} seed={r.train.seed}, save at {list(r.save_at)}",
        "no published weights yet: 'zoo train' it, then 'zoo publish'.",
    ]
    return Panel("\n".join(lines), title=f"recipe {r.name}", title_align="left")


def manifest_header(m: Manifest):
    from rich.panel import Panel

    where = f"{m.hub.repo_id}@{m.hub.revision or '(unpinned)'}" if m.hub else "not published (a local run)"
    lines = [
        m.description,
        f"recipe {m.recipe.name} v{m.recipe.version} · kwargs {m.recipe.builder_kwargs} · {m.compat.param_count:,} params",
        f"hub {where}",
        f"keras {m.compat.keras} · tensorflow {m.compat.tensorflow} · license {m.license}",
    ]
    return Panel("\n".join(lines), title=m.name, title_align="left")


def epochs_table(m: Manifest):
    from rich.table import Table

    names = [k for k in _KEY_METRICS if any(k in e.metrics for e in m.epochs)]
    if not names:  # a recipe with other metrics (e.g. a detector): show them all
        names = sorted({k for e in m.epochs for k in e.metrics})
    table = Table(title=f"{m.name}: epochs", title_justify="left")
    table.add_column("epoch", justify="right")
    table.add_column("")
    for name in names:
        table.add_column(name, justify="right", overflow="fold")
    table.add_column("weights", justify="right")
    published = any(e.commit for e in m.epochs)
    if published:
        table.add_column("revision")
    for e in m.epochs:
        marks = [mark for mark, epoch in (("best", m.best_epoch), ("last", m.last_epoch)) if epoch == e.epoch]
        if e.yanked:
            marks.append(f"yanked: {e.yanked}")
        revision = [f"epoch-{e.epoch} ({e.commit[:8]})" if e.commit else "-"] if published else []
        table.add_row(str(e.epoch), ", ".join(marks), *(_fmt(e.metrics.get(n)) for n in names), _size(e.weights.size), *revision)
    return table


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def evaluation_table(result: Any):
    from rich.table import Table

    table = Table(title=f"{result.name} epoch {result.epoch} on {result.split}", title_justify="left")
    for col in ("metric", "measured", "published", "difference"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for key, value in result.measured.items():
        published = result.published.get(key)
        diff = "-" if published is None else f"{value - published:+.2e}"
        table.add_row(key, _fmt(value), _fmt(published), diff)
    return table


def comparison_table(comparison: Any):
    """One table for one or more models: measured beside published, per epoch."""
    from rich.table import Table

    table = Table(title=f"epoch comparison on {comparison.split}", title_justify="left")
    table.add_column("model")
    table.add_column("epoch", justify="right")
    table.add_column("")
    for key in comparison.metrics:
        table.add_column(f"{key}\nmeasured", justify="right", overflow="fold")
        table.add_column(f"{key}\npublished", justify="right", overflow="fold")
    table.add_column("eval s", justify="right")
    table.add_column("size", justify="right")
    for model in comparison.models:
        for e in model.epochs:
            cells = []
            for key in comparison.metrics:
                cells += [_fmt(e.measured.get(key)), _fmt(e.published.get(key))]
            mark = f"best ({model.selection_metric})" if e.best else ""
            table.add_row(model.name, str(e.epoch), mark, *cells, f"{e.eval_seconds:.2f}", _size(e.file_size))
        table.add_section()
    return table
