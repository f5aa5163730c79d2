"""Coverage per cell and per district: reach, size estimates, outreach, service access, workload.

Everything is computed from what the store holds (cells, districts, hashed contacts, the
registries) for one period, with vectorised polars and numpy. Each visit, hotspot and service is
counted in the district stored with it: the one holding its exact point, decided at import or
capture (:mod:`mapping.ingest.attribution`), so every district figure is a whole count. Formulas
and defaults are in docs/coverage.md; what is read from the store, and how, is in
:mod:`mapping.analysis.coverage_data`.

Longer than 600 lines: the cell, hotspot and district figures are one computation — each
district figure is the sum or share of the cell and hotspot figures its explanation shows — so
splitting them would put the two sides of one formula in two modules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import polars as pl
import shapely

from mapping import clock
from mapping.analysis.coverage_data import (
    EPOCH,
    CoverageData,
    district_shapes,
    epoch_day,
    load_coverage_data,
)
from mapping.cells import cell_centres, hex_ids
from mapping.errors import InvalidInputError
from mapping.hours import SLOT_MINUTES, WEEK_SLOTS, known_hours, opening_masks, working_mask
from mapping.periods import Period, parse_period
from mapping.settings import Settings, get_settings
from mapping.storage.workspace import Workspace
from mapping.travel import StraightLineTravel, TravelModel, travel_model
from mapping.vocab import SERVICE_TYPES, SUPPLIES

#: Rows of the district table that are not districts, so that nothing is silently dropped.
NO_LOCATION = "_no_location"
OUTSIDE_AREA = "_outside_area"
#: Weights of the four gaps in the gap score (they sum to 1; see docs/coverage.md).
GAP_WEIGHTS: dict[str, float] = {"reach": 0.3, "outreach": 0.2, "access": 0.3, "workload": 0.2}


def _listed(text: str) -> tuple[str, ...]:
    """Return the items of a comma-separated setting, stripped, empty ones left out.

    Examples
    --------
    >>> _listed(" hiv_testing, ,prep_pep ")
    ('hiv_testing', 'prep_pep')
    """
    return tuple(item.strip() for item in text.split(",") if item.strip())


@dataclass(frozen=True)
class CoverageOptions:
    """The knobs of the coverage analytics; defaults come from :mod:`mapping.settings`."""

    recent_days: int = Settings.recent_days
    overdue_weeks: int = Settings.overdue_weeks
    workload_norm: int = Settings.workload_norm
    reach_minutes: float = float(Settings.reach_minutes)
    min_overlap_minutes: int = Settings.min_overlap_minutes
    prior_per_1000: tuple[float, float] = (Settings.prior_per_1000_min, Settings.prior_per_1000_max)
    key_service_types: tuple[str, ...] = _listed(Settings.key_service_types)
    require_friendly: bool = True
    gap_weights: dict[str, float] = field(default_factory=lambda: dict(GAP_WEIGHTS))
    travel: TravelModel = field(default_factory=StraightLineTravel)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> CoverageOptions:
        """Return the options a deployment configured (``OUTREACH_MAP_*`` overrides applied)."""
        settings = settings or get_settings()
        key_types = _listed(settings.key_service_types)
        unknown = [t for t in key_types if t not in SERVICE_TYPES]
        if unknown:
            raise InvalidInputError(
                f"key service types {', '.join(unknown)} are not service types — "
                f"choose from {', '.join(SERVICE_TYPES)}"
            )
        if settings.overdue_weeks * 7 < settings.recent_days:
            raise InvalidInputError(
                f"OUTREACH_MAP_OVERDUE_WEEKS={settings.overdue_weeks} ({settings.overdue_weeks * 7}"
                f" days) is shorter than OUTREACH_MAP_RECENT_DAYS={settings.recent_days}: a "
                "hotspot would be both recently visited and overdue — make the overdue time at "
                "least as long"
            )
        return cls(
            recent_days=settings.recent_days,
            overdue_weeks=settings.overdue_weeks,
            workload_norm=settings.workload_norm,
            reach_minutes=float(settings.reach_minutes),
            min_overlap_minutes=settings.min_overlap_minutes,
            prior_per_1000=(settings.prior_per_1000_min, settings.prior_per_1000_max),
            key_service_types=key_types,
            travel=travel_model(settings),
        )


@dataclass
class CoverageReport:
    """The results of one coverage run: per cell, per hotspot, per district, and the totals."""

    period: Period
    options: CoverageOptions
    cells: pl.DataFrame
    hotspots: pl.DataFrame
    districts: pl.DataFrame
    totals: dict[str, Any]

    def ranked(self) -> pl.DataFrame:
        """Return the districts ranked by gap score, then the rows for unplaced visits."""
        return pl.concat(
            [
                self.districts.filter(pl.col("rank").is_not_null()).sort("rank"),
                self.districts.filter(pl.col("rank").is_null()),
            ]
        )


def _profile_columns(profiles: pl.DataFrame) -> pl.DataFrame:
    """Each profile's supplies, and its referrals as one 0/1 column per service type."""
    return profiles.select(
        "profile_id",
        *SUPPLIES,
        *(
            ((pl.col("referrals") & (1 << index)) != 0).cast(pl.Int32).alias(f"referrals_{name}")
            for index, name in enumerate(SERVICE_TYPES)
        ),
    )


