"""The model card (``README.md``) of each epoch's commit, built with huggingface_hub's own
``ModelCard``/``EvalResult`` so the Hub parses its ``model-index`` (per-epoch metrics).

It tells a user without zoo what they need: the input contract, the epochs with their
tags, and three ways to load the model that work as written (zoo, plain Keras from
``hf://``, and ``hf download --revision epoch-N``)."""

from __future__ import annotations

from zoo.constants import hf_endpoint
from zoo.formats import sharded
from zoo.formats.manifest import Manifest

_TASKS = {"classification": "image-classification", "detection": "object-detection"}


def render(m: Manifest, *, task: str = "classification", model_module: str | None = None) -> str:
    """The card of the commit that holds ``m``'s last epoch. ``model_module``: the module a
    subclassed model's class must be imported from before Keras can rebuild it."""
    hf_endpoint()  # a bad HF_ENDPOINT would fail huggingface_hub's import with a bare ValueError
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
        tags=["zoo", "keras", "tensorflow", task_type, f"recipe:{m.recipe.name}", f"epoch:{m.last_epoch}"],
        model_name=m.name,
        eval_results=results,
        # The Hub's convention for lineage: it draws the model tree from this field.
        base_model=m.parent.repo_id if m.parent else None,
    )
    return str(ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n" + _body(m, model_module)))


def _plain_keras(m: Manifest, repo: str, register: str) -> list[str]:
    """How to load this commit's epoch without zoo. ``keras.saving.load_model`` reads a
    directory's ``model.weights.h5`` only, so a sharded epoch is built from its config and
    given its index."""
    epoch, local = m.last_epoch, f"{m.name}-e{m.last_epoch}"
    download = ["One epoch's files, then Keras:", "", "```bash", f"hf download {repo} --revision epoch-{epoch} --local-dir {local}", "```", ""]
    if m.resolve_epoch(epoch).shards:
        return [
            f"The weights are Keras sharded weights (`{sharded.INDEX_FILENAME}` and its shards), which "
            "`keras.saving.load_model` does not read from a directory or `hf://`.", "",
            *download,
            "```python",
            "import keras",
            f'{register}model = keras.models.model_from_json(open("{local}/config.json").read())',
            f'model.load_weights("{local}/{sharded.INDEX_FILENAME}")  # reads the shards beside it',
            "```",
        ]
    return [
        "With plain Keras (the latest epoch, from `main`):", "",
        "```python",
        "import keras",
        f'{register}model = keras.saving.load_model("hf://{repo}")',
        "```", "",
        *download,
        "```python",
        "import keras",
        f'{register}model = keras.saving.load_model("{local}")  # config.json + model.weights.h5',
        "```",
    ]


def _body(m: Manifest, model_module: str | None) -> str:
    repo = m.hub.repo_id if m.hub else m.name
    epoch = m.last_epoch
    metric_names = sorted({k for e in m.epochs for k in e.metrics})
    rows = []
    for e in m.epochs:
        mark = ", ".join(label for label, n in (("best", m.best_epoch), ("this commit", epoch)) if n == e.epoch)
        values = " | ".join(f"{e.metrics[k]:.4f}" if k in e.metrics else "-" for k in metric_names)
        rows.append(f"| {e.epoch} | `epoch-{e.epoch}` | {mark} | {values} |")
    best = m.selection.get("best")
    spec = m.input
    classes = ", ".join(m.classes) if m.classes else "(none)"
    register = f"import {model_module}  # registers the model class with Keras\n" if model_module else ""
    train = m.recipe.train_config
    settings = ", ".join(f"{what} {value}" for what, value in (("lr", train.learning_rate), ("batch", train.batch_size), ("seed", train.seed)) if value is not None)
    built = "No recipe: Keras builds it from `config.json`" if m.recipe.from_keras_config else f"Recipe `{m.recipe.name}` v{m.recipe.version}"
    return "\n".join(
        [
            f"# {m.name}: epoch {epoch}",
            "",
            m.description,
            "",
            f"This commit holds epoch {epoch} alone (tag `epoch-{epoch}`); every epoch is its own commit, and "
            f"`main` points at the latest. {built}, {m.compat.param_count:,} parameters, "
            f"Keras {m.compat.keras}, TensorFlow {m.compat.tensorflow}; trained on `{m.recipe.dataset.name}` with "
            f"{train.optimizer} ({settings}).",
            "",
            *([f"Fine-tuned from `{m.parent.repo_id}` epoch {m.parent.epoch} (commit `{m.parent.commit}`): "
               f"{m.parent.in_words()}; the new head has one output per class below.", ""] if m.parent else []),
            "## Input",
            "",
            f"- shape `{list(spec.shape)}` per example (add the batch dimension), dtype `{spec.dtype}`, values in `{spec.range_text}`",
            f"- {spec.preprocessing}",
            f"- classes, in output order: {classes}",
            "",
            "## Epochs",
            "",
            "| epoch | revision | | " + " | ".join(metric_names) + " |",
            "|---:|---|---|" + "---:|" * len(metric_names),
            *rows,
            "",
            f"Best epoch by `{best.metric}` ({best.mode}): {best.epoch}." if best else "",
            "",
            "## Use",
            "",
            "With zoo (checks the architecture and every file's sha256):",
            "",
            "```python",
            "import zoo",
            f'model = zoo.load_pretrained("{repo}", revision="epoch-{epoch}")',
            "```",
            "",
            *_plain_keras(m, repo, register),
            "",
            "`zoo.json` is the manifest: every epoch with the commit that holds it, each file's sha256 and size, "
            "the weights-layout and architecture fingerprints, and the metrics above. `resume.keras`, where present, "
            "is the full model with its optimizer state, to continue training (`zoo train --from`).",
            "",
        ]
    )
