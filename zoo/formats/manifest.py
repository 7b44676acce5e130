"""Manifest v2: the JSON that describes a trained model and every published epoch.

On a Hub every epoch is its own commit (tagged ``epoch-N``) whose root holds that epoch
alone: ``config.json``, ``metadata.json``, ``model.weights.h5`` (what plain Keras loads
from ``hf://``; above the shard size, Keras sharded weights: ``model.weights.json`` and
its shards), the optional ``resume.keras``, this ``zoo.json`` and the model card.
Each epoch entry names the commit that holds it; the one a ``zoo.json`` is read from
says ``null`` (a commit cannot know its own sha) and ``pinned`` fills it in.

This module owns the format: parse (JSON Schema, then consistency rules), typed
access, and canonical dumps. It never imports TensorFlow. Manifests read from the
network are untrusted, so every problem becomes a ``ManifestError`` naming the field.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from zoo.constants import SCHEMA_FILENAME, bundled_manifests_dir, source_date_epoch
from zoo.errors import ManifestError, UnknownEpochError, UnsafePathError, UsageError
from zoo.fileio import atomic_write_bytes
from zoo.formats import sharded

SCHEMA_VERSION = 2
# Limits a manifest must keep, checked before it is parsed (and by the schema).
MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 32
MAX_EPOCHS = 10_000
WEIGHTS_FORMAT = "keras.weights.h5"
KERAS_CONFIG_RECIPE = "keras-config"  # the recipe name of a model no recipe builds (formats/keras_config.py)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class FileEntry:
    """One file of an epoch, with the hash and size it must have on every hand-out."""

    path: str
    sha256: str
    size: int
    role: str  # "weights" | "weights-shard" | "config" | "metadata" | "resume"
    optional: bool = False


@dataclass(frozen=True)
class EpochEntry:
    epoch: int
    files: tuple[FileEntry, ...]
    metrics: dict[str, float]
    created_at: str
    yanked: str | None = None
    commit: str | None = None  # the commit that holds this epoch (None: a run dir, or "this commit")

    def file(self, role: str) -> FileEntry | None:
        return next((f for f in self.files if f.role == role), None)

    @property
    def weights(self) -> FileEntry:
        """The file Keras loads: ``model.weights.h5``, or a sharded epoch's index."""
        entry = self.file("weights")
        assert entry is not None  # guaranteed by validation
        return entry

    @property
    def shards(self) -> tuple[FileEntry, ...]:
        """A sharded epoch's shards (none for a single weights file)."""
        return tuple(f for f in self.files if f.role == sharded.SHARD_ROLE)

    @property
    def weights_sha256(self) -> str:
        """What identifies the weights' bytes: the file's sha256, or for a sharded epoch the
        sha256 of the index's and every shard's sha256, one per line in the manifest's order
        (an index alone names shards, not their contents)."""
        if not self.shards:
            return self.weights.sha256
        return hashlib.sha256("\n".join(f.sha256 for f in (self.weights, *self.shards)).encode()).hexdigest()

    @property
    def weights_size(self) -> int:
        """The bytes of the weights: the file, or the index and every shard."""
        return self.weights.size + sum(f.size for f in self.shards)


@dataclass(frozen=True)
class Dataset:
    name: str
    splits: dict[str, str]
    counts: dict[str, int] | None = None  # examples per split, for data the user brought
    fingerprint: str | None = None  # sha256 over its sorted (file, sha256) list


@dataclass(frozen=True)
class Distribution:
    """The ``tf.distribute`` topology a run trained under (``workflows/distribute.py``)."""

    strategy: str  # "mirrored" | "multiworker"
    replicas: int
    cross_device_ops: str  # how gradients are summed across replicas
    devices: str  # "cpu" (logical devices) | "gpu"


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str
    learning_rate: float
    batch_size: int | None  # None: not known (a run from the user's own ``model.fit``); else the global batch
    epochs: int
    seed: int | None
    distribution: Distribution | None = None  # None: one device
    shard_size: int | None = None  # bytes above which an epoch's weights are sharded; None: the default (formats/sharded.py)


