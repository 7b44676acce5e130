"""Fingerprints that catch what Keras misses when weights meet an architecture.

* The **layout** of a ``.weights.h5`` file: every dataset path with its shape and
  dtype, optimizer state excluded. Read with h5py alone (no TensorFlow).
* The **architecture**: the model's config with auto-generated names removed,
  so changed activations, wiring or layer order change the hash even when every
  weight shape still fits.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any, Union

from zoo.errors import CompressedDataError, ExternalDataError, FileFormatError, ZooError
from zoo.formats import keras_internals, sharded

Layout = dict[str, tuple[tuple[int, ...], str]]
_EXCLUDED_TOP_GROUPS = ("optimizer",)


def _sha256_json(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def read_layout(source: Union[Path, str, io.BytesIO]) -> Layout:
    """Map each weight dataset in a Keras 3 weights file to ``(shape, dtype)``; for a sharded
    index (``model.weights.json``), of every shard it names (see ``_read_sharded``)."""
    if not isinstance(source, io.BytesIO) and sharded.is_index(source):
        return _read_sharded(Path(source))
    return _read_file(source)


def _read_sharded(index: Path) -> Layout:
    """The layout of all shards together, which is the unsharded file's. Each shard is
    checked as a file of its own (errors name it); a dataset in two shards, or in a shard
    the index does not map its group to (Keras would not find it there), is refused."""
    weight_map = sharded.read_index(index)
    layout: Layout = {}
    for name in sharded.shard_names(weight_map):
        shard = index.parent / name
        for path, spec in _read_file(shard).items():
            group = "/" + path.rsplit("/", 1)[0]
            if path in layout:
                raise FileFormatError(f"{shard}: dataset {path} is in another shard too", hint=sharded.REWRITE_HINT)
            if name not in weight_map.get(group, ()):
                raise FileFormatError(f"{shard}: holds {path}, but {index.name} does not map {group} to this shard", hint=sharded.REWRITE_HINT)
            layout[path] = spec
    return layout


def _read_file(source: Union[Path, str, io.BytesIO]) -> Layout:
    """One HDF5 weights file's layout, refusing
    anything that is not plain Keras weights before Keras reads a byte of it: links that
    leave the file, virtual datasets, external storage (``ExternalDataError``), chunked or
    filtered datasets or ones larger on disk than their shape (``CompressedDataError``, a
    decompression bomb's hiding place), and non-numeric data. Every object is checked,
    the optimizer's included; only the layout leaves the optimizer out."""
    import h5py

    layout: Layout = {}
    what = source if not isinstance(source, io.BytesIO) else "weights"
    try:
        with h5py.File(source, "r") as h5:
            fid = h5.id

            # A callback stops a walk by returning a value (raising inside h5py's walks
            # corrupts its lock), so each walk returns the first problem it meets.
            kinds = {h5py.h5l.TYPE_SOFT: "soft link", h5py.h5l.TYPE_EXTERNAL: "external link"}
            odd = fid.links.visit(lambda raw, info: None if info.type == h5py.h5l.TYPE_HARD else (raw.decode(), kinds.get(info.type, "link")), info=True)
            if odd is not None:
                raise ExternalDataError(f"{what}: {odd[0]} is a {odd[1]}: a weights file must hold its data itself",
                                        hint="Nothing was loaded. Ask for the weights as Keras writes them (model.save_weights).")

            def visit(raw: bytes, info: Any) -> ZooError | None:  # h5py's low-level walk: no object per group
                name = raw.decode()
                if info.type == h5py.h5o.TYPE_DATASET:
                    dataset = h5py.h5d.open(fid, raw)
                    problem = _dataset_problem(what, name, dataset)
                    if problem is not None:
                        return problem
                    if name.split("/", 1)[0] not in _EXCLUDED_TOP_GROUPS:
                        layout[name] = (tuple(int(d) for d in dataset.shape), str(dataset.dtype))
                return None

            problem = h5py.h5o.visit(fid, visit, info=True)
            if problem is not None:
                raise problem
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise FileFormatError(
            f"{source if not isinstance(source, io.BytesIO) else 'weights'}: not a readable HDF5 weights file ({exc})",
            hint="The file is truncated, corrupted, or not a Keras weights file. Fetch it again or re-export it.",
        ) from None
    return layout


def _dataset_problem(what: Any, name: str, dataset: Any) -> ZooError | None:
    import h5py
    import numpy as np

    plist = dataset.get_create_plist()
    layout = plist.get_layout()
    if layout == h5py.h5d.VIRTUAL or plist.get_external_count():
        return ExternalDataError(f"{what}: dataset {name} keeps its data outside the file (virtual or external storage)",
                                 hint="Nothing was loaded. Ask for the weights as Keras writes them (model.save_weights).")
    if layout == h5py.h5d.CHUNKED or plist.get_nfilters():
        return CompressedDataError(f"{what}: dataset {name} is chunked or compressed, which Keras never writes",
                                   hint="Nothing was loaded: such a dataset can hide a decompression bomb. Re-save the weights with Keras.")
    if dataset.dtype.kind not in "fiub":
        return FileFormatError(f"{what}: dataset {name} holds {dataset.dtype}, not numbers")
    expected = int(np.prod(dataset.shape, dtype=np.int64)) * dataset.dtype.itemsize
    if dataset.get_storage_size() > expected:
        return CompressedDataError(f"{what}: dataset {name} takes {dataset.get_storage_size():,} bytes on disk for {expected:,} bytes of data")
    return None


def layout_sha256(layout: Layout) -> str:
    return _sha256_json(sorted((path, list(shape), dtype) for path, (shape, dtype) in layout.items()))


def read_layer_names(source: Union[Path, str]) -> dict[str, str]:
    """Each weight group's layer name (``layers/conv2d`` → ``conv_0``): Keras 3 files keep
    it as an attribute, since their paths name layer classes, not layers."""
    import h5py

    names: dict[str, str] = {}

    def visit(path: str, obj: Any) -> None:
        if path.rsplit("/", 1)[-1] == "vars" and "name" in obj.attrs:
            names.setdefault(path.rsplit("/", 1)[0] if "/" in path else "", str(obj.attrs["name"]))

    for path in sharded.shard_paths(Path(source)) if sharded.is_index(source) else [source]:
        with h5py.File(path, "r") as h5:
            h5.visititems(visit)
    return names


def layout_diff(expected: Layout, actual: Layout, limit: int = 5, *, model_names: dict[str, str] | None = None,
                file_names: dict[str, str] | None = None) -> list[str]:
    """Human-readable first differences between two layouts (model vs file), each path
    with its layer's name in the model and in the file when they are known."""
    lines = []
    for path in sorted(set(expected) | set(actual)):
        want, got = expected.get(path), actual.get(path)
        if want == got:
            continue
        where = path + _layer_names(path, model_names or {}, file_names or {})
        if got is None:
            lines.append(f"  {where}: model expects {_fmt(want)}, file has nothing")
        elif want is None:
            lines.append(f"  {where}: file has {_fmt(got)}, model has no such weight")
        else:
            lines.append(f"  {where}: model expects {_fmt(want)}, file has {_fmt(got)}")
        if len(lines) >= limit:
            lines.append("  …")
            break
    return lines


def _layer_names(path: str, model_names: dict[str, str], file_names: dict[str, str]) -> str:
    group = path.rsplit("/vars/", 1)[0] if "/vars/" in path else ""
    in_model, in_file = model_names.get(group), file_names.get(group)
    if in_model is None and in_file is None:
        return ""
    if in_model == in_file or in_file is None:
        return f" (layer {in_model!r})"
    if in_model is None:
        return f" (file layer {in_file!r})"
    return f" (layer {in_model!r} in the model, {in_file!r} in the file)"


def _fmt(entry: tuple[tuple[int, ...], str] | None) -> str:
    if entry is None:
        return "nothing"
    shape, dtype = entry
    return f"{list(shape)} {dtype}"


# -- architecture (needs a built keras.Model; TensorFlow is already loaded then) ----------
def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def architecture_config(model: Any) -> dict[str, Any]:
    """The model's config plus each layer's config, auto-generated names replaced by positions."""
    layers = keras_internals.flatten_layers(model)
    auto = {}
    for i, layer in enumerate(layers):
        if re.fullmatch(rf"{re.escape(_snake(type(layer).__name__))}(_\d+)?", layer.name):
            auto[layer.name] = f"<layer {i}>"
    if re.fullmatch(rf"{re.escape(_snake(type(model).__name__))}(_\d+)?|functional(_\d+)?|sequential(_\d+)?", model.name):
        auto[model.name] = "<model>"

    def scrub(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: scrub(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [scrub(v) for v in obj]
        if isinstance(obj, str):
            return auto.get(obj, obj)
        return obj

    try:
        model_config = model.get_config()
    except NotImplementedError:
        model_config = None
    return scrub(
        {
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
            "config": model_config,
            "layers": [{"class": type(layer).__name__, "name": layer.name, "config": layer.get_config()} for layer in layers],
        }
    )


def architecture_sha256(model: Any) -> str:
    return _sha256_json(architecture_config(model))


def model_layout(model: Any) -> Layout:
    """The layout a weights file must have for ``model``: Keras's own saving walk, with a
    store that records each variable's path, shape and dtype instead of writing it."""
    return model_layout_with_names(model)[0]


def model_layout_with_names(model: Any) -> tuple[Layout, dict[str, str]]:
    """``model_layout`` and each weight group's layer name (as ``read_layer_names`` reads
    them from a file), from one walk."""
    return keras_internals.record_layout(model, _EXCLUDED_TOP_GROUPS)


_LAYOUT_BY_ARCHITECTURE: dict[str, str] = {}


def model_layout_sha256(model: Any, architecture: str | None = None) -> str:
    """``layout_sha256(model_layout(model))``, remembered per architecture fingerprint.

    Walking a model's saveables costs about as much as loading its weights; models with
    the same architecture fingerprint have the same layout, so each is walked once."""
    key = architecture or architecture_sha256(model)
    if key not in _LAYOUT_BY_ARCHITECTURE:
        _LAYOUT_BY_ARCHITECTURE[key] = layout_sha256(model_layout(model))
    return _LAYOUT_BY_ARCHITECTURE[key]
