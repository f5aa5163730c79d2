"""The programme's clock: one "now" and "today" for imports, coverage, exports and the app."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers import query, write_csv

from mapping import clock
from mapping.cli.main import EXIT_UNUSABLE, main
from mapping.errors import InvalidInputError, WorkspaceError
from mapping.ingest.capture import VisitEntry, cell_at, log_visit
from mapping.storage.workspace import Workspace, create_workspace, open_workspace

ROOT = Path(__file__).resolve().parent.parent
NAIROBI = ZoneInfo("Africa/Nairobi")
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


def cli_at(moment: str, *args: str | Path, zone: str | None) -> subprocess.CompletedProcess[str]:
    """Run ``python3 -m mapping.cli`` with the clock at ``moment`` UTC, on a server on UTC.

    ``zone`` is ``OUTREACH_MAP_TIMEZONE`` for the process (None: unset).
    """
    env = {**os.environ, "TZ": "UTC"}
    env.pop("OUTREACH_MAP_TIMEZONE", None)
    if zone:
        env["OUTREACH_MAP_TIMEZONE"] = zone
    command = [need_faketime(), moment, sys.executable, "-m", "mapping.cli", *map(str, args)]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def square_districts(path: Path, lat: float, lng: float) -> Path:
    """Write two 0.02°-square districts side by side, west of and east of (lat, lng)."""

    def square(west: float) -> list[list[list[float]]]:
        south, north = lat - 0.01, lat + 0.01
        ring = [[west, south], [west + 0.02, south], [west + 0.02, north], [west, north]]
        return [[*ring, ring[0]]]

    features = [
        {
            "type": "Feature",
            "properties": {"ward_id": ward, "ward": ward.title()},
            "geometry": {"type": "Polygon", "coordinates": square(west)},
        }
        for ward, west in (("west", lng - 0.02), ("east", lng))
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def init_at(moment: str, tmp_path: Path, lat: float, lng: float, *options: str) -> Path:
    """``outreach-map init`` a two-ward area around (lat, lng) at ``moment``; its folder."""
    folder = tmp_path / "area"
    districts = square_districts(tmp_path / "wards.geojson", lat, lng)
    done = cli_at(
        moment,
        "init",
        "--workspace",
        folder,
        "--districts",
        districts,
        "--district-id",
        "ward_id",
        "--district-name",
        "ward",
        *options,
        zone=None,
    )
    assert done.returncode == 0, done.stderr
    return folder


def as_of_at(moment: str, folder: Path) -> dict[str, str]:
    """The meta of ``coverage --format json`` at ``moment``: end, as_of, last_visit."""
    done = cli_at(moment, "coverage", "--format", "json", "--workspace", folder, zone=None)
    assert done.returncode == 0, done.stderr
    meta: dict[str, str] = json.loads(done.stdout)["meta"]
    return meta


#: 23:30 UTC on 30 November is 02:30 on 1 December in Nairobi (UTC+3, no summer time).
NAIROBI_AFTER_MIDNIGHT = "2026-11-30 23:30:00"
#: 04:50 UTC on 1 December is 23:50 on 30 November in Lima (UTC-5, no summer time).
LIMA_BEFORE_MIDNIGHT = "2026-12-01 04:50:00"


def test_after_midnight_in_nairobi_every_command_is_on_nairobis_day(tmp_path: Path) -> None:
    """Issue 16: at 02:30 local (23:30 UTC) a visit of that night is no visit "in the future".

    The workspace records Africa/Nairobi at init; the server runs on UTC, still on 30
    November. Import, coverage's "as of" and the export's "today" are all on 1 December.
    """
    folder = init_at(NAIROBI_AFTER_MIDNIGHT, tmp_path, -1.28, 36.82, "--timezone", "Africa/Nairobi")
    visits = write_csv(
        tmp_path / "visits.csv",
        ("date", "peer_educator", "latitude", "longitude", "contact_code"),
        [
            ("2026-12-01", "PE01", "-1.2800", "36.8300", "AB12"),
            ("2026-11-30", "PE02", "-1.2800", "36.8100", "CD34"),
        ],
    )
    done = cli_at(
        NAIROBI_AFTER_MIDNIGHT, "import", "visits", visits, "--workspace", folder, zone=None
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("read 2 rows: 2 accepted, 0 duplicates, 0 rejected"), done.stdout
    # the import's own timestamp is stored in UTC, as every stored timestamp is
    [(imported_at,)] = query(open_workspace(folder), "SELECT imported_at FROM imports")
    assert str(imported_at).startswith("2026-11-30 23:3")

    meta = as_of_at(NAIROBI_AFTER_MIDNIGHT, folder)
    assert (meta["end"], meta["as_of"], meta["last_visit"]) == ("2026-12-01",) * 3

    # November has ended in Nairobi (not yet in UTC): its raw counts may be exported
    out = tmp_path / "november.csv"
    done = cli_at(
        NAIROBI_AFTER_MIDNIGHT,
        "export",
        "--role",
        "coordinator",
        "--internal",
        "--period",
        "2026-11",
        "--out",
        out,
        "--workspace",
        folder,
        zone=None,
    )
    assert done.returncode == 0, done.stderr
    assert out.exists()
    # and December, the month of today, is still running
    done = cli_at(
        NAIROBI_AFTER_MIDNIGHT,
        "export",
        "--role",
        "coordinator",
        "--period",
        "2026-12",
        "--out",
        tmp_path / "december.csv",
        "--workspace",
        folder,
        zone=None,
    )
    assert done.returncode == EXIT_UNUSABLE
    assert "period 2026-12 ends on 2026-12-31, not before today (2026-12-01)" in done.stderr


def test_before_midnight_in_lima_the_utc_day_is_the_future(tmp_path: Path) -> None:
    """At 23:50 in Lima (04:50 UTC the next day) a visit dated the UTC day is in the future.

    The area is around Iquitos (America/Lima, not Lima itself); the server runs on UTC.
    """
    folder = init_at(LIMA_BEFORE_MIDNIGHT, tmp_path, -3.75, -73.25, "--timezone", "America/Lima")
    visits = write_csv(
        tmp_path / "visits.csv",
        ("date", "peer_educator", "latitude", "longitude", "contact_code"),
        [
            ("2026-11-30", "PE01", "-3.7500", "-73.2400", "AB12"),
            ("2026-12-01", "PE02", "-3.7500", "-73.2600", "CD34"),
        ],
    )
    done = cli_at(
        LIMA_BEFORE_MIDNIGHT, "import", "visits", visits, "--workspace", folder, zone=None
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("read 2 rows: 1 accepted, 0 duplicates, 1 rejected"), done.stdout
    [report] = (folder / "reports").glob("visits-*-rejected.csv")
    with report.open(encoding="utf-8", newline="") as handle:
        [rejected] = list(csv.DictReader(handle))
    assert (rejected["row"], rejected["field"]) == ("3", "date")
    assert rejected["problem"] == "is in the future"

    meta = as_of_at(LIMA_BEFORE_MIDNIGHT, folder)
    assert (meta["end"], meta["as_of"], meta["last_visit"]) == ("2026-11-30",) * 3

    done = cli_at(
        LIMA_BEFORE_MIDNIGHT,
        "export",
        "--role",
        "coordinator",
        "--internal",
        "--period",
        "2026-11",
        "--out",
        tmp_path / "november.csv",
        "--workspace",
        folder,
        zone=None,
    )
    assert done.returncode == EXIT_UNUSABLE and not (tmp_path / "november.csv").exists()
    assert "period 2026-11 ends on 2026-11-30, not before today (2026-11-30)" in done.stderr


def test_the_workspace_zone_wins_over_the_environment(tmp_path: Path) -> None:
    """OUTREACH_MAP_TIMEZONE is only init's default: a recorded zone wins, and a note says so."""
    folder = init_at(NAIROBI_AFTER_MIDNIGHT, tmp_path, 1.29, 103.85, "--timezone", "Asia/Singapore")
    done = cli_at(
        NAIROBI_AFTER_MIDNIGHT,
        "coverage",
        "--format",
        "json",
        "--workspace",
        folder,
        zone="America/Lima",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["meta"]["as_of"] == "2026-12-01"  # 07:30 in Singapore
    assert (
        "note: OUTREACH_MAP_TIMEZONE=America/Lima is not used: this workspace's time zone is "
        "Asia/Singapore (recorded in the workspace) — to change it run `outreach-map config "
        "--timezone NAME`"
    ) in done.stderr


def test_a_workspace_without_a_recorded_zone_keeps_the_old_clock(
    workspace: Workspace, server_zone: Callable[[str], None]
) -> None:
    """Made before zones were recorded: OUTREACH_MAP_TIMEZONE, else the server's clock."""
    strip_zone(workspace.path)
    folder = workspace.path
    assert open_workspace(folder).timezone == ""
    meta = as_of_at(NAIROBI_AFTER_MIDNIGHT, folder)
    assert meta["as_of"] == "2026-11-30"  # the server's clock, on UTC
    done = cli_at(
        NAIROBI_AFTER_MIDNIGHT,
        "coverage",
        "--format",
        "json",
        "--workspace",
        folder,
        zone="Africa/Nairobi",
    )
    assert json.loads(done.stdout)["meta"]["as_of"] == "2026-12-01"
    assert "note:" not in done.stderr
    done = cli_at(NAIROBI_AFTER_MIDNIGHT, "config", "--workspace", folder, zone="Africa/Nairobi")
    assert done.stdout.startswith(
        "time zone: not recorded — OUTREACH_MAP_TIMEZONE=Africa/Nairobi is used (today: "
        "2026-12-01); record one with `outreach-map config --workspace"
    ), done.stdout


def strip_zone(folder: Path) -> None:
    """Make ``folder`` look like a workspace made before zones were recorded."""
    config = folder / "workspace.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"(?m)^timezone = .*\n", "", text), encoding="utf-8")


# --- recording the zone: init, config, and what a workspace holds -----------------------------


def test_init_records_the_zone_given_and_says_how_to_change_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    districts = square_districts(tmp_path / "wards.geojson", 13.75, 100.5)  # Bangkok
    folder = tmp_path / "bangkok"
    code = main(
        [
            "init",
            "--workspace",
            str(folder),
            "--districts",
            str(districts),
            "--district-id",
            "ward_id",
            "--district-name",
            "ward",
            "--timezone",
            "Asia/Bangkok",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert (
        f'time zone: Asia/Bangkok (from --timezone) — "today" is this zone\'s day in every '
        f"command and the app; change it with `outreach-map config --workspace {folder} "
        "--timezone NAME`"
    ) in out
    assert tomllib.loads((folder / "workspace.toml").read_text())["area"]["timezone"] == (
        "Asia/Bangkok"
    )
    assert open_workspace(folder).timezone == "Asia/Bangkok"


@pytest.mark.parametrize(
    ("environ", "tz", "recorded", "why"),
    [
        (
            {"OUTREACH_MAP_TIMEZONE": "Asia/Kolkata"},
            "UTC",
            "Asia/Kolkata",
            "from OUTREACH_MAP_TIMEZONE",
        ),
        ({}, "Pacific/Fiji", "Pacific/Fiji", "the server's zone"),
    ],
)
def test_init_without_a_zone_records_the_default(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server_zone: Callable[[str], None],
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
    tz: str,
    recorded: str,
    why: str,
) -> None:
    """OUTREACH_MAP_TIMEZONE if set, else the server's zone (here TZ names it)."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    server_zone(tz)
    folder = tmp_path / "area"
    districts = square_districts(tmp_path / "wards.geojson", -18.14, 178.44)  # Suva
    args = ["init", "--workspace", str(folder), "--districts", str(districts)]
    assert main([*args, "--district-id", "ward_id", "--district-name", "ward"]) == 0
    assert f"time zone: {recorded} ({why})" in capsys.readouterr().out
    assert open_workspace(folder).timezone == recorded


def test_the_server_zone_is_utc_when_it_cannot_be_known(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OUTREACH_MAP_TIMEZONE", raising=False)
    monkeypatch.setattr(clock, "server_zone", lambda: "")
    assert clock.default_zone() == ("UTC", "the server's zone is unknown")


def test_the_server_zone_is_read_from_tz(server_zone: Callable[[str], None]) -> None:
    server_zone("Asia/Tokyo")
    assert clock.server_zone() == "Asia/Tokyo"
    server_zone(":Europe/Berlin")
    assert clock.server_zone() == "Europe/Berlin"


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        ("Nairobi", "; did you mean Africa/Nairobi?"),
        ("UTC+3", ""),
        ("localtime", ""),
        ("Mars/Olympus", ""),
    ],
)
def test_init_refuses_a_wrong_zone_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str, hint: str
) -> None:
    folder = tmp_path / "area"
    districts = square_districts(tmp_path / "wards.geojson", -1.28, 36.82)
    args = ["init", "--workspace", str(folder), "--districts", str(districts)]
    code = main([*args, "--district-id", "ward_id", "--district-name", "ward", "--timezone", given])
    assert code == EXIT_UNUSABLE
    assert capsys.readouterr().err == (
        f"outreach-map: error: --timezone {given!r} is not a time zone — use a name such as "
        f"America/Lima, Africa/Nairobi or Asia/Bangkok{hint} (`timedatectl list-timezones` "
        "lists them)\n"
    )
    assert not folder.exists()


def test_config_shows_and_records_the_zone_and_audits_the_change(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    """`config --timezone` records a zone (also in an old workspace) and logs who changed it."""
    strip_zone(workspace.path)
    before = (workspace.path / "workspace.toml").read_text()
    assert main(["config", "--workspace", str(workspace.path), "--timezone", "Asia/Manila"]) == 0
    today = dt.datetime.now(ZoneInfo("Asia/Manila")).date()
    assert capsys.readouterr().out.startswith("time zone: not recorded -> Asia/Manila; today there")
    after = (workspace.path / "workspace.toml").read_text()
    assert tomllib.loads(after)["area"]["timezone"] == "Asia/Manila"
    # nothing else in the file changed
    assert after.replace('timezone = "Asia/Manila"\n', "") == before
    assert main(["config", "--workspace", str(workspace.path), "--timezone", "Asia/Jakarta"]) == 0
    assert capsys.readouterr().out.startswith("time zone: Asia/Manila -> Asia/Jakarta")
    assert main(["config", "--workspace", str(workspace.path)]) == 0
    zone, basemap = capsys.readouterr().out.splitlines()
    assert zone.startswith("time zone: Asia/Jakarta (recorded in the workspace); today there is")
    assert today - dt.timedelta(days=1) <= dt.date.fromisoformat(zone.strip()[-10:])
    assert basemap.startswith("basemap: none")
    details = [
        str(d) for (d,) in query(workspace, "SELECT detail FROM audit_log WHERE action = 'setting'")
    ]
    assert details == [
        "time zone not recorded -> Asia/Manila",
        "time zone Asia/Manila -> Asia/Jakarta",
    ]
    assert main(["config", "--workspace", str(workspace.path), "--timezone", "Manila"]) == (
        EXIT_UNUSABLE
    )
    assert "--timezone 'Manila' is not a time zone" in capsys.readouterr().err
    assert open_workspace(workspace.path).timezone == "Asia/Jakarta"


def test_a_wrong_recorded_zone_is_refused_with_the_fix(workspace: Workspace) -> None:
    config = workspace.path / "workspace.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r'(?m)^timezone = ".*"$', 'timezone = "Lima"', text))
    message = (
        f"{config}: timezone 'Lima' is not a time zone — use a name such as America/Lima, "
        "Africa/Nairobi or Asia/Bangkok; did you mean America/Lima? (`timedatectl "
        f"list-timezones` lists them) — or set it with `outreach-map config --workspace "
        f"{workspace.path} --timezone NAME`"
    )
    with pytest.raises(WorkspaceError, match=re.escape(message)):
        open_workspace(workspace.path)


def test_two_workspaces_in_one_process_keep_their_own_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The zone is passed, not kept: opening one workspace never moves another one's clock."""
    monkeypatch.setenv("OUTREACH_MAP_TIMEZONE", "Europe/Paris")  # loses to each recorded zone
    west = create_workspace(
        tmp_path / "honolulu", name="w", resolution=8, timezone="Pacific/Honolulu"
    )
    east = create_workspace(
        tmp_path / "kiritimati", name="e", resolution=8, timezone="Pacific/Kiritimati"
    )
    # UTC-10 and UTC+14: always on two different days
    assert clock.today(east) - clock.today(west) == dt.timedelta(days=1)
    assert clock.now(west).utcoffset() == dt.timedelta(hours=-10)
    assert clock.now(east).utcoffset() == dt.timedelta(hours=14)
    assert open_workspace(west.path).timezone == "Pacific/Honolulu"
    assert clock.now(open_workspace(east.path)).utcoffset() == dt.timedelta(hours=14)


def test_every_caller_with_a_workspace_passes_its_zone() -> None:
    """clock.now() and clock.today() with no argument ignore the workspace's zone.

    Only periods.py (a last-N-days period asked without a day, by a caller with no workspace)
    and hours.py (the week whose dated rules apply, when a check of hours names none: any week
    tells valid hours from invalid) may; every other caller passes the workspace (or, in the
    demo, its zone).
    """
    allowed = {ROOT / "mapping" / "periods.py", ROOT / "mapping" / "hours.py"}
    sources = [
        *sorted((ROOT / "mapping").rglob("*.py")),
        *sorted((ROOT / "views").rglob("*.py")),
        ROOT / "app.py",
    ]
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources
        if path not in allowed
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"clock\.(now|today)\(\)", line)
    ]
    assert not found, "pass the workspace: clock.today(workspace)\n" + "\n".join(found)


def test_the_apps_visit_log_uses_the_workspaces_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Kiritimati is UTC+14: its "now" is a visit of today there, its tomorrow is in the future.

    On a server on UTC, the day there is ahead of the server's for 14 hours of every 24.
    """
    districts = square_districts(tmp_path / "wards.geojson", 1.87, -157.40)
    folder = tmp_path / "kiritimati"
    args = ["init", "--workspace", str(folder), "--districts", str(districts)]
    options = ["--district-id", "ward_id", "--district-name", "ward"]
    assert main([*args, *options, "--timezone", "Pacific/Kiritimati"]) == 0
    capsys.readouterr()
    workspace = open_workspace(folder)
    now = clock.now(workspace).replace(tzinfo=None)
    assert clock.now(workspace).utcoffset() == dt.timedelta(hours=14)

    def entry(when: dt.datetime, submission: str) -> VisitEntry:
        return VisitEntry(
            peer_educator="PE-01",
            team="T1",
            when=when,
            cell=cell_at(workspace, 1.87, -157.39),
            submission_id=submission,
        )

    assert log_visit(workspace, entry(now, "a")).accepted == 1
    with pytest.raises(InvalidInputError, match="is in the future"):
        log_visit(workspace, entry(now + dt.timedelta(days=1), "b"))
