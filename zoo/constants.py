"""Environment and paths, read in one place (as huggingface_hub's ``constants`` does)."""

from __future__ import annotations

import os
from pathlib import Path

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
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


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