@dataclass(frozen=True)
class RecipeRef:
    """Which recipe code (name + version + kwargs) builds the architecture."""

    name: str
    version: int
    builder_kwargs: dict[str, Any]
    dataset: Dataset
    train_config: TrainConfig

    @property
    def from_keras_config(self) -> bool:
        """No recipe builds it: the architecture is each epoch's Keras ``config.json``."""
        return self.name == KERAS_CONFIG_RECIPE

    def in_words(self) -> str:
        if self.from_keras_config:
            return f"no recipe: built by Keras from its config.json (sha256 {str(self.builder_kwargs.get('config_sha256'))[:12]})"
        return f"recipe {self.name} v{self.version} · kwargs {self.builder_kwargs}"


@dataclass(frozen=True)
class InputSpec:
    """What the model takes, for users without zoo: shape (no batch), dtype, value range,
    and in words what ``zoo predict`` does to an image to get there."""

    shape: tuple[int, ...]
    dtype: str
    range: tuple[float, float] | None  # None: not stated
    preprocessing: str

    @property
    def range_text(self) -> str:
        return str(list(self.range)) if self.range is not None else "(not stated)"


@dataclass(frozen=True)
class Compat:
    """What the weights need from the architecture and framework."""

    format: str
    keras: str
    tensorflow: str
    param_count: int
    layout_sha256: str
    architecture_sha256: str


@dataclass(frozen=True)
class HubRef:
    repo_id: str
    revision: str | None = None


@dataclass(frozen=True)
class Selection:
    metric: str
    mode: str  # "max" | "min"
    epoch: int


@dataclass(frozen=True)
class Parent:
    """The published epoch a fine-tuned model started from (the Hub's ``base_model``)."""

    repo_id: str
    commit: str
    epoch: int
    layout_sha256: str
    backbone: str  # "trainable", "frozen", or "frozen-until-N": how the backbone trained

    @property
    def unfreeze_at(self) -> int | None:
        return int(self.backbone.rsplit("-", 1)[1]) if self.backbone.startswith("frozen-until-") else None

    def in_words(self) -> str:
        if self.backbone == "frozen":
            return "backbone frozen throughout (only the new head trained)"
        if self.unfreeze_at is not None:
            return f"backbone frozen until epoch {self.unfreeze_at}, then the whole model trained"
        return "the whole model trained from the start"


