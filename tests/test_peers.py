"""The peer educator's view: team cells by recency, friendly services open now, no counts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from mapping import clock
from mapping.analysis.coverage import CoverageOptions
from mapping.analysis.coverage_data import load_coverage_data
from mapping.analysis.peers import (
    REFERRAL_TYPES,
    services_open_now,
    team_cells,
    team_peer_educator_ids,
    teams,
)
from mapping.errors import InvalidInputError
from mapping.periods import parse_period
from mapping.settings import Settings
from mapping.storage.workspace import open_workspace

#: A Saturday night and a Monday morning in Lima.
SATURDAY_NIGHT = dt.datetime(2026, 11, 28, 22, 30)
MONDAY_MORNING = dt.datetime(2026, 11, 30, 10, 0)


def test_team_cells_hold_places_and_times_only(demo_workspace: Path) -> None:
    """The Callao team's cells, each with days since anyone went there, and nothing else."""
    workspace = open_workspace(demo_workspace)
    assert teams(workspace) == ["T1", "T2", "T3", "T4", "T5", "T6"]
    data = load_coverage_data(workspace, parse_period(None))
    cells = team_cells(data, team_peer_educator_ids(workspace, "T5"))
    assert cells.columns == ["cell", "cell_id", "days_since_last_visit"]
    assert cells.height > 10
    # the raided Callao hotspot's cell: last visited two months ago
    raided = cells.filter(pl.col("cell_id") == "888e62c111fffff")
    assert raided["days_since_last_visit"][0] > 30
    assert team_cells(data, []).height == 0


def test_services_open_now(demo_workspace: Path) -> None:
    """At night the night services, by day the day ones; sensitive names withheld."""
    workspace = open_workspace(demo_workspace)
    data = load_coverage_data(workspace, parse_period(None))
    options = CoverageOptions.from_settings()
    near = team_cells(data, team_peer_educator_ids(workspace, "T5"))["cell"].to_list()
    night = services_open_now(data, options, near=near, now=SATURDAY_NIGHT)
    assert night["service_type"].to_list() == list(REFERRAL_TYPES)
    testing = night.filter(pl.col("service_type") == "hiv_testing").row(0, named=True)
    assert testing["name"].startswith("Prueba rápida nocturna")
    assert testing["minutes"] <= 30 and testing["opening_hours"] == "Mo-Su 19:00-01:00"
    drop_in = night.filter(pl.col("service_type") == "drop_in_centre").row(0, named=True)
    assert drop_in["cell_id"] is not None and drop_in["name"] is None  # sensitive: no name
    # no friendly STI care is open on a Saturday at 22:30 in the demo
    assert night.filter(pl.col("service_type") == "sti_clinic")["cell_id"][0] is None
    morning = services_open_now(data, options, near=near, now=MONDAY_MORNING)
    legal = morning.filter(pl.col("service_type") == "legal_aid").row(0, named=True)
    assert legal["opening_hours"] == "Mo-Fr 09:00-18:00"
    assert night.filter(pl.col("service_type") == "legal_aid")["cell_id"][0] is None


def test_local_time_follows_the_setting() -> None:
    """OUTREACH_MAP_TIMEZONE sets the clock of "open now"; a wrong name is refused."""
    lima = clock.now(Settings.from_env({"OUTREACH_MAP_TIMEZONE": "America/Lima"}))
    assert lima.utcoffset() == dt.timedelta(hours=-5)
    with pytest.raises(InvalidInputError, match="'Lima/Peru' is not a time zone"):
        clock.now(Settings.from_env({"OUTREACH_MAP_TIMEZONE": "Lima/Peru"}))


def test_the_peer_map_draws_public_open_services_and_never_a_sensitive_one() -> None:
    from mapping.i18n import translator
    from mapping.maps.coverage import open_services_layer

    services = pl.DataFrame(
        {
            "service_type": ["hiv_testing", "sti_clinic", "prep_pep"],
            "name": ["Clínica Norte", "Clínica Norte", None],
            "cell_id": ["888e62c0cdfffff", "888e62c0cdfffff", "888e62c0c1fffff"],
            "minutes": [0, 0, 5],
            "opening_hours": ["24/7", "24/7", "Mo-Fr 20:00-02:00"],
        }
    )
    layer = open_services_layer(services, translator("en"))
    [feature] = layer["features"]  # the public clinic once (two types); the sensitive one never
    assert feature["properties"]["tip"] == "HIV testing, STI clinic\nClínica Norte"
