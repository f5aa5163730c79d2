"""The programme's clock: one "now" and "today" for imports, coverage, exports and the app."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers import LIMA, MIRAFLORES, query, write_csv

from mapping import clock
from mapping.cli.main import EXIT_UNUSABLE
from mapping.errors import InvalidInputError
from mapping.storage.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
NAIROBI = ZoneInfo("Africa/Nairobi")
#: 23:30 UTC on 6 December is 02:30 on 7 December in Nairobi (UTC+3, no summer time).
FAKE_UTC = "2026-12-06 23:30:00"
#: Reading the clock outside mapping/clock.py: each asks the server, not the programme.
CLOCK_CALLS = re.compile(r"date\.today\(\)|datetime\.now\(|datetime\.utcnow\(|datetime\.today\(")


@pytest.fixture
def server_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set the server's own time zone (``TZ``) for one test; the old one is back afterwards."""

    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


def test_the_clock_is_the_programmes_when_the_zone_is_set(
    monkeypatch: pytest.MonkeyPatch, server_zone: Callable[[str], None]
) -> None:
    """OUTREACH_MAP_TIMEZONE, read on every call, decides now and today, whatever the server's."""
    server_zone("UTC")
    monkeypatch.setenv("OUTREACH_MAP_TIMEZONE", "Africa/Nairobi")
    before = dt.datetime.now(NAIROBI)
    now, today = clock.now(), clock.today()
    after = dt.datetime.now(NAIROBI)
    assert str(now.tzinfo) == "Africa/Nairobi"
    assert now.utcoffset() == dt.timedelta(hours=3)
    assert before <= now <= after
    assert today in {before.date(), after.date()}

    monkeypatch.setenv("OUTREACH_MAP_TIMEZONE", "America/Lima")  # no restart, no reload
    assert clock.now().utcoffset() == dt.timedelta(hours=-5)


def test_the_clock_is_the_servers_when_the_zone_is_unset(
    monkeypatch: pytest.MonkeyPatch, server_zone: Callable[[str], None]
) -> None:
    """Unset, now and today are the server's local clock, exactly as dt.datetime.now() says."""
    monkeypatch.delenv("OUTREACH_MAP_TIMEZONE", raising=False)
    server_zone("Asia/Tokyo")
    before = dt.datetime.now()
    now, today = clock.now(), clock.today()
    after = dt.datetime.now()
    assert now.utcoffset() == dt.timedelta(hours=9)
    assert before <= now.replace(tzinfo=None) <= after
    assert today in {before.date(), after.date()}


def test_utc_now_is_utc_whatever_the_zones(
    monkeypatch: pytest.MonkeyPatch, server_zone: Callable[[str], None]
) -> None:
    """Timestamps stored in UTC do not move with the programme's or the server's zone."""
    server_zone("Asia/Tokyo")
    monkeypatch.setenv("OUTREACH_MAP_TIMEZONE", "America/Lima")
    before = dt.datetime.now(dt.UTC)
    now = clock.utc_now()
    after = dt.datetime.now(dt.UTC)
    assert now.utcoffset() == dt.timedelta(0)
    assert before <= now <= after


def test_a_zone_that_does_not_exist_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_MAP_TIMEZONE", "Mars/Olympus")
    message = r"OUTREACH_MAP_TIMEZONE='Mars/Olympus' is not a time zone — use a name such as"
    with pytest.raises(InvalidInputError, match=message):
        clock.now()
    with pytest.raises(InvalidInputError, match=message):
        clock.today()


def test_only_the_clock_reads_the_clock() -> None:
    """No module, page or the router asks the server for the date: the clock does (issue 15)."""
    sources = [
        *sorted((ROOT / "mapping").rglob("*.py")),
        *sorted((ROOT / "views").rglob("*.py")),
        ROOT / "app.py",
    ]
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources
        if path != ROOT / "mapping" / "clock.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if CLOCK_CALLS.search(line)
    ]
    assert not found, (
        "these read the server's clock — use mapping.clock.now(), today() or utc_now():\n"
        + "\n".join(found)
    )


# --- the whole command line at a faked moment (Debian's faketime) -------------------------------


def need_faketime() -> str:
    """Return the faketime command; fail under CI, skip elsewhere, when it is not installed."""
    found = shutil.which("faketime")
    if found is None:
        message = "faketime is missing: install Debian's faketime package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def cli_at(
    moment: str, workspace: Workspace, *args: str | Path, zone: str | None
) -> subprocess.CompletedProcess[str]:
    """Run ``python3 -m mapping.cli`` with the clock at ``moment`` UTC, on a server on UTC."""
    env = {**os.environ, "TZ": "UTC"}
    env.pop("OUTREACH_MAP_TIMEZONE", None)
    if zone:
        env["OUTREACH_MAP_TIMEZONE"] = zone
    command = [need_faketime(), moment, sys.executable, "-m", "mapping.cli", *map(str, args)]
    return subprocess.run(
        [*command, "--workspace", str(workspace.path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_after_midnight_in_nairobi_everything_is_on_nairobis_day(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Issue 16: at 23:30 UTC on 6 December it is 7 December in Nairobi, for every command."""
    visits = write_csv(
        tmp_path / "visits.csv",
        ("date", "peer_educator", "latitude", "longitude", "contact_code"),
        [("2026-12-07", "PE01", *LIMA, "AB12"), ("2026-12-06", "PE02", *MIRAFLORES, "CD34")],
    )
    nairobi = "Africa/Nairobi"
    done = cli_at(FAKE_UTC, workspace, "import", "visits", visits, zone=nairobi)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("read 2 rows: 2 accepted, 0 duplicates, 0 rejected"), done.stdout
    assert "in the future" not in done.stdout + done.stderr
    # the import's own timestamp is stored in UTC, as every stored timestamp is
    [(imported_at,)] = query(workspace, "SELECT imported_at FROM imports")
    assert str(imported_at).startswith("2026-12-06 23:3")

    done = cli_at(FAKE_UTC, workspace, "coverage", "--format", "json", zone=nairobi)
    assert done.returncode == 0, done.stderr
    meta = json.loads(done.stdout)["meta"]
    assert (meta["end"], meta["as_of"], meta["last_visit"]) == ("2026-12-07",) * 3

    out = tmp_path / "december.csv"
    done = cli_at(
        FAKE_UTC,
        workspace,
        "export",
        "--role",
        "coordinator",
        "--period",
        "2026-12",
        "--out",
        out,
        zone=nairobi,
    )
    assert done.returncode == EXIT_UNUSABLE and not out.exists()
    assert "period 2026-12 ends on 2026-12-31, not before today (2026-12-07)" in done.stderr

    # the control: without the setting the server's clock (UTC) is the programme's, as before
    done = cli_at(FAKE_UTC, workspace, "coverage", "--format", "json", zone=None)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["meta"]["as_of"] == "2026-12-06"
