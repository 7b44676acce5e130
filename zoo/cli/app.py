"""The ``zoo`` command: parse arguments, call the Python API, render. No logic of its own.

Every ``ZooError`` becomes a red message with a hint on stderr and its class's exit code
(``exit_codes.py``); API parameter names in messages become this command's flags; no
traceback reaches the user. Importing this module must not import TensorFlow (``zoo
--help``, ``zoo list`` and ``zoo info`` stay fast): the API imports it when a command
needs a model.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Optional

import typer

import zoo
from zoo import catalog
from zoo.cli import render
from zoo.cli.exit_codes import INTERRUPTED, exit_code
from zoo.constants import default_hub_dir
from zoo.errors import UnknownModelError, UsageError, ZooError
from zoo.hub.server import HubServer
from zoo.workflows.reference import build_reference_zoo

app = typer.Typer(
    help="A pretrained-checkpoint zoo for TensorFlow/Keras, with a real epoch axis.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# API parameter -> the flag that sets it, for messages the API raises.
FLAGS = {
    "all_epochs": "--all", "allow_unsafe": "--allow-unsafe", "publish": "--publish", "epoch": "--epoch", "epochs": "--epochs", "force": "--force", "fmt": "--format", "quantize": "--quantize", "raw_input": "--raw-input", "hub_dir": "--hub-dir", "port": "--port", "token_file": "--token-file",
    "include_resume": "--with-resume", "manifests_dir": "--manifests-dir", "name": "--name", "out": "--out",
    "recipe": "--recipe", "repo_id": "--repo", "resume": "--resume", "revision": "--revision", "runs_dir": "--runs-dir",
    "save_at": "--save-at", "show": "--show", "start_from": "--from",
    "data": "--data", "finetune_epochs": "--finetune-epochs", "learning_rate": "--lr", "freeze_backbone": "--freeze-backbone", "unfreeze_at": "--unfreeze-at",
    "strategy": "--strategy", "replicas": "--replicas", "shard_size": "--shard-size",
}


def in_cli_words(text: str, flags: dict[str, str]) -> str:
    """`param`, `param=True` and `param=value` in an API message → the flag (and its value)."""

    def flag(match: re.Match) -> str:
        param, value = match.group(1), match.group(2)
        if param not in flags:
            return match.group(0)
        if value is None or value == "True":
            return flags[param]
        value = value.strip("'\"")
        if value.startswith("[") and value.endswith("]"):
            value = value[1:-1].replace(" ", "")
        return f"{flags[param]} {value}"

    return re.sub(r"`(\w+)(?:=([^`]*))?`", flag, text)


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def handle_errors(**flag_overrides: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn a ``ZooError`` into a clear message in this command's words, and its exit code."""
    flags = {**FLAGS, **flag_overrides}

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                with warnings.catch_warnings():
                    warnings.showwarning = functools.partial(_show_warning, flags=flags)
                    return func(*args, **kwargs)
            except ZooError as exc:
                from rich.markup import escape

                console = _console(stderr=True)
                console.print(f"[bold red]error:[/] {escape(in_cli_words(exc.message, flags))}", soft_wrap=True)
                if exc.hint:
                    console.print(f"[yellow]hint:[/] {escape(in_cli_words(exc.hint, flags))}", soft_wrap=True)
                raise typer.Exit(exit_code(exc)) from None
            except KeyboardInterrupt:
                _console(stderr=True).print("interrupted")
                raise typer.Exit(INTERRUPTED) from None

        return wrapper

    return decorate


def _show_warning(message: Warning | str, category: type, filename: str, lineno: int, file: Any = None, line: Any = None, *, flags: dict[str, str]) -> None:
    """A warning as one line in the command's words, not Python's ``file:line: Category``."""
    from rich.markup import escape

    _console(stderr=True).print(f"[yellow]warning:[/] {escape(in_cli_words(str(message), flags))}", soft_wrap=True)


def _print_tables(console: Any, tables: list) -> None:
    for table in tables:
        console.print(table)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _parse_int_list(text: Optional[str], option: str) -> Optional[list[int]]:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"{option} takes comma-separated integers like 10,50,100, got {text!r}") from None


