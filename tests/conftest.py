"""Shared fixtures: an isolated zoo/HF home per session, and small trained runs built once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zoo.constants import TF_ENV

os.environ.update(TF_ENV)  # before any test imports TensorFlow
if os.environ.get("ZOO_TEST_WITHOUT_TENSORFLOW"):  # the fast tier proves it needs none
    sys.modules["tensorflow"] = None  # type: ignore[assignment]
    sys.modules["keras"] = None  # type: ignore[assignment]
# huggingface_hub's first request in a process also pings the endpoint it saw at import
# time; tests move HF_ENDPOINT per test, so keep that ping from reaching anything.
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


# The CLI in-process, wide enough that no message wraps (tables at 80 columns are tested apart).
runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(autouse=True, scope="session")
def isolated_home(tmp_path_factory: pytest.TempPathFactory):
    """No test reads or writes the user's real zoo or Hugging Face state."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZOO_HOME", str(home / "zoo"))
        mp.setenv("HF_HOME", str(home / "hf"))
        mp.setenv("SOURCE_DATE_EPOCH", "1764028800")  # reproducible timestamps, as the main job
        mp.delenv("HF_ENDPOINT", raising=False)
        mp.delenv("HF_HUB_OFFLINE", raising=False)
        mp.delenv("HF_TOKEN", raising=False)
        yield home


@pytest.fixture(scope="session")
def small_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each recipe trained for 2 epochs (saved at 1 and 2), once per test session."""
    from zoo.workflows.training import train

    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for name in ("digits-mlp", "digits-cnn", "mnist-lenet", "shapes-yolo"):
        runs[name] = train(name, epochs=2, save_at=[1, 2], out=root / name, progress=False).run_dir
    return runs


def tree_digest(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes: proves a refused operation changed nothing."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def hub_dir(small_runs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local hub (git + git-lfs repos) with every small run published as zoo/NAME.

    The manifests go to the isolated user manifests directory, where
    ``zoo.load_pretrained(NAME)`` finds them, exactly like bundled ones."""
    from zoo.constants import user_manifests_dir
    from zoo.workflows.publishing import publish

    hub = tmp_path_factory.mktemp("hub")
    for name, run in small_runs.items():
        publish(run, f"zoo/{name}", hub_dir=hub, manifests_dir=user_manifests_dir())
    return hub


@pytest.fixture()
def scratch_repo(hub_dir):
    """``scratch_repo(stage, repo_id, tags=…)`` publishes a throwaway repo into the session's
    hub; every such repo is removed after the test, whether it passed or not."""
    import shutil

    from zoo.hub.git_publisher import publish_tree, repo_dir

    made: list[str] = []

    def publish(stage: Path, repo_id: str, *, tags=(), message: str = "scratch") -> str:
        made.append(repo_id)
        return publish_tree(stage, hub_dir, repo_id, tags=list(tags), message=message)

    yield publish
    for repo_id in made:
        shutil.rmtree(repo_dir(hub_dir, repo_id), ignore_errors=True)


NO_ZOO = "import sys\nassert not any(m == 'zoo' or m.startswith('zoo.') for m in sys.modules)\n"


def run_python(code: str, env: dict, cwd: Path) -> str:
    """``code`` in a fresh interpreter (a user's own script); its stdout, or the test fails with its stderr."""
    import subprocess

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture()
def tools_env(hub, tmp_path):
    """The environment a user's shell would have: HF_ENDPOINT at the hub, an empty cache."""
    return {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "tools-hf"), "HF_HUB_DISABLE_TELEMETRY": "1"}


@pytest.fixture(scope="session")
def hub_server(hub_dir):
    """One real olah process for the whole session, serving ``hub_dir``."""
    from zoo.hub.server import HubServer

    with HubServer(hub_dir) as server:
        yield server


@pytest.fixture()
def hub(hub_server, monkeypatch, tmp_path):
    """HF_ENDPOINT at the session's olah, and a fresh, empty HF cache for this test."""
    monkeypatch.setenv("HF_ENDPOINT", hub_server.endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    yield hub_server
