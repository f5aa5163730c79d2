"""The audit log: imports and edits are recorded under who made them; setting changes too."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import write_csv

from mapping.errors import InvalidInputError
from mapping.ingest.visits import visits_from_file
from mapping.settings import Settings
from mapping.storage.audit import Actor, acting_as, audit_entries, note_settings, record
from mapping.storage.workspace import Workspace

#: Every test here runs on SQLite and on a real PostgreSQL server.
pytestmark = pytest.mark.engines

HEADER = ("date", "peer_educator", "team", "latitude", "longitude", "contact_code")
ROWS = [
    ("2026-03-14", "PE01", "NORTE", "-12.0464123", "-77.0428123", "MA-JO85"),
    ("2026-03-15", "PE01", "NORTE", "-12.0464123", "-77.0428123", "AB-CD90"),
]


def entries(workspace: Workspace) -> list[tuple[str, str, str, str]]:
    with workspace.connect() as connection:
        log = audit_entries(connection).sort("id")
    return log.select("username", "role", "action", "detail").rows()


def test_an_import_is_recorded_under_who_made_it_without_its_places_or_codes(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "visits -12.0464123.csv", HEADER, ROWS)
    visits_from_file(workspace, path)
    with acting_as(Actor("ana", "coordinator")):
        visits_from_file(workspace, path)  # the same file again: all duplicates
    (cli, first), (ana, again) = [(e[:3], e[3]) for e in entries(workspace)]
    assert cli[0].startswith("cli:") and cli[2] == "import"
    assert ana == ("ana", "coordinator", "import")
    assert "2 read, 2 accepted" in first and "2 duplicates" in again
    for detail in (first, again):
        assert "12.0464" not in detail and "MA-JO85" not in detail and "visits …" in detail


def test_a_detail_with_a_place_is_refused(workspace: Workspace) -> None:
    with (
        workspace.begin() as connection,
        pytest.raises(InvalidInputError, match="looks like it holds a coordinate or a cell"),
    ):
        record(connection, Actor("ana", "admin"), "view", "cell 8a8e6c4a2d9ffff")
    with (
        workspace.begin() as connection,
        pytest.raises(InvalidInputError, match="audit action 'peek' is unknown"),
    ):
        record(connection, Actor("ana", "admin"), "peek")


def test_setting_changes_between_starts_are_recorded_once(workspace: Workspace) -> None:
    admin = Actor("cli:root", "admin")
    with workspace.begin() as connection:
        assert note_settings(connection, Settings(), admin) == []
        raised = Settings.from_env({"OUTREACH_MAP_MIN_COUNT": "15"})
        assert note_settings(connection, raised, admin) == ["min_count: 11 -> 15"]
        assert note_settings(connection, raised, admin) == []
    assert entries(workspace) == [("cli:root", "admin", "setting", "min_count: 11 -> 15")]


def test_a_deployment_started_with_other_settings_records_them(workspace: Workspace) -> None:
    shorter = Settings.from_env({"OUTREACH_MAP_LOCK_IDLE_MINUTES": "2"})
    with workspace.begin() as connection:
        changes = note_settings(connection, shorter, Actor("cli:root", "admin"))
    assert changes == ["lock_idle_minutes: 5.0 -> 2.0"]