def _epoch_specs(texts: list[str]) -> list[int | str]:
    """``"10"`` → 10; ``"best"``/``"last"`` stay words; the API refuses anything else."""
    return [int(t) if t.isascii() and t.isdigit() else t for t in texts]


# -- list / info ----------------------------------------------------------------------
@app.command("list")
@handle_errors()
def list_command(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List recipes and published models."""
    recipes, entries = zoo.list_recipes(), catalog.entries()
    models = [(e, e.load()) for e in entries]
    if as_json:
        _print_json({"recipes": [render.recipe_dict(r) for r in recipes], "models": [render.model_summary(m, e) for e, m in models]})
        return
    console = _console()
    console.print(render.recipes_table(recipes, [m for e, m in models if not e.shadowed]))
    console.print(render.models_table(models))


@app.command("info")
@handle_errors()
def info_command(
    name: str = typer.Argument(..., help="A published model, a recipe, or a run directory."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output (the manifest)."),
) -> None:
    """Show a model's epochs, metrics and files (or a recipe's definition)."""
    try:
        manifest = zoo.get_manifest(name)
    except UnknownModelError:
        recipe = zoo.get_recipe(name)  # raises its own UnknownModelError with suggestions
        if as_json:
            _print_json(render.recipe_dict(recipe))
        else:
            _console().print(render.recipe_panel(recipe))
        return
    if as_json:
        _print_json(manifest.to_dict())
        return
    console = _console()
    console.print(render.manifest_header(manifest))
    for line in render.lineage_lines(zoo.lineage(manifest)):
        console.print(line, highlight=False)
    _print_tables(console, render.epochs_tables(manifest, console.width))


# -- train ----------------------------------------------------------------------------
@app.command("train")
@handle_errors()
def train_command(
    recipe: str = typer.Argument(..., help="Recipe name (see 'zoo list')."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Total epochs (default: the recipe's)."),
    save_at: Optional[str] = typer.Option(None, "--save-at", help="Epochs to save, e.g. 10,50,100. The last epoch is always saved."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default: runs/RECIPE)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last saved epoch."),
    start_from: Optional[str] = typer.Option(None, "--from", help="Continue from a published epoch, e.g. digits-cnn@50 (fetches its resume state); with --data, fine-tune it."),
    data: Optional[Path] = typer.Option(None, "--data", help="Your own images: a folder with a sub-folder per class, or an .npz with x and y."),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="Learning rate (default: the recipe's)."),
    freeze_backbone: bool = typer.Option(False, "--freeze-backbone", help="Fine-tuning: train only the new head."),
    unfreeze_at: Optional[int] = typer.Option(None, "--unfreeze-at", min=1, help="Fine-tuning: train only the new head until this epoch, then everything."),
    publish: Optional[str] = typer.Option(None, "--publish", help="Publish each saved epoch to ORG/NAME while training goes on."),
    hub_dir: Optional[Path] = typer.Option(None, "--hub-dir", help="With --publish: a local hub directory instead of HF_ENDPOINT."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="Train under tf.distribute: 'mirrored' (GPUs, or logical CPU devices without one), or 'multiworker' (the cluster in TF_CONFIG; only the chief writes --out)."),
    replicas: Optional[int] = typer.Option(None, "--replicas", min=1, help="With --strategy mirrored: how many replicas (default: the GPUs, else 2 CPU devices)."),
    shard_size: Optional[str] = typer.Option(None, "--shard-size", help="Save an epoch's weights as Keras sharded weights when larger than this (500MB, 2GiB; default 5GiB)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run manifest as JSON when done."),
) -> None:
    """Train a recipe deterministically, saving weights, resume state and metrics per epoch.

    With --data it trains on your images; with --from and --data it fine-tunes a published epoch for your classes."""
    result = zoo.train(recipe, epochs=epochs, save_at=_parse_int_list(save_at, "--save-at"), out=out, resume=resume,
                       start_from=start_from, progress=not as_json, publish=publish, hub_dir=hub_dir,
                       data=data, learning_rate=learning_rate, freeze_backbone=freeze_backbone, unfreeze_at=unfreeze_at,
                       strategy=strategy, replicas=replicas, shard_size=shard_size)
    if as_json:
        _print_json(result.to_dict())
        return
    console = _console()
    if not result.chief:
        console.print(f"this worker trained epochs {', '.join(map(str, result.trained_epochs)) or '(none)'}; the chief wrote the run directory")
        return
    console.print(f"run directory: [bold]{result.run_dir}[/]")
    _print_tables(console, render.epochs_tables(result.manifest, console.width))
    if result.published is not None:
        console.print(f"published {publish} @ {result.published.commit[:12]}: epochs {result.published.manifest.epoch_numbers}")


# -- publish / fetch / evaluate --------------------------------------------------------
@app.command("publish")
@handle_errors()
def publish_command(
    run_dir: Path = typer.Argument(..., help="A run directory written by 'zoo train'."),
    repo: str = typer.Option(..., "--repo", help="Target repo, ORG/NAME."),
    hub_dir: Optional[Path] = typer.Option(None, "--hub-dir", help="Publish to this local hub directory (git + git-lfs) instead of HF_ENDPOINT."),
    name: Optional[str] = typer.Option(None, "--name", help="Name in your catalog (default: the repo name)."),
    manifests_dir: Optional[Path] = typer.Option(None, "--manifests-dir", help="Where to write NAME.json (default: your catalog, $ZOO_HOME/manifests)."),
    no_resume_state: bool = typer.Option(False, "--no-resume-state", help="Publish weights only, without the optional resume state."),
    as_json: bool = typer.Option(False, "--json", help="Print the pinned manifest as JSON."),
) -> None:
    """Check a run and publish it as ONE commit with a tag per epoch; pin NAME.json in your catalog to it."""
    result = zoo.publish(run_dir, repo, hub_dir=hub_dir, name=name, manifests_dir=manifests_dir, include_resume=not no_resume_state)
    if as_json:
        _print_json(result.to_dict())
        return
    console = _console()
    console.print(f"published [bold]{repo}[/] @ {result.commit} to {result.target}")
    console.print(f"epochs {', '.join(map(str, result.manifest.epoch_numbers))} (tags epoch-N); manifest: {result.manifest_path}")
    if result.shadows_bundled:
        _console(stderr=True).print(
            f"note: '{result.manifest.name}' in your catalog now hides the bundled model of that name "
            f"('zoo list' shows both); publish with --name to keep both reachable by name."
        )


@app.command("fetch")
@handle_errors(epochs="--epoch")
def fetch_command(
    name: str = typer.Argument(..., help="NAME, ORG/NAME or hf://ORG/NAME@REV."),
    epoch: list[str] = typer.Option([], "--epoch", "-e", help="An epoch number, 'last' or 'best'; repeat for several. Default: the model's default epoch."),
    all_epochs: bool = typer.Option(False, "--all", help="Every published epoch."),
    revision: Optional[str] = typer.Option(None, "--revision", help="A branch, tag or commit (overrides the pinned one)."),
    with_resume: bool = typer.Option(False, "--with-resume", help="Also fetch the resume state (optimizer included)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be downloaded, download nothing."),
    recipe: Optional[str] = typer.Option(None, "--recipe", help="For a local weights file: the recipe whose architecture it must fit."),
    allow_unsafe: bool = typer.Option(False, "--allow-unsafe", help="For a local .keras/.h5 model: allow Lambda layers (runs stored code)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Download epochs into the HF cache, verify their sha256 and size, print the local paths.

    A local file is checked the same way (loaded into --recipe's architecture) instead."""
    specs = [e for part in epoch for e in part.split(",")]
    files = zoo.fetch(name, _epoch_specs(specs) or None, revision=revision, all_epochs=all_epochs, include_resume=with_resume,
                      dry_run=dry_run, recipe=recipe, allow_unsafe=allow_unsafe)
    if as_json:
        _print_json([f.to_dict() for f in files])
        return
    notes = _console(stderr=True)
    for f in files:
        said = f"epoch {f.asked} → {f.epoch}" if f.asked else f"epoch {f.epoch}"
        if dry_run:
            state = "cached" if f.cached else "to download"
            sys.stdout.write(f"{said} {f.role}: {f.path_in_repo} ({f.size:,} bytes, {state})\n")
        else:
            notes.print(f"{said} {f.role}: " + ("from the cache" if f.cached else f"downloaded {render._size(f.size)}"), soft_wrap=True)
            sys.stdout.write(f"{f.local_path}\n")


