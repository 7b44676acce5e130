"""Publishing to a remote Hub through ``HfApi``: one commit of a staged tree, then its tags.

Only the Hub's write API is used (``create_repo``, ``create_commit``, ``create_tag``); no
installable server implements it, so ``tests/test_publish_contract.py`` checks zoo's
promises against huggingface_hub's own HTTP layer with a fake transport.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from zoo.constants import hf_endpoint, hf_token
from zoo.errors import PublishError
from zoo.hub.session import check_commit, hub_session, reason, redact


def publish_tree(staging: Path, repo_id: str, *, tags: Iterable[str], message: str) -> str:
    """Upload a staged repo as ONE commit (create_repo, create_commit), then point the tags at it.

    Unchanged files are skipped by huggingface_hub, so republishing the same run
    makes no commit and returns the current head. A tag left on an older commit by
    an earlier publish is moved, so ``epoch-N`` always names the latest commit.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(endpoint=hf_endpoint(), token=hf_token())
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    operations = [CommitOperationAdd(path_in_repo=p.relative_to(staging).as_posix(), path_or_fileobj=str(p)) for p in files]
    try:
        with hub_session():
            api.create_repo(repo_id, exist_ok=True)
            commit = check_commit(api.create_commit(repo_id, operations=operations, commit_message=message).oid, what=f"the commit to {repo_id}")
    except Exception as exc:  # noqa: BLE001 - translated into our hierarchy
        raise PublishError(
            f"publishing to {repo_id} at {redact(hf_endpoint())} failed: {reason(exc)}",
            hint="Nothing was committed; the repo is unchanged. Fix the cause and rerun the same command.",
        ) from None
    try:
        with hub_session():
            existing = {ref.name: ref.target_commit for ref in api.list_repo_refs(repo_id).tags}
            for tag in tags:
                if existing.get(tag) == commit:
                    continue
                if tag in existing:
                    api.delete_tag(repo_id, tag=tag)
                api.create_tag(repo_id, tag=tag, revision=commit)
    except Exception as exc:  # noqa: BLE001 - translated into our hierarchy
        raise PublishError(
            f"{repo_id}: commit {commit} is published, but tagging it failed: {reason(exc)}",
            hint="Rerun the same command: the commit is not repeated and the missing tags are added.",
        ) from None
    return commit
