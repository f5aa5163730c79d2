"""Plans from a workspace: stored, replaced, marked done by visits, and missed hotspots first."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import h3
import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa
from helpers import csv_text, query

from mapping.cells import cell_centres
from mapping.cli.main import main
from mapping.errors import InvalidInputError
from mapping.ingest.registry_files import hotspots_from_file, services_from_file
from mapping.ingest.visits import visits_from_file
from mapping.planning.assignments import run_assignment
from mapping.planning.plans import (
    PlanOptions,
    assigned_cells,
    for_peer_educators,
    plan_routes,
    save_plans,
    start_services,
    stored_plans,
)
from mapping.planning.runsheet import runsheet_csv
from mapping.planning.sheet_map import map_districts, map_frame
from mapping.storage import store
from mapping.storage.workspace import Workspace
from mapping.travel import StraightLineTravel

pytestmark = pytest.mark.engines

LIMA = (-12.0500, -77.0330)
#: A Saturday; the data end the day before.
NIGHT = dt.date(2026, 11, 28)
TODAY = dt.date(2026, 11, 27)
#: Noon the day before: the night has not started.
NOW = dt.datetime(2026, 11, 27, 12, 0)
#: Noon the day after the night: its shift has ended.
AFTER = dt.datetime(2026, 11, 29, 12, 0)
#: A short search: the instances here are tiny.
FAST = PlanOptions(search_seconds=0.3)


def at(east_km: float, north_km: float = 0.0) -> tuple[float, float]:
    lat, lng = LIMA
    return lat + north_km / 111.2, lng + east_km / (111.2 * np.cos(np.radians(lat)))


def hex_cell(point: tuple[float, float]) -> str:
    return str(h3.latlng_to_cell(point[0], point[1], 8))


@pytest.fixture
def night(workspace: Workspace, tmp_path: Path) -> Workspace:
    """A drop-in centre and four hotspots east of it, one that works only on weekdays, two
    peer educators of team T1 and one of T2, all visiting in November."""
    services = tmp_path / "services.csv"
    services.write_text(
        csv_text(
            ("id", "name", "type", "cell", "friendly", "opening_hours", "sensitive"),
            [
                ("DIC", "Drop-in centre", "drop_in_centre", hex_cell(LIMA), "yes", "24/7", "no"),
                ("LAB", "Night lab", "hiv_testing", hex_cell(at(1.2)), "yes", "18:00-06:00", "no"),
                ("SAFE", "Safe house", "shelter", hex_cell(at(0, 1.2)), "yes", "24/7", "yes"),
            ],
        ),
        encoding="utf-8",
    )
    assert services_from_file(workspace, services).rejected == 0
    registry = tmp_path / "hotspots.csv"
    registry.write_text(
        csv_text(
            ("id", "cell", "typology", "days", "opening_hours", "size_min", "size_max"),
            [
                ("H1", hex_cell(at(1.0)), "street", "Mo-Su", "20:00-04:00", 10, 20),
                ("H2", hex_cell(at(2.0)), "bar", "Mo-Su", "20:00-04:00", 5, 9),
                ("H3", hex_cell(at(3.0)), "lodge", "Mo-Su", "20:00-04:00", 12, 16),
                ("H4", hex_cell(at(2.0, 1.0)), "bar", "Mo-Fr", "20:00-04:00", 8, 8),
            ],
        ),
        encoding="utf-8",
    )
    assert hotspots_from_file(workspace, registry).rejected == 0
    visits = tmp_path / "visits.csv"
    rows = [
        ("2026-11-10", "PE1", "T1", "in_person", *at(1.0), "AAA01"),
        ("2026-11-12", "PE2", "T1", "in_person", *at(2.0), "AAA02"),
        ("2026-11-14", "PE3", "T2", "in_person", *at(-3.0), "CCC01"),
    ]
    visits.write_text(
        csv_text(
            ("date", "peer_educator", "team", "channel", "latitude", "longitude", "contact_code"),
            rows,
        ),
        encoding="utf-8",
    )
    assert visits_from_file(workspace, visits).rejected == 0
    return workspace


def next_saturday() -> dt.date:
    """Return the first Saturday after today (the command plans from the real clock)."""
    today = dt.date.today()
    return today + dt.timedelta(days=(5 - today.weekday()) % 7 or 7)


def _log_visit(workspace: Workspace, tmp_path: Path, day: str, point: tuple[float, float]) -> None:
    path = tmp_path / f"visit-{day}.csv"
    path.write_text(
        csv_text(
            ("date", "peer_educator", "team", "channel", "latitude", "longitude", "contact_code"),
            [(day, "PE1", "T1", "in_person", *point, "AAA09")],
        ),
        encoding="utf-8",
    )
    assert visits_from_file(workspace, path).accepted == 1


def test_a_night_is_planned_inside_working_hours_and_stored(night: Workspace) -> None:
    (plan,) = plan_routes(
        night, teams=["T1"], day=NIGHT, start="DIC", hours="20:00-02:00", options=FAST, now=NOW
    )
    # H4 works Monday to Friday: the Saturday night leaves it out, and says why
    assert set(plan.stops["hotspot_id"]) == {"H1", "H2", "H3"}
    assert dict(plan.left_out.select("hotspot_id", "reason").rows()) == {"H4": "not_working"}
    # on a line, the shortest tour is out to the farthest hotspot and back: twice its distance
    farthest = plan.stops.filter(pl.col("hotspot_id") == "H3")["cell"][0]
    (lat, lng), (h_lat, h_lng) = h3.cell_to_latlng(hex_cell(LIMA)), cell_centres([farthest])
    one_way = StraightLineTravel().minutes(np.array([lat]), np.array([lng]), h_lat, h_lng)[0, 0]
    assert plan.travel_minutes == pytest.approx(2 * one_way, abs=1.0)
    assert plan.shift_start == dt.datetime(2026, 11, 28, 20, 0)
    assert plan.shift_end == dt.datetime(2026, 11, 29, 2, 0)
    assert all(plan.shift_start <= a <= plan.shift_end for a in plan.stops["arrive"])
    assert (plan.stops["arrive"] <= plan.stops["arrive_until"]).all()
    assert plan.back is not None and plan.back <= plan.shift_end
    # the same stay everywhere, whatever the size (a stay by size would tell it: privacy.md)
    minutes = dict(plan.stops.select("hotspot_id", "minutes_there").rows())
    assert minutes == {"H1": 30, "H2": 30, "H3": 30}
    # kits: the top of each size range x 1 kit per person (H1 10-20, H2 5-9, H3 12-16)
    kits = {row[0]: row[1:] for row in plan.stops.select("hotspot_id", "people", "kits").rows()}
    assert kits == {"H1": (20, 20), "H2": (9, 9), "H3": (16, 16)}
    # H3 and the never-visited H4 are overdue; H1 and H2 were visited this month
    assert dict(plan.stops.select("hotspot_id", "overdue").rows()) == {
        "H1": False,
        "H2": False,
        "H3": True,
    }
    # referral: the open night lab is named; the sensitive shelter never is
    referrals = {row["hotspot_id"]: row["referrals"] for row in plan.stops.iter_rows(named=True)}
    names = {service["name"] for service in referrals["H2"]}
    assert "Night lab" in names and "Safe house" not in names

    (stored,) = stored_plans(night, now=NOW, options=FAST)
    assert stored.stops["hotspot_id"].to_list() == plan.stops["hotspot_id"].to_list()
    assert stored.stops["arrive"].to_list() == plan.stops["arrive"].to_list()
    assert not stored.stops["done"].any()
    assert (stored.back, stored.travel_minutes) == (plan.back, pytest.approx(plan.travel_minutes))


def test_planning_a_night_again_replaces_the_plan(night: Workspace) -> None:
    for hours in ("20:00-02:00", "21:00-23:00"):
        plan_routes(night, teams=["T1"], day=NIGHT, start="DIC", hours=hours, options=FAST, now=NOW)
    with night.connect() as connection:
        plans = connection.execute(sa.select(store.plans.c.shift_start)).all()
        audit = connection.execute(
            sa.select(store.audit_log.c.detail).where(store.audit_log.c.action == "plan")
        ).all()
    assert plans == [(dt.datetime(2026, 11, 28, 21, 0),)]
    assert len(audit) == 2 and "team T1" in audit[0][0]


def test_a_short_shift_keeps_what_fits(night: Workspace) -> None:
    (plan,) = plan_routes(
        night, teams=["T1"], day=NIGHT, start="DIC", hours="20:00-21:15", options=FAST, now=NOW
    )
    # 75 minutes on foot: H1, 1 km away, takes about 17 minutes each way and 30 there; H2 and
    # H3 (2 and 3 km) cannot be reached, worked and left in time even alone
    assert plan.stops["hotspot_id"].to_list() == ["H1"]
    reasons = dict(plan.left_out.select("hotspot_id", "reason").rows())
    assert reasons == {"H2": "unreachable", "H3": "unreachable", "H4": "not_working"}


def test_a_plan_is_not_saved_over_a_hotspot_another_team_took_meanwhile(
    night: Workspace,
) -> None:
    """Two coordinators plan the same night: the second to save is refused, not silent."""
    first = plan_routes(
        night,
        teams=["T1"],
        day=NIGHT,
        start="DIC",
        hours="20:00-21:15",
        options=FAST,
        now=NOW,
        save=False,
    )
    plan_routes(
        night, teams=["T2"], day=NIGHT, start="DIC", hours="20:00-21:15", options=FAST, now=NOW
    )
    with pytest.raises(InvalidInputError, match=r"hotspot H1 is in team T2's plan for 2026-11-28"):
        save_plans(night, first)
    assert query(night, "select team from plans") == [("T2",)]  # nothing of T1's was written


def test_a_week_planned_night_by_night_moves_on(night: Workspace) -> None:
    """The second night, planned before the first has run, leaves the first night's stops to
    it: they are planned, not missed."""
    (first,) = plan_routes(
        night, teams=["T1"], day=NIGHT, start="DIC", hours="20:00-21:15", options=FAST, now=NOW
    )
    assert first.stops["hotspot_id"].to_list() == ["H1"]
    (second,) = plan_routes(
        night,
        teams=["T1"],
        day=NIGHT + dt.timedelta(days=1),
        start="DIC",
        hours="20:00-02:00",
        options=FAST,
        now=NOW,
    )
    assert set(second.stops["hotspot_id"]) == {"H2", "H3"}
    assert not second.stops["missed_before"].any()
    # planning the first night again: its own earlier plan does not hold H1 from it
    (again,) = plan_routes(
        night, teams=["T1"], day=NIGHT, start="DIC", hours="20:00-21:15", options=FAST, now=NOW
    )
    assert again.stops["hotspot_id"].to_list() == ["H1"]


def test_a_start_too_far_from_every_hotspot_is_explained(night: Workspace, tmp_path: Path) -> None:
    services = tmp_path / "far.csv"
    far = hex_cell(at(-12.0))
    services.write_text(
        csv_text(
            ("id", "name", "type", "cell", "friendly", "opening_hours", "sensitive"),
            [("FAR", "Far centre", "drop_in_centre", far, "yes", "24/7", "no")],
        ),
        encoding="utf-8",
    )
    assert services_from_file(night, services).rejected == 0
    (plan,) = plan_routes(
        night, teams=["T1"], day=NIGHT, start="far", hours="20:00-22:00", options=FAST, now=NOW
    )
    assert plan.stops.height == 0 and plan.nothing_reachable
    assert plan.start_service == "FAR"  # ids are matched whatever their case


def test_visits_mark_stops_done_and_missed_hotspots_come_first(
    night: Workspace, tmp_path: Path
) -> None:
    plan_routes(
        night, teams=["T1"], day=NIGHT, start="DIC", hours="20:00-02:00", options=FAST, now=NOW
    )
    _log_visit(night, tmp_path, "2026-11-28", at(1.0))  # H1 visited that night
    (stored,) = stored_plans(night, now=AFTER, options=FAST)
    done = dict(stored.stops.select("hotspot_id", "done").rows())
    assert done == {"H1": True, "H2": False, "H3": False}
    # the next night: H2 and H3 were planned and missed, and count 1.5 times more
    (later,) = plan_routes(
        night,
        teams=["T1"],
        day=NIGHT + dt.timedelta(days=1),
        start="DIC",
        hours="20:00-02:00",
        options=FAST,
        now=AFTER,
    )
    missed = dict(later.stops.select("hotspot_id", "missed_before").rows())
    assert missed == {"H1": False, "H2": True, "H3": True}


def test_assigned_hotspots_stay_with_their_team(night: Workspace) -> None:
    result = run_assignment(night, today=TODAY)
    assert result.assignments.height == 4
    cells = assigned_cells(night)
    assert set(cells["team"]) <= {"T1", "T2"} and cells.height == 4
    team_of = dict(cells.select("id", "team").rows())
    plans = plan_routes(
        night,
        teams=["T1", "T2"],
        day=NIGHT,
        start="DIC",
        hours="20:00-02:00",
        options=FAST,
        now=NOW,
    )
    for plan in plans:
        assert all(team_of[h] == plan.team for h in plan.stops["hotspot_id"])


def test_a_peer_educators_copy_has_nothing_that_follows_from_a_size(night: Workspace) -> None:
    half = PlanOptions(search_seconds=0.3, kits_per_person=0.5)
    (plan,) = plan_routes(
        night, teams=["T1"], day=NIGHT, start="DIC", hours="20:00-21:15", options=half, now=NOW
    )
    # half a kit per person, rounded up: H1's 20 people (its range is 10-20) need 10 kits
    assert plan.stops.select("hotspot_id", "size_min", "size_max", "people", "kits").rows() == [
        ("H1", 10, 20, 20, 10)
    ]
    assert plan.left_out.height == 3
    copy = for_peer_educators(plan)
    assert copy.for_team and not plan.for_team
    for column in ("size_min", "size_max", "people", "kits"):
        assert copy.stops[column].null_count() == copy.stops.height
    assert copy.left_out.height == 0  # listed by priority, which grows with size
    kept = [c for c in plan.stops.columns if c not in ("size_min", "size_max", "people", "kits")]
    assert copy.stops.select(kept).equals(plan.stops.select(kept))
    assert runsheet_csv(copy)  # renders without the per-stop amounts


def test_the_sheets_map_shows_the_districts_around_the_stops(night: Workspace) -> None:
    (plan,) = plan_routes(
        night, teams=["T1"], day=NIGHT, start="DIC", hours="20:00-02:00", options=FAST, now=NOW
    )
    shown = map_districts(night, plan)
    names = {name for name, _ in shown}
    assert set(plan.stops["district"]) <= names
    west, south, east, north = map_frame(plan.stops["cell"].to_list())
    for _, outline in shown:  # cut to the map's frame, give or take a hair
        left, bottom, right, top = outline.bounds
        assert west - 0.01 < left and right < east + 0.01
        assert south - 0.01 < bottom and top < north + 0.01
    plan.stops = plan.stops.clear()
    assert map_districts(night, plan) == []


def test_start_services_list_drop_in_centres_first(night: Workspace) -> None:
    services = start_services(night, today=TODAY)
    assert services["id"][0] == "DIC"
    assert "drop_in_centre" in services["label"][0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"teams": ["T9"]}, r"team T9 is not a team of this workspace — choose from T1, T2"),
        ({"start": "NOPE"}, r"start 'NOPE' is not a service of this workspace"),
        ({"hours": "8pm-2am"}, r"hours '8pm-2am' are not a shift — write the start and end"),
        ({"hours": "25:00-02:00"}, r"25:00 or 02:00 is not a time of day"),
        ({"hours": "20:00-20:00"}, r"start and end at the same time — give the end of the shift"),
        ({"hours": "06:00-23:30"}, r"a shift of 17.5 hours, longer than 16 — check the hours"),
        ({"day": dt.date(2026, 11, 20)}, r"2026-11-20 has passed \(today is 2026-11-27\)"),
        ({"day": dt.date(2027, 1, 5)}, r"2027-01-05 is more than 31 days ahead"),
        ({"start": "nope"}, r"\(e\.g\. DIC;"),
        ({"start": ["DIC", "LAB"]}, r"2 start services for 1 teams"),
    ],
)
def test_planning_refuses_what_it_cannot_plan(
    night: Workspace, kwargs: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {
        "teams": ["T1"],
        "day": NIGHT,
        "start": "DIC",
        "hours": "20:00-02:00",
        "options": FAST,
        "now": NOW,
        **kwargs,
    }
    with pytest.raises(InvalidInputError, match=message):
        plan_routes(night, **arguments)  # type: ignore[arg-type]


def test_the_plan_command_prints_the_route_and_writes_the_sheet(
    night: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OUTREACH_MAP_PLAN_SEARCH_SECONDS", "0.3")
    out = tmp_path / "sheet.csv"
    saturday = next_saturday()
    code = main(
        [
            "plan",
            "route",
            "--workspace",
            str(night.path),
            "--team",
            "T1",
            "--date",
            saturday.isoformat(),
            "--start",
            "DIC",
            "--hours",
            "20:00-02:00",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert f"team T1, {saturday:%a %d %b %Y} 20:00-02:00 from Drop-in centre: 3 stops" in printed
    assert "H4: not working during these hours" in printed
    assert out.read_text(encoding="utf-8").count("\n") == 4  # header and three stops
    # the same night again: stored in place of the first plan, and said so
    again = ["plan", "route", "--workspace", str(night.path), "--team", "T1", "--date"]
    again += [saturday.isoformat(), "--start", "DIC", "--hours", "20:00-02:00"]
    assert main(again) == 0
    assert "replaces the plan stored earlier for team T1 that night" in capsys.readouterr().out
    assert main(["plan", "assign", "--workspace", str(night.path)]) == 0
    assert "4 hotspots between" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--date", "28/11/2026"], "--date '28/11/2026' is not a date — write it as YYYY-MM-DD"),
        (["--out", "sheet.xlsx"], "--out sheet.xlsx: write the run sheet as .pdf or .csv"),
    ],
)
def test_the_plan_command_refuses_bad_options(
    night: Workspace, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {
        "--team": "T1",
        "--date": next_saturday().isoformat(),
        "--start": "DIC",
        "--hours": "20:00-02:00",
    }
    base.update(dict(zip(argv[::2], argv[1::2], strict=True)))
    args = ["plan", "route", "--workspace", str(night.path)]
    for key, value in base.items():
        args += [key, value]
    assert main(args) == 2
    assert message in capsys.readouterr().err


#: Estimated sex workers of the night's hotspots: the midpoints of their size ranges.
NIGHT_PEOPLE = {"H1": 15.0, "H2": 7.0, "H3": 14.0, "H4": 8.0}


def _district_names(workspace: Workspace) -> dict[str, str]:
    rows = query(
        workspace,
        "SELECT h.id, d.name FROM hotspots h JOIN districts d ON d.id = h.district_id",
    )
    return {str(hotspot): str(name) for hotspot, name in rows}


def _covered_by(workspace: Workspace) -> dict[str, str]:
    rows = query(
        workspace,
        "SELECT a.hotspot_id, w.peer_educator FROM assignments a "
        "JOIN peer_educators w ON w.id = a.peer_educator_id",
    )
    return {str(hotspot): str(peer) for hotspot, peer in rows}


def test_plan_assign_lists_who_covers_what_and_what_changed(
    night: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    # H1 was PE9's, who has no visit any more: the run must move it, and say from whom
    with night.begin() as connection:
        connection.execute(
            store.peer_educators.insert(), {"id": 99, "peer_educator": "PE9", "team": "T1"}
        )
        connection.execute(
            store.assignments.insert(),
            {
                "hotspot_id": "H1",
                "peer_educator_id": 99,
                "assigned_at": dt.datetime(2026, 1, 1),
                "assigned_by": "test",
            },
        )
    argv = ["plan", "assign", "--workspace", str(night.path), "--format"]
    assert main([*argv, "csv"]) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [
        "team",
        "peer_educator",
        "peer_educator_id",
        "hotspot",
        "district",
        "people",
        "change",
        "moved_from",
        "moved_from_team",
        "moved_from_id",
        "workload_hotspots",
        "workload_people",
        "workload_ratio",
    ]
    covered, districts = _covered_by(night), _district_names(night)
    assigned = [row for row in rows if row["hotspot"]]
    assert {row["hotspot"]: row["peer_educator"] for row in assigned} == covered
    assert set(covered) == set(NIGHT_PEOPLE)
    for row in assigned:
        hotspot = row["hotspot"]
        assert row["district"] == districts[hotspot]
        assert float(row["people"]) == NIGHT_PEOPLE[hotspot]
        mine = [h for h, peer in covered.items() if peer == row["peer_educator"]]
        assert int(row["workload_hotspots"]) == len(mine)
        load = sum(NIGHT_PEOPLE[h] for h in mine)
        assert float(row["workload_people"]) == load
        assert float(row["workload_ratio"]) == pytest.approx(load / 90)
    changes = {row["hotspot"]: row["change"] for row in assigned}
    assert changes == {"H1": "moved", "H2": "new", "H3": "new", "H4": "new"}
    [moved] = [row for row in assigned if row["hotspot"] == "H1"]
    assert (moved["moved_from"], moved["moved_from_team"], moved["moved_from_id"]) == (
        "PE9",
        "T1",
        "99",
    )
    # every active peer educator is listed, one without a hotspot as a row of their own
    assert {row["peer_educator"] for row in rows} == {"PE1", "PE2", "PE3"}
    assert all(row["workload_hotspots"] == "0" for row in rows if not row["hotspot"])
    # no cell of any hotspot, let alone a coordinate
    cells = {str(cell) for (cell,) in query(night, "SELECT cell FROM hotspots")}
    cells |= {h3.int_to_str(int(cell)) for cell in cells}
    assert not any(cell in out for cell in cells)

    # again: nothing moves, and the JSON nests each peer educator's hotspots
    assert main([*argv, "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["meta"] | {"norm": 90.0} == {
        "hotspots": 4,
        "peer_educators": 3,
        "kept": 4,
        "new": 0,
        "changed": 0,
        "removed": 0,
        "rebalance": False,
        "norm": 90.0,
    }
    by_peer = {peer["peer_educator"]: peer for peer in report["rows"]}
    assert set(by_peer) == {"PE1", "PE2", "PE3"}
    for name, peer in by_peer.items():
        mine = sorted(h for h, p in covered.items() if p == name)
        assert [h["hotspot"] for h in peer["assigned"]] == mine
        assert peer["hotspots"] == len(mine)
        assert peer["people"] == sum(NIGHT_PEOPLE[h] for h in mine)
        assert all(h["change"] == "kept" and h["moved_from"] is None for h in peer["assigned"])
        assert all(h["district"] == districts[h["hotspot"]] for h in peer["assigned"])

    # text: each peer educator, then the hotspots they cover
    assert main(argv[:-1]) == 0
    text = capsys.readouterr().out
    assert text.startswith("4 hotspots between 3 peer educators: 4 kept, 0 new")
    blocks = re.split(r"\n\n(?=PE\d \(team )", text)
    for name in ("PE1", "PE2", "PE3"):
        [block] = [b for b in blocks if b.startswith(f"{name} (team ")]
        mine = sorted(h for h, p in covered.items() if p == name)
        load = sum(NIGHT_PEOPLE[h] for h in mine)
        assert f"{load:.0f} estimated sex workers, {load / 90:.0%}".replace("%", " %") in block
        for hotspot in mine:
            assert re.search(rf"^  {hotspot}\s+{re.escape(districts[hotspot])}\s", block, re.M)
        assert not set(NIGHT_PEOPLE) - set(mine) & set(re.findall(r"^  (H\d)\b", block, re.M))


def test_plan_route_as_csv_and_json_gives_the_stored_stops(
    night: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTREACH_MAP_PLAN_SEARCH_SECONDS", "0.3")
    saturday = next_saturday()
    argv = ["plan", "route", "--workspace", str(night.path), "--team", "T1", "--date"]
    argv += [saturday.isoformat(), "--start", "DIC", "--hours", "20:00-02:00", "--format"]
    districts = _district_names(night)

    def stored() -> tuple[list[tuple[int, str, str, str, int]], int]:
        stops = query(
            night,
            "SELECT s.seq, s.hotspot_id, s.arrive, s.arrive_until, s.minutes_there "
            "FROM plan_stops s JOIN plans p ON p.id = s.plan_id "
            "WHERE p.team = 'T1' AND p.plan_date = :day ORDER BY s.seq",
            day=saturday,
        )
        [(travel,)] = query(
            night,
            "SELECT travel_minutes FROM plans WHERE team = 'T1' AND plan_date = :day",
            day=saturday,
        )
        rows = [
            (int(seq), str(h), str(a)[11:16], str(u)[11:16], int(m))  # type: ignore[call-overload]
            for seq, h, a, u, m in stops
        ]
        return rows, round(float(travel))  # type: ignore[arg-type]

    assert main([*argv, "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    stops, travel = stored()
    assert len(stops) == 3
    assert list(rows[0]) == [
        "team",
        "date",
        "seq",
        "hotspot",
        "district",
        "cell_id",
        "arrive",
        "arrive_until",
        "minutes_there",
        "overdue",
        "missed_before",
        "follow_up",
        "route_travel_minutes",
    ]
    got = [
        (int(r["seq"]), r["hotspot"], r["arrive"], r["arrive_until"], int(r["minutes_there"]))
        for r in rows
    ]
    assert got == stops
    assert all(row["district"] == districts[row["hotspot"]] for row in rows)
    assert {(row["team"], row["date"], row["route_travel_minutes"]) for row in rows} == {
        ("T1", saturday.isoformat(), str(travel))
    }

    # planned again, as JSON: the same stops (of the new plan), the left-out hotspot and why
    assert main([*argv, "json"]) == 0
    captured = capsys.readouterr()
    assert "replaces the plan stored earlier for team T1" in captured.err
    [plan] = json.loads(captured.out)["rows"]
    stops, travel = stored()
    assert (plan["team"], plan["start"], plan["hours"]) == ("T1", "Drop-in centre", "20:00-02:00")
    assert plan["replaces_earlier_plan"] is True
    assert plan["travel_minutes"] == travel
    got = [
        (s["seq"], s["hotspot"], s["arrive"], s["arrive_until"], s["minutes_there"])
        for s in plan["stops"]
    ]
    assert got == stops
    assert {"hotspot": "H4", "reason": "not_working"} in [
        {k: gone[k] for k in ("hotspot", "reason")} for gone in plan["left_out"]
    ]


@pytest.mark.parametrize("action", [["assign"], ["route", "--team", "T1"]])
def test_plan_refuses_an_unknown_format(
    night: Workspace, action: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", *action, "--workspace", str(night.path), "--format", "xml"]) == 2
    assert "argument --format: invalid choice: 'xml' (choose from" in capsys.readouterr().err
