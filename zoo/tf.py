"""The one place TensorFlow and Keras are imported, with the environment fixed first.

``from zoo.tf import keras`` sets the log level and the oneDNN switch before the
first import (both change output, the latter at the bit level) and turns a missing
TensorFlow into an actionable error.
"""

from __future__ import annotations

import os

from zoo.constants import TF_ENV
from zoo.errors import DependencyError

for _key, _value in TF_ENV.items():
    os.environ[_key] = _value
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

try:
    import tensorflow as tf  # noqa: E402
    import keras  # noqa: E402
except ImportError as exc:  # pragma: no cover - exercised only without TensorFlow
    raise DependencyError(
        f"TensorFlow is not installed ({exc})",
        hint="Install it with the extra for your machine: pip install 'zoo[cpu]' (or 'zoo[gpu]' for CUDA).",
    ) from None

__all__ = ["keras", "tf"]
