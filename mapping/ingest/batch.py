"""Shared import machinery: problem collection, prepare then commit, reports, import records.

Every input record ends as accepted, duplicate, skipped or rejected, and the summary always adds
up. A record is a row, but for a facility registry whose mapping makes one service per type a
facility offers: there a row is one record per service (docs/import-files.md). A
rejection names the row, the field, the value (coordinates and contact codes redacted) and the
fix; the report never holds a coordinate or a contact code.

An import runs in two steps: *prepare* (read, validate, turn locations into cells and contact
codes into keyed hashes, giving a :class:`PreparedImport`), then :func:`commit_prepared`.
:func:`preview_prepared` runs the very same write and rolls it back, to say what a commit would
do before anything is stored. Reading and checking the values is :mod:`mapping.ingest.values`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
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
from mapping.storage import store
from mapping.storage.audit import acting, record, redact
from mapping.storage.workspace import PRIVATE_FILE, Workspace, make_private_dir

REPORT_COLUMNS = ("row", "field", "value", "problem", "fix", "cell")
#: What :meth:`Problems.frame` adds with ``coded``: each problem's code and its values (JSON).
CODE_COLUMNS = ("code", "values")


class Notice(str):
    """A message in English (the string itself) that also carries a code and its values.

    The command line prints the text; the app says it in the reader's language from
    ``code`` (the locale keys ``warnings.<code>``) and ``values``.

    Examples
    --------
    >>> notice = Notice("ignored unrecognised columns: 'x'", "ignored_columns", columns=["x"])
    >>> notice, notice.code, notice.values
    ("ignored unrecognised columns: 'x'", 'ignored_columns', {'columns': ['x']})
    """

    code: str
    values: dict[str, object]

    def __new__(cls, text: str, code: str, **values: object) -> Notice:
        """Return ``text`` marked with ``code`` and ``values``."""
        notice = super().__new__(cls, text)
        notice.code = code
        notice.values = values
        return notice


@dataclass
class ImportResult:
    """What an import did: counts that always add up, the report path, and warnings.

    ``records`` = ``accepted + duplicates + skipped + rejected``: the rows read, but for a
    facility registry whose rows give one service per type (then more than the rows).
    """

    kind: str
    rows_read: int
    accepted: int
    duplicates: int
    rejected: int
    updated: int = 0
    report: Path | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0

    @property
    def records(self) -> int:
        """Return how many records the counts are of (every one is counted exactly once)."""
        return self.accepted + self.duplicates + self.skipped + self.rejected

    def summary(self) -> str:
        """Return the one-line summary ``read N rows: A accepted, D duplicates, R rejected ...``.

        Skipped rows (no service of interest) are named when there are some, and the number
        of records when a row gave several services.

        Examples
        --------
        >>> ImportResult("visits", 2, 1, 1, 0).summary()
        'read 2 rows: 1 accepted, 1 duplicate, 0 rejected (report: None)'
        >>> ImportResult("services", 3, 2, 0, 0, skipped=1).summary()
        'read 3 rows: 2 accepted, 0 duplicates, 1 skipped, 0 rejected (report: None)'
        """
        updated = f" ({self.updated} updated)" if self.updated else ""
        duplicates = "duplicate" if self.duplicates == 1 else "duplicates"
        records = (
            f" as {self.records} records (one per facility and service type)"
            if self.records != self.rows_read
            else ""
        )
        skipped = f"{self.skipped} skipped, " if self.skipped else ""
        return (
            f"read {self.rows_read} rows{records}: {self.accepted} accepted{updated}, "
            f"{self.duplicates} {duplicates}, {skipped}{self.rejected} rejected "
            f"(report: {self.report})"
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
        code: str = "",
        values: Mapping[str, object] | None = None,
    ) -> None:
        """Record a problem for every row of ``frame`` where ``mask`` holds.

        ``problem`` and ``fix`` are the English text of the report. ``code`` names the
        problem for the app, which says it in the reader's language (the locale keys
        ``problems.<code>`` and ``fixes.<code>``, filled in with ``values``); a problem
        without a code is shown in English.
        """
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
                pl.lit(code).alias("code"),
                pl.lit(json.dumps(dict(values or {}))).alias("values"),
            )
        )

    def rows(self) -> pl.Series:
        """Return the distinct row numbers that have at least one problem."""
        if not self._parts:
            return pl.Series("row", [], dtype=pl.Int64)
        return pl.concat([p.select("row") for p in self._parts])["row"].unique()

    def frame(self, *, coded: bool = False) -> pl.DataFrame:
        """Return every problem, sorted by row, with cells as hex ids: the report's columns.

        With ``coded``, also each problem's ``code`` ("" for one without) and ``values`` (a
        JSON object), to say it in another language.
        """
        columns = (*REPORT_COLUMNS, *CODE_COLUMNS) if coded else REPORT_COLUMNS
        if not self._parts:
            return pl.DataFrame(schema={c: pl.String for c in columns}).with_columns(
                pl.col("row").cast(pl.Int64)
            )
        frame = pl.concat(self._parts).sort("row", maintain_order=True)
        hexes = frame["cell"].map_elements(cell_to_str, return_dtype=pl.String, skip_nulls=True)
        return frame.with_columns(hexes.alias("cell")).select(columns)


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
    #: Rows set aside as no service of interest (a service registry's ``[skip]`` rules).
    skipped: int = 0
    #: Records of the rejected rows, when a row is several records (one per service type).
    rejected_records: int | None = None

    @property
    def rejected(self) -> int:
        """Return how many records were rejected: the rows with at least one problem."""
        if self.rejected_records is not None:
            return self.rejected_records
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
            skipped=prepared.skipped,
        )
        if keep:
            result.report = report_path(workspace.reports_dir, prepared.kind, import_id)
            finish_import(connection, import_id, result)
        else:
            transaction.rollback()
    return result


def column_warnings(dropped: dict[str, str], ignored: Iterable[str]) -> tuple[str, ...]:
    """Return the warnings about columns dropped (never stored) and ignored (not recognised).

    Each is a :class:`Notice`: ``dropped_columns`` with ``columns`` (column: why), and
    ``ignored_columns`` with ``columns`` (a list).
    """
    warnings: list[str] = []
    if dropped:
        warnings.append(
            Notice(
                "dropped columns that must never be stored: "
                + ", ".join(f"{c!r} ({why})" for c, why in dropped.items()),
                "dropped_columns",
                columns=dict(dropped),
            )
        )
    ignored = list(ignored)
    if ignored:
        warnings.append(
            Notice(
                "ignored unrecognised columns: " + ", ".join(repr(c) for c in ignored),
                "ignored_columns",
                columns=ignored,
            )
        )
    return tuple(warnings)


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
            skipped=0,
            records=0,
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
            skipped=result.skipped,
            records=result.records,
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
            f"{result.skipped} skipped, {result.rejected} rejected"
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
