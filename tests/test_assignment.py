"""Splitting hotspots between peer educators: near where each works, within the norm, stable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import h3
import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa
from helpers import copy_workspace, csv_text

from mapping.errors import InvalidInputError, OutdatedProposalError
from mapping.ingest.registry_files import hotspots_from_file
from mapping.ingest.visits import visits_from_file
from mapping.planning.assignments import (
    AssignmentResult,
    active_peers,
    current_assignments,
    propose_assignment,
    run_assignment,
    save_assignment,
)
from mapping.planning.split import KEEP_KM, assign_hotspots, workloads
from mapping.registries.hotspots import hotspot_registry, retire_hotspot
from mapping.storage import store
from mapping.storage.audit import Actor
from mapping.storage.workspace import Workspace

#: The workspace tests run on SQLite and on a real PostgreSQL server.
pytestmark = pytest.mark.engines

NORM = 90.0
#: Two places in Lima about 17 km apart: the historic centre and Villa El Salvador.
CENTRE = (-12.0500, -77.0330)
SOUTH = (-12.2000, -76.9400)


def at(
    place: tuple[float, float], east_km: float = 0.0, north_km: float = 0.0
) -> tuple[float, float]:
    """Return the point ``east_km`` east and ``north_km`` north of ``place``."""
    lat, lng = place
    return lat + north_km / 111.2, lng + east_km / (111.2 * np.cos(np.radians(lat)))


def cell(point: tuple[float, float]) -> int:
    """Return the resolution-8 cell of a point, as the store keeps it."""
    return int(h3.str_to_int(h3.latlng_to_cell(point[0], point[1], 8)))


def hotspots(*rows: tuple[str, tuple[float, float], float, int | None]) -> pl.DataFrame:
    """Return hotspots from (id, point, estimated sex workers, current peer educator id) rows."""
    return pl.DataFrame(
        {
            "id": [row[0] for row in rows],
            "cell": [cell(row[1]) for row in rows],
            "weight": [row[2] for row in rows],
            "peer_educator_id": [row[3] for row in rows],
        },
        schema={
            "id": pl.String,
            "cell": pl.Int64,
            "weight": pl.Float64,
            "peer_educator_id": pl.Int64,
        },
    )


def peers(*rows: tuple[int, str, tuple[float, float] | None]) -> pl.DataFrame:
    """Return peer educators from (peer educator id, team, anchor or None) rows."""
    return pl.DataFrame(
        {
            "peer_educator_id": [row[0] for row in rows],
            "peer_educator": [f"PE{row[0]}" for row in rows],
            "team": [row[1] for row in rows],
            "anchor_lat": [row[2][0] if row[2] else None for row in rows],
            "anchor_lng": [row[2][1] if row[2] else None for row in rows],
        },
        schema={
            "peer_educator_id": pl.Int64,
            "peer_educator": pl.String,
            "team": pl.String,
            "anchor_lat": pl.Float64,
            "anchor_lng": pl.Float64,
        },
    )


def owners(assigned: pl.DataFrame) -> dict[str, int]:
    """Return the peer educator of each hotspot."""
    return dict(zip(assigned["id"].to_list(), assigned["peer_educator_id"].to_list(), strict=True))


def loads(assigned: pl.DataFrame) -> dict[int, float]:
    """Return the estimated sex workers of each peer educator."""
    per_peer = assigned.group_by("peer_educator_id").agg(pl.col("weight").sum())
    return dict(
        zip(per_peer["peer_educator_id"].to_list(), per_peer["weight"].to_list(), strict=True)
    )


# --- hand-made instances whose answer is obvious --------------------------------------------------


def test_two_clusters_far_apart_go_to_the_peer_educators_near_them() -> None:
    spots = hotspots(
        ("C1", at(CENTRE), 10, None),
        ("C2", at(CENTRE, 0.8), 12, None),
        ("C3", at(CENTRE, 0, 0.9), 8, None),
        ("S1", at(SOUTH), 15, None),
        ("S2", at(SOUTH, -0.7), 9, None),
        ("S3", at(SOUTH, 0.5, 0.5), 11, None),
    )
    assigned = assign_hotspots(spots, peers((1, "T1", CENTRE), (2, "T2", SOUTH)), norm=NORM)
    assert owners(assigned) == {"C1": 1, "C2": 1, "C3": 1, "S1": 2, "S2": 2, "S3": 2}
    assert assigned["kept"].to_list() == [False] * 6  # none had a peer educator
    assert assigned.columns == ["id", "cell", "weight", "peer_educator_id", "kept"]


#: Four hotspots of 40 around peer educator 1; peer educator 2 works 3 km east. Together they
#: are 160 sex workers: one peer educator cannot cover them within the norm of 90.
CROWDED = (
    ("W1", at(CENTRE, -0.5), 40.0),
    ("W2", at(CENTRE, -0.5, 0.6), 40.0),
    ("E1", at(CENTRE, 0.6), 40.0),
    ("E2", at(CENTRE, 0.6, 0.6), 40.0),
)
TWO_PEERS = ((1, "T1", CENTRE), (2, "T1", at(CENTRE, 3.0)))


def test_capacity_forces_a_split_and_the_nearest_hotspots_move() -> None:
    assigned = assign_hotspots(
        hotspots(*((*row, None) for row in CROWDED)), peers(*TWO_PEERS), norm=NORM
    )
    # each keeps within the norm; the two on the side of peer educator 2 go there
    assert owners(assigned) == {"W1": 1, "W2": 1, "E1": 2, "E2": 2}
    assert loads(assigned) == {1: 80.0, 2: 80.0}


def test_only_the_nearest_candidates_are_considered() -> None:
    """With one candidate, every hotspot goes to its nearest peer educator, overloaded or not."""
    assigned = assign_hotspots(
        hotspots(*((*row, None) for row in CROWDED)), peers(*TWO_PEERS), norm=NORM, candidates=1
    )
    assert set(owners(assigned).values()) == {1}


def test_current_assignments_are_kept_unless_rebalanced() -> None:
    spots = hotspots(*((*row, 1) for row in CROWDED))  # all with peer educator 1 now
    kept = assign_hotspots(spots, peers(*TWO_PEERS), norm=NORM)
    assert set(owners(kept).values()) == {1} and kept["kept"].all()
    rebalanced = assign_hotspots(spots, peers(*TWO_PEERS), norm=NORM, rebalance=True)
    assert owners(rebalanced) == {"W1": 1, "W2": 1, "E1": 2, "E2": 2}
    assert rebalanced["kept"].to_list() == [True, True, False, False]


def test_a_rebalance_moves_a_hotspot_only_when_it_is_worth_it() -> None:
    """Both peer educators have room: a hotspot moves to the nearer one only if it is more than
    KEEP_KM nearer, so relationships are not broken for a trifle."""
    team = peers((1, "T1", CENTRE), (2, "T1", at(CENTRE, 4.0)))
    slightly = hotspots(("H", at(CENTRE, 2.0 + KEEP_KM / 4), 10.0, 1))  # 0.5 km nearer to 2
    assert assign_hotspots(slightly, team, norm=NORM, rebalance=True)["kept"].all()
    clearly = hotspots(("H", at(CENTRE, 3.5), 10.0, 1))  # 3 km nearer to 2
    moved = assign_hotspots(clearly, team, norm=NORM, rebalance=True)
    assert owners(moved) == {"H": 2} and not moved["kept"].any()


def test_overload_is_spread_evenly_when_need_exceeds_capacity() -> None:
    """300 sex workers, two peer educators (180 within the norm): each gets 150, although all
    hotspots are nearer to the first and 200 / 100 would overload the two as much in sum."""
    spots = hotspots(
        *((f"H{i}", at(CENTRE, 0.3 * (i % 3), 0.3 * (i // 3)), 50.0, None) for i in range(6))
    )
    assigned = assign_hotspots(
        spots, peers((1, "T1", CENTRE), (2, "T1", at(CENTRE, 2.0))), norm=NORM
    )
    assert loads(assigned) == {1: 150.0, 2: 150.0}


def test_a_peer_educator_who_left_loses_their_hotspots_to_the_others() -> None:
    spots = hotspots(
        ("A", at(CENTRE), 20.0, 1),
        ("B", at(SOUTH, 0.3), 20.0, 1),  # far from 1, but 1 still works: kept
        ("C", at(CENTRE, 0.5), 20.0, 9),  # 9 left the programme
        ("D", at(SOUTH), 20.0, 9),
        ("E", at(SOUTH, -0.4), 20.0, None),
    )
    assigned = assign_hotspots(spots, peers((1, "T1", CENTRE), (2, "T2", SOUTH)), norm=NORM)
    assert owners(assigned) == {"A": 1, "B": 1, "C": 1, "D": 2, "E": 2}
    assert assigned["kept"].to_list() == [True, True, False, False, False]


def test_a_peer_educator_without_located_visits_works_where_their_team_does() -> None:
    """Peer educator 2 made only phone contacts: anchored at their team's (3's) place, they
    share the southern hotspots with 3 and take none in the centre."""
    spots = hotspots(
        ("C1", at(CENTRE), 10.0, None),
        *((f"S{i}", at(SOUTH, 0.4 * i), 40.0, None) for i in range(4)),
    )
    team = peers((1, "T1", CENTRE), (2, "T2", None), (3, "T2", SOUTH))
    assigned = assign_hotspots(spots, team, norm=NORM)
    assert owners(assigned)["C1"] == 1
    assert loads(assigned) == {1: 10.0, 2: 80.0, 3: 80.0}
    # nobody located at all: everyone at the hotspots' centre, and every hotspot still assigned
    nowhere = peers((1, "T1", None), (2, "T2", None))
    assert assign_hotspots(spots, nowhere, norm=NORM)["peer_educator_id"].is_in([1, 2]).all()


def test_no_hotspot_gives_an_empty_split() -> None:
    assigned = assign_hotspots(hotspots(), peers((1, "T1", CENTRE)), norm=NORM)
    assert assigned.height == 0 and assigned.columns[-1] == "kept"


def test_workloads_count_every_peer_educator() -> None:
    spots = hotspots(("A", CENTRE, 50.0, 1), ("B", CENTRE, 49.0, 1), ("C", SOUTH, 45.0, 2))
    table = workloads(spots, peers((2, "T1", None), (1, "T1", None), (3, "T2", None)), NORM)
    assert table.columns == [
        "team",
        "peer_educator",
        "peer_educator_id",
        "hotspots",
        "sex_workers",
        "ratio",
    ]
    assert table.select("peer_educator", "hotspots", "sex_workers").rows() == [
        ("PE1", 2, 99.0),
        ("PE2", 1, 45.0),
        ("PE3", 0, 0.0),
    ]
    assert table["ratio"].to_list() == pytest.approx([1.1, 0.5, 0.0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"peers": peers()},
            "no active peer educator: import visits first — hotspots go to peer educators",
        ),
        (
            {"hotspots": hotspots().drop("weight"), "peers": peers((1, "T1", None)).drop("team")},
            "hotspots lack the column.s. weight — give id, cell, weight, peer_educator_id; peers "
            "lack the column.s. team",
        ),
        (
            {"hotspots": hotspots(("A", CENTRE, 1.0, None), ("A", SOUTH, 2.0, None))},
            r"hotspot\(s\) A appear more than once — give each once",
        ),
        (
            {"hotspots": hotspots(("A", CENTRE, 1.0, None)).with_columns(cell=None)},
            r"hotspot\(s\) A have no cell — give each its H3 cell",
        ),
        (
            {
                "hotspots": hotspots(
                    *((f"H{i}", CENTRE, -1.0, None) for i in range(7)), ("N", CENTRE, 1.0, None)
                ).with_columns(
                    pl.when(pl.col("id") == "N").then(None).otherwise("weight").alias("weight")
                )
            },
            r"hotspot\(s\) H0, H1, H2, H3, H4 and 3 more have no usable weight — give each its "
            "estimated number of sex workers, 0 or more",
        ),
        (
            {"peers": peers((1, "T1", None), (1, "T2", None))},
            r"peer educator id\(s\) 1 appear more than once in peers — give each peer educator "
            "once",
        ),
        (
            {"peers": peers((1, "T1", None)).with_columns(peer_educator_id=None)},
            "peers without a peer_educator_id — give each peer educator's id",
        ),
        ({"candidates": 0}, "candidates = 0: each hotspot must consider at least 1 peer educator"),
        ({"time_limit_s": 0.0}, "time limit 0.0 s is not positive — give a number of seconds"),
        (
            {"norm": 0.0},
            "workload norm 0.0 is not a number of sex workers per peer educator — give a "
            "positive number",
        ),
    ],
)
def test_unusable_inputs_are_refused_with_the_fix(change: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "hotspots": hotspots(("A", CENTRE, 10.0, None)),
        "peers": peers((1, "T1", CENTRE)),
        "norm": NORM,
        **change,
    }
    with pytest.raises(InvalidInputError, match=message):
        assign_hotspots(**arguments)  # type: ignore[arg-type]


def test_problems_are_reported_together() -> None:
    with pytest.raises(
        InvalidInputError, match=r"have no cell .*; candidates = 0: .*; workload norm"
    ):
        assign_hotspots(
            hotspots(("A", CENTRE, 1.0, None)).with_columns(cell=None),
            peers((1, "T1", CENTRE)),
            norm=-1,
            candidates=0,
        )


def test_workloads_refuse_a_norm_that_is_not_positive() -> None:
    with pytest.raises(InvalidInputError, match="workload norm nan is not a number"):
        workloads(hotspots(), peers(), float("nan"))


# --- the store ------------------------------------------------------------------------------------

TODAY = dt.date(2026, 11, 20)
#: Two areas of Lima about 8 km apart: the historic centre and Miraflores.
LIMA = (-12.0464, -77.0428)
MIRAFLORES = (-12.1211, -77.0297)


@pytest.fixture
def area(workspace: Workspace, tmp_path: Path) -> Workspace:
    """Five hotspots, three in the centre and two in Miraflores, and four peer educators: PE1
    works in the centre, PE2 in Miraflores (last on 1 October), PE3 only by phone, and PE4's
    visits are older than 90 days."""
    registry = tmp_path / "hotspots.csv"
    registry.write_text(
        csv_text(
            ("id", "cell", "typology", "size_min", "size_max"),
            [
                ("HC1", h3.int_to_str(cell(LIMA)), "street", 10, 20),
                ("HC2", h3.int_to_str(cell(at(LIMA, 0.6))), "bar", 5, 9),
                ("HC3", h3.int_to_str(cell(at(LIMA, 0, 0.6))), "lodge", "", ""),
                ("HM1", h3.int_to_str(cell(MIRAFLORES)), "strip_club", 12, 16),
                ("HM2", h3.int_to_str(cell(at(MIRAFLORES, 0.7))), "bar", 6, 6),
            ],
        ),
        encoding="utf-8",
    )
    assert hotspots_from_file(workspace, registry).accepted == 5
    visits = tmp_path / "visits.csv"
    rows = [
        ("2026-11-15", "PE1", "T1", "in_person", *LIMA, "AAA01"),
        ("2026-11-16", "PE1", "T1", "in_person", *LIMA, "AAA02"),
        ("2026-11-17", "PE1", "T1", "in_person", *at(LIMA, 0.6), "AAA03"),
        ("2026-10-01", "PE2", "T1", "in_person", *MIRAFLORES, "BBB01"),
        ("2026-11-10", "PE3", "T2", "phone", "", "", "CCC01"),
        ("2026-05-01", "PE4", "T2", "in_person", *LIMA, "DDD01"),
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


def _by_code(workspace: Workspace) -> dict[str, str]:
    """Return the peer educator code of each stored assignment."""
    rows = current_assignments(workspace).select("hotspot_id", "peer_educator").rows()
    return dict(rows)  # type: ignore[arg-type]


def _audit(workspace: Workspace) -> list[tuple[str, str, str]]:
    with workspace.connect() as connection:
        rows = connection.execute(
            sa.select(
                store.audit_log.c.username, store.audit_log.c.action, store.audit_log.c.detail
            )
            .where(store.audit_log.c.action == "assign")
            .order_by(store.audit_log.c.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_active_peers_are_anchored_where_they_work(area: Workspace) -> None:
    found = active_peers(area, today=TODAY)
    assert found.columns == [
        "peer_educator_id",
        "peer_educator",
        "team",
        "anchor_lat",
        "anchor_lng",
    ]
    assert found["peer_educator"].to_list() == ["PE1", "PE2", "PE3"]  # PE4: too long ago
    pe1, pe2, pe3 = found.rows(named=True)
    # the median of PE1's three visits: two in the centre's cell, so that cell's centre
    assert (pe1["anchor_lat"], pe1["anchor_lng"]) == pytest.approx(
        h3.cell_to_latlng(h3.latlng_to_cell(*LIMA, 8))
    )
    assert pe2["anchor_lat"] == pytest.approx(
        h3.cell_to_latlng(h3.latlng_to_cell(*MIRAFLORES, 8))[0]
    )
    assert pe3["anchor_lat"] is None and pe3["anchor_lng"] is None  # phone contacts only
    assert active_peers(area, today=TODAY, days=30)["peer_educator"].to_list() == ["PE1", "PE3"]


def test_run_assignment_saves_the_split_and_a_rerun_changes_nothing(area: Workspace) -> None:
    coordinator = Actor("coord-ana", "coordinator")
    result = run_assignment(area, today=TODAY, actor=coordinator)
    assert isinstance(result, AssignmentResult)
    assert (result.kept, result.new, result.changed, result.removed) == (0, 5, 0, 0)
    # PE3 (phone contacts only, alone in T2) is placed at the hotspots' median centre, which
    # is HC2's: a peer educator of whom nothing is known starts where the hotspots are
    assert _by_code(area) == {"HC1": "PE1", "HC2": "PE3", "HC3": "PE1", "HM1": "PE2", "HM2": "PE2"}
    assert result.assignments["id"].to_list() == ["HC1", "HC2", "HC3", "HM1", "HM2"]
    # HC3 has no size: the median of the others' midpoints (15, 7, 14, 6 -> 10.5)
    assert result.assignments.filter(pl.col("id") == "HC3")["weight"][0] == 10.5
    assert result.workloads.select("peer_educator", "hotspots", "sex_workers").rows() == [
        ("PE1", 2, 25.5),
        ("PE2", 2, 20.0),
        ("PE3", 1, 7.0),
    ]
    stored = current_assignments(area)
    assert set(stored["assigned_by"]) == {"coord-ana"}
    assert _audit(area) == [
        (
            "coord-ana",
            "assign",
            "assigned 5 hotspots between 3 peer educators: 0 kept, 5 new, 0 changed, 0 removed",
        )
    ]
    again = run_assignment(area, today=TODAY, actor=Actor("someone-else", "coordinator"))
    assert (again.kept, again.new, again.changed, again.removed) == (5, 0, 0, 0)
    assert current_assignments(area).equals(stored)  # not even the time of assignment changed
    assert len(_audit(area)) == 1  # nothing happened, nothing to record
    rebalanced = run_assignment(area, today=TODAY, rebalance=True, actor=coordinator)
    assert rebalanced.kept == 5 and current_assignments(area).equals(stored)


def test_retired_hotspots_and_departed_peer_educators_are_let_go(area: Workspace) -> None:
    run_assignment(area, today=TODAY)
    retire_hotspot(area, "HC2")
    result = run_assignment(area, today=TODAY)
    assert (result.kept, result.new, result.changed, result.removed) == (4, 0, 0, 1)
    assert "HC2" not in _by_code(area)
    # PE2's last visit is 50 days old: in a 30-day window their hotspots go to PE3, now placed
    # at the median centre of the four hotspots, between the centre and Miraflores
    later = run_assignment(area, today=TODAY, days=30)
    assert (later.kept, later.changed) == (2, 2)
    assert _by_code(area) == {"HC1": "PE1", "HC3": "PE1", "HM1": "PE3", "HM2": "PE3"}
    assert later.workloads["peer_educator"].to_list() == ["PE1", "PE3"]
    assert _audit(area)[-1][2].endswith("2 kept, 0 new, 2 changed, 0 removed")


def test_no_active_peer_educator_is_refused(area: Workspace) -> None:
    with pytest.raises(
        InvalidInputError,
        match="no active peer educator: import visits first — hotspots go to peer educators with "
        "a visit in the 90 days up to 2027-06-01",
    ):
        run_assignment(area, today=dt.date(2027, 6, 1))
    assert current_assignments(area).height == 0
    with pytest.raises(
        InvalidInputError, match="days = 0: a peer educator is active after a visit"
    ):
        run_assignment(area, today=TODAY, days=0)
    with pytest.raises(InvalidInputError, match="days = -3"):
        active_peers(area, today=TODAY, days=-3)


def test_the_demo_assigns_every_active_hotspot(demo_workspace: Path, tmp_path: Path) -> None:
    """The Lima demo: every active hotspot gets a peer educator, and each one's load is shown."""
    workspace = copy_workspace(demo_workspace, tmp_path / "demo")
    result = run_assignment(workspace)
    active = hotspot_registry(workspace).filter(pl.col("active"))
    assert sorted(current_assignments(workspace)["hotspot_id"]) == sorted(active["id"])
    assert result.new == active.height and result.assignments["peer_educator_id"].null_count() == 0
    table = result.workloads
    assert table.height == 24  # six teams of four, all active
    assert table["hotspots"].sum() == active.height
    assert table["sex_workers"].sum() == pytest.approx(result.assignments["weight"].sum())
    # the demo's need fits within the norm: nobody is left far over it
    assert table["ratio"].max() < 1.1
    assert run_assignment(workspace).kept == active.height


