"""Publish a training run: every epoch its own commit, tagged ``epoch-N``, ``main`` at the last.

Each commit's root holds that epoch alone, as plain Keras reads it from ``hf://ORG/NAME``
(``config.json``, ``metadata.json``, ``model.weights.h5`` or sharded weights), with the optional resume state
(``resume.keras``), the model card and ``zoo.json`` listing every epoch published so far
and the commit that holds it::

    main ──► e100 ◄── epoch-100      each commit: config.json metadata.json
              │                                   model.weights.h5 resume.keras
             e050 ◄── epoch-50                    README.md zoo.json (epochs ≤ N)
              │
             e010 ◄── epoch-10

Publishing continues where the Hub stands: epochs already there (same weights) are
skipped, so republishing the same run changes nothing and a run published while it
trains ends the same as one published at the end. Before an epoch leaves the machine
its files must match their sha256, no two epochs may carry byte-identical weights, and
the weights must have the layout and architecture of the recipe as the code builds it
now. The pinned manifest goes to the user's catalog (never into the installed package,
unless ``manifests_dir`` says so: the reference zoo's build does).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from zoo import catalog, compat
from zoo.constants import MANIFEST_FILENAME, MODEL_CARD_FILENAME, hf_endpoint, user_manifests_dir
from zoo.errors import ArchitectureMismatchError, ManifestError, NonFiniteWeightsError, PublishError, UsageError, ZooError
from zoo.formats import keras_config, manifest as mf
from zoo.formats.checkpoint import non_finite_datasets
from zoo.formats.fingerprint import layout_sha256, read_layout
from zoo.formats.modelcard import render
from zoo.hub.api_publisher import RemoteRepo
from zoo.hub.git_publisher import LocalRepo
from zoo.resolve import RunSource, is_repo_id


@dataclass(frozen=True)
class PublishResult:
    manifest: mf.Manifest  # every epoch pinned to its commit
    commit: str  # where main stands: the last epoch's commit
    published: list[int]  # the epochs this call committed (empty: the Hub had them all)
    changed: bool  # main moved (a replace that rebuilt the very same commits did not)
    manifest_path: Path
    target: str  # the hub dir or the endpoint
    shadows_bundled: bool  # the name now hides a bundled model of the same name

    def to_dict(self) -> dict:
        return {"commit": self.commit, "published": self.published, "changed": self.changed, "manifest_path": str(self.manifest_path), "target": self.target,
                "shadows_bundled": self.shadows_bundled, "manifest": self.manifest.to_dict()}


def epoch_tag(epoch: int) -> str:
    return f"epoch-{epoch}"


def read_run(run_dir: Path) -> mf.Manifest:
    """A run directory's manifest, and no two epochs with byte-identical weights."""
    try:
        run = mf.load(Path(run_dir) / MANIFEST_FILENAME)  # also: epochs strictly increasing, safe paths
    except ManifestError as exc:
        raise PublishError(f"refusing to publish {run_dir}: {exc.message}", hint="Is this a run directory written by 'zoo train'?") from None
    seen: dict[str, int] = {}
    for e in run.epochs:
        if e.weights_sha256 in seen:
            raise PublishError(
                f"refusing to publish {run_dir}: epochs {seen[e.weights_sha256]} and {e.epoch} have byte-identical weights",
                hint="One of them is mislabelled or a copy; retrain or drop the duplicate epoch.",
            )
        seen[e.weights_sha256] = e.epoch
    return run


def check_recipe(run: mf.Manifest, run_dir: Path) -> None:
    """The weights must fit the recipe code users will build them into (or, for a model
    without a recipe, the Keras config they will build it from)."""
    if run.recipe.from_keras_config:
        last = run.epochs[-1]
        compat.check_config(run, run_dir / keras_config.config_entry(last, what=str(run_dir)).path, last.weights_size, what=f"refusing to publish {run_dir}: its config.json")
        return
    recipe = compat.recipe_for(run.recipe)
    compat.check_builder_kwargs(recipe, run.recipe.builder_kwargs, run.compat.param_count)
    if compat.recipe_fingerprints(recipe, run.recipe.builder_kwargs) != (run.compat.architecture_sha256, run.compat.layout_sha256):
        raise ArchitectureMismatchError(
            f"refusing to publish {run_dir}: its architecture fingerprints do not match recipe {recipe.name} v{recipe.version} as the code builds it now",
            hint="Bump the recipe version when its architecture changes, and retrain.",
        )


