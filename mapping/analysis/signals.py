"""Where visits gather outside the registry: each place's own visits, emerging places per district.

A *place* is what a located visit is stored as: a cell and the district of the visit's own point
(most cells lie in one district; a border cell is one place per district its visits are in). A
place is **emerging** when its *own* visits are high, not only its neighbours': the neighbours of
a busy cell share its Getis-Ord Gi* window, so Gi* alone gives a 5-visit cell beside a 1,090-visit
one the same score as the busy cell itself. The rule and its reasons are in docs/coverage.md
("Hotspot signals"); :mod:`mapping.analysis.gaps` lists the findings, and
:func:`emerging_by_district` gives each district's count for the coverage ranking (this module
reads only :class:`~mapping.analysis.coverage_data.CoverageData`, so coverage may import it).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl
import polars_h3 as plh3

from mapping.analysis.coverage_data import CoverageData, epoch_day


@dataclass(frozen=True)
class SignalOptions:
    """Thresholds of the emerging and fading signals (reasons in docs/coverage.md)."""

    #: One-sided p-value (normal approximation) under which a count is significantly high:
    #: 0.01, a z-score of at least 2.33.
    p_value: float = 0.01
    #: Least visits in the period at the place itself for it to be called emerging.
    min_visits: int = 5
    #: An emerging place's visits per day grew at least this many times over the previous period.
    growth: float = 2.0
    #: A fading hotspot had at least this many visits in the previous period...
    min_previous_visits: int = 5
    #: ... and its visits per day fell to this share of the previous period's or less.
    drop_to: float = 0.5

    @property
    def z_threshold(self) -> float:
        """Return the z-score a count must reach to be significantly high at :attr:`p_value`.

        Examples
        --------
        >>> round(SignalOptions().z_threshold, 2)
        2.33
        """
        return NormalDist().inv_cdf(1 - self.p_value)


def _visits_per_place(data: CoverageData, start: int, end: int, name: str) -> pl.DataFrame:
    """Return the located visits from day ``start`` to ``end`` per cell and stored district."""
    return (
        data.visits.filter(
            pl.col("cell").is_not_null() & (pl.col("day") >= start) & (pl.col("day") <= end)
        )
        .group_by("cell", "district_id")
        .agg(pl.len().cast(pl.Int64).alias(name), pl.col("day").max().alias("last_day"))
    )


def _periods(data: CoverageData) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the period's and the previous period's visits per place."""
    period, previous = data.period, data.period.previous()
    current = _visits_per_place(data, epoch_day(period.start), epoch_day(period.end), "visits")
    before = _visits_per_place(
        data, epoch_day(previous.start), epoch_day(previous.end), "previous_visits"
    ).drop("last_day")
    return current, before


def _neighbours(cells: pl.Series) -> Any:
    """Return the binary H3 ring-1 adjacency of ``cells`` (a sparse n × n matrix, no diagonal).

    Neighbours outside ``cells`` are left out: the area's edge cells have fewer than six.
    """
    from scipy.sparse import csr_array

    n = len(cells)
    index = pl.DataFrame({"cell": cells.cast(pl.UInt64), "i": np.arange(n, dtype=np.int64)})
    pairs = (
        index.with_columns(plh3.grid_ring("cell", 1).alias("neighbour"))
        .explode("neighbour")
        .join(
            index.rename({"cell": "neighbour", "i": "j"}),
            on="neighbour",
            how="inner",
        )
    )
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    return csr_array((np.ones(len(i)), (i, j)), shape=(n, n))


def getis_ord_star(y: np.ndarray, adjacency: Any) -> np.ndarray:
    """Return the Getis-Ord Gi* z-score of each cell (its window: itself and its neighbours).

    The same statistic and moments as PySAL's ``esda.G_Local(y, w, transform="B", star=True)``
    with binary weights (tests/test_gaps.py compares them), vectorised. The window of one cell
    alone gives ``(y - mean) / std``: the cell's own standardised count.
    """
    n = len(y)
    y = y.astype(float)
    total = y.sum()
    if n < 3 or total <= 0:
        return np.zeros(n)
    window = adjacency @ y + y
    cardinality = np.asarray(adjacency.sum(axis=1)).ravel() + 1
    mean = total / n
    variance = (y**2).sum() / n - mean**2
    expected = cardinality / n
    spread = cardinality * (n - cardinality) / (n - 1) / n**2 * variance / mean**2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (window / total - expected) / np.sqrt(spread)
    return np.asarray(np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0), dtype=float)


