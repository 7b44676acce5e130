"""The model card (``README.md``) of a published repo, built with huggingface_hub's own
``ModelCard``/``EvalResult`` so the Hub parses its ``model-index`` (per-epoch metrics)."""

from __future__ import annotations

from zoo.formats.manifest import Manifest

_TASKS = {"classification": "image-classification", "detection": "object-detection"}


def render(m: Manifest, *, task: str = "classification") -> str:
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    task_type = _TASKS.get(task, task)
    results = []
    for e in m.epochs:
        for key, value in e.metrics.items():
            split, _, metric = key.partition("/")
            results.append(
                EvalResult(
                    task_type=task_type,
                    dataset_type=m.recipe.dataset.name,
                    dataset_name=m.recipe.dataset.name,
                    dataset_split=split,
                    metric_type=metric,
                    metric_value=round(float(value), 6),
                    metric_name=f"{key} @ epoch {e.epoch}",
                )
            )
    data = ModelCardData(
        library_name="keras",
        license=m.license,
        tags=["zoo", "keras", "tensorflow", task_type, f"recipe:{m.recipe.name}"],
        model_name=m.name,
        eval_results=results,
    )
    metric_names = sorted({k for e in m.epochs for k in e.metrics})
    header = "| epoch | | " + " | ".join(metric_names) + " | weights |"
    rule = "|---:|---|" + "---:|" * len(metric_names) + "---|"
    rows = []
    for e in m.epochs:
        mark = ", ".join(label for label, n in (("best", m.best_epoch), ("last", m.last_epoch)) if n == e.epoch)
        values = " | ".join(f"{e.metrics[k]:.4f}" if k in e.metrics else "-" for k in metric_names)
        rows.append(f"| {e.epoch} | {mark} | {values} | `{e.weights.path}` |")
    best = m.selection.get("best")
    body = "\n".join(
        [
            f"# {m.name}",
            "",
            m.description,
            "",
            f"Recipe `{m.recipe.name}` v{m.recipe.version} (builder kwargs `{m.recipe.builder_kwargs}`), "
            f"{m.compat.param_count:,} parameters, Keras {m.compat.keras}, TensorFlow {m.compat.tensorflow}. "
            f"Trained on `{m.recipe.dataset.name}` with {m.recipe.train_config.optimizer} "
            f"(lr {m.recipe.train_config.learning_rate}, batch {m.recipe.train_config.batch_size}, seed {m.recipe.train_config.seed}).",
            "",
            "## Epochs",
            "",
            header,
            rule,
            *rows,
            "",
            f"Best epoch by `{best.metric}` ({best.mode}): {best.epoch}." if best else "",
            "",
            "## Use",
            "",
            "```python",
            "import zoo",
            f'model = zoo.load_pretrained("{m.name}", epoch={m.best_epoch or m.default_epoch})',
            "```",
            "",
            f"`zoo.json` is the manifest: every file's sha256 and size, the weights-layout and architecture "
            f"fingerprints, and the metrics above. Each epoch is tagged `epoch-N`.",
            "",
        ]
    )
    return str(ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n" + body))
