"""Shared import machinery: text cleaning, parsing, problem collection, reports, import records.

Every input row ends as accepted, duplicate or rejected, and the summary always adds up. A
rejection names the row, the field, the value (coordinates and contact codes redacted) and the
fix; the report never holds a coordinate or a contact code.

An import runs in two steps: *prepare* (read, validate, turn locations into cells and contact
codes into keyed hashes, giving a :class:`PreparedImport`), then :func:`commit_prepared`.
:func:`preview_prepared` runs the very same write and rolls it back, to say what a commit would
do before anything is stored.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mapping import clock
from mapping.cells import cell_to_str
from mapping.errors import WorkspaceError
from mapping.ingest.readers import ROW, ColumnMapping, RawTable, table_from_file
from mapping.privacy import INVISIBLE_PATTERN, first_invisible, looks_like_phone, names_among
from mapping.settings import get_settings
from mapping.storage import store
from mapping.storage.audit import acting, record, redact
from mapping.storage.workspace import PRIVATE_FILE, Workspace, make_private_dir
from mapping.vocab import lookup, normalise

REDACTED = "(redacted)"
#: Values that mean "no answer": ODK/SurveyCTO write n/a for skipped questions.
EMPTY_VALUES = ("", "n/a", "na", "null", "nan", "-", "#n/a")
_TRUE = ("yes", "y", "si", "s", "true", "t", "1", "x", "verdadero")
_FALSE = ("no", "n", "false", "f", "0", "falso")
REPORT_COLUMNS = ("row", "field", "value", "problem", "fix", "cell")
#: Control characters: C0 (line breaks, tabs...), DEL and C1.
_CONTROL = r"[\x00-\x1f\x7f-\x9f]"


@dataclass
class ImportResult:
    """What an import did: counts that always add up, the report path, and warnings."""

    kind: str
    rows_read: int
    accepted: int
    duplicates: int
    rejected: int
    updated: int = 0
    report: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Return the one-line summary ``read N rows: A accepted, D duplicates, R rejected ...``.

        Examples
        --------
        >>> ImportResult("visits", 2, 1, 1, 0).summary()
        'read 2 rows: 1 accepted, 1 duplicate, 0 rejected (report: None)'
        """
        updated = f" ({self.updated} updated)" if self.updated else ""
        duplicates = "duplicate" if self.duplicates == 1 else "duplicates"
        return (
            f"read {self.rows_read} rows: {self.accepted} accepted{updated}, "
            f"{self.duplicates} {duplicates}, {self.rejected} rejected (report: {self.report})"
        )


class Problems:
    """Collects every problem found in a file, several per row if need be."""

    def __init__(self) -> None:
        self._parts: list[pl.DataFrame] = []

    def add(
        self,
        frame: pl.DataFrame,
        mask: pl.Expr | pl.Series,
        *,
        field_name: str,
        value: pl.Expr | str | None,
        problem: str | pl.Expr,
        fix: str,
        cell: pl.Expr | None = None,
    ) -> None:
        """Record a problem for every row of ``frame`` where ``mask`` holds."""
        hits = frame.filter(mask)
        if hits.height == 0:
            return
        value_expr = pl.lit(value) if value is None or isinstance(value, str) else value
        problem_expr = pl.lit(problem) if isinstance(problem, str) else problem
        cell_expr = pl.lit(None, dtype=pl.UInt64) if cell is None else cell.cast(pl.UInt64)
        self._parts.append(
            hits.select(
                pl.col(ROW).cast(pl.Int64).alias("row"),
                pl.lit(field_name).alias("field"),
                value_expr.cast(pl.String).alias("value"),
                problem_expr.cast(pl.String).alias("problem"),
                pl.lit(fix).alias("fix"),
                cell_expr.alias("cell"),
            )
        )

    def rows(self) -> pl.Series:
        """Return the distinct row numbers that have at least one problem."""
        if not self._parts:
            return pl.Series("row", [], dtype=pl.Int64)
        return pl.concat([p.select("row") for p in self._parts])["row"].unique()

    def frame(self) -> pl.DataFrame:
        """Return every problem, sorted by row, with cells as hex ids."""
        if not self._parts:
            return pl.DataFrame(schema={c: pl.String for c in REPORT_COLUMNS}).with_columns(
                pl.col("row").cast(pl.Int64)
            )
        frame = pl.concat(self._parts).sort("row", maintain_order=True)
        hexes = frame["cell"].map_elements(cell_to_str, return_dtype=pl.String, skip_nulls=True)
        return frame.with_columns(hexes.alias("cell"))


class Writer(Protocol):
    """Writes a prepared import's rows in the caller's transaction: (new, updated, duplicates)."""

    def __call__(
        self, connection: Connection, prepared: PreparedImport, import_id: int, *, progress: bool
    ) -> tuple[int, int, int]:
        """Store the rows under ``import_id``; return how many were new, updated, duplicates."""


