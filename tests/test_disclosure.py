"""Differential privacy of releases: the privacy loss OpenDP reports, the ledger, the export.

The workspace is the real Lima/Callao area with visits imported through the real pipeline.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import h3
import polars as pl
import pytest
from helpers import csv_text, query

from mapping.access.disclosure import (
    INTERNAL_MARK,
    bounded_counts,
    export,
    ledger,
    raw_counts,
    release,
)
from mapping.access.mechanism import (
    DisclosureParameters,
    laplace_tail,
    privacy_loss,
    release_threshold,
)
from mapping.cli.main import main
from mapping.errors import InvalidInputError, PrivacyBudgetError
from mapping.ingest.visits import visits_from_file
from mapping.storage.audit import Actor, audit_entries
from mapping.storage.workspace import Workspace

#: Every test here runs on SQLite and on a real PostgreSQL server.
pytestmark = pytest.mark.engines

TODAY = dt.date(2026, 11, 20)
FUNDER = Actor("funder-1", "funder")
HEADER = (
    "date",
    "peer_educator",
    "team",
    "channel",
    "latitude",
    "longitude",
    "contact_code",
    "hiv_test",
    "violence_reported",
)
#: Central Lima (district PE-150101) and Miraflores (PE-150122).
LIMA = (-12.0464, -77.0428)
MIRAFLORES = (-12.1211, -77.0297)


@pytest.fixture
def programme(workspace: Workspace) -> Workspace:
    """150 people in central Lima in 2026-08 (40 of them tested, 20 reporting violence),
    6 in Miraflores, 30 phone contacts; 2026-09 has 90 people in Lima."""
    rows: list[tuple[object, ...]] = []
    for index in range(150):
        test = "done" if index < 40 else ""
        violence = "yes" if index < 20 else "no"
        rows.append(
            ("2026-08-05", "PE1", "T1", "in_person", *LIMA, f"LM{index:04d}", test, violence)
        )
    for index in range(6):
        rows.append(
            ("2026-08-06", "PE1", "T1", "in_person", *MIRAFLORES, f"MF{index:04d}", "", "no")
        )
    for index in range(30):
        rows.append(("2026-08-07", "PE2", "T1", "phone", "", "", f"PH{index:04d}", "", "no"))
    for index in range(90):
        rows.append(("2026-09-05", "PE1", "T1", "in_person", *LIMA, f"SE{index:04d}", "", "no"))
    path = workspace.path.parent / "visits.csv"
    path.write_text(csv_text(HEADER, rows), encoding="utf-8")
    result = visits_from_file(workspace, path)
    assert (result.accepted, result.rejected) == (len(rows), 0), result
    return workspace


def test_the_default_privacy_loss_is_epsilon_1_and_delta_under_1e_7() -> None:
    """OpenDP reports ε = 1 for a person in 3 groups; the total δ stays under 1e-7."""
    params = DisclosureParameters()
    assert params.scale == 3.0
    for groups in (52, 100, 1000):
        threshold = release_threshold(params, groups)
        loss = privacy_loss(params, threshold, groups)
        print(f"G = {groups}: T = {threshold}, ε = {loss.epsilon}, δ = {loss.delta:.3g}")
        assert loss.epsilon == 1.0
        assert loss.delta <= 1e-7
        # the smallest such threshold: one less would not do
        assert privacy_loss(params, threshold - 1, groups).delta > 1e-7
    assert release_threshold(params, 52) == 73


def test_the_delta_derivation() -> None:
    """δ = δ_opendp + (1 + e^ε) · G · P(k - 1 + Z ≥ T), with Z discrete Laplace of scale 3."""
    params = DisclosureParameters()
    loss = privacy_loss(params, 73, 52)
    alpha = math.exp(-1 / 3)
    tail = alpha ** (73 - 10) / (1 + alpha)
    assert loss.gamma == pytest.approx(52 * tail)
    assert loss.delta == pytest.approx(loss.delta_opendp + (1 + math.e) * 52 * tail)
    # the tail is the discrete Laplace's: the probabilities of every z sum to 1
    total = sum((1 - alpha) / (1 + alpha) * alpha ** abs(z) for z in range(-400, 401))
    assert total == pytest.approx(1.0)
    assert laplace_tail(3.0, 5) == pytest.approx(
        sum((1 - alpha) / (1 + alpha) * alpha**z for z in range(5, 400))
    )
    assert laplace_tail(3.0, -2) == pytest.approx(
        sum((1 - alpha) / (1 + alpha) * alpha ** abs(z) for z in range(-2, 400))
    )


def test_each_person_counts_in_three_groups_at_most() -> None:
    """Kept where they had most visits, ties to the smaller key; 1 per group."""
    visits = pl.DataFrame(
        {
            "contact_id": [1] * 9 + [2],
            "cell": [None] * 10,
            "district_id": ["a", "a", "a", "b", "b", "c", "d", "e", "e", "d"],
        }
    ).with_columns(pl.col("cell").cast(pl.Int64))
    # district level reads district_id for visits with a cell: give them one
    visits = visits.with_columns(pl.lit(1).cast(pl.Int64).alias("cell"))
    counts = bounded_counts(visits, "district", max_groups=3)
    assert dict(counts.iter_rows()) == {"a": 1, "b": 1, "e": 1, "d": 1}


@pytest.mark.parametrize("k", [0, 4])
def test_a_k_under_5_is_refused(k: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInputError, match=rf"minimum count k = {k} is below 5"):
        DisclosureParameters(min_count=k)
    monkeypatch.setenv("OUTREACH_MAP_MIN_COUNT", str(k))
    with pytest.raises(InvalidInputError, match="set OUTREACH_MAP_MIN_COUNT to 5 or more"):
        DisclosureParameters.from_settings()


def test_other_bad_parameters_are_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"ε per release 4\.0 must be above 0 and at most"):
        DisclosureParameters(epsilon=4.0)
    with pytest.raises(InvalidInputError, match=r"δ per release 0 is not between 0 and 1"):
        DisclosureParameters(delta=0)
    with pytest.raises(InvalidInputError, match="contribution bounds 0 groups and 5 contacts"):
        DisclosureParameters(max_groups=0)


def test_a_release_is_noisy_never_under_k_and_stored(programme: Workspace) -> None:
    made = release(programme, "2026-08", actor=FUNDER, today=TODAY)
    assert made.spent and made.threshold == 73 and made.epsilon == 1.0 and made.delta <= 1e-7
    figures = dict(made.figures.iter_rows())
    assert set(figures) == {"PE-150101"}  # Miraflores' 6 and the 30 phone contacts: not shown
    assert abs(figures["PE-150101"] - 150) <= 30
    again = release(programme, "2026-08", actor=Actor("funder-2", "funder"), today=TODAY)
    assert not again.spent and again.figures.equals(made.figures) and again.id == made.id
    stored = ledger(programme)
    assert stored.height == 1
    assert stored.row(0, named=True) | {"created_at": None} == {
        "id": made.id,
        "period": "2026-08",
        "quarter": "2026-Q3",
        "level": "district",
        "measure": "people",
        "epsilon": 1.0,
        "delta": made.delta,
        "scale": 3.0,
        "threshold": 73,
        "min_count": 11,
        "max_groups": 3,
        "max_contacts": 5,
        "created_at": None,
        "created_by": "funder-1",
    }


class _LoudMechanism:
    """A stand-in for OpenDP's mechanism that releases every group, 100 over its count."""

    def map(self, distance: object) -> tuple[float, float]:
        return (1.0, 0.0)

    def __call__(self, counts: dict[str, int]) -> dict[str, int]:
        return {key: value + 100 for key, value in counts.items()}