@dataclass(frozen=True)
class Manifest:
    schema_version: int
    name: str
    description: str
    license: str
    recipe: RecipeRef
    input: InputSpec
    classes: tuple[str, ...]
    compat: Compat
    hub: HubRef | None
    default_epoch: int
    selection: dict[str, Selection]
    epochs: tuple[EpochEntry, ...] = field(default_factory=tuple)
    parent: Parent | None = None

    # -- access -------------------------------------------------------------------
    @property
    def epoch_numbers(self) -> list[int]:
        return [e.epoch for e in self.epochs]

    @property
    def last_epoch(self) -> int:
        return self.epochs[-1].epoch

    @property
    def best_epoch(self) -> int | None:
        best = self.selection.get("best")
        return best.epoch if best else None

    def resolve_epoch(self, spec: int | str | None) -> EpochEntry:
        """``None`` (the default epoch), an integer, ``"last"`` or ``"best"`` → the entry."""
        if spec is None or spec == "default":
            number = self.default_epoch
        elif spec == "last":
            number = self.last_epoch
        elif spec == "best":
            number = self.best_epoch if self.best_epoch is not None else self.default_epoch
        elif isinstance(spec, int) and not isinstance(spec, bool):
            number = spec
        elif isinstance(spec, str) and spec.isascii() and spec.isdigit():
            number = int(spec)
        else:  # 2.9, True, "", "²", "ten": never rounded or guessed
            raise UsageError(
                f"{self.name}: {spec!r} is not an epoch",
                hint=f"Use an integer, 'last' or 'best'. Available epochs: {_fmt_epochs(self.epoch_numbers)}.",
            )
        for entry in self.epochs:
            if entry.epoch == number:
                return entry
        raise UnknownEpochError(
            f"{self.name} has no epoch {number}",
            hint=f"Available epochs: {_fmt_epochs(self.epoch_numbers)} (or 'last', 'best').",
        )

    # -- serialisation ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = _jsonable(dataclasses.asdict(self))
        if data["parent"] is None:
            del data["parent"]
        for key in ("counts", "fingerprint"):
            if data["recipe"]["dataset"][key] is None:
                del data["recipe"]["dataset"][key]
        for key in ("distribution", "shard_size"):
            if data["recipe"]["train_config"][key] is None:
                del data["recipe"]["train_config"][key]
        for epoch in data["epochs"]:
            for f in epoch["files"]:
                if not f["optional"]:
                    del f["optional"]
        return data

    def dumps(self) -> str:
        """Canonical text: same manifest, same bytes (stable commits, stable hashes)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def replace(self, **changes: Any) -> "Manifest":
        return dataclasses.replace(self, **changes)

    def with_epochs(self, entries: Iterable[EpochEntry], *, metric: str | None = None, mode: str | None = None) -> "Manifest":
        """These epochs, the last as the default one, and the best by ``metric`` (``mode``
        max or min; by default this manifest's own selection metric)."""
        entries = tuple(entries)
        own = self.selection.get("best")
        metric, mode = metric or (own.metric if own else None), mode or (own.mode if own else "max")
        scored = [e for e in entries if metric in e.metrics]
        selection = {}
        if scored:
            best = (max if mode == "max" else min)(scored, key=lambda e: e.metrics[metric])
            selection["best"] = Selection(metric=metric, mode=mode, epoch=best.epoch)
        return self.replace(epochs=entries, default_epoch=entries[-1].epoch, selection=selection)

    def pinned(self, repo_id: str, commit: str) -> "Manifest":
        """This manifest as read from ``commit`` of ``repo_id``: the epoch that does not know
        its commit is the one ``commit`` holds, and every epoch then names its commit."""
        epochs = tuple(e if e.commit is not None else dataclasses.replace(e, commit=commit) for e in self.epochs)
        return self.replace(hub=HubRef(repo_id=repo_id, revision=commit), epochs=epochs)

    def epoch_at(self, commit: str) -> EpochEntry | None:
        """The epoch ``commit`` holds, if it holds one."""
        return next((e for e in self.epochs if e.commit == commit), None)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def _fmt_epochs(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers)) if numbers else "(none)"


