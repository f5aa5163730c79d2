"""Move a store between engines (SQLite to PostgreSQL when a programme grows, and back).

:func:`copy_store` brings the target to the newest schema, copies every table in the order
its foreign keys need, sets PostgreSQL's id sequences past the copied ids, then proves the
copy: per table, the row count, the sum, least and greatest value of each number column and
date, and a digest of all rows (independent of row order, which differs between engines'
collations) must be the same on both sides. Nothing is written to the source.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mapping.errors import WorkspaceError
from mapping.storage import store
from mapping.storage.store import head_revision, schema_revision
from mapping.storage.workspace import sqlite_file

#: Rows read and written per batch: bounded memory on a store of millions of visits.
BATCH_ROWS = 20_000


@dataclass(frozen=True)
class TableCheck:
    """What was compared for one table after a copy."""

    table: str
    rows: int
    #: Aggregates compared, as "column:sum/min/max".
    aggregates: int
    digest: str
    same: bool


@dataclass(frozen=True)
class CopyResult:
    """The outcome of :func:`copy_store`: the target's revision and each table's check."""

    revision: str
    tables: tuple[TableCheck, ...]

    @property
    def same(self) -> bool:
        """Whether every table matched."""
        return all(check.same for check in self.tables)


def _polars_type(column: sa.Column[Any]) -> Any:
    """Return the polars type a column's values are held in while copied and compared."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return pl.Boolean
    if isinstance(kind, sa.Integer):
        return pl.Int64
    if isinstance(kind, sa.Float):
        return pl.Float64
    if isinstance(kind, sa.DateTime):
        return pl.Datetime("us")
    if isinstance(kind, sa.Date):
        return pl.Date
    if isinstance(kind, sa.LargeBinary):
        return pl.Binary
    return pl.String


def _frames(connection: Connection, table: sa.Table) -> Iterator[pl.DataFrame]:
    """Yield the table's rows in batches of :data:`BATCH_ROWS`, in primary-key order.

    Values come through SQLAlchemy's types (a date is a date on both engines) and are held
    in typed columns, so that writing and comparing them needs no Python object per value.
    """
    schema = {column.name: _polars_type(column) for column in table.columns}
    result = connection.execution_options(yield_per=BATCH_ROWS).execute(
        sa.select(table).order_by(*table.primary_key.columns)
    )
    for batch in result.partitions():
        yield pl.DataFrame(batch, schema=schema, orient="row")


