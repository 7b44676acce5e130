"""The one place that reads what a user typed: a name becomes a ``Source``.

==========================  =============================================================
``digits-cnn``              a published model in the catalog (``zoo.catalog``): a bare
                            name is never a local path
``ORG/NAME``, ``ORG/NAME@REV``  the Hub repo's own ``zoo.json`` at a branch, tag or commit;
                            a revision selects the epoch its commit holds (``epoch-10``
                            selects epoch 10, ``main`` the latest)
``hf://ORG/NAME[@REV]``     the same, and never a local path
``./run``, ``/abs``, ``~/x``  a run directory (with ``zoo.json``), a ``zoo.json``, or a
                            model or weights file (``.weights.h5``, ``.h5``, ``.keras``,
                            a sharded ``.weights.json``)
``runs/digits-cnn``         a local path when it exists, else a repo id (``hf://`` forces
                            the Hub)
``cnn.weights.h5``          a local file: a name with a model-file suffix
==========================  =============================================================

A ``Source`` records where it came from (a repo pinned to a commit, a run directory, or
a file) and hands out verified local paths for an epoch's files, so no other module
looks at the string again.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from zoo import catalog
from zoo.constants import MANIFEST_FILENAME
from zoo.errors import ManifestError, UnknownEpochError, UnknownModelError, UsageError, ZooError
from zoo.fileio import sha256_file
from zoo.formats import manifest as mf, sharded
from zoo.hub import client
from zoo.integrity import verify_file

HF_SCHEME = "hf://"
MODEL_FILE_SUFFIXES = (".weights.h5", ".h5", ".keras", ".json")
MAX_NAME_LENGTH = 512
PARALLEL_FETCHES = 8  # as huggingface_hub's snapshot_download
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_EPOCH_SUFFIX = re.compile(r"^(?P<source>.+)@(?P<epoch>[0-9]+|best|last)$")
_EPOCH_TAG = re.compile(r"epoch-([0-9]{1,7})")


@dataclass(frozen=True)
class FetchedFile:
    """One verified file of an epoch, as handed out: where it is and what it must be."""

    epoch: int
    role: str
    path_in_repo: str
    local_path: Path | None  # None in a dry run
    size: int
    sha256: str
    cached: bool  # found in the cache (True), or downloaded by this call
    asked: str | None = None  # the word that chose the epoch ("best", "last"), when not its number

    def to_dict(self) -> dict:
        return {**self.__dict__, "local_path": str(self.local_path) if self.local_path else None}


@dataclass(frozen=True)
class Source:
    """A resolved model: its manifest and where its files come from."""

    text: str  # what the user typed
    manifest: mf.Manifest
    tag_epoch = None  # the epoch a revision tag selected (HubSource sets it)

    @property
    def origin(self) -> str:
        raise NotImplementedError

    def default_entries(self) -> list[mf.EpochEntry]:
        """What a command over several epochs takes when none are named: the one a tag
        selected, else every epoch."""
        return [self.entry()] if self.tag_epoch is not None else list(self.manifest.epochs)

    def entry(self, epoch: int | str | None = None) -> mf.EpochEntry:
        """One epoch: an integer, ``"last"``, ``"best"``, or ``None`` for the default one."""
        return self.manifest.resolve_epoch(epoch)

    def entries(self, epochs: Iterable[int | str] | int | str | None = None, *, all_epochs: bool = False) -> list[mf.EpochEntry]:
        """The chosen epochs, in epoch order, each once (``None``: the default epoch)."""
        if all_epochs:
            if epochs is not None:
                raise UsageError("pass `epochs` or `all_epochs=True`, not both")
            return list(self.manifest.epochs)
        specs = [epochs] if epochs is None or isinstance(epochs, (int, str)) else list(epochs)
        chosen = {e.epoch: e for e in (self.entry(s) for s in specs)}
        return [chosen[n] for n in sorted(chosen)]

    def files(self, entries: Iterable[mf.EpochEntry], *, roles: Iterable[str] | None = ("weights",), dry_run: bool = False,
              asked: dict[int, str] | None = None) -> list[FetchedFile]:
        """The verified local files of ``entries`` with one of ``roles`` (``None``: every file),
        fetched in parallel (``asked``: epoch → the word that chose it, recorded on each file).
        ``weights`` brings a sharded epoch's shards, and its index is checked against them
        (``sharded.check_listed``)."""
        roles = None if roles is None else set(roles) | ({sharded.SHARD_ROLE} if "weights" in roles else set())
        entries = list(entries)
        wanted = [(e, f) for e in entries for f in e.files if roles is None or f.role in roles]
        if len(wanted) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(PARALLEL_FETCHES, len(wanted))) as pool:
                fetched = list(pool.map(lambda pair: self._file(*pair, dry_run), wanted))
        else:
            fetched = [self._file(e, f, dry_run) for e, f in wanted]
        indexes = {f.epoch: f.local_path for f in fetched if f.role == "weights" and f.local_path is not None}
        for e in entries:
            if e.shards and e.epoch in indexes:
                sharded.check_listed(indexes[e.epoch], [s.path for s in e.shards], what=f"{self.manifest.name} epoch {e.epoch}")
        return [dataclasses.replace(f, asked=(asked or {}).get(f.epoch)) for f in fetched]

    def words(self, epochs: Iterable[int | str] | int | str | None) -> dict[int, str]:
        """Epoch → the word (``best``, ``last``, or the default) that named it in ``epochs``."""
        specs = [epochs] if epochs is None or isinstance(epochs, (int, str)) else list(epochs)
        return {self.entry(s).epoch: ("default" if s is None else s) for s in specs if not isinstance(s, int) and not str(s).isdigit()}

    def weights_path(self, entry: mf.EpochEntry) -> Path:
        """The epoch's weights file (a sharded epoch's index, its shards beside it), verified."""
        return next(f.local_path for f in self.files([entry]) if f.role == "weights")

    def _file(self, epoch: mf.EpochEntry, entry: mf.FileEntry, dry_run: bool) -> FetchedFile:
        raise NotImplementedError


@dataclass(frozen=True)
class HubSource(Source):
    """A Hub repo's manifest as one commit lists it: every epoch up to that commit's, each
    pinned to the commit that holds it (its files are fetched from there)."""

    repo_id: str
    commit: str  # the commit the manifest was read from: its epoch is the default one
    tag_epoch: int | None = None  # the epoch an ``epoch-N`` revision named

    @property
    def origin(self) -> str:
        return f"{self.repo_id}@{self.commit}"

    def entry(self, epoch: int | str | None = None) -> mf.EpochEntry:
        if self.tag_epoch is None or epoch is None:
            return super().entry(epoch)
        try:
            chosen = super().entry(epoch)
        except UnknownEpochError:
            chosen = None
        if chosen is None or chosen.epoch != self.tag_epoch:
            shown = f"epoch {chosen.epoch}" if chosen is not None else "another epoch"
            raise UsageError(
                f"{self.text} selects epoch {self.tag_epoch} (tag epoch-{self.tag_epoch}), but `epoch` asks for {epoch!r}, which is {shown}",
                hint=f"Pass one of them: the tag alone gives epoch {self.tag_epoch}; another epoch needs another revision (or none).",
            )
        return chosen

    def _file(self, epoch: mf.EpochEntry, entry: mf.FileEntry, dry_run: bool) -> FetchedFile:
        commit = epoch.commit  # every epoch of a HubSource is pinned (catalog entries and remote manifests alike)
        cached = client.is_cached(self.repo_id, commit, entry.path)
        local = None if dry_run else client.fetch_file(self.repo_id, commit, entry)
        return FetchedFile(epoch.epoch, entry.role, entry.path, local, entry.size, entry.sha256, cached)


@dataclass(frozen=True)
class RunSource(Source):
    """A training run directory: its files are checked where they are."""

    run_dir: Path

    @property
    def origin(self) -> str:
        return f"run directory {self.run_dir}"

    def _file(self, epoch: mf.EpochEntry, entry: mf.FileEntry, dry_run: bool) -> FetchedFile:
        path = self.run_dir / entry.path
        local = None if dry_run else verify_file(path, entry, shown_as=str(path), hint="The file changed after the run recorded it; nothing was done with it.")
        return FetchedFile(epoch.epoch, entry.role, entry.path, local, entry.size, entry.sha256, True)


@dataclass(frozen=True)
class FileSource:
    """A model or weights file from outside the zoo: it carries no manifest."""

    text: str
    path: Path

    @property
    def origin(self) -> str:
        return f"file {self.path}"

    def fetched(self) -> FetchedFile:
        path = self.path.resolve()
        return FetchedFile(0, "file", path.name, path, path.stat().st_size, sha256_file(path), True)


def is_repo_id(text: str) -> bool:
    """``ORG/NAME`` as the Hub spells a repo id, with no scheme and no revision."""
    return bool(_REPO_ID.fullmatch(text))


def split_epoch(text: str) -> tuple[str, str | None]:
    """``NAME@50`` → (``NAME``, ``"50"``): a trailing ``@EPOCH`` (an integer, ``best`` or
    ``last``) names an epoch; any other ``@REV`` stays part of the reference."""
    match = _EPOCH_SUFFIX.match(text)
    return (match["source"], match["epoch"]) if match else (text, None)


def _is_local(text: str) -> bool:
    if text.startswith(HF_SCHEME):
        return False
    if text.startswith((".", "/", "~")) or text.endswith(MODEL_FILE_SUFFIXES) or os.sep != "/" and os.sep in text:
        return True
    return "/" in text and Path(text).exists()


def resolve(text: str, revision: str | None = None) -> HubSource | RunSource | FileSource:
    """What ``text`` names (see the module docstring), with its manifest pinned."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError("name a model: a published name, ORG/NAME, hf://ORG/NAME@REVISION, or a local path")
    if len(text) > MAX_NAME_LENGTH:
        raise UsageError(f"a model name of {len(text):,} characters is not a model name (at most {MAX_NAME_LENGTH})")
    if revision is not None:
        client.check_revision(revision)
    if _is_local(text):
        if revision is not None:
            raise UsageError(f"{text} is a local path: it has no `revision`")
        return _local(text)
    if text.startswith(HF_SCHEME) or "/" in text:
        return _hub(text, revision)
    manifest = catalog.find(text)
    if revision is None:
        return HubSource(text, manifest, manifest.hub.repo_id, manifest.hub.revision)
    tagged = _EPOCH_TAG.fullmatch(revision)
    held = next((e for e in manifest.epochs if tagged and e.epoch == int(tagged.group(1))), None)
    if held is not None:  # the catalog pins every epoch's commit: no request needed
        upto = manifest.with_epochs([e for e in manifest.epochs if e.epoch <= held.epoch])
        return HubSource(text, upto.replace(hub=mf.HubRef(manifest.hub.repo_id, held.commit)), manifest.hub.repo_id, held.commit, held.epoch)
    return _pinned(text, manifest.hub.repo_id, revision)