def utc_now() -> str:
    """Now, or ``SOURCE_DATE_EPOCH`` when set, so a rebuilt run writes the same manifest."""
    fixed = source_date_epoch()
    when = datetime.fromtimestamp(fixed, timezone.utc) if fixed is not None else datetime.now(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- parsing -------------------------------------------------------------------------
@functools.cache
def _validator():
    import jsonschema

    schema = json.loads((bundled_manifests_dir() / SCHEMA_FILENAME).read_text())
    return jsonschema.Draft202012Validator(schema)


def check_name(name: str) -> str:
    """Refuse a name given by the user that the schema would refuse, in a sentence
    rather than as the schema's regex (a usage error: nothing was read or written)."""
    pattern = _validator().schema["$defs"]["name"]["pattern"]
    if not re.match(pattern, name):
        suggestion = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")[:64] or "my-model"
        raise UsageError(
            f"model name {name!r} is not allowed: use lower-case letters, digits, '.', '_' and '-', "
            "at most 64 characters, starting with a letter or digit",
            hint=f"Name it `name='{suggestion}'` (the Hub repo id may keep its own spelling).",
        )
    return name


def _json_path(parts) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def check_relpath(path: str, *, where: str = "path") -> str:
    """Refuse a manifest path that is empty, absolute, uses backslashes or leaves the repo."""
    if not isinstance(path, str) or not path:
        raise UnsafePathError(f"{where}: empty path in manifest", hint="Paths must be relative, like 'epochs/e010/model.weights.h5'.")
    bad = (
        path.startswith("/")
        or "\\" in path
        or ":" in path
        or any(ord(c) < 32 for c in path)
        or any(part in ("", ".", "..") for part in path.split("/"))
    )
    if bad or PurePosixPath(path).is_absolute():
        raise UnsafePathError(
            f"{where}: unsafe path {path!r} in manifest",
            hint="Paths must be relative, use forward slashes and stay inside the repo (no '..'). "
            "The manifest was refused; nothing was written.",
        )
    return path


def parse(data: Any, *, source: str = "manifest", schema_checked: bool = False) -> Manifest:
    """Validate untrusted manifest data and return the typed manifest.

    ``schema_checked``: the JSON Schema already passed this very data (``loads`` knows
    that of a text it validated before); every other check still runs."""
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: a manifest must be a JSON object, got {type(data).__name__}")
    version = data.get("schema_version")
    if version == 1:
        raise ManifestError(
            f"{source}: a version 1 manifest (zoo 0.1, every epoch in one commit); this zoo reads version {SCHEMA_VERSION}",
            hint="Retrain the run with this zoo and publish it again, or use zoo 0.1 to read it.",
        )
    if version != SCHEMA_VERSION:
        raise ManifestError(
            f"{source}: unknown schema_version {version!r} (this zoo reads version {SCHEMA_VERSION})",
            hint="Upgrade zoo if the manifest is newer, or republish it.",
        )
    _check_depth(data, source)
    _check_paths_first(data, source)
    errors = [] if schema_checked else sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        from jsonschema.exceptions import best_match

        first = best_match([errors[0]])  # inside a oneOf (parent may be null), the branch that almost fits
        while first.context:
            first = best_match(first.context)
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ManifestError(f"{source}: {_json_path(first.absolute_path)}: {first.message}{more}")

    epochs = []
    for i, e in enumerate(data["epochs"]):
        files = tuple(FileEntry(**f) for f in e["files"])
        for j, f in enumerate(files):
            check_relpath(f.path, where=f"{source}: $.epochs[{i}].files[{j}].path")
        epochs.append(
            EpochEntry(epoch=e["epoch"], files=files, metrics=dict(e["metrics"]), created_at=e["created_at"], yanked=e.get("yanked"), commit=e.get("commit"))
        )
    _check_consistency(data, epochs, source)

    r, i = data["recipe"], data["input"]
    return Manifest(
        schema_version=version,
        name=data["name"],
        description=data["description"],
        license=data["license"],
        recipe=RecipeRef(
            name=r["name"],
            version=r["version"],
            builder_kwargs=dict(r["builder_kwargs"]),
            dataset=Dataset(**r["dataset"]),
            train_config=TrainConfig(**{**r["train_config"], "distribution": Distribution(**r["train_config"]["distribution"])
                                        if r["train_config"].get("distribution") else None}),
        ),
        input=InputSpec(shape=tuple(i["shape"]), dtype=i["dtype"], range=tuple(i["range"]) if i["range"] is not None else None, preprocessing=i["preprocessing"]),
        classes=tuple(data["classes"]),
        compat=Compat(**data["compat"]),
        hub=HubRef(**data["hub"]) if data["hub"] is not None else None,
        default_epoch=data["default_epoch"],
        selection={k: Selection(**v) for k, v in data["selection"].items()},
        epochs=tuple(epochs),
        parent=Parent(**data["parent"]) if data.get("parent") else None,
    )


def _check_depth(data: Any, source: str) -> None:
    """The in-memory twin of ``check_size``'s nesting limit, without recursion."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ManifestError(f"{source}: JSON nested deeper than {MAX_DEPTH} levels is not a manifest")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def _check_paths_first(data: dict, source: str) -> None:
    """Unsafe paths get their own clear error, before the schema's regex message could."""
    epochs = data.get("epochs")
    for i, e in enumerate(epochs if isinstance(epochs, list) else []):
        files = e.get("files") if isinstance(e, dict) else None
        for j, f in enumerate(files if isinstance(files, list) else []):
            if isinstance(f, dict) and isinstance(f.get("path"), str):
                check_relpath(f["path"], where=f"{source}: $.epochs[{i}].files[{j}].path")


def _check_consistency(data: dict, epochs: list[EpochEntry], source: str) -> None:
    numbers = [e.epoch for e in epochs]
    for i in range(1, len(numbers)):
        if numbers[i] <= numbers[i - 1]:
            kind = "duplicate" if numbers[i] == numbers[i - 1] else "non-increasing"
            raise ManifestError(f"{source}: $.epochs[{i}].epoch: {kind} epoch {numbers[i]} after {numbers[i - 1]}; epochs must strictly increase")
    paths: set[tuple[str | None, str]] = set()  # a path is unique within the commit that holds it
    commits: set[str | None] = set()
    for i, e in enumerate(epochs):
        roles = [f.role for f in e.files]
        if roles.count("weights") != 1:
            raise ManifestError(f"{source}: $.epochs[{i}].files: needs exactly one file with role 'weights', found {roles.count('weights')}")
        _check_shards(e, f"{source}: $.epochs[{i}].files")
        if e.commit is not None and e.commit in commits:
            raise ManifestError(f"{source}: $.epochs[{i}].commit: commit {e.commit} holds two epochs")
        commits.add(e.commit)
        for f in e.files:
            if (e.commit, f.path) in paths:
                raise ManifestError(f"{source}: $.epochs[{i}].files: path {f.path!r} is listed twice")
            paths.add((e.commit, f.path))
    if data["default_epoch"] not in numbers:
        raise ManifestError(f"{source}: $.default_epoch: {data['default_epoch']} is not one of the epochs {numbers}")
    for key, sel in data["selection"].items():
        if sel["epoch"] not in numbers:
            raise ManifestError(f"{source}: $.selection.{key}.epoch: {sel['epoch']} is not one of the epochs {numbers}")


def _check_shards(e: EpochEntry, where: str) -> None:
    """Sharded weights: an index (``*.weights.json``) with its shards, named as Keras names
    them, in its directory; a single weights file has none."""
    index = PurePosixPath(e.weights.path)
    if not sharded.is_index(index):
        if e.shards:
            raise ManifestError(f"{where}: {index.name} is a single weights file, yet {len(e.shards)} shard(s) are listed")
        return
    if not e.shards:
        raise ManifestError(f"{where}: {index.name} is a sharded weights index, and no file has role '{sharded.SHARD_ROLE}'")
    if len(e.shards) > sharded.MAX_SHARDS:
        raise ManifestError(f"{where}: {len(e.shards):,} shards is more than an epoch may have ({sharded.MAX_SHARDS:,})")
    for f in e.shards:
        shard = PurePosixPath(f.path)
        if shard.parent != index.parent or not sharded.is_shard_name(shard.name):
            raise ManifestError(f"{where}: shard {f.path!r} must be named model_NNNNN.weights.h5, beside {index}")


# Texts that passed the JSON Schema in this process (the schema walk is most of the cost
# of reading a manifest, and a load reads the same one again and again).
_SCHEMA_VALID_TEXTS: dict[bytes, None] = {}


def check_size(text: bytes, source: str) -> None:
    """Refuse, before parsing, a manifest too large or nested too deep to be one: a hostile
    one could cost gigabytes, minutes or a RecursionError (limits in docs/reliability.md)."""
    if len(text) > MAX_BYTES:
        raise ManifestError(f"{source}: {len(text):,} bytes is larger than a manifest may be ({MAX_BYTES:,})")
    depth, deepest, in_string, escaped = 0, 0, False, False
    for byte in text:  # brackets outside strings
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                raise ManifestError(f"{source}: JSON nested deeper than {MAX_DEPTH} levels is not a manifest")
        elif byte in (0x5D, 0x7D):
            depth -= 1


def loads(text: str | bytes, *, source: str = "manifest") -> Manifest:
    key = text.encode() if isinstance(text, str) else bytes(text)
    check_size(key, source)
    try:
        data = json.loads(key)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{source}: not valid JSON ({exc})") from None
    manifest = parse(data, source=source, schema_checked=key in _SCHEMA_VALID_TEXTS)
    if len(_SCHEMA_VALID_TEXTS) >= 256:
        _SCHEMA_VALID_TEXTS.pop(next(iter(_SCHEMA_VALID_TEXTS)))
    _SCHEMA_VALID_TEXTS[key] = None
    return manifest


def load(path: Path) -> Manifest:
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror}") from None
    return loads(text, source=str(path))


def write(manifest: Manifest, path: Path) -> None:
    """Write atomically, so a crash never leaves a half-written manifest."""
    atomic_write_bytes(Path(path), manifest.dumps().encode())