@dataclass(frozen=True)
class PreparedImport:
    """A file read, checked and made safe to keep, but not stored yet.

    It holds no coordinate and no raw contact code: locations are cells already, contact codes
    keyed hashes (``contacts``: ``id``, ``code_hash``; ``rows`` refer to the ``id``), and only a
    public, non-sensitive service keeps its point (as the store does). Commit it with
    :func:`commit_prepared`, or see what a commit would do with :func:`preview_prepared`.
    """

    kind: str
    source_name: str
    source_sha256: str
    rows_read: int
    #: The accepted rows, ready to store.
    rows: pl.DataFrame
    #: Every problem of the rejected rows (values already redacted where they must be).
    problems: Problems
    warnings: tuple[str, ...]
    #: The workspace it was prepared for: cells and hashes are only valid there.
    workspace_path: Path
    resolution: int
    write: Writer = field(repr=False)
    #: Visits only: each contact's id and keyed hash.
    contacts: pl.DataFrame | None = None
    #: Visits only: the id column is a form submission id (a re-import updates the visit).
    by_submission: bool = False

    @property
    def rejected(self) -> int:
        """Return how many rows have at least one problem."""
        return self.problems.rows().len()


class Preparer(Protocol):
    """Reads, checks and prepares one kind of file read as text columns (``prepare_visits``...)."""

    def __call__(
        self,
        workspace: Workspace,
        table: RawTable,
        *,
        mapping: ColumnMapping | None = None,
        allow_outside: bool = False,
        source_sha256: str = "",
    ) -> PreparedImport:
        """Return the table prepared for ``workspace``, storing nothing."""


def import_file(
    workspace: Workspace,
    path: Path,
    prepare: Preparer,
    *,
    mapping: ColumnMapping | None = None,
    allow_outside: bool = False,
    progress: bool = False,
) -> ImportResult:
    """Read a file, prepare it with ``prepare`` and commit it: what each ``*_from_file`` does."""
    data = path.read_bytes() if path.is_file() else b""
    prepared = prepare(
        workspace,
        table_from_file(path, data=data),
        mapping=mapping,
        allow_outside=allow_outside,
        source_sha256=file_digest(data),
    )
    return commit_prepared(workspace, prepared, progress=progress)


def commit_prepared(
    workspace: Workspace, prepared: PreparedImport, *, progress: bool = False
) -> ImportResult:
    """Store a prepared import in one transaction and write its rejection report.

    Returns the counts and where the report is. Raises
    :class:`~mapping.errors.WorkspaceError` if it was prepared for another workspace.
    """
    result = _write(workspace, prepared, keep=True, progress=progress)
    assert result.report is not None, "a committed import has a report"
    write_report(prepared.problems, result.report)
    return result


def preview_prepared(workspace: Workspace, prepared: PreparedImport) -> ImportResult:
    """Return what :func:`commit_prepared` would do now, storing nothing.

    Runs the same write in a transaction that is rolled back, so the counts (accepted,
    updated, duplicates, rejected) are exactly those of a commit made now; no import is
    recorded and no report is written (``report`` is ``None``).
    """
    return _write(workspace, prepared, keep=False, progress=False)


def _write(
    workspace: Workspace, prepared: PreparedImport, *, keep: bool, progress: bool
) -> ImportResult:
    """Record the import and write its rows; commit with ``keep``, else roll everything back."""
    if (
        workspace.path.resolve() != prepared.workspace_path
        or workspace.resolution != prepared.resolution
    ):
        raise WorkspaceError(
            f"{prepared.source_name} was prepared for the workspace {prepared.workspace_path}, "
            f"not {workspace.path} — its cells and contact hashes belong to that one; prepare "
            "the file again for this workspace"
        )
    with workspace.connect() as connection, connection.begin() as transaction:
        store.write_lock(connection)
        import_id = record_import(
            connection,
            kind=prepared.kind,
            source_name=prepared.source_name,
            source_sha256=prepared.source_sha256,
        )
        new, updated, duplicates = prepared.write(
            connection, prepared, import_id, progress=progress
        )
        result = ImportResult(
            kind=prepared.kind,
            rows_read=prepared.rows_read,
            accepted=new + updated,
            updated=updated,
            duplicates=duplicates,
            rejected=prepared.rejected,
            warnings=list(prepared.warnings),
        )
        if keep:
            result.report = report_path(workspace.reports_dir, prepared.kind, import_id)
            finish_import(connection, import_id, result)
        else:
            transaction.rollback()
    return result