def _local(text: str) -> RunSource | FileSource:
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / MANIFEST_FILENAME).is_file():
            raise UnknownModelError(f"{path} is a directory without a {MANIFEST_FILENAME}: not a run directory")
        return RunSource(text, mf.load(path / MANIFEST_FILENAME), path)
    if path.is_file():
        if path.name.endswith(".json") and not sharded.is_index(path):
            return RunSource(text, mf.load(path), path.parent)
        return FileSource(text, path)
    raise UnknownModelError(f"no such file or directory: {path}", hint="Check the path; a published model is named without './'.")


def _hub(text: str, revision: str | None) -> HubSource:
    body = text[len(HF_SCHEME) :] if text.startswith(HF_SCHEME) else text
    repo_id, at, ref_revision = body.partition("@")
    if not is_repo_id(repo_id) or (at and not ref_revision):
        raise UsageError(f"{text!r} is not a model reference", hint="Use NAME, ORG/NAME, or hf://ORG/NAME@REVISION.")
    if at:
        client.check_revision(ref_revision)
    if revision is not None and at and revision != ref_revision:
        raise UsageError(f"{text} names revision {ref_revision}, and `revision` asks for {revision}: pass one of them")
    return _pinned(text, repo_id, revision or ref_revision or None)


def _pinned(text: str, repo_id: str, revision: str | None) -> HubSource:
    manifest = client.remote_manifest(repo_id, revision)
    commit = manifest.hub.revision
    tagged = _EPOCH_TAG.fullmatch(revision or "")
    own = manifest.epoch_at(commit)
    if tagged and own.epoch != int(tagged.group(1)):
        raise ManifestError(
            f"{repo_id}: tag {revision} points at the commit of epoch {own.epoch}",
            hint="The repo's tags and its manifest disagree; ask its publisher to republish it.",
        )
    return HubSource(text, manifest, repo_id, commit, own.epoch if tagged else None)


def get_manifest(name: str, revision: str | None = None) -> mf.Manifest:
    """The manifest ``name`` resolves to, pinned to the commit its files come from."""
    source = resolve(name, revision)
    if isinstance(source, FileSource):
        raise UsageError(f"{name} is a model file: it has no manifest", hint="Load it with load_pretrained, giving the recipe it was made with.")
    return source.manifest


def lineage(manifest: mf.Manifest, *, depth: int = 8) -> list[tuple[mf.Parent, mf.Manifest | None]]:
    """The published epochs ``manifest`` descends from, nearest first, each with its
    manifest at the pinned commit (``None`` where the Hub cannot serve it: the chain
    ends there). At most ``depth`` steps, so a cycle in hostile manifests ends too."""
    chain: list[tuple[mf.Parent, mf.Manifest | None]] = []
    current = manifest
    while current.parent is not None and len(chain) < depth:
        parent = current.parent
        try:
            current = _pinned(f"hf://{parent.repo_id}", parent.repo_id, parent.commit).manifest
        except ZooError:
            chain.append((parent, None))
            break
        chain.append((parent, current))
    return chain
