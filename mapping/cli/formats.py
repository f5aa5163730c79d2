"""The ``--format text|csv|json`` option shared by every command that prints a result.

Kept apart from :mod:`mapping.analysis.reports` (whose :func:`~mapping.analysis.reports.render`
writes the CSV and JSON) so that building the parser does not import polars.
"""

from __future__ import annotations

from typing import Any

#: The output formats; the same as :data:`mapping.analysis.reports.FORMATS` (a test checks).
FORMATS = ("text", "csv", "json")


def add_format_argument(parser: Any) -> None:
    """Add ``--format text|csv|json`` (default ``text``) to one command's parser."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text for people (default), csv or json for other programs",
    )
