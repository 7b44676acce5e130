"""The ``zoo`` command: parse arguments, call the Python API, render. No logic of its own.

Every ``ZooError`` becomes a red message with a hint on stderr and the error's own
exit code; no traceback reaches the user. Importing this module must not import
TensorFlow (``zoo --help``, ``zoo list`` and ``zoo info`` stay fast).
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from zoo.errors import HubError, UsageError, ZooError

app = typer.Typer(
    help="A pretrained-checkpoint zoo for TensorFlow/Keras, with a real epoch axis.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a ``ZooError`` into a clear message and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ZooError as exc:
            from rich.markup import escape

            console = _console(stderr=True)
            console.print(f"[bold red]error:[/] {escape(exc.message)}", soft_wrap=True)
            if exc.hint:
                console.print(f"[yellow]hint:[/] {escape(exc.hint)}", soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            _console(stderr=True).print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _parse_int_list(text: Optional[str], option: str) -> Optional[list[int]]:
    if text is None:
        return None
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"{option} takes comma-separated integers like 10,50,100, got {text!r}") from None
    return values


# -- list / info ----------------------------------------------------------------------
@app.command("list")
@handle_errors
def list_command(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List recipes and published models."""
    import zoo
    from zoo.cli import render

    recipes, models = zoo.list_recipes(), zoo.list_models()
    if as_json:
        _print_json({"recipes": [render.recipe_dict(r) for r in recipes], "models": [render.model_summary(m) for m in models]})
        return
    console = _console()
    console.print(render.recipes_table(recipes, models))
    console.print(render.models_table(models))