def check_epoch(run: mf.Manifest, run_dir: Path, entry: mf.EpochEntry) -> None:
    """Every file of the epoch is what the run recorded (a sharded index names exactly its
    shards), and its weights have the run's layout."""
    RunSource(str(run_dir), run, run_dir).files([entry], roles=None)
    if run.recipe.from_keras_config and keras_config.config_entry(entry, what=str(run_dir)).sha256 != run.recipe.builder_kwargs.get("config_sha256"):
        raise ArchitectureMismatchError(f"refusing to publish {run_dir}: epoch {entry.epoch}'s config.json is not the run's architecture",
                                        hint="The model changed during the run; a run holds one architecture.")
    actual = layout_sha256(read_layout(run_dir / entry.weights.path))
    if actual != run.compat.layout_sha256:
        raise ArchitectureMismatchError(f"refusing to publish {run_dir}: epoch {entry.epoch}'s weights layout {actual[:12]} differs from the manifest's {run.compat.layout_sha256[:12]}")
    bad = non_finite_datasets(run_dir / entry.weights.path)
    if bad:
        raise NonFiniteWeightsError(f"refusing to publish {run_dir}: epoch {entry.epoch}'s weights hold NaN or infinity ({', '.join(bad[:3])})",
                                    hint="Training diverged at or before this epoch: publish earlier epochs, or retrain with a lower learning rate.")


def _on_hub(repo: LocalRepo | RemoteRepo, repo_id: str) -> mf.Manifest | None:
    """The manifest at the head of ``main``, every epoch pinned to its commit."""
    text = repo.read(MANIFEST_FILENAME)
    if text is None:
        return None
    return mf.loads(text, source=f"{repo_id}@{repo.head[:12]}/{MANIFEST_FILENAME}").pinned(repo_id, repo.head)


def _already_published(run: mf.Manifest, on_hub: mf.Manifest | None, run_dir: Path, repo_id: str) -> list[mf.EpochEntry]:
    """The Hub's epochs, which must be the run's first epochs with the same weights."""
    if on_hub is None:
        return []
    for i, held in enumerate(on_hub.epochs):
        ours = run.epochs[i] if i < len(run.epochs) else None
        if ours is None or ours.epoch != held.epoch or ours.weights_sha256 != held.weights_sha256:
            what = f"epoch {held.epoch} with other weights than {run_dir}'s" if ours is not None and ours.epoch == held.epoch else f"epoch {held.epoch}, which {run_dir} does not continue"
            raise PublishError(
                f"{repo_id} already holds {what}: publishing would rewrite its history",
                hint="Publish this run to another repo; on a local hub, `replace=True` starts the repo over.",
            )
    return list(on_hub.epochs)


def _hub_entry(entry: mf.EpochEntry, include_resume: bool) -> mf.EpochEntry:
    """The run's epoch as its commit holds it: every file at the root."""
    files = tuple(
        mf.FileEntry(PurePosixPath(f.path).name, f.sha256, f.size, f.role, f.optional)
        for f in entry.files
        if include_resume or f.role != "resume"
    )
    return mf.EpochEntry(entry.epoch, files, entry.metrics, entry.created_at, entry.yanked)


def _model_module(run_dir: Path, entry: mf.EpochEntry) -> str | None:
    """The module a subclassed model's class is imported from (its ``config.json`` says)."""
    config = entry.file("config")
    if config is None:
        return None
    module = json.loads((run_dir / config.path).read_text()).get("module") or ""
    return None if module == "keras" or module.startswith("keras.") else module


def _stage(into: Path, run_dir: Path, hub_entry: mf.EpochEntry, entry: mf.EpochEntry, manifest: mf.Manifest, task: str, module: str | None) -> None:
    """Lay out one epoch's commit: its files at the root, the manifest so far, the card."""
    staged = {f.path for f in hub_entry.files}
    for f in entry.files:
        name = PurePosixPath(f.path).name
        if name in staged:
            try:
                os.link(run_dir / f.path, into / name)
            except OSError:
                shutil.copyfile(run_dir / f.path, into / name)
    (into / MANIFEST_FILENAME).write_text(manifest.dumps())
    (into / MODEL_CARD_FILENAME).write_text(render(manifest, task=task, model_module=module))


