"""One exception hierarchy for the library: every error is also the built-in it resembles."""

from __future__ import annotations


class MappingError(Exception):
    """Base class of every error raised on purpose by :mod:`mapping`."""


class InvalidInputError(MappingError, ValueError):
    """A file, column or argument cannot be used; the message says what and how to fix it."""


class UnusableFileError(InvalidInputError):
    """A whole file cannot be read: unreadable, wrong encoding, empty, or no usable columns."""


class ResolutionError(InvalidInputError):
    """An H3 resolution outside what the workspace allows (finer ones name a venue)."""


class AreaTooLargeError(InvalidInputError):
    """A district file whose cells at the resolution would be too many to hold in memory."""


class WorkspaceError(MappingError, RuntimeError):
    """A workspace is missing, not initialised, already initialised, or its key is missing."""


class PrivacyBudgetError(InvalidInputError):
    """A differentially private release would spend more privacy budget than is left."""