def test_groups_under_k_are_never_released(
    programme: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even if the noise lifted every group over the threshold, a count under k stays out."""
    import mapping.access.disclosure
    import mapping.access.mechanism

    # both uses: the privacy loss that sets the threshold, and the noise the release adds
    monkeypatch.setattr(mapping.access.mechanism, "measurement", lambda *_: _LoudMechanism())
    monkeypatch.setattr(mapping.access.disclosure, "measurement", lambda *_: _LoudMechanism())
    params = DisclosureParameters(min_count=31)
    made = release(programme, "2026-08", actor=FUNDER, today=TODAY, params=params)
    truth = dict(raw_counts(programme, "2026-08", params=params).iter_rows())
    assert truth == {"PE-150101": 150, "PE-150122": 6, "_no_location": 30}
    assert dict(made.figures.iter_rows()) == {"PE-150101": 250}


def test_the_budget_refuses_a_fourth_release_of_a_quarter(programme: Workspace) -> None:
    for period, level in (("2026-08", "district"), ("2026-09", "district"), ("2026-Q3", "6")):
        release(programme, period, level, actor=FUNDER, today=TODAY)
    with pytest.raises(PrivacyBudgetError) as caught:
        release(programme, "2026-Q3", "district", actor=FUNDER, today=TODAY)
    assert str(caught.value) == (
        "the privacy budget of 2026-Q3 is spent: its releases have used ε = 3 of 3 "
        "(OUTREACH_MAP_EPSILON_PER_QUARTER) and people by district, 2026-Q3 needs ε = 1 more "
        "— ask again for a release already made (that is free) or use the next quarter's "
        "budget"
    )
    # a repeat is still free, another quarter has its own budget
    assert not release(programme, "2026-08", actor=FUNDER, today=TODAY).spent
    assert release(programme, "2026-Q2", actor=FUNDER, today=TODAY).figures.is_empty()
    entries = audit_entries_of(programme)
    assert entries["action"].to_list() == [
        "release",
        "release",
        "release",
        "release_refused",
        "release",
    ]
    refused = entries.row(3, named=True)
    assert refused["detail"] == "people by district, 2026-Q3: budget of 2026-Q3 spent"
    assert entries["epsilon"].to_list()[:3] == [1.0, 1.0, 1.0]
    assert entries["resolution"].to_list()[:3] == [None, None, 6]


def audit_entries_of(workspace: Workspace) -> pl.DataFrame:
    """The audit entries of releases and exports, oldest first (the programme's import aside)."""
    with workspace.connect() as connection:
        entries = audit_entries(connection).reverse()
        return entries.filter(pl.col("action") != "import")


@pytest.mark.parametrize(
    ("period", "level", "measure", "message"),
    [
        ("2026-Q4", "district", "people", "period 2026-Q4 ends on 2026-12-31, not before today"),
        ("2026-11", "district", "people", "period 2026-11 ends on 2026-11-30, not before today"),
        ("last-90-days", "district", "people", "is not a calendar month or quarter"),
        ("2026-08", "7", "people", "level 7 is finer than resolution 6"),
        ("2026-08", "street", "people", "level 'street' is neither 'district' nor"),
        ("2026-08", "6", "tested", "measure 'tested' is sensitive and is released only by"),
        ("2026-08", "5", "violence", "measure 'violence' is sensitive and is released only by"),
        ("2026-08", "district", "condoms", "measure 'condoms' is unknown"),
    ],
)
def test_what_cannot_be_released(
    programme: Workspace, period: str, level: str, measure: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        release(programme, period, level, measure, actor=FUNDER, today=TODAY)
    assert ledger(programme).is_empty()


def test_sensitive_measures_by_district(programme: Workspace) -> None:
    truth = dict(raw_counts(programme, "2026-08", measure="tested").iter_rows())
    assert truth == {"PE-150101": 40}
    assert dict(raw_counts(programme, "2026-08", measure="violence").iter_rows()) == {
        "PE-150101": 20
    }
    made = release(programme, "2026-08", measure="tested", actor=FUNDER, today=TODAY)
    assert made.figures.is_empty()  # 40 people: under the threshold of 73


def test_cells_are_resolution_6_parents(programme: Workspace) -> None:
    counts = dict(raw_counts(programme, "2026-08", "6").iter_rows())
    lima = h3.cell_to_parent(h3.latlng_to_cell(*LIMA, 8), 6)
    assert counts[lima] == 150
    assert all(h3.get_resolution(key) == 6 for key in counts)


def test_the_cli_exports_a_release_and_logs_it(
    programme: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reach.csv"
    argv = ["export", "--role", "funder", "--period", "2026-08", "--level", "district"]
    argv += ["--out", str(out), "--workspace", str(programme.path)]
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    table = pl.read_csv(out)
    assert table.columns == ["period", "level", "measure", "key", "name", "value"]
    assert table.height == 50 + 2 + 1
    assert table.row(-1)[3:5] == ("_total", "sum of the released figures")
    assert table["value"][-1] == table["value"][:-1].drop_nulls().sum()
    first = out.read_bytes()
    assert main(argv) == 0
    assert out.read_bytes() == first  # the stored answer, not fresh noise
    entries = audit_entries_of(programme)
    assert entries["action"].to_list() == ["release", "export", "export"]
    assert entries["epsilon"].to_list() == [1.0, 1.0, 0.0]
    assert entries["username"][0].startswith("cli:") and set(entries["role"]) == {"funder"}
    assert "stored answer repeated, nothing spent" in entries["detail"][2]
    for detail in entries["detail"]:
        assert "8" not in detail.replace("2026-08", "")  # no cell, no coordinate
    # a funder may not ask for raw counts; an unusable request says why
    assert main([*argv, "--internal"]) == 2
    assert "for the coordinator only" in capsys.readouterr().err
    assert main([*argv[:4], "2026-Q4", *argv[5:]]) == 2
    assert "not before today" in capsys.readouterr().err


def test_the_coordinator_internal_export_is_marked(programme: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "internal.csv"
    table = export(programme, out, role="coordinator", period="2026-08", internal=True, today=TODAY)
    written = pl.read_csv(out)
    assert written.columns[0] == "classification"
    assert set(written["classification"]) == {INTERNAL_MARK}
    assert dict(zip(table["key"], table["value"], strict=True))["PE-150122"] == 6
    assert ledger(programme).is_empty()  # raw counts spend no budget: they do not leave
    entries = audit_entries_of(programme)
    assert entries["action"].to_list() == ["export"]
    assert entries["detail"][0].startswith("INTERNAL raw people by district, 2026-08")
    # without --internal the coordinator gets the release too
    made = export(programme, out, role="coordinator", period="2026-08", today=TODAY)
    assert made["value"].drop_nulls().min() >= 73
    with pytest.raises(InvalidInputError, match="role 'admin' cannot export"):
        export(programme, out, role="admin", period="2026-08", today=TODAY)


def test_no_location_and_outside_rows_by_district(programme: Workspace) -> None:
    counts = dict(raw_counts(programme, "2026-08").iter_rows())
    assert counts["_no_location"] == 30
    assert query(programme, "SELECT count(*) FROM visits WHERE cell IS NULL") == [(30,)]


def test_district_figures_of_500_or_more_stay_within_5_percent_in_95_percent_of_releases() -> None:
    """The release's own OpenDP measurement, run 2,000 times on districts of 500 to 2,000."""
    from mapping.access.mechanism import measurement as _measurement

    params = DisclosureParameters()
    threshold = release_threshold(params, 52)
    measurement = _measurement(params, threshold)
    truth = {f"D{size}": size for size in (500, 650, 800, 1200, 2000)}
    errors = []
    for _ in range(400):
        released = measurement(truth)
        errors += [abs(released[key] - size) / size for key, size in truth.items()]
    within = sum(error <= 0.05 for error in errors) / len(errors)
    print(f"{len(errors)} releases of districts of 500-2,000 people: {within:.1%} within ±5 %")
    assert within >= 0.95