@app.command("info")
@handle_errors
def info_command(
    name: str = typer.Argument(..., help="A published model, a recipe, or a run directory."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output (the manifest)."),
) -> None:
    """Show a model's epochs, metrics and files (or a recipe's definition)."""
    import zoo
    from zoo.cli import render
    from zoo.errors import UnknownModelError

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
    console.print(render.epochs_table(manifest))


# -- train ----------------------------------------------------------------------------
@app.command("train")
@handle_errors
def train_command(
    recipe: str = typer.Argument(..., help="Recipe name (see 'zoo list')."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Total epochs (default: the recipe's)."),
    save_at: Optional[str] = typer.Option(None, "--save-at", help="Epochs to save, e.g. 10,50,100. The last epoch is always saved."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default: runs/RECIPE)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last saved epoch."),
    start_from: Optional[str] = typer.Option(None, "--from", help="Continue from a published epoch, e.g. digits-cnn@50 (fetches its resume state)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run manifest as JSON when done."),
) -> None:
    """Train a recipe deterministically, saving weights, resume state and metrics per epoch."""
    import zoo
    from zoo.cli import render

    result = zoo.train(recipe, epochs=epochs, save_at=_parse_int_list(save_at, "--save-at"), out=out, resume=resume,
                       start_from=start_from, progress=not as_json)
    if as_json:
        _print_json(result.manifest.to_dict())
        return
    console = _console()
    console.print(f"run directory: [bold]{result.run_dir}[/]")
    console.print(render.epochs_table(result.manifest))


# -- publish / fetch / evaluate --------------------------------------------------------
@app.command("publish")
@handle_errors
def publish_command(
    run_dir: Path = typer.Argument(..., help="A run directory written by 'zoo train'."),
    repo: str = typer.Option(..., "--repo", help="Target repo, ORG/NAME."),
    hub_dir: Optional[Path] = typer.Option(None, "--hub-dir", help="Publish to this local hub directory (git + git-lfs) instead of HF_ENDPOINT."),
    name: Optional[str] = typer.Option(None, "--name", help="Model name for manifests/NAME.json (default: the repo name)."),
    manifests_dir: Optional[Path] = typer.Option(None, "--manifests-dir", help="Where to write NAME.json (default: the bundled manifests, or the user's if read-only)."),
    no_resume_state: bool = typer.Option(False, "--no-resume-state", help="Publish weights only, without the optional resume state."),
    as_json: bool = typer.Option(False, "--json", help="Print the pinned manifest as JSON."),
) -> None:
    """Check a run and publish it as ONE commit with a tag per epoch; pin manifests/NAME.json to it."""
    import zoo

    result = zoo.publish(run_dir, repo, hub_dir=hub_dir, name=name, manifests_dir=manifests_dir, include_resume=not no_resume_state)
    if as_json:
        _print_json({"commit": result.commit, "manifest_path": str(result.manifest_path), "manifest": result.manifest.to_dict()})
        return
    console = _console()
    console.print(f"published [bold]{repo}[/] @ {result.commit} to {result.target}")
    console.print(f"epochs {', '.join(map(str, result.manifest.epoch_numbers))} (tags epoch-N); manifest: {result.manifest_path}")


def _epoch_specs(epochs: list[str]) -> list[int | str]:
    return [int(e) if e.isdigit() else e for e in epochs]


@app.command("fetch")
@handle_errors
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
    import zoo

    if all_epochs and epoch:
        raise UsageError("--all and --epoch cannot be combined")
    specs = [e for part in epoch for e in part.split(",") if e]
    files = zoo.fetch(name, _epoch_specs(specs) or None, revision=revision, all_epochs=all_epochs, include_resume=with_resume,
                      dry_run=dry_run, recipe=recipe, allow_unsafe=allow_unsafe)
    if as_json:
        _print_json([{**f.__dict__, "local_path": str(f.local_path) if f.local_path else None} for f in files])
        return
    for f in files:
        if dry_run:
            state = "cached" if f.cached else "to download"
            sys.stdout.write(f"epoch {f.epoch} {f.role}: {f.path_in_repo} ({f.size:,} bytes, {state})\n")
        else:
            sys.stdout.write(f"{f.local_path}\n")


@app.command("evaluate")
@handle_errors
def evaluate_command(
    name: str = typer.Argument(..., help="NAME, ORG/NAME, hf://ORG/NAME@REV or a run directory."),
    epoch: str = typer.Option("default", "--epoch", "-e", help="An epoch number, 'last' or 'best'."),
    revision: Optional[str] = typer.Option(None, "--revision", help="A branch, tag or commit."),
    split: str = typer.Option("test", "--split", help="train, val or test."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Load an epoch and measure it on the recipe's data, beside the published metrics."""
    import zoo
    from zoo.cli import render

    result = zoo.evaluate(name, _epoch_specs([epoch])[0], revision, split=split)
    if as_json:
        _print_json(result)
        return
    _console().print(render.evaluation_table(result))


@app.command("compare")
@handle_errors
def compare_command(
    names: list[str] = typer.Argument(..., help="One or more models: NAME, ORG/NAME, hf://ORG/NAME@REV or a run directory."),
    epochs: Optional[str] = typer.Option(None, "--epochs", help="Comma-separated epochs, e.g. 10,50,100 (also 'best', 'last'). Default: all."),
    all_epochs: bool = typer.Option(False, "--all", help="Every published epoch (the default)."),
    split: str = typer.Option("test", "--split", help="train, val or test."),
    metric: list[str] = typer.Option([], "--metric", help="Only these metrics (e.g. accuracy or test/loss); repeatable."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write a PNG of metric vs epoch here."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    verify: bool = typer.Option(False, "--verify", help="Exit non-zero (17) when a measured metric differs from the published one."),
    tolerance: float = typer.Option(1e-4, "--tolerance", min=0.0, help="Largest accepted |measured - published| for --verify."),
    show: Optional[Path] = typer.Option(None, "--show", help="Detectors: draw this image's boxes at every epoch, side by side."),
    show_out: Optional[Path] = typer.Option(None, "--show-out", help="Where --show writes its PNG (default: IMAGE-epochs.png)."),
) -> None:
    """Evaluate several epochs side by side, measured beside published: no training needed."""
    import zoo
    from zoo.cli import render

    if epochs and all_epochs:
        raise UsageError("--epochs and --all cannot be combined")
    specs = _epoch_specs([e.strip() for e in epochs.split(",") if e.strip()]) if epochs else None
    result = zoo.compare(names, specs, all_epochs=all_epochs, split=split, metrics=metric or None,
                         show=str(show) if show else None, show_out=str(show_out) if show_out else None)
    if plot is not None:
        from zoo.workflows.comparison import plot as draw

        draw(result, str(plot))
    if as_json:
        _print_json(result.to_dict())
    else:
        _console().print(render.comparison_table(result))
        if plot is not None:
            _console().print(f"plot: {plot}")
        if show is not None:
            _console().print(f"epochs side by side: {show_out or Path(show.stem + '-epochs.png')}")
    if verify:
        result.verify(tolerance)


@app.command("predict")
@handle_errors
def predict_command(
    name: str = typer.Argument(..., help="NAME, ORG/NAME, hf://ORG/NAME@REV or a run directory."),
    images: list[Path] = typer.Argument(..., help="Image files (PNG, JPEG, …)."),
    epoch: str = typer.Option("default", "--epoch", "-e", help="An epoch number, 'last' or 'best'."),
    revision: Optional[str] = typer.Option(None, "--revision", help="A branch, tag or commit."),
    top: int = typer.Option(3, "--top", min=1, help="Classifiers: how many classes to show."),
    out: Optional[Path] = typer.Option(None, "--out", help="Detectors: write the image with boxes, labels and scores here (PNG)."),
    score_threshold: float = typer.Option(0.3, "--score-threshold", min=0.0, max=1.0, help="Detectors: lowest score shown."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Predict with an epoch: top classes for a classifier, boxes for a detector."""
    import zoo

    results = zoo.predict(name, images, _epoch_specs([epoch])[0], revision, top=top, out=out, score_threshold=score_threshold)
    if as_json:
        _print_json([r.__dict__ for r in results])
        return
    console = _console()
    for r in results:
        if r.top:
            console.print(f"{r.image}: " + ", ".join(f"{label} {p:.1%}" for label, p in r.top))
        else:
            found = ", ".join(f"{b['label']} {b['score']:.2f} at {b['box']}" for b in r.boxes) or "nothing found"
            console.print(f"{r.image}: {found}" + (f" → {r.drawn}" if r.drawn else ""))


@app.command("export")
@handle_errors
def export_command(
    name: str = typer.Argument(..., help="NAME, ORG/NAME, hf://ORG/NAME@REV or a run directory."),
    epoch: str = typer.Option("default", "--epoch", "-e", help="An epoch number, 'last' or 'best'."),
    fmt: str = typer.Option(..., "--format", "-f", help="keras | h5 | weights | savedmodel"),
    out: Path = typer.Option(..., "--out", help="Target path (.keras, .h5, .weights.h5, or a directory for savedmodel)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out."),
    revision: Optional[str] = typer.Option(None, "--revision", help="A branch, tag or commit."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Export an epoch as .keras, legacy .h5, .weights.h5 or a TF SavedModel (serving_default), checked by reloading it."""
    import zoo

    result = zoo.export(name, _epoch_specs([epoch])[0], fmt, out, force=force, revision=revision)
    if as_json:
        _print_json({**result.__dict__, "path": str(result.path)})
        return
    extra = ", optimizer state included" if result.with_optimizer else ""
    _console().print(f"wrote {result.format} to {result.path} ({result.size:,} bytes{extra}); reloaded with plain Keras/TF: max |diff| {result.max_abs_diff:.1e}")


# -- the local hub -----------------------------------------------------------------------
hub_app = typer.Typer(help="The local hub: git + git-lfs repositories served by olah.", no_args_is_help=True)
app.add_typer(hub_app, name="hub")


@hub_app.command("serve")
@handle_errors
def hub_serve_command(
    directory: Optional[Path] = typer.Option(None, "--dir", help="Hub directory (default: $ZOO_HUB_DIR or ~/.local/share/zoo/hub)."),
    port: Optional[int] = typer.Option(None, "--port", min=1, max=65535, help="Port on 127.0.0.1 (default: a free one)."),
) -> None:
    """Serve a local hub directory with olah (offline) until interrupted."""
    import signal
    import time

    from zoo.constants import default_hub_dir
    from zoo.hub.server import HubServer

    def stop(*_: object) -> None:
        raise KeyboardInterrupt  # so `kill` stops olah too, as Ctrl-C does

    signal.signal(signal.SIGTERM, stop)
    with HubServer(directory or default_hub_dir(), port) as server:
        sys.stdout.write(f"HF_ENDPOINT={server.endpoint}\n")
        sys.stdout.flush()
        _console(stderr=True).print(f"serving {server.hub_dir} (Ctrl-C to stop); use: export HF_ENDPOINT={server.endpoint}")
        while server.alive:
            time.sleep(0.5)
        raise HubError(f"olah stopped unexpectedly:\n{server.log_tail()}")


@hub_app.command("build")
@handle_errors
def hub_build_command(
    recipes: Optional[list[str]] = typer.Argument(None, help="Recipes to build (default: all)."),
    directory: Optional[Path] = typer.Option(None, "--dir", help="Hub directory (default: $ZOO_HUB_DIR or ~/.local/share/zoo/hub)."),
    epochs: int = typer.Option(100, "--epochs", min=1, help="Epochs to train each recipe."),
    save_at: str = typer.Option("10,50,100", "--save-at", help="Epochs to publish."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="Where the training runs live (reused when complete)."),
    org: str = typer.Option("zoo", "--org", help="Repo organisation."),
    manifests_dir: Optional[Path] = typer.Option(None, "--manifests-dir", help="Where to write NAME.json."),
) -> None:
    """Build the reference zoo: train every recipe and publish it to the local hub."""
    from zoo.constants import default_hub_dir
    from zoo.workflows.reference import build_reference_zoo

    console = _console()
    build_reference_zoo(
        directory or default_hub_dir(), recipes=recipes or None, epochs=epochs,
        save_at=_parse_int_list(save_at, "--save-at") or [], runs_dir=runs_dir, org=org, manifests_dir=manifests_dir,
        on_published=lambda r: console.print(f"published {r.manifest.hub.repo_id} @ {r.commit[:12]} epochs {r.manifest.epoch_numbers} → {r.manifest_path}"),
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
