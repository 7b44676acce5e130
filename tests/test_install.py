"""A non-editable install (a built wheel in a fresh venv) gives a working ``zoo`` command
that sees the bundled recipes and manifests from any directory."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_install_in_a_fresh_venv(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        check=True, capture_output=True,
    )
    wheel = next(wheels.glob("zoo-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    vpy = venv / "bin" / "python"
    # The wheel goes into the fresh venv; its dependencies are borrowed from this one.
    purelib = subprocess.check_output([str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip()
    Path(purelib, "deps.pth").write_text("\n".join(p for p in site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", purelib, str(wheel)], check=True, capture_output=True)

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    out = subprocess.run([str(vpy), "-m", "zoo.cli", "list", "--json"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    names = {r["name"] for r in json.loads(out.stdout)["recipes"]}
    assert {"digits-mlp", "digits-cnn", "mnist-lenet"} <= names
    where = subprocess.check_output([str(vpy), "-c", "import zoo, zoo.manifests; print(zoo.__file__); print(zoo.manifests.__file__)"], cwd=elsewhere, env=env, text=True)
    assert str(ROOT) not in where, "the installed copy, not the source tree, must be used"
    assert Path(where.split()[1]).with_name("schema.json").is_file()
