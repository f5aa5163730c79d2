"""An attack on everything a funder can obtain: can a planted count of 1 to 10 people be recovered?

A synthetic programme is imported through the real importer into a real Lima workspace, with
large groups (hundreds of people a month) and **planted small groups** of 1 to 10 people: in
res-6 cells whose siblings are large, and in one month of a district whose other months are
large. Every person has one visit, so counts add up exactly across cells, districts and
months: the strongest case for differencing.

The attacker collects every artefact a funder can obtain: each month and quarter at every
level (district, resolutions 0 to 6) and measure, through the real ``outreach-map export``
command, each asked twice (the ledger refuses many: that is the point), plus the reach page's
table. Then they use every identity that holds between true counts — a quarter is the sum of
its months, a cell the sum of its children, a resolution-0 cell the sum of the districts — to
solve for each figure they lack from figures they have, repeatedly (a solved figure feeds the
next identity).

**Recovered** means the attacker can *tell* that their figure is exact: it was solved only from
figures that carry no noise (its uncertainty interval holds a single value). A figure not shown
is taken as 0 with uncertainty (it is under the threshold, not known to be 0). Noisy estimates
can equal the true count by chance, so the test also reports those **chance matches**, next to
what a blind guess of a number from 1 to 10 would get (one in ten).

The positive control runs the same attacker against **naive suppression without noise** (true
counts of k or more released as they are, smaller ones hidden, no budget): it must recover
planted counts, or the attack would prove nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import h3
import numpy as np
import polars as pl
import pytest
from helpers import csv_text, query

from mapping.access.disclosure import DISTRICT, group_keys, raw_counts
from mapping.access.funder_reach import reach_release, reach_table
from mapping.access.mechanism import DisclosureParameters
from mapping.cli.main import main
from mapping.i18n import translator
from mapping.ingest.visits import visits_from_file
from mapping.storage.audit import Actor
from mapping.storage.workspace import Workspace

TODAY = dt.date(2026, 11, 20)
QUARTERS = {
    "2026-Q2": ("2026-04", "2026-05", "2026-06"),
    "2026-Q3": ("2026-07", "2026-08", "2026-09"),
}
MONTHS = [month for months in QUARTERS.values() for month in months]
PERIODS = [*MONTHS, *QUARTERS]
LEVELS = [DISTRICT, "0", "1", "2", "3", "4", "5", "6"]
HEADER = ("date", "peer_educator", "team", "channel", "latitude", "longitude", "contact_code")
#: People a month in each large res-6 cell, and in a large district month.
LARGE_CELL, LARGE_DISTRICT = 400, 200

Figure = tuple[str, str, str]  # period, level, key


def _centre(cell: int) -> tuple[float, float]:
    return h3.cell_to_latlng(h3.int_to_str(cell))


def synthetic_programme(workspace: Workspace) -> dict[str, object]:
    """Import the programme; return where the plants are (for the printout only)."""
    rng = np.random.default_rng(20261120)
    area = (
        pl.DataFrame(
            query(workspace, "SELECT cell, district_id FROM area_cells"),
            schema={"cell": pl.Int64, "district_id": pl.String},
            orient="row",
        )
        .with_columns(
            pl.col("cell")
            .map_elements(lambda c: h3.cell_to_parent(h3.int_to_str(c), 6), return_dtype=pl.String)
            .alias("r6")
        )
        .with_columns(
            pl.col("r6")
            .map_elements(lambda c: h3.cell_to_parent(c, 5), return_dtype=pl.String)
            .alias("r5")
        )
    )
    # the res-5 cell with most res-6 children in the area: its children take turns being small
    children = (
        area.group_by("r5")
        .agg(pl.col("r6").unique().sort())
        .sort(pl.col("r6").list.len(), "r5", descending=[True, False])
    )
    parent, kids = children.row(0)
    assert len(kids) >= 4, kids
    cells_of = {kid: sorted(area.filter(pl.col("r6") == kid)["cell"].to_list())[:5] for kid in kids}
    # two districts away from that res-5 cell take turns of a small month
    away = (
        area.group_by("district_id")
        .agg((pl.col("r5") == parent).any().alias("near"), pl.col("cell").min())
        .filter(~pl.col("near"))
        .sort("district_id")
    )
    small_districts = {"2026-Q2": away.row(0), "2026-Q3": away.row(1)}
    rows: list[tuple[object, ...]] = []
    plants: dict[str, object] = {}

    def people(month: str, cells: list[int], count: int, prefix: str) -> None:
        for index in range(count):
            lat, lng = _centre(cells[index % len(cells)])
            code = f"{prefix}{index:04d}"
            rows.append((f"{month}-{1 + index % 28:02d}", "PE1", "T1", "in_person", lat, lng, code))

    for number, month in enumerate(MONTHS):
        small_kid = kids[number % len(kids)]
        for kid in kids:
            if kid == small_kid:
                planted = int(rng.integers(1, 11))
                plants[f"{month} cell"] = planted
                people(month, cells_of[kid][:1], planted, f"P{number}C")
            else:
                people(month, cells_of[kid], LARGE_CELL, f"B{number}{kids.index(kid)}C")
    for quarter, (_, _, cell) in small_districts.items():
        first, middle, last = QUARTERS[quarter]
        planted = int(rng.integers(1, 11))
        plants[f"{middle} district"] = planted
        people(first, [cell], LARGE_DISTRICT, f"D{quarter[-1]}A")
        people(middle, [cell], planted, f"D{quarter[-1]}P")
        people(last, [cell], LARGE_DISTRICT, f"D{quarter[-1]}Z")
    path = workspace.path.parent / "programme.csv"
    path.write_text(csv_text(HEADER, rows), encoding="utf-8")
    result = visits_from_file(workspace, path)
    assert (result.accepted, result.rejected) == (len(rows), 0), result
    return plants


def identities(workspace: Workspace) -> list[tuple[Figure, list[Figure]]]:
    """Every sum that holds between true counts here: (whole, parts)."""
    with workspace.connect() as connection:
        keys = {level: group_keys(connection, level)["key"].to_list() for level in LEVELS}
    found: list[tuple[Figure, list[Figure]]] = []
    for quarter, months in QUARTERS.items():
        for level in LEVELS:
            for key in keys[level]:
                found.append(((quarter, level, key), [(m, level, key) for m in months]))
    districts = [k for k in keys[DISTRICT] if not k.startswith("_")]
    for period in PERIODS:
        for resolution in range(6):
            finer = set(keys[str(resolution + 1)])
            for cell in keys[str(resolution)]:
                parts = [c for c in h3.cell_to_children(cell, resolution + 1) if c in finer]
                found.append(
                    (
                        (period, str(resolution), cell),
                        [(period, str(resolution + 1), c) for c in parts],
                    )
                )
        if len(keys["0"]) == 1:  # the whole area in one res-0 cell: it is the districts' sum
            found.append(((period, "0", keys["0"][0]), [(period, DISTRICT, d) for d in districts]))
    return found


def attack(
    known: dict[Figure, tuple[float, int]], sums: Iterable[tuple[Figure, list[Figure]]]
) -> dict[Figure, tuple[float, int]]:
    """Solve every identity for each figure from the others, keeping the least noisy answer.

    A figure is (value, noisy terms): 0 noisy terms is exact. Runs to a fixed point.
    """
    best = dict(known)
    sums = list(sums)
    changed = True
    while changed:
        changed = False
        for whole, parts in sums:
            terms = [whole, *parts]
            if sum(term not in best for term in terms) > 1:
                continue
            for target in terms:
                others = [term for term in terms if term != target]
                if any(term not in best for term in others):
                    continue
                noise = sum(best[term][1] for term in others)
                value = sum(best[term][0] for term in parts if term != target)
                value = best[whole][0] - value if target != whole else value
                if target not in best or noise < best[target][1]:
                    best[target] = (value, noise)
                    changed = True
    return best


def report(
    name: str, solved: dict[Figure, tuple[float, int]], truth: dict[Figure, int]
) -> tuple[int, int, int]:
    """Print and return (small counts, recovered exactly, chance matches)."""
    small = {figure: count for figure, count in truth.items() if 1 <= count <= 10}
    exact = [f for f in small if f in solved and solved[f][1] == 0 and solved[f][0] == small[f]]
    chance = [
        f for f in small if f in solved and solved[f][1] > 0 and round(solved[f][0]) == small[f]
    ]
    print(
        f"{name}: {len(small)} planted small counts (1-10 people); recovered exactly "
        f"{len(exact)}; noisy estimates matching by chance {len(chance)} "
        f"(a blind guess of 1-10 would match about {len(small) / 10:.1f})"
    )
    return len(small), len(exact), len(chance)


def read_release(path: Path) -> dict[str, int | None]:
    table = pl.read_csv(path, schema_overrides={"key": pl.String, "value": pl.Int64})
    table = table.filter(pl.col("key") != "_total")
    return dict(zip(table["key"], table["value"], strict=True))


@pytest.fixture
def programme(workspace: Workspace) -> tuple[Workspace, dict[str, object]]:
    return workspace, synthetic_programme(workspace)


def test_planted_small_counts_cannot_be_recovered(
    programme: tuple[Workspace, dict[str, object]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    workspace, plants = programme
    params = DisclosureParameters()
    truth: dict[Figure, int] = {}
    for period in PERIODS:
        for level in LEVELS:
            counts = raw_counts(workspace, period, level, params=params)
            truth.update({(period, level, key): n for key, n in counts.iter_rows()})
    sums = identities(workspace)
    # the identities hold between the true counts (every person has one visit)
    for whole, parts in sums:
        assert truth.get(whole, 0) == sum(truth.get(part, 0) for part in parts), whole

    # --- what a funder can obtain: every period, level and measure, each asked twice ---
    smart = [
        # the attacker spends each quarter's budget where differencing could work best
        ("2026-04", DISTRICT),
        ("2026-Q2", DISTRICT),
        ("2026-06", DISTRICT),
        ("2026-07", "5"),
        ("2026-07", "6"),
        ("2026-Q3", DISTRICT),
    ]
    every = [
        (period, level, measure)
        for period in PERIODS
        for level in LEVELS
        for measure in (("people", "tested", "violence") if level == DISTRICT else ("people",))
    ]
    first = [(period, level, "people") for period, level in smart]
    asked = [*first, *(request for request in every if request not in first)]
    released: dict[tuple[str, str], dict[str, int | None]] = {}
    refused = 0
    for period, level, measure in asked:
        answers = []
        for attempt in range(2):
            out = tmp_path / f"{period}-{level}-{measure}-{attempt}.csv"
            argv = ["export", "--role", "funder", "--period", period, "--level", level]
            argv += ["--measure", measure, "--out", str(out)]
            argv += ["--workspace", str(workspace.path)]
            code = main(argv)
            if code != 0:
                refused += 1
                continue
            answers.append(out.read_bytes())
            if measure == "people":
                released[(period, level)] = read_release(out)
        # asking again returns the stored answer: averaging repeats gains nothing
        assert len(set(answers)) <= 1, (period, level, measure)
    capsys.readouterr()
    # the reach page's table is one of those releases, shown as stored
    page = reach_release(workspace, actor=Actor("funder-1", "funder"), today=TODAY)
    for quarter in QUARTERS:
        table = reach_table(page, quarter, translator("en"))
        shown = page.figures.filter(pl.col("quarter") == quarter)
        for district_id, reach in zip(shown["district_id"], shown["reach"], strict=True):
            assert released[(quarter, DISTRICT)].get(district_id) == reach
        # the sums: a row of the districts with a target (when one has), and the area total
        assert table.height == shown.height + 1 + int(shown["target"].is_not_null().any())

    # --- the attack on the differentially private releases ---
    known: dict[Figure, tuple[float, int]] = {}
    for (period, level), figures in released.items():
        for key, value in figures.items():
            # a released figure carries noise; one not shown is "0, give or take"
            known[(period, level, key)] = (float(value or 0), 1)
    with capsys.disabled():
        print()
        print(f"ledger: {len(released)} releases of people made, {refused} requests refused")
        print(f"planted: {plants}")
        small, exact, _ = report("differential privacy", attack(known, sums), truth)
    assert small >= 8
    assert exact == 0

    # --- positive control: the same attacker against naive suppression without noise ---
    naive: dict[Figure, tuple[float, int]] = {}
    for period in PERIODS:
        for level in LEVELS:
            with workspace.connect() as connection:
                keys = group_keys(connection, level)["key"].to_list()
            for key in keys:
                count = truth.get((period, level, key), 0)
                naive[(period, level, key)] = (
                    (float(count), 0) if count >= params.min_count else (0.0, 1)
                )
    with capsys.disabled():
        _, naive_exact, _ = report("naive suppression (control)", attack(naive, sums), truth)
    assert naive_exact >= len(plants) // 2, "the attack must work against naive suppression"

    # --- accuracy of released district figures about 500 people or more ---
    large = [
        (value, truth[(period, DISTRICT, key)])
        for (period, level), figures in released.items()
        if level == DISTRICT
        for key, value in figures.items()
        if value is not None and truth.get((period, DISTRICT, key), 0) >= 500
    ]
    within = sum(abs(value - true) <= 0.05 * true for value, true in large)
    with capsys.disabled():
        print(
            f"accuracy: {within} of {len(large)} released district figures of 500+ people "
            f"within ±5 % of the truth ({100 * within / max(len(large), 1):.0f} %)"
        )
    assert len(large) >= 3
    assert within >= 0.95 * len(large)


def test_naive_release_io_reads_back(tmp_path: Path) -> None:
    """The reader of exported files keeps empty figures as not shown."""
    path = tmp_path / "x.csv"
    path.write_text(
        "period,level,measure,key,name,value\n2026-08,district,people,A,a,\n"
        "2026-08,district,people,B,b,80\n2026-08,district,people,_total,sum,80\n",
        encoding="utf-8",
    )
    assert read_release(path) == {"A": None, "B": 80}