def cell_coverage(data: CoverageData, options: CoverageOptions) -> pl.DataFrame:
    """Return one row per cell visited up to the period's end or holding a registered hotspot.

    Columns: the cell (as an integer and as its hex id), its district (null outside the area),
    visits, unique contacts, new and returning contacts, supplies and referrals by service
    type in the period, the last visit and days since it (at the period's end, or today if it
    has not ended: ``CoverageData.as_of``), and whether the
    cell holds a registered, active hotspot. Visits without a location are not in any cell.
    """
    start, end = epoch_day(data.period.start), epoch_day(data.as_of)
    in_period = data.visits.filter((pl.col("day") >= start) & pl.col("cell").is_not_null())
    # supplies and referrals: each visit's profile, summed per cell
    by_profile = (
        in_period.lazy()
        .select("cell", "profile_id")
        .join(_profile_columns(data.profiles).lazy(), on="profile_id", how="left")
        .group_by("cell")
        .agg(pl.len().alias("visits"), pl.all().exclude("profile_id").sum())
        .collect()
    )
    contacts = (
        data.pairs.filter(
            pl.col("cell").is_not_null() & pl.col("contact_id").is_not_null() & (pl.col("n") > 0)
        )
        .select("cell", "contact_id")
        .join(data.first_seen, on="contact_id", how="left")
        .group_by("cell")
        .agg(
            pl.len().alias("contacts"),
            (pl.col("first_day") >= start).sum().alias("new_contacts"),
            (pl.col("first_day") < start).sum().alias("returning_contacts"),
        )
    )
    last = data.last_visits
    hotspot_cells = data.hotspots.select("cell").unique().with_columns(hotspot=pl.lit(True))
    cells = (
        pl.concat([last.select("cell"), hotspot_cells.select("cell")])
        .unique()
        .join(last, on="cell", how="left")
        .join(by_profile, on="cell", how="left")
        .join(contacts, on="cell", how="left")
        .join(hotspot_cells, on="cell", how="left")
        .join(data.area_cells, on="cell", how="left")
    )
    counts = ["visits", "contacts", "new_contacts", "returning_contacts", *SUPPLIES]
    counts += [f"referrals_{name}" for name in SERVICE_TYPES]
    return (
        cells.with_columns(
            *(pl.col(name).fill_null(0).cast(pl.Int64) for name in counts),
            pl.col("hotspot").fill_null(False),
            (pl.lit(end) - pl.col("last_day")).alias("days_since_last_visit"),
            (pl.col("last_day").cast(pl.Date)).alias("last_visit"),
            hex_ids(pl.col("cell")).alias("cell_id"),
        )
        .drop("last_day")
        .select(
            "cell",
            "cell_id",
            "district_id",
            *counts,
            "last_visit",
            "days_since_last_visit",
            "hotspot",
        )
        .sort("cell")
    )