def _write(connection: Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """Write a batch: ``COPY`` on PostgreSQL, SQLAlchemy's typed ``INSERT`` on SQLite.

    SQLite stores dates and times as text in SQLAlchemy's own format, which its insert writes.
    """
    if connection.dialect.name == "postgresql":
        store.insert_frame(connection, table, frame)
    else:
        connection.execute(table.insert(), frame.to_dicts())


def _hold_data(connection: Connection) -> list[str]:
    """Return the product's tables that exist in the store and hold at least one row."""
    present = set(sa.inspect(connection).get_table_names())
    return [
        table.name
        for table in store.metadata.sorted_tables
        if table.name in present
        and connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first()
    ]


def _check_reachable(side: str, url: str) -> None:
    """Connect once to a store of the copy, naming the side that fails; never create a file.

    A SQLite ``--from`` must exist (connecting would create an empty file); a ``--to`` file
    is created by the copy.
    """
    file = sqlite_file(url)
    if file is not None and side == "--from" and not file.exists():
        raise WorkspaceError(f"{side} {url}: there is no such file — check the path")
    try:
        with store.shared_engine(url).connect():
            pass
    except sa.exc.OperationalError as exc:
        raise WorkspaceError(
            f"{side} store {store.safe_url(url)} cannot be reached: {store.store_error(exc)} — "
            "check the server runs, the database exists (create an empty one for --to) and "
            "the user and password (PGPASSWORD or ~/.pgpass) are right"
        ) from exc


def copy_store(source_url: str, target_url: str) -> CopyResult:
    """Copy every table of the store at ``source_url`` into the empty store at ``target_url``.

    The source must be at the newest schema (``outreach-map migrate`` first); the target may
    be a new, empty database or one already migrated but holding no rows. Raises
    :class:`WorkspaceError` when either condition fails or the copy does not match.

    No connection to either store is left open afterwards: a PostgreSQL target may be used as
    the template of new databases at once, which needs it to have no other session.
    """
    if store.same_store(source_url, target_url):
        raise WorkspaceError("--from and --to name the same store — give two different stores")
    try:
        for side, url in (("--from", source_url), ("--to", target_url)):
            _check_reachable(side, url)
        source = store.shared_engine(source_url)
        target = store.shared_engine(target_url)
        with source.connect() as reading:
            revision = schema_revision(reading)
            head = head_revision()
            if revision is None:
                raise WorkspaceError(
                    f"{store.safe_url(source_url)} holds no outreach-map store — check --from"
                )
            if revision != head:
                raise WorkspaceError(
                    f"{store.safe_url(source_url)} is at schema {revision}, not {head} — run "
                    f"`outreach-map migrate --db {store.safe_url(source_url)}` first"
                )
        with target.connect() as checking:
            # before the target is migrated: a refused copy leaves it as it was
            filled = _hold_data(checking)
        if filled:
            raise WorkspaceError(
                f"{store.safe_url(target_url)} already holds data (tables "
                f"{', '.join(filled)}) — copy into a new, empty database"
            )
        store.migrate(target)
        target = store.shared_engine(target_url)  # migrate closed the one before
        with source.connect() as reading, target.begin() as writing:
            for table in store.metadata.sorted_tables:
                for frame in _frames(reading, table):
                    _write(writing, table, frame)
            if writing.dialect.name == "postgresql":
                _advance_sequences(writing)
        result = CopyResult(revision=head, tables=tuple(compare_stores(source, target)))
    finally:
        store.dispose_engines(source_url)
        store.dispose_engines(target_url)
    if not result.same:
        differ = ", ".join(check.table for check in result.tables if not check.same)
        raise WorkspaceError(f"the copy does not match its source in {differ} — do not use it")
    return result


def _advance_sequences(connection: Connection) -> None:
    """Set each PostgreSQL id sequence past the greatest copied id."""
    for table in store.metadata.sorted_tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True or (
                column.autoincrement == "auto"
                and isinstance(column.type, sa.Integer)
                and not isinstance(column.type, sa.BigInteger)
                and len(table.primary_key.columns) == 1
            ):
                connection.execute(
                    sa.text(
                        "SELECT setval(pg_get_serial_sequence(:table, :column), "
                        f"coalesce((SELECT max({column.name}) FROM {table.name}), 0) + 1, false)"
                    ),
                    {"table": table.name, "column": column.name},
                )


def _aggregates(table: sa.Table) -> list[sa.ColumnElement[Any]]:
    """Count; sum, min and max of each number column; min and max of each date and id."""
    columns: list[sa.ColumnElement[Any]] = [sa.func.count()]
    for column in table.columns:
        if isinstance(column.type, sa.BigInteger):
            # 64-bit cells and hashes: a sum would overflow SQLite's integers (the digest
            # covers every value)
            columns += [sa.func.min(column), sa.func.max(column)]
        elif isinstance(column.type, sa.Integer | sa.Float):
            columns += [sa.func.sum(column), sa.func.min(column), sa.func.max(column)]
        elif isinstance(column.type, sa.Date | sa.DateTime):
            columns += [sa.func.min(column), sa.func.max(column)]
    return columns


def _same(mine: Sequence[Any], theirs: Sequence[Any]) -> bool:
    """Whether two rows of aggregates agree; sums of floats to 12 significant digits.

    Engines add floats in different orders, so their last bits may differ; every stored value
    is still compared exactly by the digest.
    """
    return len(mine) == len(theirs) and all(
        math.isclose(a, b, rel_tol=1e-12)
        if isinstance(a, float | Decimal) and isinstance(b, float | Decimal | int)
        else a == b
        for a, b in zip(mine, theirs, strict=True)
    )


def _digest(connection: Connection, table: sa.Table) -> str:
    """Return a digest of every row of ``table``, independent of row order.

    Each row is hashed by polars (the same typed columns on both engines), the hashes sorted,
    and the sorted list hashed: a digest to compare two stores within one run.
    """
    parts = [frame.hash_rows().to_numpy() for frame in _frames(connection, table)]
    hashes = np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)
    return hashlib.blake2b(hashes.tobytes(), digest_size=16).hexdigest()


def compare_stores(source: Engine, target: Engine) -> Iterator[TableCheck]:
    """Compare every table of two stores: row counts, aggregates and a digest of all rows."""
    with source.connect() as left, target.connect() as right:
        for table in store.metadata.sorted_tables:
            query = sa.select(*_aggregates(table)).select_from(table)
            mine = tuple(left.execute(query).one())
            theirs = tuple(right.execute(query).one())
            digest = _digest(left, table)
            yield TableCheck(
                table=table.name,
                rows=int(mine[0]),
                aggregates=len(mine) - 1,
                digest=digest,
                same=_same(mine, theirs) and digest == _digest(right, table),
            )