def publish(
    run_dir: Path | str,
    repo_id: str,
    *,
    hub_dir: Path | str | None = None,
    name: str | None = None,
    manifests_dir: Path | str | None = None,
    include_resume: bool = True,
    replace: bool = False,
) -> PublishResult:
    """Publish every epoch of the run that the Hub does not hold yet, one commit each,
    tagged ``epoch-N``, then write ``NAME.json`` pinned to them into the user's catalog
    (or ``manifests_dir``). Republishing the same run changes nothing.

    ``hub_dir``: a local hub directory (git + git-lfs); without it, the Hub at HF_ENDPOINT.
    ``replace``: on a local hub, start the repo's history over with this run."""
    if not is_repo_id(repo_id):
        raise UsageError(f"`repo_id` must be ORG/NAME, got {repo_id!r}", hint="Name the Hub repo alone, e.g. my-org/digits-cnn: no hf:// and no @revision.")
    name = mf.check_name(name or repo_id.split("/", 1)[1])
    if replace and hub_dir is None:
        raise UsageError("`replace=True` rewrites history, which only a local hub allows", hint="Set `hub_dir`, or publish to another repo id.")
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    repo = LocalRepo(Path(hub_dir), repo_id) if hub_dir is not None else RemoteRepo(repo_id)
    head_before = repo.head
    if replace:
        repo.restart()
    published = _already_published(run, _on_hub(repo, repo_id), run_dir, repo_id)
    new = list(run.epochs[len(published):])
    base = run.replace(name=name, hub=mf.HubRef(repo_id=repo_id, revision=None))
    if new:  # every check before the first commit: nothing leaves the machine half-checked
        check_recipe(run, run_dir)
        for entry in new:
            check_epoch(run, run_dir, entry)
        task = "other" if run.recipe.from_keras_config else compat.recipe_for(run.recipe).task
        module = _model_module(run_dir, new[0])
    for entry in new:
        hub_entry = _hub_entry(entry, include_resume)
        at_commit = base.with_epochs([*published, hub_entry])  # this epoch's commit is "null": its own
        with tempfile.TemporaryDirectory(prefix="zoo-stage-") as tmp:
            _stage(Path(tmp), run_dir, hub_entry, entry, at_commit, task, module)
            mf.parse(at_commit.to_dict())  # what we publish must be what we accept
            gone = tuple(f.path for f in published[-1].files if f.path not in {h.path for h in hub_entry.files}) if published else ()
            commit = repo.commit(Path(tmp), f"epoch {entry.epoch}", delete=gone)
        published.append(mf.EpochEntry(hub_entry.epoch, hub_entry.files, hub_entry.metrics, hub_entry.created_at, hub_entry.yanked, commit))
        repo.tag(epoch_tag(entry.epoch), commit)
    for entry in published:  # a tag a failed run left out is added now
        repo.tag(epoch_tag(entry.epoch), entry.commit)
    repo.finish()
    pinned = base.with_epochs(published).replace(hub=mf.HubRef(repo_id=repo_id, revision=repo.head))
    directory = Path(manifests_dir) if manifests_dir is not None else user_manifests_dir()
    path = directory / f"{name}.json"
    mf.write(pinned, path)
    shadows = any(e.name == name and e.shadowed for e in catalog.entries())
    target = str(hub_dir) if hub_dir is not None else hf_endpoint()
    return PublishResult(pinned, repo.head, [e.epoch for e in new], repo.head != head_before, path, target, shadows)


class BackgroundPublisher:
    """Publishes a run's saved epochs while training goes on (``train(publish=...)``).

    One worker thread runs ``publish`` after each saved epoch; since every call publishes
    whatever the Hub lacks, a call still waiting covers later epochs too, so at most one
    waits. Training never waits for an upload; ``close`` waits for the last one and raises
    the first failure, after the run itself is complete and safe."""

    def __init__(self, run_dir: Path, repo_id: str, *, hub_dir: Path | str | None = None, name: str | None = None,
                 manifests_dir: Path | str | None = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        if not is_repo_id(repo_id):
            raise UsageError(f"`publish` must be ORG/NAME, got {repo_id!r}", hint="Name the Hub repo alone, e.g. my-org/digits-cnn.")
        self.run_dir, self.repo_id = Path(run_dir), repo_id
        self._options = {"hub_dir": hub_dir, "name": name, "manifests_dir": manifests_dir}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zoo-publish")
        self._lock = threading.Lock()
        self._waiting = False
        self._futures: list = []
        self.last: PublishResult | None = None

    def submit(self) -> None:
        """Publish what the run holds now (or soon: a call already waiting will)."""
        with self._lock:
            if self._waiting:
                return
            self._waiting = True
        self._futures.append(self._pool.submit(self._publish))

    def _publish(self) -> PublishResult:
        with self._lock:
            self._waiting = False
        self.last = publish(self.run_dir, self.repo_id, **self._options)
        return self.last

    def close(self) -> PublishResult | None:
        """Wait for the uploads; raise the first failure as a ``PublishError`` naming the run."""
        self._pool.shutdown(wait=True)
        for future in self._futures:
            exc = future.exception()
            if exc is not None:
                reason = exc.message if isinstance(exc, ZooError) else f"{exc.__class__.__name__}: {exc}"
                raise PublishError(
                    f"the run in {self.run_dir} is saved, but publishing it to {self.repo_id} failed: {reason}",
                    hint="The run is complete and safe: publish it again (`publish`), which continues where the Hub stands.",
                )
        return self.last
