"""Rich tables and JSON-ready dicts for the CLI. Presentation only; no TensorFlow.

Tables read correctly at 80 columns and in a pipe: headers are short (``val`` over
``acc``), numbers never wrap, names are never cut, and metrics that do not fit beside
the key columns go to a continuation table (``--json`` is the machine interface). Every
string that came from a manifest or a server is shown escaped: no terminal control
sequence and no rich markup of someone else's reaches the screen.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

from zoo.formats.manifest import Manifest
from zoo.registry import Recipe

_KEY_METRICS = ("val/accuracy", "test/accuracy", "val/map50", "test/map50", "val/map50_95", "test/map50_95", "train/loss", "val/loss")
_SHORT = {"accuracy": "acc", "map50_95": "mAP50-95", "map50": "mAP50", "loss": "loss"}
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def untrusted(text: Any) -> str:
    """A string from a manifest or a server, safe to print: control characters (escape
    sequences, bidi overrides) shown as ``\\xNN``, rich markup escaped."""
    from rich.markup import escape

    return escape(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text)))


def header(metric: str) -> str:
    """``val/accuracy`` → ``val`` over ``acc``: a header no wider than a number."""
    if metric.endswith("#published"):
        return "\npub"
    if metric.endswith("#difference"):
        return "\nΔ keras"
    split, _, name = metric.partition("/")
    return f"{split}\n{_SHORT.get(name, name)}" if name else _SHORT.get(split, split)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _table(title: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[str]], sections: Sequence[int] = ()):
    """A table whose cells never wrap: (header, justify) per column."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", pad_edge=False)
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=True)
    for i, row in enumerate(rows):
        if i in sections:
            table.add_section()
        table.add_row(*row)
    return table


def metric_tables(title: str, keys: Sequence[tuple[str, str]], metrics: Sequence[str], rows: Sequence[tuple[Sequence[str], dict[str, str]]],
                  tail: Sequence[tuple[str, str]] = (), tail_cells: Sequence[Sequence[str]] = (), width: int = 80, sections: Sequence[int] = ()):
    """One or more tables: the ``keys`` columns, then as many metric columns as fit ``width``
    (the rest in continuation tables that repeat the keys), the ``tail`` columns last."""
    key_width = sum(max(len(h), *(len(r[0][i]) for r in rows)) + 3 for i, (h, _) in enumerate(keys)) if rows else 20
    tail_width = sum(max(len(h), *(len(c[i]) for c in tail_cells)) + 3 for i, (h, _) in enumerate(tail)) if tail_cells else 0
    units: list[list[str]] = []  # a metric and its "#published" twin stay side by side
    for metric in metrics:
        if metric.endswith("#published") and units:
            units[-1].append(metric)
        else:
            units.append([metric])
    groups, current, used = [], [], key_width + tail_width
    for unit in units:
        need = sum(max(max(len(line) for line in header(m).split("\n")), *(len(r[1].get(m, "-")) for r in rows)) + 3 if rows else 9 for m in unit)
        if current and used + need > width:
            groups.append(current)
            current, used = [], key_width + tail_width
        current.extend(unit)
        used += need
    groups.append(current)
    tables = []
    for n, group in enumerate(groups):
        last = n == len(groups) - 1
        columns = [*keys, *((header(m), "right") for m in group), *(tail if last else ())]
        body = [[*r[0], *(r[1].get(m, "-") for m in group), *(tail_cells[i] if last else ())] for i, r in enumerate(rows)]
        tables.append(_table(title if n == 0 else f"{title} (continued)", columns, body, sections))
    return tables


def legend(metrics: Iterable[str]) -> str:
    names = sorted({m.partition("/")[2] or m for m in metrics})
    shown = [f"{_SHORT[n]} = {n}" for n in names if n in _SHORT and _SHORT[n] != n]
    return ("columns: " + ", ".join(shown)) if shown else ""


# -- JSON ------------------------------------------------------------------------------------
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


# -- tables ------------------------------------------------------------------------------------
def recipes_table(recipes: list[Recipe], models: list[Manifest]):
    published: dict[str, list[str]] = {}
    for m in models:
        published.setdefault(m.recipe.name, []).append(m.name)
    rows = [(r.name, f"v{r.version}", r.style, r.dataset.name, "×".join(map(str, r.input_shape)),
             untrusted(", ".join(published.get(r.name, [])) or "-")) for r in recipes]
    return _table("Recipes", [("name", "left"), ("", "left"), ("style", "left"), ("dataset", "left"), ("input", "left"), ("published as", "left")], rows)