def column_warnings(dropped: dict[str, str], ignored: Iterable[str]) -> tuple[str, ...]:
    """Return the warnings about columns dropped (never stored) and ignored (not recognised)."""
    warnings = []
    if dropped:
        warnings.append(
            "dropped columns that must never be stored: "
            + ", ".join(f"{c!r} ({why})" for c, why in dropped.items())
        )
    ignored = list(ignored)
    if ignored:
        warnings.append("ignored unrecognised columns: " + ", ".join(repr(c) for c in ignored))
    return tuple(warnings)


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
) -> None:
    """Check a code field: text checks, phone numbers and, with ``names``, person names.

    Runs :func:`check_text`, then refuses values that look like a phone number (seven or more
    digits, no letter) and, with ``names``, like a person's name
    (:func:`mapping.privacy.looks_like_name`). A name or phone number is never repeated in
    the report: its value shows as ``(redacted)`` whatever the problem. Each distinct value is
    checked once.
    """
    values = frame.select(pl.col(column).unique()).to_series().drop_nulls()
    checked = values.to_frame("v").with_columns(
        looks_like_phone(pl.col("v")).alias("phone"),
        (names_among(values) if names else pl.lit(False)).alias("name"),
    )
    phones = checked.filter("phone")["v"]
    people = checked.filter(pl.col("name") & ~pl.col("phone"))["v"]
    check_text(
        frame, problems, column, field_name, redact=redact, hidden=pl.concat([phones, people])
    )
    what = "the programme's unique identifier code" if column == "contact_code" else "a code"
    if phones.len():
        problems.add(
            frame,
            pl.col(column).is_in(phones.implode()),
            field_name=field_name,
            value=REDACTED,
            problem="looks like a phone number",
            fix=f"use {what}, never a phone number",
        )
    if people.len():
        problems.add(
            frame,
            pl.col(column).is_in(people.implode()),
            field_name=field_name,
            value=REDACTED,
            problem="looks like a person's name",
            fix=f"use {what} (e.g. PE-07, EQUIPO 3), never a name; names are not stored",
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


def record_import(
    connection: Connection, *, kind: str, source_name: str, source_sha256: str
) -> int:
    """Insert the import's record (counts filled in at the end) and return its id."""
    result = connection.execute(
        store.imports.insert().values(
            kind=kind,
            source_name=source_name[:255],
            source_sha256=source_sha256,
            imported_at=clock.utc_now().replace(tzinfo=None),
            rows_read=0,
            accepted=0,
            duplicates=0,
            rejected=0,
        )
    )
    key = result.inserted_primary_key
    assert key is not None, "the imports table has an integer primary key"
    return int(key[0])


def finish_import(connection: Connection, import_id: int, result: ImportResult) -> None:
    """Store the final counts of an import."""
    connection.execute(
        store.imports.update()
        .where(store.imports.c.id == import_id)
        .values(
            rows_read=result.rows_read,
            accepted=result.accepted,
            duplicates=result.duplicates,
            rejected=result.rejected,
            updated=result.updated,
            report=str(result.report.name) if result.report else None,
        )
    )
    kind, source = connection.execute(
        sa.select(store.imports.c.kind, store.imports.c.source_name).where(
            store.imports.c.id == import_id
        )
    ).one()
    action = "edit" if str(source).startswith("app:") else "import"
    record(
        connection,
        acting(),
        action,
        redact(
            f"{kind} #{import_id} from {source}: {result.rows_read} read, {result.accepted} "
            f"accepted, {result.updated} updated, {result.duplicates} duplicates, "
            f"{result.rejected} rejected"
        ),
    )


def report_path(reports_dir: Path, kind: str, import_id: int) -> Path:
    """Return where the rejection report of an import goes."""
    return reports_dir / f"{kind}-{import_id:05d}-rejected.csv"


def write_report(problems: Problems, path: Path) -> None:
    """Write the rejection report (CSV, no coordinates, no contact codes) to ``path``.

    The report is private to its owner (0600), in a folder private to its owner (0700).
    """
    make_private_dir(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(descriptor, PRIVATE_FILE)
    with os.fdopen(descriptor, "wb") as handle:
        problems.frame().write_csv(handle)


def file_digest(data: bytes) -> str:
    """Return the SHA-256 of the source file (kept to recognise a file imported before)."""
    return hashlib.sha256(data).hexdigest()


def existing_keys(
    connection: Connection, column: sa.Column[int], keys: np.ndarray, *, batch: int = 20_000
) -> np.ndarray:
    """Return which of ``keys`` are already stored in ``column`` (batched ``IN`` look-ups)."""
    table = column.table
    if connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is None:
        return np.zeros(len(keys), dtype=bool)
    found: list[int] = []
    unique = np.unique(keys)
    for start in range(0, len(unique), batch):
        chunk = [int(k) for k in unique[start : start + batch]]
        found.extend(connection.execute(sa.select(column).where(column.in_(chunk))).scalars())
    return np.isin(keys, np.asarray(found, dtype=keys.dtype))
