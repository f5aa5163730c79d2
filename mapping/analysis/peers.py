"""What a peer educator sees: their team's cells by recency, and friendly services open now.

A peer educator gets places and times, never counts of people (see docs/privacy.md): the cells
their team worked, how recently anyone visited each, and where to refer someone tonight.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import sqlalchemy as sa

from mapping.analysis.coverage import CoverageOptions, servable
from mapping.analysis.coverage_data import CoverageData, epoch_day, load_coverage_data
from mapping.cells import cell_centres, cell_to_str, hex_ids
from mapping.hours import open_states
from mapping.periods import parse_period
from mapping.storage import store
from mapping.storage.workspace import Workspace
from mapping.vocab import SERVICE_TYPES

#: Service types a peer educator refers to, in the order the page lists them.
REFERRAL_TYPES: tuple[str, ...] = (
    "hiv_testing",
    "sti_clinic",
    "prep_pep",
    "hiv_treatment",
    "drop_in_centre",
    "violence_response",
    "legal_aid",
    "shelter",
)


def teams(workspace: Workspace) -> list[str]:
    """Return the workspace's team codes, sorted."""
    with workspace.connect() as connection:
        rows = connection.execute(sa.select(store.peer_educators.c.team).distinct())
        return sorted(str(team) for (team,) in rows)


def team_peer_educator_ids(workspace: Workspace, team: str) -> list[int]:
    """Return the ids of the peer educators of ``team``."""
    with workspace.connect() as connection:
        rows = connection.execute(
            sa.select(store.peer_educators.c.id).where(store.peer_educators.c.team == team)
        )
        return [int(peer) for (peer,) in rows]


def peer_educators(workspace: Workspace, team: str) -> list[str]:
    """Return the peer educator codes of ``team``, sorted."""
    with workspace.connect() as connection:
        rows = connection.execute(
            sa.select(store.peer_educators.c.peer_educator).where(
                store.peer_educators.c.team == team
            )
        )
        return sorted(str(code) for (code,) in rows)


def team_cells(data: CoverageData, peer_educator_ids: list[int]) -> pl.DataFrame:
    """Return the cells the team visited in the period, with days since anyone's last visit.

    Columns: ``cell``, ``cell_id``, ``days_since_last_visit`` (at ``data.as_of``). No count of
    visits or people: a peer educator's view holds places and times only.
    """
    start = epoch_day(data.period.start)
    worked = (
        data.visits.filter(
            pl.col("peer_educator_id").is_in(peer_educator_ids)
            & pl.col("cell").is_not_null()
            & (pl.col("day") >= start)
        )
        .select("cell")
        .unique()
    )
    return (
        worked.join(data.last_visits, on="cell", how="left")
        .with_columns(
            (pl.lit(epoch_day(data.as_of)) - pl.col("last_day")).alias("days_since_last_visit"),
            hex_ids(pl.col("cell")).alias("cell_id"),
        )
        .select("cell", "cell_id", "days_since_last_visit")
        .sort("cell")
    )


def services_open_now(
    data: CoverageData,
    options: CoverageOptions,
    *,
    near: list[int],
    now: dt.datetime,
) -> pl.DataFrame:
    """Return, per referral type, the nearest friendly active service open at ``now``.

    Distance is from the nearest of the cells in ``near`` (the team's area), by the options'
    travel model. Columns: ``service_type``, ``name`` (None for a sensitive service: ask the
    coordinator), ``cell_id``, ``minutes``, ``opening_hours``; a type with no service open now
    has nulls. A service whose hours are unknown is never "open now", nor closed:
    ``hours_unknown`` says a friendly active service of the type has unknown hours, so that
    "none open" is not taken for "none".
    """
    services = servable(data.services, now.date(), friendly_only=True)
    states = pl.Series(
        open_states(services["opening_hours"].to_list(), now.replace(tzinfo=None)), dtype=pl.String
    )
    unknown_types = set(services.filter(states == "unknown")["service_type"].to_list())
    services = services.filter(states == "open")
    rows: list[dict[str, object]] = []
    minutes = np.full(services.height, np.inf)
    if near and services.height:
        o_lat, o_lng = cell_centres(near)
        s_lat, s_lng = cell_centres(services["cell"].to_list())
        minutes = options.travel.minutes(o_lat, o_lng, s_lat, s_lng).min(axis=0)
    sensitive = _sensitive(data, services["id"].to_list())
    for name in REFERRAL_TYPES:
        code = SERVICE_TYPES.index(name) + 1
        of_type = np.flatnonzero(services["service_type"].to_numpy() == code)
        # with no place to measure from, "nearest" means nothing: say nothing is known
        if len(of_type) == 0 or not near:
            rows.append({"service_type": name, "hours_unknown": code in unknown_types})
            continue
        best = int(of_type[np.argmin(minutes[of_type])])
        row = services.row(best, named=True)
        rows.append(
            {
                "service_type": name,
                "name": None if row["id"] in sensitive else row["name"],
                "cell_id": cell_to_str(row["cell"]),
                "minutes": None if not np.isfinite(minutes[best]) else round(minutes[best]),
                "opening_hours": row["opening_hours"],
                "hours_unknown": code in unknown_types,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "service_type": pl.String,
            "name": pl.String,
            "cell_id": pl.String,
            "minutes": pl.Int64,
            "opening_hours": pl.String,
            "hours_unknown": pl.Boolean,
        },
    )


def _sensitive(data: CoverageData, ids: list[str]) -> set[str]:
    """Return which of the services are sensitive (shown as a cell, without their name)."""
    return set(data.services.filter(pl.col("id").is_in(ids) & pl.col("sensitive"))["id"])


def team_area(
    workspace: Workspace, team: str, moment: dt.datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return what a team's peer educators see: its cells, and the services open near them.

    The cells are :func:`team_cells` of the period ending at ``moment``; the services
    :func:`services_open_now` at ``moment``. A team with no peer educator (or "") has no cells.
    """
    data = load_coverage_data(workspace, parse_period(None, today=moment.date()))
    cells = team_cells(data, team_peer_educator_ids(workspace, team))
    services = services_open_now(
        data, CoverageOptions.from_settings(), near=cells["cell"].to_list(), now=moment
    )
    return cells, services
