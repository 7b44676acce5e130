"""Environment and paths, read in one place (as huggingface_hub's ``constants`` does)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from zoo.errors import UsageError

# Fixed before TensorFlow is first imported: the oneDNN switch changes results at
# the bit level, and the log level hides the CUDA/oneDNN banners (docs/design.md).
TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}

MANIFEST_FILENAME = "zoo.json"
MODEL_CARD_FILENAME = "README.md"
SCHEMA_FILENAME = "schema.json"


def zoo_home() -> Path:
    """User-level state: ``$ZOO_HOME``, else ``$XDG_DATA_HOME/zoo``, else ``~/.local/share/zoo``."""
    if "ZOO_HOME" in os.environ:
        return Path(os.environ["ZOO_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "zoo"


def bundled_manifests_dir() -> Path:
    """The manifests that ship with the package (``manifests/`` in the source tree)."""
    import zoo.manifests

    return Path(zoo.manifests.__file__).parent


def user_manifests_dir() -> Path:
    """The user's catalog, where ``zoo publish`` writes: ``$ZOO_MANIFESTS_DIR``, else ``$ZOO_HOME/manifests``."""
    return Path(os.environ.get("ZOO_MANIFESTS_DIR") or zoo_home() / "manifests")


def default_hub_dir() -> Path:
    """The local hub directory used by ``zoo hub serve`` and the main job."""
    return Path(os.environ.get("ZOO_HUB_DIR") or zoo_home() / "hub")


# -- huggingface_hub conventions, read at call time (tests and users may change them) --
DEFAULT_ENDPOINT = "https://huggingface.co"
_TRUE = {"1", "true", "yes", "on"}


def hf_endpoint() -> str:
    """HF_ENDPOINT, checked before huggingface_hub reads it (a bad one fails its import)."""
    endpoint = (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    try:
        url = urlparse(endpoint)
        valid = url.scheme in ("http", "https") and bool(url.hostname) and (url.port is None or 0 < url.port)
    except ValueError:
        valid = False
    if not valid:
        raise UsageError(
            f"HF_ENDPOINT={endpoint!r} is not a Hub address",
            hint="Give a URL with its scheme, host and port, e.g. HF_ENDPOINT=http://127.0.0.1:8080 (zoo hub serve prints one).",
        )
    return endpoint


def _seconds(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 10**7:
        raise UsageError(f"{name}={value!r} is not a number of seconds", hint=f"Give a positive number, e.g. {name}={default:g}.")
    return seconds


def hub_timeouts() -> tuple[float, float, float]:
    """(connect, read, deadline) in seconds for talking to a Hub: each connect, each read
    of an answer, and one command's whole conversation. ZOO_HUB_CONNECT_TIMEOUT (10),
    ZOO_HUB_READ_TIMEOUT (30), ZOO_HUB_DEADLINE (3600)."""
    return _seconds("ZOO_HUB_CONNECT_TIMEOUT", 10.0), _seconds("ZOO_HUB_READ_TIMEOUT", 30.0), _seconds("ZOO_HUB_DEADLINE", 3600.0)


def collective_timeout() -> float:
    """Seconds a worker of a multi-worker run waits on the others before the run fails
    (a worker that died would otherwise hang it): ZOO_COLLECTIVE_TIMEOUT (120)."""
    return _seconds("ZOO_COLLECTIVE_TIMEOUT", 120.0)


def hf_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def hf_hub_cache() -> Path:
    """huggingface_hub's cache location, from HF_HUB_CACHE or HF_HOME as it resolves them."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return Path(home).expanduser() / "hub"


def hf_token() -> str | None:
    return os.environ.get("HF_TOKEN") or None


def source_date_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH`` (reproducible builds): fixes timestamps in manifests and commits."""
    value = os.environ.get("SOURCE_DATE_EPOCH")
    return int(value) if value and value.isdigit() else None
