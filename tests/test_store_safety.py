"""Reading coverage data while the app holds other connections to the store must not hurt it.

ConnectorX has its own copy of SQLite; when it closed the store, the operating system dropped
the locks this process's other connections held, and the next connection failed with "disk
I/O error" (POSIX locks belong to the process). The app therefore reads through the driver's
cursor, and only a single-threaded command turns the fast path on.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from mapping.analysis import coverage_data
from mapping.analysis.coverage_data import load_coverage_data
from mapping.periods import parse_period
from mapping.storage.audit import Actor, record
from mapping.storage.workspace import Workspace


def test_the_app_path_reads_visits_while_other_connections_stay_usable(
    demo_workspace: Path, tmp_path: Path
) -> None:
    from helpers import copy_workspace

    workspace: Workspace = copy_workspace(demo_workspace, tmp_path / "copy")
    assert coverage_data._ARROW_READS is False  # the default, which the app keeps
    views = "SELECT count(*) FROM audit_log WHERE action = 'view'"
    with workspace.connect() as connection:
        before = connection.execute(sa.text(views)).scalar()
    with workspace.connect() as held:  # a session check or the audit log, in another thread
        held.execute(sa.text("SELECT count(*) FROM visits")).scalar()
        for _ in range(3):
            data = load_coverage_data(workspace, parse_period("last-90-days"))
            with workspace.begin() as connection:
                record(connection, Actor("ana", "coordinator"), "view", "page coverage")
    assert data.visits.height > 0
    # a new connection of Python's SQLite, as the next request would open: no disk I/O error
    copy = sqlite3.connect(tmp_path / "backup.db")
    source = sqlite3.connect(workspace.path / "outreach.db")
    source.backup(copy)
    assert copy.execute(views).fetchone() == (before + 3,)


def test_the_command_line_fast_path_reads_the_same_visits(
    demo_workspace: Path, tmp_path: Path
) -> None:
    from helpers import copy_workspace

    # a private copy: no connection of this process (cached by other tests' apps) is open on it
    workspace = copy_workspace(demo_workspace, tmp_path / "copy")
    period = parse_period("2026-Q3")
    slow = load_coverage_data(workspace, period).visits
    coverage_data.allow_arrow_reads()
    try:
        fast = load_coverage_data(workspace, period).visits
    finally:
        coverage_data.allow_arrow_reads(False)
    assert fast.height == slow.height > 0
    assert fast.sort(fast.columns).equals(slow.sort(slow.columns))