def _p_values(z: np.ndarray) -> np.ndarray:
    """Return one-sided (upper) p-values of z-scores under the normal approximation."""
    from scipy.special import ndtr

    return np.asarray(ndtr(-z), dtype=float)


def cell_signals(data: CoverageData, options: SignalOptions | None = None) -> pl.DataFrame:
    """Return, per cell of the area (and each visited cell outside it), its visits and their scores.

    Columns: ``cell``, ``visits`` and ``previous_visits`` (the period before, same length),
    ``z_score`` and ``p_value`` of the cell's *own* visits (standardised against every cell
    here: ``(visits - mean) / std``), ``cluster_z`` and ``cluster_p`` of Getis-Ord Gi* (the
    cell and its six H3 neighbours, binary weights), ``window_mean`` (the mean visits of that
    window) and ``registered`` (the cell holds an active hotspot).
    """
    del options  # the scores do not depend on the thresholds; kept for a uniform signature
    current, before = _periods(data)
    per_cell = (
        current.group_by("cell")
        .agg(pl.col("visits").sum())
        .join(before.group_by("cell").agg(pl.col("previous_visits").sum()), on="cell", how="full")
        .select(pl.coalesce("cell", "cell_right").alias("cell"), "visits", "previous_visits")
    )
    cells = (
        pl.concat([data.area_cells.select("cell"), per_cell.select("cell")])
        .unique()
        .sort("cell")
        .join(per_cell, on="cell", how="left")
        .with_columns(
            pl.col("visits", "previous_visits").fill_null(0),
            pl.col("cell").is_in(data.hotspots["cell"].implode()).alias("registered"),
        )
    )
    y = cells["visits"].to_numpy().astype(float)
    adjacency = _neighbours(cells["cell"])
    own = _standardised(y)
    cluster = getis_ord_star(y, adjacency)
    window = (adjacency @ y + y) / (np.asarray(adjacency.sum(axis=1)).ravel() + 1)
    return cells.with_columns(
        pl.Series("z_score", np.round(own, 2)),
        pl.Series("p_value", np.round(_p_values(own), 4)),
        pl.Series("cluster_z", np.round(cluster, 2)),
        pl.Series("cluster_p", np.round(_p_values(cluster), 4)),
        pl.Series("window_mean", np.round(window, 2)),
    )


def _standardised(y: np.ndarray) -> np.ndarray:
    """Return ``(y - mean) / std`` over ``y`` (population std), zeros when all are equal."""
    spread = y.std() if len(y) else 0.0
    return (y - y.mean()) / spread if spread > 0 else np.zeros(len(y))


#: Columns of :func:`emerging_places`, in order.
PLACE_COLUMNS: tuple[str, ...] = (
    "cell",
    "district_id",
    "visits",
    "previous_visits",
    "cell_visits",
    "days_since_last_visit",
    "z_score",
    "p_value",
    "cluster_z",
    "cluster_p",
    "window_mean",
)


