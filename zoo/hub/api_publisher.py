"""Publishing to a remote Hub through ``HfApi``: a chain of commits on ``main``, each tagged.

Only the Hub's write API is used (``create_repo``, ``create_commit`` with
``parent_commit``, ``create_tag``); no installable server implements it, so
``tests/test_publish_contract.py`` checks zoo's promises against huggingface_hub's own
HTTP layer with a fake transport. Each commit moves ``main`` at once and gets its tag
right after, so a failure part-way leaves ``main`` at a complete, tagged epoch.
"""

from __future__ import annotations

from pathlib import Path

from zoo.constants import hf_endpoint, hf_token
from zoo.errors import EntryNotFoundError, HubError, PublishError, RepoNotFoundError
from zoo.hub import client
from zoo.hub.session import check_commit, hub_session, reason, redact


class RemoteRepo:
    """One repo on the Hub at HF_ENDPOINT, written the way ``LocalRepo`` writes a local one."""

    def __init__(self, repo_id: str) -> None:
        endpoint = hf_endpoint()  # checked before huggingface_hub's import, which a bad one breaks
        from huggingface_hub import HfApi

        self.repo_id = repo_id
        self.api = HfApi(endpoint=endpoint, token=hf_token())
        try:
            self.head: str | None = client.resolve_commit(repo_id, "main")
        except RepoNotFoundError:
            self.head = None
        except HubError as exc:
            raise PublishError(
                f"cannot publish to {repo_id}: {exc.message}",
                hint="Check HF_ENDPOINT, the token (HF_TOKEN) and that the Hub is up; nothing was published.",
            ) from None
        self._tags: dict[str, str] | None = None  # read once, on the first tag
        self._created = self.head is not None

    def read(self, path: str) -> bytes | None:
        if self.head is None:
            return None
        try:
            return client.read_small(self.repo_id, self.head, path)
        except EntryNotFoundError:  # only "no such file" means nothing: a timeout or a 5xx is not "nothing published"
            return None

    def restart(self) -> None:
        raise PublishError(f"{self.repo_id}: a remote Hub repo's history is not rewritten", hint="Publish to another repo id.")

    def commit(self, staging: Path, message: str, *, delete: tuple[str, ...] = ()) -> str:
        """A commit of the staged files on top of the pending head (``delete``: paths the
        head holds that the staged tree does not); moves ``main``. Returns its sha."""
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        files = sorted(p for p in staging.rglob("*") if p.is_file())
        operations = [CommitOperationAdd(path_in_repo=p.relative_to(staging).as_posix(), path_or_fileobj=str(p)) for p in files]
        operations += [CommitOperationDelete(path_in_repo=path) for path in delete]
        try:
            with hub_session():
                if not self._created:
                    self.api.create_repo(self.repo_id, exist_ok=True)
                    self._created = True
                info = self.api.create_commit(self.repo_id, operations=operations, commit_message=message, parent_commit=self.head)
            self.head = check_commit(info.oid, what=f"the commit to {self.repo_id}")
        except Exception as exc:  # noqa: BLE001 - translated into our hierarchy
            where = f"at epoch commit {self.head}" if self.head else "before its first commit"
            raise PublishError(
                f"publishing to {self.repo_id} at {redact(hf_endpoint())} failed ({reason(exc)}); main stays {where}",
                hint="Nothing half-done is on the Hub: fix the cause and rerun the same command; it continues where the Hub stands.",
            ) from None
        return self.head

    def tag(self, name: str, commit: str) -> None:
        """Point ``name`` at ``commit`` now, moving it if an earlier publish left it elsewhere."""
        try:
            with hub_session():
                if self._tags is None:
                    self._tags = {ref.name: ref.target_commit for ref in self.api.list_repo_refs(self.repo_id).tags}
                if self._tags.get(name) == commit:
                    return
                if name in self._tags:
                    self.api.delete_tag(self.repo_id, tag=name)
                self.api.create_tag(self.repo_id, tag=name, revision=commit)
                self._tags[name] = commit
        except Exception as exc:  # noqa: BLE001 - translated into our hierarchy
            raise PublishError(
                f"{self.repo_id}: commit {commit} is published, but tagging it {name} failed: {reason(exc)}",
                hint="Rerun the same command: the commit is not repeated and the missing tags are added.",
            ) from None

    def finish(self) -> None:
        """Nothing left: every commit and tag is already on the Hub."""