def models_table(models: list[tuple[Any, Manifest]]):
    """(catalog entry, manifest) pairs; a bundled model hidden by the user's is marked."""
    rows = []
    for entry, m in models:
        best = m.resolve_epoch("best")
        metric = m.selection["best"].metric if "best" in m.selection else None
        by = f"{best.epoch} ({header(metric).replace(chr(10), ' ')} {_fmt(best.metrics.get(metric))})" if metric else str(best.epoch)
        mark = " (hidden)" if entry.shadowed else " (yours)" if entry.origin == "user" else ""
        rows.append((untrusted(m.name) + mark, untrusted(m.hub.repo_id) if m.hub else "-", ",".join(map(str, m.epoch_numbers)), untrusted(by)))
    if not models:
        rows.append(("(none yet: 'zoo publish' a run)", "", "", ""))
    table = _table("Published models", [("name", "left"), ("repo", "left"), ("epochs", "left"), ("best epoch", "left")], rows)
    if any(entry.shadowed for entry, _ in models):
        table.caption = "(yours): your catalog · (hidden): bundled, yours hides it"
        table.caption_justify = "left"
    return table


def recipe_panel(r: Recipe):
    from rich.panel import Panel

    lines = [
        untrusted(r.description),
        f"version {r.version} · {r.style} · task {r.task} · input {list(r.input_shape)}",
        untrusted(f"builder kwargs {r.builder_kwargs}"),
        untrusted(f"dataset {r.dataset.name}: " + "; ".join(f"{k}: {v}" for k, v in r.dataset.splits.items())),
        f"train {r.train.optimizer} lr={r.train.learning_rate} batch={r.train.batch_size} epochs={r.train.epochs} seed={r.train.seed}, save at {list(r.save_at)}",
        "no published weights yet: 'zoo train' it, then 'zoo publish'.",
    ]
    return Panel("\n".join(lines), title=f"recipe {r.name}", title_align="left")


def manifest_header(m: Manifest):
    from rich.panel import Panel

    where = f"{m.hub.repo_id} @ {m.hub.revision or '(unpinned)'}" if m.hub else "not published (a local run)"
    lines = [
        untrusted(m.description),
        untrusted(f"{m.recipe.in_words()} · {m.compat.param_count:,} params"),
        untrusted(f"input {list(m.input.shape)} {m.input.dtype} in {m.input.range_text}: {m.input.preprocessing}"),
        untrusted(f"classes {', '.join(m.classes) or '(none)'}"),
        untrusted(f"dataset {m.recipe.dataset.name} · hub {where}"),
        untrusted(f"keras {m.compat.keras} · tensorflow {m.compat.tensorflow} · license {m.license}"),
    ]
    return Panel("\n".join(lines), title=untrusted(m.name), title_align="left")


def lineage_lines(chain: list) -> list[str]:
    """``fine-tuned from`` lines, nearest parent first (``resolve.lineage``)."""
    lines = []
    for depth, (parent, found) in enumerate(chain):
        how = "" if found is None else f" · {found.recipe.dataset.name}, {len(found.classes)} classes"
        gone = " (not reachable on this hub: the chain ends here)" if found is None else ""
        lines.append(untrusted(f"{'  ' * depth}fine-tuned from {parent.repo_id} epoch {parent.epoch} @ {parent.commit[:12]}{how} · {parent.in_words()}{gone}"))
    return lines


def epochs_tables(m: Manifest, width: int = 80) -> list:
    every = {k for e in m.epochs for k in e.metrics}
    names = [k for k in _KEY_METRICS if k in every] + sorted(every.difference(_KEY_METRICS))
    published = any(e.commit for e in m.epochs)
    rows, tails = [], []
    for e in m.epochs:
        marks = [mark for mark, epoch in (("best", m.best_epoch), ("last", m.last_epoch)) if epoch == e.epoch]
        if e.yanked:
            marks.append("yanked")
        rows.append(((str(e.epoch), ", ".join(marks)), {n: _fmt(e.metrics.get(n)) for n in names}))
        size = _size(e.weights_size) + (f" in {len(e.shards)} shards" if e.shards else "")
        tails.append((size, *([f"epoch-{e.epoch} {e.commit[:7]}" if e.commit else "-"] if published else [])))
    tail = [("weights", "right"), *([("revision", "left")] if published else [])]
    return metric_tables(f"{untrusted(m.name)}: epochs", [("epoch", "right"), ("", "left")], names, rows, tail, tails, width)