def emerging_places(
    data: CoverageData,
    options: SignalOptions | None = None,
    *,
    cells: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Return the emerging places: unregistered, with high visits of their own, and growing.

    A place (cell and stored district) is emerging when, in the period:

    - no active hotspot is registered there (in that cell and district, or in that cell with a
      district that is only estimated or unknown: it may be this one);
    - it had at least ``min_visits`` visits itself;
    - its own visits are high: either significantly many for one cell of the area (their
      z-score against every cell's visits at least :attr:`SignalOptions.z_threshold`), or its
      cell lies in a significant Gi* cluster and the place holds at least that window's mean
      visits (it is the cluster, not beside it);
    - its visits per day grew at least ``growth`` times over the previous period's (per day so
      far for a period that has not ended).

    ``visits``, ``previous_visits`` and ``days_since_last_visit`` are the place's own (its
    district's visits in the cell); ``cell_visits`` all the cell's. Sorted by ``z_score``
    (the place's own visits) from the highest. ``cells`` is :func:`cell_signals` if already
    computed.
    """
    options = options or SignalOptions()
    cells = cell_signals(data, options) if cells is None else cells
    current, before = _periods(data)
    stats = cells["visits"].to_numpy().astype(float)
    mean, spread = (stats.mean(), stats.std()) if len(stats) else (0.0, 0.0)
    registered = _registered_places(data)
    days = (data.as_of - data.period.start).days + 1
    previous_days = data.period.previous().days
    z = (pl.col("visits") - mean) / spread if spread > 0 else pl.lit(0.0)
    places = (
        current.join(before, on=["cell", "district_id"], how="left", nulls_equal=True)
        .join(
            cells.select(
                "cell",
                pl.col("visits").alias("cell_visits"),
                "cluster_z",
                "cluster_p",
                "window_mean",
            ),
            on="cell",
            how="left",
        )
        .join(registered, on=["cell", "district_id"], how="anti", nulls_equal=True)
        .join(registered.filter(pl.col("anywhere")), on="cell", how="anti")
        .with_columns(
            pl.col("previous_visits").fill_null(0),
            (pl.lit(epoch_day(data.as_of)) - pl.col("last_day")).alias("days_since_last_visit"),
            z.round(2).alias("z_score"),
        )
    )
    alone = pl.col("z_score") >= round(options.z_threshold, 2)
    in_cluster = (
        (pl.col("cluster_z") > 0)
        & (pl.col("cluster_p") < options.p_value)
        & (pl.col("visits") >= pl.col("window_mean"))
    )
    growing = pl.col("visits") / days >= options.growth * pl.col("previous_visits") / previous_days
    emerging = places.filter(
        (pl.col("visits") >= options.min_visits) & (alone | in_cluster) & growing
    )
    p = pl.Series(_p_values(emerging["z_score"].to_numpy().astype(float))).round(4)
    return (
        emerging.with_columns(p.alias("p_value"))
        .sort(["z_score", "cell", "district_id"], descending=[True, False, False], nulls_last=True)
        .select(PLACE_COLUMNS)
    )


def _registered_places(data: CoverageData) -> pl.DataFrame:
    """Return the (cell, district) places of active hotspots; ``anywhere`` marks a whole cell.

    A hotspot whose district is estimated (from its cell's centre, stored before the district
    was taken from the point) or unknown may be in any district of its cell: it registers the
    whole cell.
    """
    hotspots = data.hotspots
    anywhere = pl.col("district_id").is_null()
    if "district_estimated" in hotspots.columns:
        anywhere = anywhere | pl.col("district_estimated").fill_null(False)
    return hotspots.select("cell", "district_id", anywhere.alias("anywhere")).unique()


#: Columns of :func:`emerging_by_district`, in order.
DISTRICT_COLUMNS: tuple[str, ...] = ("district_id", "emerging_places", "emerging_visits")


def emerging_by_district(
    data: CoverageData, options: SignalOptions | None = None, *, places: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Return, per district, its emerging places and their visits: registry gaps to count.

    One row per district of the area (zeros where none), by id, then a row with a null district
    for places outside every district if there are any. Each place counts in its stored district
    only, so the counts add up to the number of emerging places, and the visits to theirs.
    ``places`` is :func:`emerging_places` if already computed.
    """
    places = emerging_places(data, options) if places is None else places
    counts = places.group_by("district_id").agg(
        pl.len().cast(pl.Int64).alias("emerging_places"),
        pl.col("visits").sum().cast(pl.Int64).alias("emerging_visits"),
    )
    districts = data.districts.select("district_id")
    outside = counts.filter(pl.col("district_id").is_null())
    return (
        pl.concat([districts.join(counts, on="district_id", how="left"), outside], how="diagonal")
        .with_columns(pl.col("emerging_places", "emerging_visits").fill_null(0))
        .sort("district_id", nulls_last=True)
        .select(DISTRICT_COLUMNS)
    )