def test_a_proposal_writes_nothing_and_saving_writes_exactly_it(area: Workspace) -> None:
    coordinator = Actor("coord-ana", "coordinator")
    proposal = propose_assignment(area, today=TODAY)
    assert current_assignments(area).height == 0 and _audit(area) == []  # nothing written
    assert (proposal.new, proposal.changed, proposal.removed, proposal.change_count) == (5, 0, 0, 5)
    # what is shown: names of hotspots, districts and peer educators, never an anchor
    assert proposal.changes.columns == [
        "hotspot_id",
        "district",
        "change",
        "previous_peer_educator",
        "previous_team",
        "peer_educator",
        "team",
    ]
    assert proposal.changes.select("hotspot_id", "change", "peer_educator").rows() == [
        ("HC1", "new", "PE1"),
        ("HC2", "new", "PE3"),
        ("HC3", "new", "PE1"),
        ("HM1", "new", "PE2"),
        ("HM2", "new", "PE2"),
    ]
    save_assignment(area, proposal, actor=coordinator)
    assert _by_code(area) == dict(
        proposal.changes.select("hotspot_id", "peer_educator").rows()  # type: ignore[arg-type]
    )
    assert _audit(area) == [
        (
            "coord-ana",
            "assign",
            "assigned 5 hotspots between 3 peer educators: 0 kept, 5 new, 0 changed, 0 removed",
        )
    ]
    # saved once: the same proposal again is outdated, and a new one has nothing to change
    with pytest.raises(OutdatedProposalError):
        save_assignment(area, proposal, actor=coordinator)
    nothing = propose_assignment(area, today=TODAY, rebalance=True)
    assert nothing.change_count == 0 and nothing.changes.height == 0
    stored = current_assignments(area)
    save_assignment(area, nothing, actor=coordinator)
    assert current_assignments(area).equals(stored) and len(_audit(area)) == 1


