"""The CLI's exit codes: one per error class of ``zoo.errors``, so scripts can tell the
cases apart without parsing text. Only the CLI knows them; the API raises the classes."""

from __future__ import annotations

from zoo import errors as e

EXIT_CODES: dict[type[e.ZooError], int] = {
    e.ZooError: 1,
    e.UsageError: 2,
    e.UnknownModelError: 3,
    e.UnknownEpochError: 4,
    e.ManifestError: 5,
    e.RunDirError: 6,
    e.IntegrityError: 7,
    e.ArchitectureMismatchError: 8,
    e.HubError: 9,
    e.RepoNotFoundError: 10,
    e.RevisionNotFoundError: 11,
    e.EntryNotFoundError: 12,
    e.OfflineError: 13,
    e.PublishError: 14,
    e.DependencyError: 15,
    e.FileFormatError: 16,
    e.ReproducibilityError: 17,
    e.ExportError: 18,
    e.UntrustedResponseError: 19,
    e.HubTimeoutError: 20,
    e.HubServerError: 21,
    e.HubRateLimitedError: 22,
    e.HubAuthError: 23,
    e.ExternalDataError: 24,
    e.CompressedDataError: 25,
    e.NonFiniteWeightsError: 26,
    e.DiskError: 27,
    e.DataError: 28,
    e.DistributedError: 29,
}
INTERRUPTED = 130


def exit_code(exc: e.ZooError) -> int:
    """The code of the nearest class of ``exc`` that has one (subclasses share their parent's)."""
    return next(EXIT_CODES[cls] for cls in type(exc).__mro__ if cls in EXIT_CODES)