@app.command("evaluate")
@handle_errors()
def evaluate_command(
    name: str = typer.Argument(..., help="NAME, ORG/NAME, hf://ORG/NAME@REV or a run directory."),
    epoch: Optional[str] = typer.Option(None, "--epoch", "-e", help="An epoch number, 'last' or 'best' (default: the model's default epoch)."),
    revision: Optional[str] = typer.Option(None, "--revision", help="A branch, tag or commit."),
    split: str = typer.Option("test", "--split", help="train, val or test."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Load an epoch and measure it on the recipe's data, beside the published metrics."""
    result = zoo.evaluate(name, _epoch_specs([epoch])[0] if epoch is not None else None, revision, split=split)
    if as_json:
        _print_json(result.to_dict())
        return
    _console().print(render.evaluation_table(result))


@app.command("compare")
@handle_errors()
def compare_command(
    names: list[str] = typer.Argument(..., help="One or more models: NAME, ORG/NAME, hf://ORG/NAME@REV or a run directory."),
    epochs: Optional[str] = typer.Option(None, "--epochs", help="Comma-separated epochs, e.g. 10,50,100 (also 'best', 'last'). Default: all."),
    all_epochs: bool = typer.Option(False, "--all", help="Every published epoch (the default)."),
    split: str = typer.Option("test", "--split", help="train, val or test."),
    metric: list[str] = typer.Option([], "--metric", help="Only these metrics (e.g. accuracy or test/loss); repeatable."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write a PNG of metric vs epoch here."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    verify: bool = typer.Option(False, "--verify", help="Exit non-zero (17) unless every published metric reproduces."),
    tolerance: float = typer.Option(1e-4, "--tolerance", min=0.0, help="Largest accepted |measured - published| for --verify."),
    show: Optional[Path] = typer.Option(None, "--show", help="Detectors: draw this image's boxes at every epoch, side by side."),
    show_out: Optional[Path] = typer.Option(None, "--show-out", help="Where --show writes its PNG (default: IMAGE-epochs.png beside the image)."),
    export: Optional[str] = typer.Option(None, "--export", help="Also measure each epoch exported: onnx, litert, litert-float16, litert-dynamic-int8, litert-int8 (comma-separated)."),
    finetune: Optional[Path] = typer.Option(None, "--finetune", help="Your images (class sub-folders, or .npz): fine-tune each epoch on them and compare the results."),
    finetune_epochs: int = typer.Option(5, "--finetune-epochs", min=1, help="With --finetune: epochs of fine-tuning per source epoch."),
    freeze_backbone: bool = typer.Option(False, "--freeze-backbone", help="With --finetune: train only the new head."),
    unfreeze_at: Optional[int] = typer.Option(None, "--unfreeze-at", min=1, help="With --finetune: train only the new head until this epoch."),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="With --finetune: the learning rate (default: the recipe's)."),
) -> None:
    """Evaluate several epochs side by side, measured beside published: no training needed.

    With --finetune DIR: which epoch transfers best to your data, each fine-tuned under the same seed and data order."""
    specs = _epoch_specs([e.strip() for e in epochs.split(",") if e.strip()]) if epochs else None
    if finetune is not None:
        if len(names) != 1 or verify or show is not None or export or metric or all_epochs:
            raise UsageError("--finetune compares the epochs of one model; it takes --epochs, --json, --plot and the fine-tuning flags")
        study = zoo.compare_transfer(names[0], specs, finetune, finetune_epochs=finetune_epochs, freeze_backbone=freeze_backbone,
                                     unfreeze_at=unfreeze_at, learning_rate=learning_rate, progress=not as_json)
        if plot is not None:
            study.plot(plot)
        if as_json:
            _print_json(study.to_dict())
            return
        console = _console()
        _print_tables(console, render.transfer_tables(study, console.width))
        console.print(f"best starting epoch: {study.best_source_epoch} (by fine-tuned {study.selection_metric})" + (f"; plot: {plot}" if plot else ""))
        return
    if freeze_backbone or unfreeze_at is not None or learning_rate is not None:
        raise UsageError("--freeze-backbone, --unfreeze-at and --lr go with --finetune DIR")
    exports = [f.strip() for f in export.split(",") if f.strip()] if export else []
    result = zoo.compare(names, specs, all_epochs=all_epochs, split=split, metrics=metric or None, show=show, exports=exports)
    if plot is not None:
        result.plot(plot)
    drawn = result.draw_shown(show_out or show.with_name(f"{show.stem}-epochs.png")) if show is not None else None
    if as_json:
        _print_json(result.to_dict())
    else:
        console = _console()
        _print_tables(console, render.comparison_tables(result, console.width))
        console.print(render.comparison_legend(result))  # wrapped at word boundaries
        _print_tables(console, render.exports_tables(result, console.width))
        for label, path in (("plot", plot), ("epochs side by side", drawn)):
            if path is not None:
                _console().print(f"{label}: {path}")
    if verify:
        result.verify(tolerance)
        compared = sum(len(e.measured) for m in result.models for e in m.epochs)
        _console().print(f"verified: {compared} published metrics reproduce within {tolerance:g} (largest difference {result.largest_difference():.1e})")


@app.command("predict")
@handle_errors()
def predict_command(
    name: str = typer.Argument(..., help="NAME, ORG/NAME, hf://ORG/NAME@REV or a run directory."),
    images: list[Path] = typer.Argument(..., help="Image files (PNG, JPEG, …)."),
    epoch: Optional[str] = typer.Option(None, "--epoch", "-e", help="An epoch number, 'last' or 'best' (default: the model's default epoch)."),
    revision: Optional[str] = typer.Option(None, "--revision", help="A branch, tag or commit."),
    top: int = typer.Option(3, "--top", min=1, help="Classifiers: how many classes to show."),
    out: Optional[Path] = typer.Option(None, "--out", help="Detectors: write the image with boxes, labels and scores here (PNG)."),
    score_threshold: float = typer.Option(0.3, "--score-threshold", min=0.0, max=1.0, help="Detectors: lowest score shown."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Predict with an epoch: top classes for a classifier, boxes for a detector."""
    results = zoo.predict(name, images, _epoch_specs([epoch])[0] if epoch is not None else None, revision,
                          top=top, out=out, score_threshold=score_threshold)
    if as_json:
        _print_json([r.to_dict() for r in results])
        return
    console = _console()
    for r in results:
        if r.top:
            console.print(f"{r.image}: " + ", ".join(f"{label} {p:.1%}" for label, p in r.top))
        else:
            found = ", ".join(f"{b['label']} {b['score']:.2f} at {b['box']}" for b in r.boxes) or "nothing found"
            console.print(f"{r.image}: {found}" + (f" → {r.drawn}" if r.drawn else ""))


@app.command("export")
@handle_errors()
def export_command(
    name: str = typer.Argument(..., help="NAME, ORG/NAME, hf://ORG/NAME@REV or a run directory."),
    epoch: Optional[str] = typer.Option(None, "--epoch", "-e", help="An epoch number, 'last' or 'best' (default: the model's default epoch)."),
    fmt: str = typer.Option(..., "--format", "-f", help="keras | h5 | weights | savedmodel | onnx | litert"),
    out: Path = typer.Option(..., "--out", help="Target path (.keras, .h5, .weights.h5, .onnx, .tflite, or a directory for savedmodel)."),
    quantize: Optional[str] = typer.Option(None, "--quantize", help="LiteRT: float16 | dynamic-int8 | int8 (calibrated on the training split)."),
    raw_input: bool = typer.Option(False, "--raw-input", help="ONNX/LiteRT: take the uint8 pixels of an image; the recipe's preprocessing runs in the graph."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out."),
    revision: Optional[str] = typer.Option(None, "--revision", help="A branch, tag or commit."),
    data: Optional[Path] = typer.Option(None, "--data", help="Images (a folder of class folders, or an .npz) to check and int8-calibrate on instead of the recipe's dataset."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Export an epoch (.keras, legacy .h5, .weights.h5, SavedModel, ONNX, LiteRT), checked in its own runtime before it is named."""
    result = zoo.export(name, _epoch_specs([epoch])[0] if epoch is not None else None, fmt, out, force=force, revision=revision,
                        quantize=quantize, raw_input=raw_input, data=data)
    if as_json:
        _print_json(result.to_dict())
        return
    extra = ", optimizer state included" if result.with_optimizer else ""
    runtime = {"onnx": "onnxruntime", "litert": "ai_edge_litert"}.get(result.format, "plain Keras/TF")
    _console().print(f"wrote {result.format} to {result.path} ({result.size:,} bytes{extra}); run in {runtime}: max |diff| {result.max_abs_diff:.1e}; "
                     f"input contract: {result.contract}")


# -- the local hub -----------------------------------------------------------------------
hub_app = typer.Typer(help="The local hub: git + git-lfs repositories served by olah.", no_args_is_help=True)
app.add_typer(hub_app, name="hub")


@hub_app.command("serve")
@handle_errors()
def hub_serve_command(
    directory: Optional[Path] = typer.Option(None, "--dir", help="Hub directory (default: $ZOO_HUB_DIR or ~/.local/share/zoo/hub)."),
    port: Optional[int] = typer.Option(None, "--port", min=1, max=65535, help="Port (default: a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; other than loopback needs --token-file."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help="A file (chmod 600) holding the read token every request must carry (HF_TOKEN)."),
) -> None:
    """Serve a local hub directory with olah (offline) until interrupted; a new or empty directory serves no models until one is published."""

    def ready(server: HubServer) -> None:
        sys.stdout.write(f"HF_ENDPOINT={server.endpoint}\n")
        sys.stdout.flush()
        _console(stderr=True).print(f"serving {server.hub_dir} (Ctrl-C to stop); use: export HF_ENDPOINT={server.endpoint}", soft_wrap=True)

    HubServer(directory or default_hub_dir(), port, host=host, token_file=token_file).serve_until_stopped(ready)


@hub_app.command("build")
@handle_errors()
def hub_build_command(
    recipes: Optional[list[str]] = typer.Argument(None, help="Recipes to build (default: all)."),
    directory: Optional[Path] = typer.Option(None, "--dir", help="Hub directory (default: $ZOO_HUB_DIR or ~/.local/share/zoo/hub)."),
    epochs: int = typer.Option(100, "--epochs", min=1, help="Epochs to train each recipe."),
    save_at: str = typer.Option("10,50,100", "--save-at", help="Epochs to publish."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="Where the training runs live (reused when complete)."),
    org: str = typer.Option("zoo", "--org", help="Repo organisation."),
    manifests_dir: Optional[Path] = typer.Option(None, "--manifests-dir", help="Where to write NAME.json (default: the bundled manifests/)."),
) -> None:
    """Build the reference zoo: train every recipe and publish it to the local hub."""
    console = _console()
    build_reference_zoo(
        directory or default_hub_dir(), recipes=recipes or None, epochs=epochs,
        save_at=_parse_int_list(save_at, "--save-at") or [], runs_dir=runs_dir, org=org, manifests_dir=manifests_dir,
        on_published=lambda how, r: console.print(
            f"{r.manifest.hub.repo_id}: run {how}; " + (f"published epochs {r.manifest.epoch_numbers} @ {r.commit[:12]}" if r.changed
                                                        else f"hub unchanged @ {r.commit[:12]}") + f" → {r.manifest_path}", soft_wrap=True),
    )


def main() -> None:
    app()
