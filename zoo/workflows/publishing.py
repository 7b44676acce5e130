"""Publish a training run: check it, stage the repo, commit it once, pin a manifest to it.

The checks run before anything leaves the machine: every file matches its sha256,
epochs strictly increase, no two epochs carry byte-identical weights (a mislabelled
checkpoint), and every weights file has the layout and architecture of the recipe.
The pinned manifest goes to the user's catalog (never into the installed package,
unless ``manifests_dir`` says so: the reference zoo's build does).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from zoo import catalog, compat
from zoo.constants import MANIFEST_FILENAME, MODEL_CARD_FILENAME, hf_endpoint, user_manifests_dir
from zoo.errors import ArchitectureMismatchError, ManifestError, PublishError, UsageError
from zoo.formats import manifest as mf
from zoo.formats.fingerprint import architecture_sha256, layout_sha256, model_layout, read_layout
from zoo.formats.modelcard import render
from zoo.hub import api_publisher, git_publisher
from zoo.integrity import verify_file
from zoo.resolve import is_repo_id


@dataclass(frozen=True)
class PublishResult:
    manifest: mf.Manifest  # pinned to the commit
    commit: str
    manifest_path: Path
    target: str  # the hub dir or the endpoint
    shadows_bundled: bool  # the name now hides a bundled model of the same name

    def to_dict(self) -> dict:
        return {"commit": self.commit, "manifest_path": str(self.manifest_path), "target": self.target,
                "shadows_bundled": self.shadows_bundled, "manifest": self.manifest.to_dict()}


def epoch_tag(epoch: int) -> str:
    return f"epoch-{epoch}"


def check_run(run_dir: Path) -> mf.Manifest:
    """Everything that must hold before a run may be published."""
    try:
        m = mf.load(Path(run_dir) / MANIFEST_FILENAME)  # also: epochs strictly increasing, safe paths
    except ManifestError as exc:
        raise PublishError(f"refusing to publish {run_dir}: {exc.message}", hint="Is this a run directory written by 'zoo train'?") from None
    seen: dict[str, int] = {}
    for e in m.epochs:
        for f in e.files:
            verify_file(Path(run_dir) / f.path, f, shown_as=str(Path(run_dir) / f.path), hint="The run changed after it was recorded; nothing was published.")
        if e.weights.sha256 in seen:
            raise PublishError(
                f"refusing to publish {run_dir}: epochs {seen[e.weights.sha256]} and {e.epoch} have byte-identical weights",
                hint="One of them is mislabelled or a copy; retrain or drop the duplicate epoch.",
            )
        seen[e.weights.sha256] = e.epoch
        actual = layout_sha256(read_layout(Path(run_dir) / e.weights.path))
        if actual != m.compat.layout_sha256:
            raise ArchitectureMismatchError(f"refusing to publish {run_dir}: epoch {e.epoch}'s weights layout {actual[:12]} differs from the manifest's {m.compat.layout_sha256[:12]}")
    _check_recipe(m, run_dir)
    return m


def _check_recipe(m: mf.Manifest, run_dir: Path) -> None:
    """The weights must fit the recipe code users will build them into."""
    recipe = compat.recipe_for(m.recipe)
    model = recipe.build(**m.recipe.builder_kwargs)
    if layout_sha256(model_layout(model)) != m.compat.layout_sha256 or architecture_sha256(model) != m.compat.architecture_sha256:
        raise ArchitectureMismatchError(
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
    (into / MODEL_CARD_FILENAME).write_text(render(staged, task=compat.recipe_for(m.recipe).task))
    return staged


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
    then write ``NAME.json`` pinned to that commit into the user's catalog (or
    ``manifests_dir``). Republishing the same run is a no-op.

    ``hub_dir``: a local hub directory (git + git-lfs); without it, the Hub at HF_ENDPOINT."""
    if not is_repo_id(repo_id):
        raise UsageError(f"`repo_id` must be ORG/NAME, got {repo_id!r}", hint="Name the Hub repo alone, e.g. my-org/digits-cnn: no hf:// and no @revision.")
    name = mf.check_name(name or repo_id.split("/", 1)[1])
    run_dir = Path(run_dir)
    m = check_run(run_dir)
    tags = [epoch_tag(e.epoch) for e in m.epochs]
    message = f"zoo publish {name}: epochs {', '.join(map(str, m.epoch_numbers))}"
    with tempfile.TemporaryDirectory(prefix="zoo-stage-") as tmp:
        staged = stage(m, run_dir, repo_id, name, Path(tmp), include_resume=include_resume)
        mf.parse(staged.to_dict())  # what we publish must be what we accept
        if hub_dir is not None:
            commit, target = git_publisher.publish_tree(Path(tmp), Path(hub_dir), repo_id, tags=tags, message=message), str(hub_dir)
        else:
            commit, target = api_publisher.publish_tree(Path(tmp), repo_id, tags=tags, message=message), hf_endpoint()
    pinned = staged.replace(hub=mf.HubRef(repo_id=repo_id, revision=commit))
    directory = Path(manifests_dir) if manifests_dir is not None else user_manifests_dir()
    path = directory / f"{name}.json"
    mf.write(pinned, path)
    shadows = any(e.name == name and e.shadowed for e in catalog.entries())
    return PublishResult(manifest=pinned, commit=commit, manifest_path=path, target=target, shadows_bundled=shadows)
