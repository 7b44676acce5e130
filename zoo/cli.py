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

from zoo.errors import UsageError, ZooError

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
            console = _console(stderr=True)
            console.print(f"[bold red]error:[/] {exc.message}", markup=True, soft_wrap=True)
            if exc.hint:
                console.print(f"[yellow]hint:[/] {exc.hint}", soft_wrap=True)
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
    from zoo import api
    from zoo import render

    recipes, models = api.list_recipes(), api.list_models()
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
    from zoo import api, render
    from zoo.errors import UnknownModelError

    try:
        manifest = api.get_manifest(name)
    except UnknownModelError:
        recipe = api.get_recipe(name)  # raises its own UnknownModelError with suggestions
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
    as_json: bool = typer.Option(False, "--json", help="Print the run manifest as JSON when done."),
) -> None:
    """Train a recipe deterministically, saving weights, resume state and metrics per epoch."""
    from zoo import api, render

    result = api.train(recipe, epochs=epochs, save_at=_parse_int_list(save_at, "--save-at"), out=out, resume=resume, progress=not as_json)
    if as_json:
        _print_json(result.manifest.to_dict())
        return
    console = _console()
    console.print(f"run directory: [bold]{result.run_dir}[/]")
    console.print(render.epochs_table(result.manifest))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
