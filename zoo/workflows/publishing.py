"""Publish a training run: check it, stage the repo, commit it once, pin a manifest to it.

The checks run before anything leaves the machine: every file matches its sha256,
epochs strictly increase, no two epochs carry byte-identical weights (a mislabelled
checkpoint), and every weights file has the layout and architecture of the recipe.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from zoo.formats import manifest as mf
from zoo.constants import MANIFEST_FILENAME, MODEL_CARD_FILENAME, bundled_manifests_dir, user_manifests_dir
from zoo.errors import ManifestError, PublishError, UsageError, ZooError
from zoo.formats.fingerprint import layout_sha256, read_layout


@dataclass(frozen=True)
class PublishResult:
    manifest: mf.Manifest  # pinned to the commit
    commit: str
    manifest_path: Path
    target: str  # the hub dir or the endpoint


def epoch_tag(epoch: int) -> str:
    return f"epoch-{epoch}"


def check_run(run_dir: Path) -> mf.Manifest:
    """Everything that must hold before a run may be published; raises ``PublishError``."""
    from zoo.workflows.training import verify_file

    try:
        m = mf.load(Path(run_dir) / MANIFEST_FILENAME)  # also: epochs strictly increasing, safe paths
    except ManifestError as exc:
        raise PublishError(f"refusing to publish {run_dir}: {exc.message}", hint="Is this a run directory written by 'zoo train'?") from None
    seen: dict[str, int] = {}
    for e in m.epochs:
        for f in e.files:
            try:
                verify_file(Path(run_dir) / f.path, f)
            except ZooError as exc:
                raise PublishError(f"refusing to publish {run_dir}: {exc.message}", hint=exc.hint) from None
        if e.weights.sha256 in seen:
            raise PublishError(
                f"refusing to publish {run_dir}: epochs {seen[e.weights.sha256]} and {e.epoch} have byte-identical weights",
                hint="One of them is mislabelled or a copy; retrain or drop the duplicate epoch.",
            )
        seen[e.weights.sha256] = e.epoch
        actual = layout_sha256(read_layout(Path(run_dir) / e.weights.path))
        if actual != m.compat.layout_sha256:
            raise PublishError(f"refusing to publish {run_dir}: epoch {e.epoch}'s weights layout {actual[:12]} differs from the manifest's {m.compat.layout_sha256[:12]}")
    _check_recipe(m, run_dir)
    return m


def _check_recipe(m: mf.Manifest, run_dir: Path) -> None:
    """The weights must fit the recipe code users will build them into."""
    from zoo.formats.fingerprint import architecture_sha256, model_layout
    from zoo.registry import get_recipe

    try:
        recipe = get_recipe(m.recipe.name)
        if recipe.version != m.recipe.version:
            raise PublishError(f"it was trained with {recipe.name} v{m.recipe.version}, the code is v{recipe.version}")
        model = recipe.build(**m.recipe.builder_kwargs)
    except ZooError as exc:
        raise PublishError(f"refusing to publish {run_dir}: {exc.message}", hint=exc.hint) from None
    if layout_sha256(model_layout(model)) != m.compat.layout_sha256 or architecture_sha256(model) != m.compat.architecture_sha256:
        raise PublishError(
            f"refusing to publish {run_dir}: its architecture fingerprints do not match recipe {recipe.name} v{recipe.version} as the code builds it now",
            hint="Bump the recipe version when its architecture changes, and retrain.",
        )


def stage(m: mf.Manifest, run_dir: Path, repo_id: str, name: str, into: Path, *, include_resume: bool = True) -> mf.Manifest:
    """Lay out the repo: zoo.json (unpinned), README.md model card, epochs/eNNN/… files."""
    epochs = []
    for e in m.epochs:
        files = tuple(f for f in e.files if include_resume or f.role != "resume")
        for f in files:
            target = into / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(Path(run_dir) / f.path, target)
            except OSError:
                shutil.copyfile(Path(run_dir) / f.path, target)
        epochs.append(mf.EpochEntry(e.epoch, files, e.metrics, e.created_at, e.yanked))
    staged = m.replace(name=name, hub=mf.HubRef(repo_id=repo_id, revision=None), epochs=tuple(epochs))
    (into / MANIFEST_FILENAME).write_text(staged.dumps())
    from zoo.formats.modelcard import render
    from zoo.registry import get_recipe

    (into / MODEL_CARD_FILENAME).write_text(render(staged, task=get_recipe(m.recipe.name).task))
    return staged


def manifests_target() -> Path:
    """The bundled manifests directory when writable (a source checkout), else the user's."""
    bundled = bundled_manifests_dir()
    return bundled if os.access(bundled, os.W_OK) else user_manifests_dir()


def publish(
    run_dir: Path | str,
    repo_id: str,
    *,
    hub_dir: Path | str | None = None,
    name: str | None = None,
    manifests_dir: Path | str | None = None,
    include_resume: bool = True,
) -> PublishResult:
    """Check, stage and publish a run as ONE commit with an ``epoch-N`` tag per epoch,
    then write ``NAME.json`` pinned to that commit. Republishing the same run is a no-op."""
    from zoo.hub.client import is_repo_id

    if not is_repo_id(repo_id):
        raise UsageError(f"--repo must be ORG/NAME, got {repo_id!r}", hint="Name the Hub repo alone, e.g. --repo my-org/digits-cnn: no hf:// and no @revision.")
    name = mf.check_name(name or repo_id.split("/", 1)[1])
    run_dir = Path(run_dir)
    m = check_run(run_dir)
    tags = [epoch_tag(e.epoch) for e in m.epochs]
    message = f"zoo publish {name}: epochs {', '.join(map(str, m.epoch_numbers))}"
    with tempfile.TemporaryDirectory(prefix="zoo-stage-") as tmp:
        staged = stage(m, run_dir, repo_id, name, Path(tmp), include_resume=include_resume)
        mf.parse(staged.to_dict())  # what we publish must be what we accept
        if hub_dir is not None:
            from zoo.hub.server import publish_local

            commit, target = publish_local(Path(tmp), Path(hub_dir), repo_id, tags=tags, message=message), str(hub_dir)
        else:
            from zoo.constants import hf_endpoint
            from zoo.hub.client import publish_to_hub

            commit, target = publish_to_hub(Path(tmp), repo_id, tags=tags, message=message), hf_endpoint()
    pinned = staged.replace(hub=mf.HubRef(repo_id=repo_id, revision=commit))
    directory = Path(manifests_dir) if manifests_dir is not None else manifests_target()
    path = directory / f"{name}.json"
    mf.write(pinned, path)
    return PublishResult(manifest=pinned, commit=commit, manifest_path=path, target=target)
