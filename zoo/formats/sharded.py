"""Keras sharded weights: ``model.weights.json`` (the index) beside ``model_00000.weights.h5``,
``model_00001.weights.h5``, …

Keras 3 writes them with ``save_weights("model.weights.json", max_shard_size=GB)`` and reads
them with ``load_weights("model.weights.json")``: the index maps each weight group
(``/layers/dense/vars``) to the shards that hold it. On reading, Keras opens shard
``00000`` first whatever the index says, then follows the map.

An epoch is sharded when its weights are larger than the shard size (``--shard-size``,
5 GiB by default, Keras's own default): below it, the single ``model.weights.h5`` that plain
``keras.saving.load_model("hf://…")`` reads. A manifest lists the index as the epoch's
``weights`` file and every shard as a ``weights-shard`` file, each with its size and sha256.

An index is untrusted: before Keras opens it, every shard it names must be a file the
manifest lists for that epoch, named as Keras names shards, in the index's directory
(``check_listed``); ``read_index`` refuses anything else an index could hold.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from zoo.errors import FileFormatError, UsageError
from zoo.formats import keras_internals

INDEX_FILENAME = "model.weights.json"
SHARD_ROLE = "weights-shard"
DEFAULT_SHARD_SIZE = 5 * 1024**3  # Keras's default max_shard_size (5 GB, counted in GiB)
MIN_SHARD_SIZE = 1024
MAX_INDEX_BYTES = 8 * 1024 * 1024
MAX_SHARDS = 1000
FIRST_SHARD = "model_00000.weights.h5"  # Keras opens it before reading the map
_SHARD_NAME = re.compile(r"model_\d{5}\.weights\.h5")
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def is_index(path: Path | str) -> bool:
    """A sharded epoch's weights file is its index."""
    return PurePosixPath(str(path)).name.endswith(".weights.json")


def is_shard_name(name: str) -> bool:
    return bool(_SHARD_NAME.fullmatch(name))


def parse_size(value: int | str | None) -> int:
    """A shard size as a user writes it (``500MB``, ``2GiB``, or a number of bytes) → bytes;
    ``None`` is the default."""
    if value is None:
        return DEFAULT_SHARD_SIZE
    if isinstance(value, bool):
        raise UsageError(f"`shard_size` must be a size such as 500MB or 2GiB, got {value!r}")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.fullmatch(str(value))
        if not match:
            raise UsageError(f"`shard_size` {value!r} is not a size", hint="Write it as bytes or with a unit: 500MB, 2GB, 1.5GiB.")
        size = int(float(match.group(1)) * _UNITS[(match.group(2) or "B").upper()])
    if size < MIN_SHARD_SIZE:
        raise UsageError(f"`shard_size` {value!r} is smaller than {MIN_SHARD_SIZE} bytes", hint="Shards of a few hundred MB to a few GB suit a Hub.")
    return size


def recorded_size(size: int | None) -> int | None:
    """What a manifest records of a shard size: ``None`` for the default."""
    return None if size in (None, DEFAULT_SHARD_SIZE) else size


def weights_bytes(layout: dict[str, tuple[tuple[int, ...], str]]) -> tuple[int, int]:
    """(all weights, the largest one) in bytes, from a layout (``fingerprint.model_layout``)."""
    import numpy as np

    sizes = [int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize for shape, dtype in layout.values()]
    return sum(sizes), max(sizes, default=0)


