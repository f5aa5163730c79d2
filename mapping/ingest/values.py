"""An imported file's values read and checked: no answer, numbers, yes/no, dates, codes, categories.

Vectorised over polars columns, each distinct value parsed or checked once. A check adds every
problem it finds to the file's :class:`~mapping.ingest.batch.Problems`; a row's fingerprint
(:func:`fingerprints`) recognises it when it is imported again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

import numpy as np
import polars as pl

from mapping.ingest.batch import Problems
from mapping.ingest.readers import ColumnMapping
from mapping.privacy import (
    INVISIBLE_PATTERN,
    first_invisible,
    looks_like_email,
    looks_like_phone,
    names_among,
)
from mapping.settings import get_settings
from mapping.vocab import lookup, normalise

REDACTED = "(redacted)"
#: Values that mean "no answer": ODK/SurveyCTO write n/a for skipped questions.
EMPTY_VALUES = ("", "n/a", "na", "null", "nan", "-", "#n/a")
_TRUE = ("yes", "y", "si", "s", "true", "t", "1", "x", "verdadero")
_FALSE = ("no", "n", "false", "f", "0", "falso")
#: Control characters: C0 (line breaks, tabs...), DEL and C1.
_CONTROL = r"[\x00-\x1f\x7f-\x9f]"


def _every_case(word: str) -> set[str]:
    spellings = {""}
    for char in word:
        spellings = {s + c for s in spellings for c in {char.lower(), char.upper()}}
    return spellings


#: Every upper/lower-case spelling of :data:`EMPTY_VALUES`: comparing with a small set is far
#: cheaper than lower-casing a million values first.
_EMPTY_SPELLINGS = sorted(set().union(*(_every_case(w) for w in EMPTY_VALUES)))


def clean(column: str) -> pl.Expr:
    """Return the column stripped, with the usual spellings of "no answer" turned into null."""
    return pl.col(column).str.strip_chars().replace(_EMPTY_SPELLINGS, None)


def normalised(expr: pl.Expr) -> pl.Expr:
    """Return a vectorised :func:`mapping.vocab.normalise` of a text expression."""
    return (
        expr.str.normalize("NFKD")
        .str.replace_all(r"\p{Mn}", "")
        .str.to_lowercase()
        .str.replace_all(r"[^0-9a-z]+", "_")
        .str.strip_chars("_")
    )


def category_table(
    vocabulary: tuple[str, ...], field_name: str, mapping: ColumnMapping
) -> dict[str, str]:
    """Return accepted spellings → canonical values, plus any the mapping file adds."""
    table = lookup(vocabulary)
    for spelling, value in mapping.values.get(field_name, {}).items():
        table[normalise(spelling)] = value
    return table


def as_number(expr: pl.Expr) -> pl.Expr:
    """Parse decimal numbers, accepting a decimal comma; unparseable gives null."""
    return expr.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)


def as_bool(expr: pl.Expr) -> pl.Expr:
    """Parse yes/no in English and Spanish (sí, 1, x, true...); anything else gives null."""
    norm = normalised(expr)
    return (
        pl.when(norm.is_in(_TRUE)).then(True).when(norm.is_in(_FALSE)).then(False).otherwise(None)
    )


_TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%b %d, %Y %I:%M:%S %p",
    "%b %d, %Y %I:%M %p",
    "%d %b %Y %H:%M:%S",
)
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%b %d, %Y", "%d %b %Y", "%Y%m%d")


def _datetime_parsers(expr: pl.Expr, *, day_first: bool) -> list[pl.Expr]:
    text = (
        expr.str.strip_chars()
        .str.replace(r"(\d)T(\d)", "$1 $2")
        .str.replace(r"(\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?$", "$1")
    )
    slashed = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y") if day_first else ("%m/%d/%Y", "%m-%d-%Y")
    timestamps = [
        *_TIMESTAMP_FORMATS,
        *(f"{d} %H:%M:%S" for d in slashed),
        *(f"{d} %H:%M" for d in slashed),
    ]
    dates = [*_DATE_FORMATS, *slashed]
    return [
        *(text.str.strptime(pl.Datetime("us"), f, strict=False) for f in timestamps),
        *(text.str.strptime(pl.Date, f, strict=False).cast(pl.Datetime("us")) for f in dates),
    ]


def as_datetime(expr: pl.Expr, *, day_first: bool = True) -> pl.Expr:
    """Parse the date and time shapes field tools write, keeping the wall-clock time as written.

    ISO 8601 with a ``T``, fractional seconds and an offset (ODK, Kobo), ``Sep 8, 2022 3:24:32
    PM`` (ODK Collect, formhub), plain dates, and slashed dates (day first unless told otherwise).
    Dates without a time get a null time of day, not midnight.
    """
    return pl.coalesce(*_datetime_parsers(expr, day_first=day_first))


def datetimes_from_text(values: pl.Series, *, day_first: bool = True) -> pl.Series:
    """Parse a text column like :func:`as_datetime`, trying first the shapes a sample uses.

    A file nearly always writes every date the same way: trying only the shapes found in a
    sample is several times faster, and rows those shapes miss are parsed with all of them,
    so the result is the same as :func:`as_datetime`.
    """
    frame = values.rename("t").to_frame()
    parsers = _datetime_parsers(pl.col("t"), day_first=day_first)
    sample = frame.drop_nulls().head(2000)
    hits = (
        sample.select(p.is_not_null().any().alias(str(i)) for i, p in enumerate(parsers)).row(0)
        if sample.height
        else (False,) * len(parsers)
    )
    chosen = [p for p, hit in zip(parsers, hits, strict=True) if hit]
    if not chosen:
        return frame.select(pl.coalesce(*parsers)).to_series()
    parsed = frame.select(pl.coalesce(*chosen)).to_series()
    missing = parsed.is_null() & values.is_not_null()
    if missing.any():
        rest = frame.filter(missing).select(pl.coalesce(*parsers)).to_series()
        parsed = parsed.scatter(missing.arg_true(), rest)
    return parsed


def has_time(expr: pl.Expr) -> pl.Expr:
    """Return whether a date-time text carries a time of day."""
    return expr.str.contains(r"\d{1,2}:\d{2}")


def time_of_day_from_hour(hour: pl.Expr) -> pl.Expr:
    """Bucket an hour (0-23) into ``day``, ``evening`` or ``night`` (settings give the edges)."""
    s = get_settings()
    return (
        pl.when(hour.is_null())
        .then(None)
        .when((hour >= s.day_starts) & (hour < s.evening_starts))
        .then(pl.lit("day"))
        .when((hour >= s.evening_starts) & (hour < s.night_starts))
        .then(pl.lit("evening"))
        .otherwise(pl.lit("night"))
    )


def map_distinct(values: pl.Series, function: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """Apply a vectorised ``function`` to each distinct value once and map the result back.

    Dates, times and codes repeat across a file: parsing 365 distinct dates instead of a
    million rows is the difference between milliseconds and seconds.
    """
    distinct = values.unique()
    table = pl.DataFrame({"k": distinct, "v": function(distinct)})
    return (
        values.rename("k")
        .to_frame()
        .join(table, on="k", how="left", maintain_order="left", nulls_equal=True)["v"]
    )


def _distinct(frame: pl.DataFrame, column: str) -> list[str]:
    return [v for v in frame[column].unique().to_list() if v is not None]


def check_text(
    frame: pl.DataFrame,
    problems: Problems,
    column: str,
    field_name: str,
    *,
    redact: bool = False,
    hidden: pl.Series | None = None,
) -> None:
    """Reject over-long text, control characters and invisible characters in a code field.

    Checks each distinct value once: codes repeat (peer educators, returning contacts). With
    ``redact`` the report never shows the value; values in ``hidden`` (a name or phone number
    found by :func:`check_code`) are never shown either.
    """
    limit = get_settings().max_text_length
    values = frame.select(pl.col(column).unique()).to_series()
    too_long = values.filter(values.str.len_chars() > limit)
    control = values.filter(values.str.contains(_CONTROL))
    invisible = values.filter(values.str.contains(INVISIBLE_PATTERN))

    def shown(expr: pl.Expr) -> pl.Expr:
        if redact:
            return pl.lit(REDACTED)
        if hidden is None or hidden.len() == 0:
            return expr
        return (
            pl.when(pl.col(column).is_in(hidden.implode())).then(pl.lit(REDACTED)).otherwise(expr)
        )

    if too_long.len():
        problems.add(
            frame,
            pl.col(column).is_in(too_long.implode()),
            field_name=field_name,
            value=shown(pl.col(column).str.slice(0, 80)),
            problem=f"is longer than {limit} characters",
            fix=f"use a short code (at most {limit} characters); free text is not stored",
        )
    if control.len():
        problems.add(
            frame,
            pl.col(column).is_in(control.implode()),
            field_name=field_name,
            value=shown(pl.col(column).str.replace_all(_CONTROL, "?")),
            problem="contains control characters (line breaks, tabs or invisible characters)",
            fix="remove the line breaks and invisible characters from the code",
        )
    if invisible.len():
        which = {value: first_invisible(value) for value in invisible.to_list()}
        problems.add(
            frame,
            pl.col(column).is_in(invisible.implode()),
            field_name=field_name,
            value=shown(pl.col(column).str.replace_all(INVISIBLE_PATTERN, "?")),
            problem=pl.lit("contains an invisible character (")
            + pl.col(column).replace_strict(which, default="", return_dtype=pl.String)
            + pl.lit(")"),
            fix="delete the code and type it again by hand: copying it from a chat or a "
            "document adds characters that cannot be seen (zero-width spaces, joiners)",
        )


def check_code(
    frame: pl.DataFrame,
    problems: Problems,
    column: str,
    field_name: str,
    *,
    redact: bool = False,
    names: bool = False,
    phones_among_letters: bool = False,
) -> None:
    """Check a code field: text checks, e-mail addresses, phone numbers and, with ``names``, names.

    Runs :func:`check_text`, then refuses values that hold an e-mail address
    (:func:`mapping.privacy.looks_like_email`), that look like a phone number (seven or more
    digits, no letter; with ``phones_among_letters``, for peer educator and team codes, also
    seven digits in one run beside letters: :func:`mapping.privacy.looks_like_phone`) and,
    with ``names``, like a person's name (:func:`mapping.privacy.looks_like_name`). Each value
    gets the first of these problems only. An e-mail address, name or phone number is never
    repeated in the report: its value shows as ``(redacted)`` whatever the problem. Each
    distinct value is checked once.
    """
    values = frame.select(pl.col(column).unique()).to_series().drop_nulls()
    checked = values.to_frame("v").with_columns(
        looks_like_email(pl.col("v")).alias("email"),
        looks_like_phone(pl.col("v"), among_letters=phones_among_letters).alias("phone"),
        (names_among(values) if names else pl.lit(False)).alias("name"),
    )
    emails = checked.filter("email")["v"]
    phones = checked.filter(pl.col("phone") & ~pl.col("email"))["v"]
    people = checked.filter(pl.col("name") & ~pl.col("phone") & ~pl.col("email"))["v"]
    check_text(
        frame,
        problems,
        column,
        field_name,
        redact=redact,
        hidden=pl.concat([emails, phones, people]),
    )
    contact = column == "contact_code"
    what = "the programme's unique identifier code" if contact else "a code (e.g. PE-07, EQUIPO 3)"
    username = (
        ""
        if contact
        else " — a form's username (SurveyCTO's) is one: give the code its own form "
        "field and map that column to this one in a mapping file"
    )
    for found, problem, fix in (
        (emails, "looks like an e-mail address", f"use {what}, never an e-mail address{username}"),
        (phones, "looks like a phone number", f"use {what}, never a phone number"),
        (
            people,
            "looks like a person's name",
            f"use {what}, never a name (nor a name with a code or a note beside it); "
            "names are not stored",
        ),
    ):
        if found.len():
            problems.add(
                frame,
                pl.col(column).is_in(found.implode()),
                field_name=field_name,
                value=REDACTED,
                problem=problem,
                fix=fix,
            )


def check_category(
    frame: pl.DataFrame,
    problems: Problems,
    column: str,
    field_name: str,
    vocabulary: tuple[str, ...],
    mapping: ColumnMapping,
    *,
    redact: bool = False,
) -> pl.Expr:
    """Reject unknown categories and return the expression of canonical values.

    Each distinct spelling is normalised once, in Python, and the rows are mapped with one
    vectorised look-up: a million rows hold a handful of spellings. With ``redact``, the report
    shows ``(redacted)`` instead of the value (an HIV test column may hold a test result).
    """
    table = category_table(vocabulary, field_name, mapping)
    spellings = {raw: table.get(normalise(raw)) for raw in _distinct(frame, column)}
    unknown = [raw for raw, value in spellings.items() if value is None]
    known = {raw: value for raw, value in spellings.items() if value is not None}
    if unknown:
        problems.add(
            frame,
            pl.col(column).is_in(unknown),
            field_name=field_name,
            value=pl.lit(REDACTED) if redact else pl.col(column).str.slice(0, 80),
            problem="is not a known value",
            code="unknown_value",
            values={"options": ", ".join(vocabulary)},
            fix="use one of: "
            + ", ".join(vocabulary)
            + " (or add the spelling to the mapping file)",
        )
    return pl.col(column).replace_strict(known, default=None, return_dtype=pl.String)


def bools_of(frame: pl.DataFrame, column: str) -> pl.Expr:
    """Return the column as booleans (yes/no, sí/no, 1/0, x...), mapping each spelling once."""
    truth = {raw: _bool_word(raw) for raw in _distinct(frame, column)}
    return pl.col(column).replace_strict(
        {k: v for k, v in truth.items() if v is not None}, default=None, return_dtype=pl.Boolean
    )


def _bool_word(raw: str) -> bool | None:
    word = normalise(raw)
    return True if word in _TRUE else False if word in _FALSE else None


def fingerprints(columns: Iterable[np.ndarray]) -> np.ndarray:
    """Return a stable 64-bit fingerprint per row of unsigned 64-bit columns (vectorised).

    The mixing is written here (splitmix64 finaliser, boost-style combine), not taken from a
    library whose hash may change between versions: a fingerprint stored today must match the
    same row imported after an upgrade.
    """
    with np.errstate(over="ignore"):
        state: np.ndarray | None = None
        for column in columns:
            value = _splitmix(np.asarray(column, dtype=np.uint64))
            if state is None:
                state = value
            else:
                state = _splitmix(
                    state
                    ^ (
                        value
                        + np.uint64(0x9E3779B97F4A7C15)
                        + (state << np.uint64(6))
                        + (state >> np.uint64(2))
                    )
                )
        assert state is not None, "fingerprints needs at least one column"
        return state.view(np.int64)


def _splitmix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.asarray(z ^ (z >> np.uint64(31)), dtype=np.uint64)


def text_fingerprints(values: pl.Series) -> np.ndarray:
    """Return a stable 64-bit hash (BLAKE2b) of each text value; null hashes to 0."""
    unique = values.drop_nulls().unique()
    digests = [
        int.from_bytes(hashlib.blake2b(v.encode(), digest_size=8).digest(), "little")
        for v in unique.to_list()
    ]
    table = pl.DataFrame({"v": unique, "h": pl.Series(digests, dtype=pl.UInt64)})
    joined = pl.DataFrame({"v": values}).join(table, on="v", how="left", maintain_order="left")
    return joined["h"].fill_null(0).to_numpy()


#: Columns of a registry record that its fingerprint leaves out: the district is where the
#: record's point lies, decided on the way in, not a value of the record, so a file imported
#: again with its district now exact (no longer estimated) is the same record.
UNFINGERPRINTED = frozenset({"fingerprint", "district_id", "district_estimated"})


def record_fingerprint(record: dict[str, object]) -> int:
    """Return the stable fingerprint of a registry record (its values, without id or import).

    An import that brings the same values again counts the row as a duplicate; the app's
    service editor stores the same fingerprint, so a file matching an edit changes nothing.
    The district is not part of it (:data:`UNFINGERPRINTED`).
    """
    text = pl.Series([repr(sorted((k, v) for k, v in record.items() if k not in UNFINGERPRINTED))])
    return int(fingerprints([text_fingerprints(text)])[0])
