"""What a user sees: tables that read correctly at 80 columns and in a pipe (no header or
number split, no line past the width, no name cut), and untrusted text shown escaped."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from zoo.cli import app
from zoo.cli.render import untrusted

narrow = CliRunner(env={"COLUMNS": "80"})


def _check_80(text: str, numbers: list[float], words: list[str]) -> None:
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    tokens = set(re.findall(r"[^\s│┃|]+", text))
    for value in numbers:
        assert f"{value:.4f}" in tokens, f"{value:.4f} is split or missing"
    for word in words:
        assert word in tokens, f"{word!r} is split or missing"


@pytest.mark.fast
def test_list_and_info_fit_80_columns(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_MANIFESTS_DIR", str(tmp_path))  # the bundled reference zoo alone
    listed = narrow.invoke(app, ["list"])
    assert listed.exit_code == 0, listed.output
    names = [m["name"] for m in json.loads(narrow.invoke(app, ["list", "--json"]).stdout)["models"]]
    _check_80(listed.stdout, [], ["digits-cnn", "mnist-lenet", "shapes-yolo", "zoo/shapes-yolo", *names])
    for name in ("digits-cnn", "shapes-yolo"):
        info = narrow.invoke(app, ["info", name])
        assert info.exit_code == 0, info.output
        manifest = json.loads(narrow.invoke(app, ["info", name, "--json"]).stdout)
        shown = [v for e in manifest["epochs"] for k, v in e["metrics"].items() if k.startswith(("val/", "test/")) or k == "train/loss"]
        _check_80(info.stdout, shown, ["epoch", "val", "test", "weights", "revision", "epoch-10", "epoch-100"])


def test_compare_of_three_models_fits_80_columns(hub):
    out = narrow.invoke(app, ["compare", "digits-mlp", "digits-cnn", "shapes-yolo", "--epochs", "1,2"])
    assert out.exit_code == 0, out.output
    result = json.loads(narrow.invoke(app, ["compare", "digits-mlp", "digits-cnn", "shapes-yolo", "--epochs", "1,2", "--json"]).stdout)
    measured = [v for m in result["models"] for e in m["epochs"] for v in e["measured"].values()]
    _check_80(out.stdout, measured, ["digits-mlp", "digits-cnn", "shapes-yolo", "mAP50-95", "pub", "acc"])


@pytest.mark.fast
@pytest.mark.parametrize("hostile", ["\x1b]0;pwned\x07title", "\x1b[2J\x1b[Hclear", "[bold red]markup[/]", "rtl\u202eevil", "bell\x07"])
def test_untrusted_text_is_shown_escaped(hostile):
    from rich.console import Console

    console = Console(record=True, width=200, force_terminal=True)
    console.print(untrusted(hostile))
    text = console.export_text()
    assert "\x1b" not in text.replace("\\x1b", "") and "\x07" not in text and "\u202e" not in text
    if "markup" in hostile:
        assert "[bold red]markup[/]" in text


def test_info_of_a_hostile_remote_manifest_prints_no_control_sequence(hub, scratch_repo, tmp_path):
    from zoo.constants import user_manifests_dir
    from zoo.formats import manifest as mf

    m = mf.load(user_manifests_dir() / "digits-mlp.json")
    hostile = m.replace(description="\x1b]0;pwned\x07\x1b[2J[blink]gotcha[/]", license="mit\x1b[31m")
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "zoo.json").write_text(hostile.replace(hub=mf.HubRef("zoo/hostile-text", None), epochs=(
        __import__("dataclasses").replace(m.epochs[-1], commit=None),)).dumps())
    scratch_repo(stage, "zoo/hostile-text")
    out = CliRunner(env={"COLUMNS": "120"}).invoke(app, ["info", "hf://zoo/hostile-text"], color=True)
    assert out.exit_code == 0, out.output
    assert "\x1b]0;" not in out.stdout and "\x1b[2J" not in out.stdout and "[blink]gotcha[/]" in out.stdout