def save(model: Any, directory: Path, max_shard_bytes: int) -> list[str]:
    """Write ``model``'s weights (no optimizer) sharded into ``directory``: every shard, then
    the index, each renamed into place from a temporary directory beside them. Shards of an
    earlier, unrecorded save there are removed. Returns the index's and the shards' names."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".shards.") as tmp:
        # Keras counts its max_shard_size in GiB.
        keras_internals.save_weights_only(model, Path(tmp) / INDEX_FILENAME, max_shard_size=max_shard_bytes / 1024**3)
        shards = sorted(name for name in os.listdir(tmp) if is_shard_name(name))
        for stale in directory.iterdir():
            if is_shard_name(stale.name) and stale.name not in shards:
                stale.unlink()
        for name in (*shards, INDEX_FILENAME):
            with open(Path(tmp) / name, "rb") as fh:  # on disk before it is named, as fileio.atomic_path does
                os.fsync(fh.fileno())
            os.replace(Path(tmp) / name, directory / name)
    return [INDEX_FILENAME, *shards]


def read_index(index: Path) -> dict[str, list[str]]:
    """The index's weight map, ``{"/layers/dense/vars": ["model_00000.weights.h5"], …}``,
    refused unless it is one Keras could have written: a JSON object whose map names
    only shard files (``model_NNNNN.weights.h5``), including the first one Keras opens."""
    what = str(index)
    try:
        with open(index, "rb") as fh:
            text = fh.read(MAX_INDEX_BYTES + 1)
    except OSError as exc:
        raise FileFormatError(f"{what}: cannot read the sharded weights index ({exc.strerror})") from None
    if len(text) > MAX_INDEX_BYTES:
        raise FileFormatError(f"{what}: larger than a sharded weights index may be ({MAX_INDEX_BYTES:,} bytes)")
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"{what}: not a sharded weights index (invalid JSON: {exc})", hint=REWRITE_HINT) from None
    except RecursionError:  # JSON nested deeper than the parser's stack: no index is
        raise FileFormatError(f"{what}: not a sharded weights index (JSON nested too deep)", hint=REWRITE_HINT) from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise FileFormatError(f"{what}: not a sharded weights index (no 'weight_map' object)", hint=REWRITE_HINT)
    out: dict[str, list[str]] = {}
    for group, names in weight_map.items():
        names = [names] if isinstance(names, str) else names
        if not group.startswith("/") or not isinstance(names, list) or not names or not all(isinstance(n, str) and is_shard_name(n) for n in names):
            raise FileFormatError(f"{what}: weight_map[{json.dumps(group)[:80]}] is not a list of shard files named model_NNNNN.weights.h5", hint=REWRITE_HINT)
        out[group] = names
    shards = shard_names(out)
    if FIRST_SHARD not in shards:
        raise FileFormatError(f"{what}: the index names no {FIRST_SHARD}, the shard Keras opens first", hint=REWRITE_HINT)
    if len(shards) > MAX_SHARDS:
        raise FileFormatError(f"{what}: {len(shards):,} shards is more than an epoch may have ({MAX_SHARDS:,})")
    return out


def shard_names(weight_map: dict[str, list[str]]) -> list[str]:
    return sorted({name for names in weight_map.values() for name in names})


def shard_paths(index: Path) -> list[Path]:
    """The shards an index names, beside it."""
    return [index.parent / name for name in shard_names(read_index(index))]


def check_listed(index: Path, listed: Iterable[str], *, what: str) -> None:
    """The shards ``index`` names are exactly the files the manifest lists for its epoch
    (``listed``: their paths), so Keras opens nothing that was not verified."""
    named = set(shard_names(read_index(index)))
    listed_names = {PurePosixPath(p).name for p in listed}
    unlisted, unused = sorted(named - listed_names), sorted(listed_names - named)
    if unlisted or unused:
        parts = ([f"names shard(s) the manifest does not list: {', '.join(unlisted[:5])}"] if unlisted else []) + \
                ([f"does not name listed shard(s): {', '.join(unused[:5])}"] if unused else [])
        raise FileFormatError(f"{what}: the sharded weights index {'; '.join(parts)}",
                              hint="The index and the manifest do not belong together; nothing was loaded. Ask the publisher to republish the epoch.")


REWRITE_HINT = "Nothing was loaded. Sharded weights are written by Keras: model.save_weights('model.weights.json', max_shard_size=…)."
