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


class OutdatedProposalError(InvalidInputError):
    """A proposal shown before saving no longer matches the store: it must be made again."""


class MissingColumnError(UnusableFileError):
    """A file without a column it cannot do without (a visit's date, a hotspot's typology).

    ``code`` names the column that is missing and ``columns`` lists those the file has (when
    the message names them), so the app can say it in the reader's language; the message is
    the English text.
    """

    def __init__(self, message: str, *, code: str, columns: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.columns = columns
