"""Models that no recipe builds: their architecture is the Keras config published with
each epoch (``config.json``), and this module is the one place that turns one into a model.

A manifest says so with the reserved recipe name ``keras-config``; its builder kwargs
hold the config's sha256, so the manifest pins the architecture byte for byte.

A config from a hub is hostile until checked. Three guards stand before a model is built
in this process:

1. **only Keras's own classes** (``check``): every serialized object's module is Keras;
   a custom layer would need its code, which only a recipe brings (and Keras's safe mode
   refuses Lambda bytecode);
2. **a bounded size** (``MAX_CONFIG_BYTES``), checked before download from the manifest;
3. **a bounded build** (``probe``): the config is first built in a child process whose
   address space is limited to what the published weights justify. Keras allocates every
   variable while it builds (even in a ``StatelessScope`` on TensorFlow), and a three-layer
   config asking for ``Dense(40000)`` took 19.7 GB here. The child reports the parameter
   count and both fingerprints, which must be the manifest's; the verdict is remembered
   per config and Keras version under ``$ZOO_HOME/verified-configs``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from zoo.constants import TF_ENV, zoo_home
from zoo.errors import ArchitectureMismatchError, FileFormatError, ManifestError, UnsafeFileError, UsageError
from zoo.fileio import atomic_write_bytes
from zoo.formats.manifest import KERAS_CONFIG_RECIPE as RECIPE_NAME

RECIPE_VERSION = 1
MAX_CONFIG_BYTES = 8 * 1024 * 1024
PROBE_TIMEOUT_S = 300.0
# What a build may take beyond the weights themselves: Keras's and TensorFlow's working memory.
_BUILD_MARGIN_BYTES = 1 << 30
_CLASS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Probe:
    """What a config builds: measured in a child process, compared with the manifest."""

    param_count: int
    architecture_sha256: str
    layout_sha256: str


def builder_kwargs(config_sha256: str) -> dict[str, str]:
    return {"config_sha256": config_sha256}


def config_entry(entry: Any, *, what: str) -> Any:
    """The ``config.json`` an epoch of a model without a recipe lists (its architecture),
    refused before any download if missing or larger than ``MAX_CONFIG_BYTES``."""
    config = entry.file("config")
    if config is None:
        raise ManifestError(f"{what} epoch {entry.epoch}: a model without a recipe needs its config.json, and the manifest lists none")
    if config.size > MAX_CONFIG_BYTES:
        raise UnsafeFileError(f"{what} epoch {entry.epoch}: a config.json of {config.size:,} bytes is more than {MAX_CONFIG_BYTES:,}")
    return config


def check_model(model: Any) -> None:
    """A model a Keras config can rebuild: Functional or Sequential, Keras's own layers."""
    kind = type(model)
    if not (kind.__module__.startswith("keras.") and kind.__name__ in ("Functional", "Sequential")):
        raise UsageError(
            f"{kind.__name__} is a subclassed model: its architecture is Python code, which no Keras config holds",
            hint="Write a recipe that builds it (docs/recipes.md: a builder function with @register_recipe) and pass `recipe=` its name.",
        )
    check(_serialized(model), what=f"model {model.name!r}")


def check(config: Any, *, what: str = "config.json") -> None:
    """Refuse a config that names code outside Keras, before Keras reads it."""
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            module, name = node.get("module"), node.get("class_name")
            if module is not None and not (isinstance(module, str) and (module == "keras" or module.startswith("keras."))):
                raise UnsafeFileError(
                    f"{what}: {str(name)[:80]!r} comes from module {str(module)[:80]!r}, outside Keras: its code is not in the config",
                    hint="A model with custom layers or functions needs a recipe that brings their code (docs/recipes.md).",
                )
            if name is not None and not (isinstance(name, str) and _CLASS_NAME.match(name)):
                raise UnsafeFileError(f"{what}: {str(name)[:80]!r} is not a class name")
            stack.extend(node.values())


def _serialized(model: Any) -> dict[str, Any]:
    from zoo.tf import keras

    return keras.saving.serialize_keras_object(model)


def read(path: Path, *, what: str | None = None) -> dict[str, Any]:
    """A ``config.json``, checked (size, JSON, Keras classes only)."""
    what = what or str(path)
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise UnsafeFileError(f"{what}: a Keras config of {path.stat().st_size:,} bytes is more than {MAX_CONFIG_BYTES:,}")
    try:
        config = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileFormatError(f"{what}: not a Keras config ({exc})") from None
    except RecursionError:
        raise FileFormatError(f"{what}: not a Keras config (JSON nested deeper than the parser's stack)") from None
    if not isinstance(config, dict) or config.get("class_name") not in ("Functional", "Sequential"):
        raise FileFormatError(f"{what}: not the config of a Functional or Sequential Keras model")
    check(config, what=what)
    return config


