"""One typed error hierarchy for everything a user can get wrong or run into.

Every error says what is wrong and what to do. The CLI maps each class to its own
exit code (``exit_code``), so scripts can tell the cases apart without parsing text.
"""

from __future__ import annotations


class ZooError(Exception):
    """Base of every error the zoo raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n{hint}")


class UsageError(ZooError):
    """Arguments that cannot work together, or values out of range."""

    exit_code = 2


class UnknownModelError(ZooError):
    """No recipe or published model has this name."""

    exit_code = 3


class UnknownEpochError(ZooError):
    """The model exists but has no such epoch."""

    exit_code = 4


class ManifestError(ZooError):
    """A manifest is not valid JSON, breaks the schema, or is inconsistent."""

    exit_code = 5


class UnsafePathError(ManifestError):
    """A path inside a manifest tries to leave the repository."""


class RunDirError(ZooError):
    """A training run directory cannot be used as asked (wrong recipe, corrupt, exists)."""

    exit_code = 6


class IntegrityError(ZooError):
    """A file's bytes do not match the sha256 or size its manifest records."""

    exit_code = 7

    def __init__(self, path: str, *, expected: str, actual: str, what: str = "sha256", hint: str | None = None):
        self.path, self.expected, self.actual = path, expected, actual
        super().__init__(
            f"{what} mismatch for {path}: expected {expected}, got {actual}",
            hint=hint,
        )


class ArchitectureMismatchError(ZooError):
    """Weights and architecture disagree; loading them would give a wrong model."""

    exit_code = 8


class HubError(ZooError):
    """Talking to the Hub failed."""

    exit_code = 9


class RepoNotFoundError(HubError):
    exit_code = 10


class RevisionNotFoundError(HubError):
    exit_code = 11


class EntryNotFoundError(HubError):
    exit_code = 12


class OfflineError(HubError):
    """The file is not cached and the Hub cannot (or may not) be reached."""

    exit_code = 13


class UntrustedResponseError(HubError):
    """The Hub sent a value zoo refuses to use: a commit, hash or size that is not well formed."""

    exit_code = 19


class PublishError(ZooError):
    """Publishing was refused or failed. Refused or failed before the commit: the repo is
    unchanged. Failed while tagging: the commit is there and rerunning finishes the tags."""

    exit_code = 14


class DependencyError(ZooError):
    """An optional dependency (TensorFlow, olah, git-lfs) is missing."""

    exit_code = 15


class FileFormatError(ZooError):
    """A weights or model file is unreadable, truncated, or unsafe."""

    exit_code = 16


class UnsafeFileError(FileFormatError):
    """A model file would run stored code (a Lambda layer) and the user did not opt in."""


class ExportError(ZooError):
    """An export could not be written, or did not load back with the same predictions."""

    exit_code = 18


class ReproducibilityError(ZooError):
    """Measured metrics differ from the published ones (``zoo compare --verify``)."""

    exit_code = 17


__all__ = [name for name, value in list(globals().items()) if isinstance(value, type) and issubclass(value, ZooError)]
