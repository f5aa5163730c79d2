"""Schema migrations: a workspace made by the previous release opens after ``outreach-map migrate``.

The previous schema (0005) called peer educators ``workers``; 0006 renamed the table and the
columns pointing to it. A store is filled at the newest schema, taken back to 0005 with the
migrations' own downgrade, checked to hold the old names, and upgraded by the command a
deployment runs: every row must come back, and the figures computed from the store must be the
ones computed before, on both engines.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import h3
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from helpers import counts, write_csv
from streamlit.testing.v1 import AppTest

from mapping.analysis.coverage import coverage
from mapping.cli.main import main
from mapping.errors import WorkspaceError
from mapping.ingest.registry_files import hotspots_from_file
from mapping.ingest.visits import visits_from_file
from mapping.planning.assignments import current_assignments, run_assignment
from mapping.storage import store
from mapping.storage.store import head_revision
from mapping.storage.workspace import Workspace, open_workspace

pytestmark = pytest.mark.engines

TODAY = dt.date(2026, 11, 21)
APP = Path(__file__).resolve().parent.parent / "app.py"

HEADER = ("date", "peer_educator", "team", "latitude", "longitude", "contact_code", "gender")
ROWS = [
    # three peer educators in two teams, around Lima's centre and Miraflores
    ("2026-11-02", "PE01", "NORTE", "-12.0464", "-77.0428", "AB12CD", "female"),
    ("2026-11-03", "PE01", "NORTE", "-12.0470", "-77.0431", "EF34GH", "trans_woman"),
    ("2026-11-05", "PE02", "NORTE", "-12.0600", "-77.0365", "AB12CD", "female"),
    ("2026-11-09", "PE03", "SUR", "-12.1211", "-77.0297", "IJ56KL", "male"),
    ("2026-11-10", "PE03", "SUR", None, None, "MN78OP", "female"),
]


def _downgrade(workspace: Workspace, revision: str) -> None:
    """Take the store back to ``revision``, then close this process's connections to it, as
    :func:`mapping.storage.store.migrate` does: the next use checks the schema again."""
    config = Config()
    config.set_main_option("script_location", str(store.MIGRATIONS))
    with store.shared_engine(workspace.db_url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
    store.dispose_engines(workspace.db_url)


def _names(workspace: Workspace) -> tuple[set[str], set[str], set[str]]:
    """Return the store's tables, the visits' columns and the visit_details view's columns.

    Through the store's engine, not the workspace, whose check refuses a store behind.
    """
    with store.shared_engine(workspace.db_url).connect() as connection:
        inspector = sa.inspect(connection)
        tables = set(inspector.get_table_names())
        visit_columns = {c["name"] for c in inspector.get_columns("visits")}
        view_columns = {c["name"] for c in inspector.get_columns("visit_details")}
    return tables, visit_columns, view_columns


def test_a_store_at_the_previous_schema_opens_after_migrate(
    workspace: Workspace, tmp_path: Path
) -> None:
    registry = write_csv(
        tmp_path / "hotspots.csv",
        ("id", "cell", "typology", "size_min", "size_max"),
        [
            ("HC1", h3.latlng_to_cell(-12.0464, -77.0428, 8), "street", 10, 20),
            ("HM1", h3.latlng_to_cell(-12.1211, -77.0297, 8), "bar", 5, 9),
        ],
    )
    assert hotspots_from_file(workspace, registry).accepted == 2
    source = write_csv(tmp_path / "visits.csv", HEADER, [[v or "" for v in r] for r in ROWS])
    assert visits_from_file(workspace, source).accepted == len(ROWS)
    assert run_assignment(workspace, today=TODAY).new == 2
    before_counts = counts(workspace)
    before_coverage = coverage(workspace, period="2026-11").districts
    before_assignments = current_assignments(workspace).drop("assigned_at")

    _downgrade(workspace, "0005")
    tables, visit_columns, view_columns = _names(workspace)
    assert "workers" in tables and "peer_educators" not in tables
    assert "worker_id" in visit_columns and "worker_id" in view_columns

    assert main(["migrate", "--workspace", str(workspace.path)]) == 0
    tables, visit_columns, view_columns = _names(workspace)
    assert "peer_educators" in tables and "workers" not in tables
    assert "peer_educator_id" in visit_columns and "worker_id" not in visit_columns
    assert "peer_educator_id" in view_columns
    reopened = open_workspace(workspace.path)
    assert counts(reopened) == before_counts
    # migration 0007 gives the visits their cell centre's district, marked estimated: the
    # figures stay (these points lie well inside their districts) and now say so
    after = coverage(reopened, period="2026-11").districts
    marks = ["visits_estimated", "hotspots_estimated"]
    assert after.drop(marks).equals(before_coverage.drop(marks))
    assert before_coverage["visits_estimated"].sum() == 0
    assert after["visits_estimated"].sum() == 4  # the located ones; the phone visit has none
    assert after["hotspots_estimated"].sum() == before_coverage["hotspots_estimated"].sum() == 2
    assert current_assignments(reopened).drop("assigned_at").equals(before_assignments)
    # new visits go on referring to the same peer educators
    more = write_csv(tmp_path / "more.csv", HEADER, [("2026-11-20", "PE01", "NORTE", "-12.0464",
                                                      "-77.0428", "QR90ST", "female")])  # fmt: skip
    assert visits_from_file(reopened, more).accepted == 1
    assert counts(reopened)["peer_educators"] == before_counts["peer_educators"]


def test_a_store_behind_is_refused_with_the_way_to_migrate_it(
    workspace: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = write_csv(tmp_path / "visits.csv", HEADER, [[v or "" for v in r] for r in ROWS])
    assert visits_from_file(workspace, source).accepted == len(ROWS)
    before = counts(workspace)  # the store is in use: this process pools connections to it
    _downgrade(workspace, "0005")

    behind = open_workspace(workspace.path)  # opening reads the folder only
    message = (
        rf"{re.escape(store.safe_url(workspace.db_url))} is at schema 0005, not "
        rf"{head_revision()} — run `outreach-map migrate --workspace "
        rf"{re.escape(str(workspace.path))}`"
    )
    with pytest.raises(WorkspaceError, match=message):
        counts(behind)
    # every later use too, writes as well, until the store is migrated
    with pytest.raises(WorkspaceError, match=message):
        visits_from_file(behind, source)
    assert main(["coverage", "--workspace", str(workspace.path), "--period", "2026-11"]) == 2
    assert "is at schema 0005" in capsys.readouterr().err
    # the app says it instead of drawing a page
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(workspace.path))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert re.search(f"Cannot open a workspace: {message}", at.error[0].value)

    assert main(["migrate", "--workspace", str(workspace.path)]) == 0
    assert counts(behind) == before
    # nothing is added: migration 0007 gave the four located visits their cell's centre's
    # district, estimated; the file brings their points back, so their district is corrected
    # in place (updated), and the phone visit is a duplicate. A second time, all duplicates.
    again = visits_from_file(behind, source)
    assert (again.accepted, again.updated, again.duplicates) == (4, 4, 1)
    assert {k: v for k, v in counts(behind).items() if k != "imports"} == {
        k: v for k, v in before.items() if k != "imports"
    }
    assert visits_from_file(behind, source).duplicates == len(ROWS)


def test_rows_stored_before_districts_at_capture_get_their_cells_district_marked_estimated(
    workspace: Workspace, tmp_path: Path
) -> None:
    # rows stored at 0006 had no district: 0007 gives each located row the district holding its
    # cell's centre (the rule the exports used) and marks it estimated; an unlocated row has none
    source = write_csv(tmp_path / "visits.csv", HEADER, [[v or "" for v in r] for r in ROWS])
    assert visits_from_file(workspace, source).accepted == len(ROWS)
    _downgrade(workspace, "0006")
    assert "district_id" not in _names(workspace)[1]
    assert main(["migrate", "--workspace", str(workspace.path)]) == 0
    with open_workspace(workspace.path).connect() as connection:
        cells = store.area_cells.c
        owner = dict(connection.execute(sa.select(cells.cell, cells.district_id)).all())
        visits = store.visits.c
        rows = connection.execute(
            sa.select(visits.cell, visits.district_id, visits.district_estimated)
        ).all()
    assert len(rows) == len(ROWS)
    for cell, district, estimated in rows:
        if cell is None:
            assert district is None
        else:
            assert district == owner[cell] and district is not None
        assert estimated is (cell is not None)


def test_sessions_stored_before_the_lock_keep_going_after_migrate(workspace: Workspace) -> None:
    # 0009 adds the PIN (users.pin_hash) and, on sessions, the lock, the PIN's tries and the
    # device: a shift stored at 0008 comes back unlocked, with no tries used and no device
    from mapping.access.accounts import add_account, check_session, sign_in
    from mapping.access.locks import set_pin
    from mapping.storage.audit import Actor

    with workspace.begin() as connection:
        add_account(
            connection,
            "ana",
            "peer",
            by=Actor("t", "admin"),
            password="a long test password",
            teams=["T1"],
        )
    token, account = sign_in(workspace, "ana", "a long test password")
    _downgrade(workspace, "0008")
    with store.shared_engine(workspace.db_url).connect() as connection:
        inspector = sa.inspect(connection)
        columns = {c["name"] for c in inspector.get_columns("sessions")}
        assert "pin_hash" not in {c["name"] for c in inspector.get_columns("users")}
    assert not columns & {"locked_at", "pin_failures", "device_hash", "ticket_hash"}

    assert main(["migrate", "--workspace", str(workspace.path)]) == 0
    reopened = open_workspace(workspace.path)
    with reopened.connect() as connection:
        row = connection.execute(sa.select(store.sessions)).one()
        assert connection.execute(sa.select(store.users.c.pin_hash)).scalar() is None
    assert (row.locked_at, row.pin_failures, row.device_hash, row.ticket_hash) == (
        None,
        0,
        None,
        None,
    )
    with reopened.begin() as connection:
        assert check_session(connection, token).account == account
        set_pin(connection, account, "480516")
    # the unique indexes of the two hashes are back
    with reopened.connect() as connection:
        indexes = {i["name"]: i["unique"] for i in sa.inspect(connection).get_indexes("sessions")}
    assert indexes["ix_sessions_device_hash"] and indexes["ix_sessions_ticket_hash"]