def build(path: Path, *, what: str | None = None) -> Any:
    """The model ``path`` describes, built by Keras in safe mode (no Lambda bytecode).
    Build a hub's config only after ``probe`` has vouched for it."""
    from zoo.tf import keras

    config = read(path, what=what)
    try:
        return keras.saving.deserialize_keras_object(config, safe_mode=True)
    except (ValueError, TypeError, KeyError) as exc:
        raise FileFormatError(f"{what or path}: Keras cannot build this config: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def probe(path: Path, *, sha256: str, budget_bytes: int, what: str | None = None) -> Probe:
    """Build ``path`` (whose sha256 the caller checked) in a child process limited to
    ``budget_bytes`` (plus a fixed margin) of new address space and ``PROBE_TIMEOUT_S``; the
    parameter count and fingerprints of what it built. Remembered per (sha256, Keras version)."""
    from importlib.metadata import version

    what = what or str(path)
    read(path, what=what)  # the cheap checks first, in this process
    remembered = zoo_home() / "verified-configs" / f"{sha256}-keras-{version('keras')}.json"
    try:
        return Probe(**json.loads(remembered.read_text()))
    except (OSError, ValueError, TypeError):
        pass
    env = {**os.environ, **TF_ENV, "MALLOC_ARENA_MAX": "2", "CUDA_VISIBLE_DEVICES": ""}
    try:
        done = subprocess.run(
            [sys.executable, "-c", "from zoo.formats.keras_config import _probe_main; _probe_main()", str(path), str(budget_bytes + _BUILD_MARGIN_BYTES)],
            capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, env=env,
        )
    except subprocess.TimeoutExpired:
        raise UnsafeFileError(f"{what}: building this Keras config took more than {PROBE_TIMEOUT_S:.0f} s; refused",
                              hint="Nothing was built in this process. A model this large needs a recipe.") from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1][:300]
        if done.returncode == 3 or "MemoryError" in done.stderr or "ResourceExhausted" in done.stderr or done.returncode < 0:
            raise UnsafeFileError(
                f"{what}: this Keras config builds a model larger than its published weights ({budget_bytes:,} bytes) justify; refused",
                hint="Nothing was built in this process. The config and the weights do not belong together.",
            )
        raise FileFormatError(f"{what}: Keras cannot build this config: {reason}")
    try:
        result = Probe(**json.loads(lines[-1]))
    except (ValueError, TypeError):
        raise FileFormatError(f"{what}: the config probe said something unexpected: {lines[-1][:200]!r}") from None
    remembered.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(remembered, json.dumps(asdict(result)).encode())
    return result


def check_probe(found: Probe, *, param_count: int, architecture_sha256: str, layout_sha256: str, what: str) -> None:
    """The built config is the manifest's model: same parameter count and fingerprints."""
    differ = [name for name, mine, theirs in (("parameter count", found.param_count, param_count),
                                              ("architecture fingerprint", found.architecture_sha256, architecture_sha256),
                                              ("weights layout", found.layout_sha256, layout_sha256)) if mine != theirs]
    if differ:
        raise ArchitectureMismatchError(f"{what}: the Keras config builds a model whose {', '.join(differ)} differ from the manifest's",
                                        hint="The config and the manifest do not belong together; nothing was loaded.")


def _probe_main() -> None:
    """The child of ``probe``: limit the address space, build, report (exit 3: out of memory)."""
    import resource

    path, limit = Path(sys.argv[1]), int(sys.argv[2])
    from zoo.formats.fingerprint import architecture_sha256, layout_sha256, model_layout
    from zoo.tf import keras  # TensorFlow's own mappings come before the limit

    status = Path("/proc/self/status").read_text()
    used = int(re.search(r"VmSize:\s+(\d+)", status).group(1)) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (used + limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    try:
        model = keras.saving.deserialize_keras_object(json.loads(path.read_bytes()), safe_mode=True)  # the parent read() it
        result = Probe(int(model.count_params()), architecture_sha256(model), layout_sha256(model_layout(model)))
    except MemoryError:
        sys.exit(3)
    except Exception as exc:  # noqa: BLE001  (reported to the parent as text)
        if "ResourceExhausted" in type(exc).__name__ or "memory" in str(exc).lower():
            sys.exit(3)
        print(_first_line(exc), file=sys.stderr)
        sys.exit(1)
    print(json.dumps(asdict(result)))
