"""The Import page's words for what the importer found: problems, fixes, warnings, the report.

The importer (:mod:`mapping.ingest`) writes its problems, fixes and warnings in English, for the
command line and the report kept on the server; the most frequent ones also carry a code
(:meth:`mapping.ingest.batch.Problems.add`, :class:`mapping.ingest.batch.Notice`,
:class:`mapping.errors.MissingColumnError`). Here they are said in the page's language; one
without a code stays in English. Nothing here imports streamlit, so it is tested directly.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable

import polars as pl

from mapping.errors import MissingColumnError
from mapping.ingest.batch import REPORT_COLUMNS, Notice, PreparedImport
from mapping.ingest.values import REDACTED

#: Fixes the page words its own way: the command line's ``--allow-outside`` is a box here.
PAGE_FIXES = {"outside_area": "import.fix_outside_area"}


def _slug(text: str) -> str:
    """Return a locale key made of an English phrase ("an HIV result" → "an_hiv_result")."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def problems_in(prepared: PreparedImport, t: Callable[..., str]) -> pl.DataFrame:
    """Return the report's rows (its columns, in its order) with the words in ``t``'s language.

    Problems and fixes with a code are translated (``problems.<code>``, ``fixes.<code>``,
    or the page's own fix in :data:`PAGE_FIXES`), the value ``(redacted)`` too; row numbers,
    fields, other values and cells are as the report holds them.
    """
    frame = prepared.problems.frame(coded=True)
    pairs = frame.select("code", "values").unique().filter(pl.col("code") != "")
    words: dict[str, list[str]] = {"code": [], "values": [], "__problem": [], "__fix": []}
    for code, values in pairs.iter_rows():
        filled = json.loads(values)
        words["code"].append(code)
        words["values"].append(values)
        words["__problem"].append(t(f"problems.{code}", **filled))
        words["__fix"].append(t(PAGE_FIXES.get(code, f"fixes.{code}"), **filled))
    table = pl.DataFrame(words, schema=dict.fromkeys(words, pl.String))
    return (
        frame.join(table, on=["code", "values"], how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("__problem", "problem").alias("problem"),
            pl.coalesce("__fix", "fix").alias("fix"),
            pl.when(pl.col("value") == REDACTED)
            .then(pl.lit(t("import.redacted")))
            .otherwise(pl.col("value"))
            .alias("value"),
        )
        .select(REPORT_COLUMNS)
    )


def report_csv(problems: pl.DataFrame) -> bytes:
    """Return the rejected rows as the CSV the download holds: the report's columns.

    ``problems`` is what :func:`problems_in` gives: no coordinate, no contact code, no name
    and no phone number is in it (the importer redacted those values already).
    """
    return problems.write_csv().encode("utf-8")


def report_name(kind: str, day: dt.date) -> str:
    """Return the download's file name: what it holds and when.

    Examples
    --------
    >>> report_name("visits", dt.date(2026, 12, 7))
    'rejected-visits-2026-12-07.csv'
    """
    return f"rejected-{kind}-{day.isoformat()}.csv"


def warning_in(warning: str, t: Callable[..., str]) -> str:
    """Return an importer's warning in ``t``'s language (English if it has no code)."""
    if not isinstance(warning, Notice):
        return warning
    columns = warning.values.get("columns")
    if warning.code == "dropped_columns" and isinstance(columns, dict):
        listed = ", ".join(
            f"{column!r} ({t(f'column_reasons.{_slug(str(why))}')})"
            for column, why in columns.items()
        )
        return t("warnings.dropped_columns", columns=listed)
    if warning.code == "ignored_columns" and isinstance(columns, list):
        return t("warnings.ignored_columns", columns=", ".join(repr(c) for c in columns))
    return warning


def unusable_in(error: Exception, name: str, t: Callable[..., str]) -> str:
    """Return why a file cannot be imported in ``t``'s language (English if it has no code)."""
    if isinstance(error, MissingColumnError):
        problem = t(f"problems.{error.code}", name=name)
        return f"{problem} — {t(f'fixes.{error.code}', columns=error.columns)}"
    return str(error)
