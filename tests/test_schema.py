"""The schema the migrations build is the one ``store.metadata`` declares, on both engines.

The store has two definitions of its schema: the Alembic migrations, which build and upgrade
every real store, and the SQLAlchemy tables of :mod:`mapping.storage.store`, which the code
queries and writes through. Alembic's autogenerate comparison (the one that writes a new
migration) finds every table, column, type, nullable, server default, index, unique
constraint and foreign key where the two differ; only the differences listed here, each with
its reason, are allowed.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from mapping.storage import store
from mapping.storage.workspace import Workspace

#: Every test here runs on SQLite and on a real PostgreSQL server.
pytestmark = pytest.mark.engines

#: Differences on purpose, per engine, as :func:`_described` words them.
INTENDED = {
    # Migration 0004 drops the visits table's foreign keys on PostgreSQL, where checking them
    # made a million-visit import 13 times slower; store.metadata keeps them declared, as
    # SQLite has them (unenforced). The view visit_details is built by the migrations and is
    # not in store.metadata (it is in store.views): Alembic compares tables only, so its
    # columns are compared on their own below.
    "postgresql": {
        "add_fk visits (import_id)",
        "add_fk visits (peer_educator_id)",
        "add_fk visits (contact_id)",
        "add_fk visits (profile_id)",
    },
    "sqlite": set(),
}


def _same_empty_text(
    context: MigrationContext,
    inspected_column: sa.Column[Any],
    metadata_column: sa.Column[Any],
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Say that SQLite's ``DEFAULT ''`` is the metadata's ``server_default=""``.

    Alembic takes a reflected SQLite default for an SQL expression unless it is a non-empty
    quoted text, so ``''`` comes back as ``('')``, while the metadata's empty text is rendered
    as nothing: its own comparison would report a change where there is none. Anything else
    (None) is left to Alembic's comparison.
    """
    if inspected_default in ("''", "('')") and rendered_metadata_default == "":
        return False
    return None


def _differences(connection: Connection, metadata: sa.MetaData) -> list[Any]:
    """Return what autogenerate would write to bring the store to ``metadata``."""
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": _same_empty_text,
        },
    )
    return list(compare_metadata(context, metadata))


def _described(difference: Any) -> str:
    """Return one difference Alembic found in words: what it would do, to which table."""
    if isinstance(difference, list):  # the changes of one column
        return "; ".join(
            f"{operation} {table}.{column}: {before!r} → {after!r}"
            for operation, _, table, column, _, before, after in difference
        )
    operation, *_, item = difference
    if isinstance(item, sa.Table):
        return f"{operation} {item.name}"
    if isinstance(item, sa.Column):
        return f"{operation} {item.table.name}.{item.name}"
    columns = ", ".join(column.name for column in item.columns)
    return " ".join(
        part for part in (operation, item.table.name, item.name, f"({columns})") if part
    )


def test_the_migrations_build_the_schema_store_metadata_declares(workspace: Workspace) -> None:
    engine = store.create_store_engine(workspace.db_url)
    try:
        with engine.connect() as connection:
            differences = _differences(connection, store.metadata)
            dialect = connection.dialect.name
    finally:
        engine.dispose()
    found = {_described(difference) for difference in differences}
    assert found <= INTENDED[dialect], (
        f"the migrations and store.metadata differ on {dialect}: write a migration (for both "
        f"engines) or correct store.metadata — {sorted(found - INTENDED[dialect])}"
    )
    # an intended difference no longer found means the list above is out of date
    assert found == INTENDED[dialect]


def test_the_comparison_finds_a_drift(workspace: Workspace) -> None:
    """A changed type, nullable and constraint name, and a missing index, are each reported."""
    drifted = sa.MetaData()
    for table in store.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["hotspots"].c["days"].type = sa.String(65)
    drifted.tables["plans"].c["back_at"].nullable = False
    sa.Index("ix_visits_cell", drifted.tables["visits"].c["cell"])
    # the name migration 0006 gave the peer educators' unique constraint, as 0001 had it
    next(
        c
        for c in drifted.tables["peer_educators"].constraints
        if isinstance(c, sa.UniqueConstraint)
    ).name = "uq_workers_code"
    engine = store.create_store_engine(workspace.db_url)
    try:
        with engine.connect() as connection:
            differences = _differences(connection, drifted)
    finally:
        engine.dispose()
    assert sorted(_described(difference) for difference in differences) == sorted(
        [
            "modify_type hotspots.days: VARCHAR(length=64) → String(length=65)",
            "modify_nullable plans.back_at: True → False",
            "add_index visits ix_visits_cell (cell)",
            "remove_constraint peer_educators uq_peer_educators_code (peer_educator, team)",
            "add_constraint peer_educators uq_workers_code (peer_educator, team)",
            *INTENDED[engine.dialect.name],
        ]
    )


def test_the_view_has_the_columns_store_views_declares(workspace: Workspace) -> None:
    engine = store.create_store_engine(workspace.db_url)
    try:
        with engine.connect() as connection:
            columns = sa.inspect(connection).get_columns("visit_details")
    finally:
        engine.dispose()
    assert [column["name"] for column in columns] == list(store.visit_details.columns.keys())
