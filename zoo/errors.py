"""One typed error hierarchy for everything a user can get wrong or run into.

Every error says what is wrong and what to do. Messages name the API's parameters in
backticks (`all_epochs=True`); the CLI shows its own flags instead, and maps each class
to its own exit code (``zoo/cli/exit_codes.py``).
"""

from __future__ import annotations


class ZooError(Exception):
    """Base of every error the zoo raises on purpose."""


    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n{hint}")


class UsageError(ZooError):
    """Arguments that cannot work together, or values out of range."""



class UnknownModelError(ZooError):
    """No recipe or published model has this name."""



class UnknownEpochError(ZooError):
    """The model exists but has no such epoch."""



class ManifestError(ZooError):
    """A manifest is not valid JSON, breaks the schema, or is inconsistent."""



class UnsafePathError(ManifestError):
    """A path inside a manifest tries to leave the repository."""


class DataError(ZooError):
    """Training data a user brought cannot be used: missing, empty, one class, unreadable."""


class RunDirError(ZooError):
    """A training run directory cannot be used as asked (wrong recipe, corrupt, exists)."""



class DiskError(ZooError):
    """A file could not be written: the disk is full, a quota or size limit was hit, or the
    place is read-only. What was being written was not kept."""


class IntegrityError(ZooError):
    """A file's bytes do not match the sha256 or size its manifest records."""


    def __init__(self, path: str, *, expected: str, actual: str, what: str = "sha256", hint: str | None = None):
        self.path, self.expected, self.actual, self.what = path, expected, actual, what
        super().__init__(
            f"{what} mismatch for {path}: expected {expected}, got {actual}",
            hint=hint,
        )


class ArchitectureMismatchError(ZooError):
    """Weights and architecture disagree; loading them would give a wrong model."""



class HubError(ZooError):
    """Talking to the Hub failed."""



class RepoNotFoundError(HubError):
    """No such repository on the Hub."""


class RevisionNotFoundError(HubError):
    """The repository has no such branch, tag or commit."""


class EntryNotFoundError(HubError):
    """The revision has no such file."""


class OfflineError(HubError):
    """The file is not cached and the Hub cannot (or may not) be reached."""



class HubTimeoutError(HubError):
    """The Hub did not answer, or not fast enough, within the timeouts and the deadline."""


class HubServerError(HubError):
    """The Hub answered with a server error (5xx): not retried, said at once."""


class HubRateLimitedError(HubError):
    """The Hub answered 429: too many requests (its Retry-After is shown, not slept)."""


class HubAuthError(HubError):
    """The Hub refused the credentials (401/403): no token, a wrong one, or no access."""


class UntrustedResponseError(HubError):
    """The Hub sent a value zoo refuses to use: a commit, hash or size that is not well formed."""



class PublishError(ZooError):
    """Publishing was refused or failed. Refused or failed before the commit: the repo is
    unchanged. Failed while tagging: the commit is there and rerunning finishes the tags."""



class DependencyError(ZooError):
    """An optional dependency (TensorFlow, olah, git-lfs) is missing."""



class FileFormatError(ZooError):
    """A weights or model file is unreadable, truncated, or unsafe."""



class UnsafeFileError(FileFormatError):
    """A model file would run stored code (a Lambda layer) and the user did not opt in."""


class ExternalDataError(UnsafeFileError):
    """A weights file points outside itself: a soft or external link, a virtual dataset, or
    external raw storage. Keras would follow or half-load them; zoo refuses the file."""


class CompressedDataError(UnsafeFileError):
    """A weights file whose datasets are chunked, filtered or larger on disk than their shapes:
    Keras writes none of that, and a decompression bomb hides there."""


class NonFiniteWeightsError(FileFormatError):
    """Weights holding NaN or infinity: refused at publish time, reported at load time."""


class ExportError(ZooError):
    """An export could not be written, or did not load back with the same predictions."""



class DistributedError(ZooError):
    """A distributed run lost a worker, or its cluster (``TF_CONFIG``) cannot be used."""


class ReproducibilityError(ZooError):
    """Measured metrics differ from the published ones (``Comparison.verify``)."""



__all__ = [name for name, value in list(globals().items()) if isinstance(value, type) and issubclass(value, ZooError)]