def service_points(services: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return each service's latitude and longitude: its point if public, else its cell centre."""
    lat, lng = cell_centres(services["cell"].to_list())
    lat, lng = lat.copy(), lng.copy()
    for index, blob in enumerate(services["location"].to_list()):
        if blob is not None:
            point = shapely.from_wkb(blob)
            lat[index], lng[index] = point.y, point.x
    return lat, lng


def servable(services: pl.DataFrame, day: dt.date, *, friendly_only: bool) -> pl.DataFrame:
    """Return the services active on ``day`` (and friendly, if asked; unknown counts as not)."""
    active = (pl.col("active_from").is_null() | (pl.col("active_from") <= day)) & (
        pl.col("active_until").is_null() | (pl.col("active_until") >= day)
    )
    if friendly_only:
        active &= pl.col("friendly").fill_null(False)
    return services.filter(active)


def estimated_sizes(hotspots: pl.DataFrame) -> pl.Series:
    """Return each hotspot's estimated number of sex workers: the weight of hotspot figures.

    The midpoint of its ``size_min``..``size_max`` range (a range given by one bound only is
    that single number); a hotspot with no estimate gets the median of the known ones, or 1
    when none is known. Coverage weighs hotspots by it, and :mod:`mapping.planning.assignments`
    counts a
    peer educator's workload with it.

    Examples
    --------
    >>> frame = pl.DataFrame({"size_min": [4, None, 10], "size_max": [8, None, None]})
    >>> estimated_sizes(frame).to_list()
    [6.0, 8.0, 10.0]
    """
    low = pl.coalesce("size_min", "size_max")
    high = pl.coalesce("size_max", "size_min")
    middle = (low + high) / 2
    known = hotspots.select(middle.drop_nulls().median()).item() if hotspots.height else None
    return hotspots.select(
        middle.cast(pl.Float64).fill_null(known if known is not None else 1.0).alias("weight")
    )["weight"]


def hotspot_access(data: CoverageData, options: CoverageOptions) -> pl.DataFrame:
    """Return, per active hotspot, its district, recency and access to each service type.

    For every service type: ``minutes_<type>`` to the nearest service of that type that is
    active on the period's last day, friendly (unless the options say otherwise) and open for
    at least ``min_overlap_minutes`` a week during the hotspot's working hours; null when there
    is none. ``reach_<type>`` says whether that is within ``reach_minutes``.
    ``hours_unknown_<type>`` says that no such service is, but one whose hours are unknown
    is: it may be open then, so the hotspot is neither served nor unserved.
    """
    end = data.as_of
    hotspots = data.hotspots.join(data.last_visits, on="cell", how="left").with_columns(
        (pl.lit(epoch_day(end)) - pl.col("last_day")).alias("days_since_last_visit")
    )
    services = servable(data.services, end, friendly_only=options.require_friendly)
    columns: dict[str, Any] = {}
    if hotspots.height:
        h_lat, h_lng = cell_centres(hotspots["cell"].to_list())
        # a hotspot's working time: a missing day or hour means any (see working_mask)
        keys = list(zip(hotspots["days"].to_list(), hotspots["hours"].to_list(), strict=True))
        by_key = {
            key: working_mask(key[0] or None, key[1] or None, week_of=end) for key in set(keys)
        }
        working = np.array([by_key[key] for key in keys], dtype=bool).reshape(-1, WEEK_SLOTS)
        s_lat, s_lng = service_points(services)
        texts = services["opening_hours"].to_list()
        opening = opening_masks(texts, week_of=end)
        known = known_hours(texts)
        overlap = working.astype(np.int32) @ opening.T.astype(np.int32)
        usable = (overlap * SLOT_MINUTES >= options.min_overlap_minutes) & known
        travel = options.travel.minutes(h_lat, h_lng, s_lat, s_lng)
        minutes = np.where(usable, travel, np.inf)
        unknown_minutes = np.where(known, np.inf, travel)
        kinds = services["service_type"].to_numpy()
        for code, name in enumerate(SERVICE_TYPES, start=1):
            of_type = kinds == code
            nearest = (
                minutes[:, of_type].min(axis=1)
                if of_type.any()
                else np.full(hotspots.height, np.inf)
            )
            columns[f"minutes_{name}"] = np.where(
                np.isfinite(nearest), np.round(nearest, 1), np.nan
            )
            columns[f"reach_{name}"] = nearest <= options.reach_minutes
            unknown_nearest = (
                unknown_minutes[:, of_type].min(axis=1)
                if of_type.any()
                else np.full(hotspots.height, np.inf)
            )
            columns[f"hours_unknown_{name}"] = ~columns[f"reach_{name}"] & (
                unknown_nearest <= options.reach_minutes
            )
    else:
        for name in SERVICE_TYPES:
            columns[f"minutes_{name}"] = []
            columns[f"reach_{name}"] = []
            columns[f"hours_unknown_{name}"] = []
    return hotspots.with_columns(
        estimated_sizes(hotspots).alias("weight"),
        (pl.col("days_since_last_visit") <= options.recent_days)
        .fill_null(False)
        .alias("visited_recently"),
        (pl.col("days_since_last_visit") > options.overdue_weeks * 7)
        .fill_null(True)
        .alias("overdue"),
        hex_ids(pl.col("cell")).alias("cell_id"),
        *(
            (
                pl.Series(name, values, dtype=pl.Float64).fill_nan(None)
                if name.startswith("min")
                else pl.Series(name, values, dtype=pl.Boolean)
            )
            for name, values in columns.items()
        ),
    ).drop("last_day")


def _workload(data: CoverageData) -> pl.DataFrame:
    """Active peer educators per district, each split by the share of their visits there."""
    start = epoch_day(data.period.start)
    placed = data.visits.filter((pl.col("day") >= start) & pl.col("district_id").is_not_null())
    per_peer_educator = (
        placed.group_by("peer_educator_id", "district_id")
        .agg(pl.len().alias("n"))
        .with_columns((pl.col("n") / pl.col("n").sum().over("peer_educator_id")).alias("share"))
    )
    return per_peer_educator.group_by("district_id").agg(
        pl.col("share").sum().alias("peer_educators"),
        pl.col("peer_educator_id").n_unique().alias("peer_educators_seen"),
    )


def district_coverage(
    data: CoverageData,
    options: CoverageOptions,
    cells: pl.DataFrame,
    hotspots: pl.DataFrame,
) -> pl.DataFrame:
    """Return one row per district with every figure of the gap ranking and its inputs.

    Also two rows that are not districts, ``_no_location`` (phone, SMS and online contacts,
    which count for reach but are in no cell) and ``_outside_area`` (cells outside every
    district), so that no visit is dropped; they are not ranked.
    """
    start = epoch_day(data.period.start)
    first_seen = data.first_seen
    in_period = data.visits.filter(pl.col("day") >= start)
    # every visit is counted, whole, in the district stored with it (its exact point's)
    placed = in_period.filter(pl.col("district_id").is_not_null())
    visits_in = placed.group_by("district_id").agg(pl.len().alias("visits"))
    contacts_in = (
        placed.filter(pl.col("contact_id").is_not_null())
        .select("district_id", "contact_id")
        .unique()
        .join(first_seen, on="contact_id", how="left")
        .group_by("district_id")
        .agg(
            pl.len().alias("contacts"),
            (pl.col("first_day") >= start).sum().alias("new_contacts"),
        )
    )
    unplaced = (
        in_period.filter(pl.col("district_id").is_null())
        .with_columns(
            pl.when(pl.col("cell").is_null())
            .then(pl.lit(NO_LOCATION))
            .otherwise(pl.lit(OUTSIDE_AREA))
            .alias("district_id")
        )
        .join(first_seen, on="contact_id", how="left")
    )
    unplaced_reach = unplaced.group_by("district_id").agg(
        pl.len().cast(pl.Int64).alias("visits"),
        pl.col("contact_id").drop_nulls().n_unique().cast(pl.Int64).alias("contacts"),
        pl.col("contact_id")
        .filter(pl.col("first_day") >= start)
        .drop_nulls()
        .n_unique()
        .cast(pl.Int64)
        .alias("new_contacts"),
    )
    reach = visits_in.join(contacts_in, on="district_id", how="left")
    # cells visited in the district that hold no registered hotspot
    candidates = (
        placed.filter(pl.col("cell").is_not_null())
        .select("district_id", "cell")
        .unique()
        .join(hotspots.select("cell").unique(), on="cell", how="anti")
        .group_by("district_id")
        .agg(pl.len().alias("candidate_cells"))
    )
    outreach = hotspots.group_by("district_id").agg(
        pl.len().alias("hotspots"),
        pl.col("district_estimated").fill_null(False).sum().alias("hotspots_estimated"),
        pl.col("size_min").is_not_null().sum().alias("hotspots_with_size"),
        pl.col("size_min").sum().cast(pl.Float64).alias("hotspot_size_min"),
        pl.col("size_max").sum().cast(pl.Float64).alias("hotspot_size_max"),
        pl.col("visited_recently").sum().alias("hotspots_visited_recently"),
        pl.col("overdue").sum().alias("hotspots_overdue"),
        (
            (pl.col("overdue").cast(pl.Float64) * pl.col("weight")).sum() / pl.col("weight").sum()
        ).alias("gap_outreach"),
        *(
            (
                (pl.col(f"reach_{name}").cast(pl.Float64) * pl.col("weight")).sum()
                / pl.col("weight").sum()
            ).alias(f"access_{name}")
            for name in SERVICE_TYPES
        ),
        *(
            (
                (pl.col(f"hours_unknown_{name}").cast(pl.Float64) * pl.col("weight")).sum()
                / pl.col("weight").sum()
            ).alias(f"hours_unknown_{name}")
            for name in SERVICE_TYPES
        ),
    )
    low, high = options.prior_per_1000
    frame = (
        data.districts.join(reach, on="district_id", how="left")
        .join(candidates, on="district_id", how="left")
        .join(outreach, on="district_id", how="left")
        .join(_workload(data), on="district_id", how="left")
        .join(data.estimated, on="district_id", how="left")
        .with_columns(
            *(
                pl.col(name).fill_null(0).cast(pl.Int64)
                for name in (
                    "visits",
                    "contacts",
                    "new_contacts",
                    "visits_estimated",
                    "candidate_cells",
                    "hotspots",
                    "hotspots_estimated",
                    "hotspots_with_size",
                    "hotspots_visited_recently",
                    "hotspots_overdue",
                    "peer_educators_seen",
                )
            ),
            pl.col("peer_educators").fill_null(0.0).round(2),
        )
    )
    from_hotspots = pl.col("hotspots_with_size") > 0
    from_prior = pl.col("population").is_not_null() & (pl.col("population") > 0)
    frame = frame.with_columns(
        pl.when(from_hotspots)
        .then(pl.lit("hotspots"))
        .when(from_prior)
        .then(pl.lit("population prior"))
        .otherwise(pl.lit("unknown"))
        .alias("estimate_source"),
        pl.when(from_hotspots)
        .then(pl.col("hotspot_size_min").cast(pl.Float64))
        .when(from_prior)
        .then((pl.col("population") * low / 1000).round(0))
        .alias("estimate_min"),
        pl.when(from_hotspots)
        .then(pl.col("hotspot_size_max").cast(pl.Float64))
        .when(from_prior)
        .then((pl.col("population") * high / 1000).round(0))
        .alias("estimate_max"),
    ).drop("hotspot_size_min", "hotspot_size_max")
    mid = (pl.col("estimate_min") + pl.col("estimate_max")) / 2
    key = [f"access_{name}" for name in options.key_service_types]
    frame = frame.with_columns(
        pl.when(pl.col("estimate_max") > 0)
        .then(pl.col("contacts") / pl.col("estimate_max"))
        .alias("coverage_low"),
        pl.when(pl.col("estimate_min") > 0)
        .then(pl.col("contacts") / pl.col("estimate_min"))
        .alias("coverage_high"),
        # more people reached than the estimate allows: the estimate (or the registry) is short
        (pl.col("contacts") > pl.col("estimate_max")).fill_null(False).alias("estimate_too_low"),
        pl.when(pl.col("peer_educators") > 0)
        .then(pl.col("estimate_min") / pl.col("peer_educators"))
        .alias("workload_low"),
        pl.when(pl.col("peer_educators") > 0)
        .then(pl.col("estimate_max") / pl.col("peer_educators"))
        .alias("workload_high"),
        pl.mean_horizontal(*key).alias("access_key") if key else pl.lit(None, pl.Float64),
        (
            pl.mean_horizontal(*(f"hours_unknown_{name}" for name in options.key_service_types))
            if key
            else pl.lit(None, pl.Float64)
        ).alias("hours_unknown_key"),
        pl.when(mid > 0)
        .then(1 - (pl.col("contacts") / mid).clip(upper_bound=1.0))
        .alias("gap_reach"),
        pl.when(mid > 0)
        .then(1 - (pl.col("peer_educators") * options.workload_norm / mid).clip(upper_bound=1.0))
        .alias("gap_workload"),
    ).with_columns(
        # a hotspot reached only by services of unknown hours is no gap: they may be open
        (1 - pl.col("access_key") - pl.col("hours_unknown_key").fill_null(0)).alias("gap_access")
    )
    weights = options.gap_weights
    gaps = [f"gap_{name}" for name in weights]
    frame = frame.with_columns(
        (100 * pl.sum_horizontal(*(pl.col(g).fill_null(0) * weights[g[4:]] for g in gaps)))
        .round(1)
        .alias("gap_score"),
        pl.sum_horizontal(
            *(pl.col(g).is_not_null().cast(pl.Float64) * weights[g[4:]] for g in gaps)
        ).alias("known_weight"),
    )
    # Districts whose need rests on the programme's own hotspot registry come first; those
    # with only a population prior (unmapped) or no estimate follow, so that the top of the
    # ranking is about places the programme knows sex workers work (docs/coverage.md).
    basis = (
        pl.col("estimate_source")
        .replace_strict({"hotspots": 0, "population prior": 1, "unknown": 2}, return_dtype=pl.Int8)
        .alias("__basis")
    )
    frame = (
        frame.with_columns(
            basis,
            (-pl.col("gap_score")).alias("__score"),
            (-pl.col("estimate_max").fill_null(0)).alias("__size"),
        )
        .sort(["__basis", "__score", "__size", "district_id"], nulls_last=True)
        .drop("__basis", "__score", "__size")
        .with_columns(pl.int_range(1, pl.len() + 1).alias("rank"))
    )
    extra = unplaced_reach.sort("district_id").with_columns(
        pl.col("district_id")
        .replace(
            {
                NO_LOCATION: "(no location: phone, SMS, online)",
                OUTSIDE_AREA: "(outside every district)",
            }
        )
        .alias("district")
    )
    return pl.concat([frame, extra], how="diagonal_relaxed")


def coverage(
    workspace: Workspace,
    period: Period | str | None = None,
    *,
    options: CoverageOptions | None = None,
    today: dt.date | None = None,
) -> CoverageReport:
    """Compute coverage for ``period`` (default: the last 90 days) on a workspace."""
    options = options or CoverageOptions.from_settings()
    today = today or clock.today(workspace)
    if not isinstance(period, Period):
        period = parse_period(period, today=today, default_days=get_settings().default_period_days)
    data = load_coverage_data(workspace, period, today=today)
    return coverage_from_data(data, options)


def coverage_from_data(data: CoverageData, options: CoverageOptions) -> CoverageReport:
    """Compute coverage from already-loaded data (what :func:`coverage` does after loading)."""
    cells = cell_coverage(data, options)
    hotspots = hotspot_access(data, options)
    districts = district_coverage(data, options, cells, hotspots)
    start = epoch_day(data.period.start)
    in_period = data.visits.filter(pl.col("day") >= start)
    totals = {
        "period": data.period.label,
        "start": data.period.start.isoformat(),
        "end": data.period.end.isoformat(),
        "as_of": data.as_of.isoformat(),
        "services_without_hours": _services_without_hours(data, options),
        "hotspots": data.hotspots.height,
        "first_visit": (
            _day_text(data.visits["day"].min())
            if data.store_span is None
            else _iso(data.store_span[0])
        ),
        "last_visit": (
            _day_text(data.visits["day"].max())
            if data.store_span is None
            else _iso(data.store_span[1])
        ),
        "visits": in_period.height,
        "visits_estimated": int(data.estimated["visits_estimated"].sum()),
        "contacts": in_period["contact_id"].drop_nulls().n_unique(),
        "visits_without_location": in_period["cell"].null_count(),
        "cells_outside_area": cells.filter(
            pl.col("district_id").is_null() & (pl.col("visits") > 0)
        ).height,
        "travel": getattr(options.travel, "describe", lambda: type(options.travel).__name__)(),
    }
    return CoverageReport(
        period=data.period,
        options=options,
        cells=cells,
        hotspots=hotspots,
        districts=districts,
        totals=totals,
    )


def _day_text(day: object) -> str | None:
    """Return a day number as ``YYYY-MM-DD`` (``None`` for no day)."""
    return None if day is None else (EPOCH + dt.timedelta(days=int(day))).isoformat()  # type: ignore[call-overload]


def _services_without_hours(data: CoverageData, options: CoverageOptions) -> int:
    """Count active (and friendly, if required) services left out for unknown opening hours."""
    services = servable(data.services, data.as_of, friendly_only=options.require_friendly)
    return int((~known_hours(services["opening_hours"].to_list())).sum())


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def districts_with_geometry(workspace: Workspace, report: CoverageReport) -> gpd.GeoDataFrame:
    """Return the report's district rows as a GeoDataFrame (EPSG:4326), for maps.

    The rows that are not districts (no location, outside the area) have no geometry and are
    left out; their figures stay in ``report.totals`` and ``report.districts``.
    """
    shapes = district_shapes(workspace)
    rows = report.districts.filter(pl.col("district_id").is_in(list(shapes)))
    return gpd.GeoDataFrame(
        rows.to_pandas(),
        geometry=[shapes[d] for d in rows["district_id"].to_list()],
        crs=4326,
    )
