"""The ``zoo`` command: a thin Typer skin over the Python API."""

from zoo.cli.app import app, main

__all__ = ["app", "main"]