def test_a_proposal_outdated_by_another_save_is_refused(area: Workspace) -> None:
    run_assignment(area, today=TODAY)
    proposal = propose_assignment(area, today=TODAY, days=30)  # PE2 inactive: HM1, HM2 move
    assert proposal.changes.select(
        "hotspot_id", "change", "previous_peer_educator", "peer_educator"
    ).rows() == [("HM1", "changed", "PE2", "PE3"), ("HM2", "changed", "PE2", "PE3")]
    retire_hotspot(area, "HC2")  # meanwhile, another coordinator retires a hotspot
    before = current_assignments(area)
    with pytest.raises(
        OutdatedProposalError,
        match=r"changed since this proposal was made .* nothing was saved — make a new proposal",
    ):
        save_assignment(area, proposal, actor=Actor("coord-ana", "coordinator"))
    assert current_assignments(area).equals(before)
    fresh = propose_assignment(area, today=TODAY, days=30)
    assert fresh.changes.filter(pl.col("change") == "removed")["hotspot_id"].to_list() == ["HC2"]
    assert fresh.removed_ids == ("HC2",)
    save_assignment(area, fresh)
    assert _by_code(area) == {"HC1": "PE1", "HC3": "PE1", "HM1": "PE3", "HM2": "PE3"}
    with pytest.raises(InvalidInputError, match="not a proposal"):
        save_assignment(area, AssignmentResult(pl.DataFrame(), pl.DataFrame(), 0, 0, 0, 0))