def evaluation_table(result: Any):
    rows = []
    for key, value in result.measured.items():
        published = result.published.get(key)
        rows.append((key, _fmt(value), _fmt(published), "-" if published is None else f"{value - published:+.2e}"))
    return _table(f"{untrusted(result.name)} epoch {result.epoch} on {result.split}",
                  [("metric", "left"), ("measured", "right"), ("published", "right"), ("difference", "right")], rows)


def comparison_tables(comparison: Any, width: int = 80) -> list:
    """Measured beside published, per model and epoch: a metric's cell is the measured
    value, and the published one under ``pub`` when they differ (``=`` when equal)."""
    rows, tails, sections = [], [], []
    columns: list[str] = []
    for key in comparison.metrics:
        columns += [key, f"{key}#published"]
    for model in comparison.models:
        sections.append(len(rows))
        for e in model.epochs:
            cells = {}
            for key in comparison.metrics:
                cells[key] = _fmt(e.measured.get(key))
                published = e.published.get(key)
                cells[f"{key}#published"] = "=" if published is not None and f"{published:.4f}" == cells[key] else _fmt(published)
            rows.append(((untrusted(model.name), str(e.epoch), "best" if e.best else ""), cells))
            tails.append((f"{e.eval_seconds:.2f}", _size(e.file_size)))
    return metric_tables(f"epochs compared on {comparison.split}", [("model", "left"), ("epoch", "right"), ("", "left")], columns, rows,
                         [("eval s", "right"), ("size", "right")], tails, width, sections[1:])


def comparison_legend(comparison: Any) -> str:
    words = legend(comparison.metrics)
    return "each metric: measured, then published (pub; = when the same)" + (f"; {words}" if words else "")


def exports_tables(comparison: Any, width: int = 80) -> list:
    """Per model, epoch and deployment format: each metric as that runtime measures it, the
    difference from Keras under ``Δ``, the file size and the time of one batch."""
    rows, tails, sections = [], [], []
    columns: list[str] = []
    for key in comparison.metrics:
        columns += [key, f"{key}#difference"]
    for model in comparison.models:
        sections.append(len(rows))
        for e in model.epochs:
            for x in e.exports:
                cells = {}
                for key in comparison.metrics:
                    cells[key] = _fmt(x.measured.get(key))
                    cells[f"{key}#difference"] = "-" if key not in x.difference else f"{x.difference[key]:+.4f}"
                rows.append(((untrusted(model.name), str(e.epoch), x.format), cells))
                tails.append((_size(x.size), f"{x.ms_per_batch:.2f}"))
    return metric_tables(f"exports measured in their own runtimes, on {comparison.split}", [("model", "left"), ("epoch", "right"), ("format", "left")],
                         columns, rows, [("size", "right"), ("ms/batch", "right")], tails, width, sections[1:]) if rows else []


def transfer_tables(study: Any, width: int = 80) -> list:
    """Per source epoch: its own published score, then the scores after fine-tuning on the
    user's data, the best starting epoch marked."""
    every = {k for r in study.rows for k in r.fine_tuned}
    metrics = [k for k in _KEY_METRICS if k in every] + sorted(every.difference(_KEY_METRICS))
    best = study.best_source_epoch
    own = f"own {header(study.selection_metric).replace(chr(10), ' ')}"
    rows = [((str(r.source_epoch), _fmt(r.source.get(study.selection_metric)), "best start" if r.source_epoch == best else ""),
             {k: _fmt(r.fine_tuned.get(k)) for k in metrics}) for r in study.rows]
    title = untrusted(f"{study.name} fine-tuned {study.finetune_epochs} epochs on {study.data} ({len(study.classes)} classes, backbone {study.backbone})")
    return metric_tables(title, [("from epoch", "right"), (own, "right"), ("", "left")], metrics, rows,
                         [("seconds", "right")], [(f"{r.seconds:.1f}",) for r in study.rows], width)
