"""Hotspot signals: overdue and uncovered hotspots, emerging ones (Getis-Ord Gi*), fading ones."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import h3
import numpy as np
import polars as pl

from mapping.analysis.coverage import CoverageOptions, CoverageReport
from mapping.analysis.coverage_data import CoverageData, epoch_day
from mapping.cells import cell_to_str, hex_ids

#: Columns of the table :func:`hotspot_gaps` returns, in order.
GAP_COLUMNS: tuple[str, ...] = (
    "kind",
    "district_id",
    "district",
    "cell_id",
    "hotspot_id",
    "visits",
    "previous_visits",
    "days_since_last_visit",
    "z_score",
    "detail",
)


@dataclass(frozen=True)
class SignalOptions:
    """Thresholds of the emerging and fading signals (reasons in docs/coverage.md)."""

    #: Gi* one-sided p-value under which a cell's cluster of visits is significant.
    p_value: float = 0.01
    #: Permutations for a conditional randomisation p-value; 0 (the default) uses the normal
    #: approximation, because conditional randomisation keeps the cell's own count fixed and so
    #: cannot flag one busy cell among quiet neighbours, which is what a new venue looks like.
    permutations: int = 0
    #: Least visits in the period for a cell to be called emerging.
    min_visits: int = 5
    #: An emerging cell's visits per day grew at least this many times over the previous period.
    growth: float = 2.0
    #: A fading hotspot had at least this many visits in the previous period...
    min_previous_visits: int = 5
    #: ... and its visits per day fell to this share of the previous period's or less.
    drop_to: float = 0.5
    #: Seed of the permutations, so the same data gives the same answer.
    seed: int = 20261122


def _visits_per_cell(data: CoverageData, start: int, end: int, name: str) -> pl.DataFrame:
    return (
        data.visits.filter(
            pl.col("cell").is_not_null() & (pl.col("day") >= start) & (pl.col("day") <= end)
        )
        .group_by("cell")
        .agg(pl.len().alias(name))
    )


def cell_signals(data: CoverageData, options: SignalOptions | None = None) -> pl.DataFrame:
    """Return, per cell of the area (and visited cells outside it), Gi* of the period's visits.

    Columns: cell, district_id, visits, previous_visits (the period before, same length),
    z_score and p_value of Getis-Ord Gi* (the cell and its six H3 neighbours, binary
    weights), and ``registered`` (the cell holds an active hotspot).
    """
    options = options or SignalOptions()
    period, previous = data.period, data.period.previous()
    current = _visits_per_cell(data, epoch_day(period.start), epoch_day(period.end), "visits")
    before = _visits_per_cell(
        data, epoch_day(previous.start), epoch_day(previous.end), "previous_visits"
    )
    cells = (
        pl.concat([data.area_cells.select("cell"), current.select("cell")])
        .unique()
        .sort("cell")
        .join(data.area_cells, on="cell", how="left")
        .join(current, on="cell", how="left")
        .join(before, on="cell", how="left")
        .with_columns(pl.col("visits", "previous_visits").fill_null(0))
        .with_columns(
            pl.col("cell").is_in(data.hotspots["cell"].implode()).alias("registered"),
        )
    )
    z, p = _getis_ord(cells["cell"].to_list(), cells["visits"].to_numpy(), options)
    return cells.with_columns(
        pl.Series("z_score", np.round(z, 2)), pl.Series("p_value", np.round(p, 4))
    )


def _getis_ord(cells: list[int], y: np.ndarray, options: SignalOptions) -> tuple[np.ndarray, ...]:
    """Return Gi* z-scores and one-sided p-values with H3 ring-1 neighbours as weights."""
    from esda import G_Local
    from libpysal.weights import W

    n = len(cells)
    if n < 3 or not y.any():
        return np.zeros(n), np.ones(n)
    index = {cell: i for i, cell in enumerate(cells)}
    neighbours: dict[int, list[int]] = {}
    for i, cell in enumerate(cells):
        ring = (h3.str_to_int(c) for c in h3.grid_ring(cell_to_str(cell), 1))
        neighbours[i] = [index[c] for c in ring if c in index]
    with warnings.catch_warnings():
        # islands (cells with no neighbour in the area) are expected at the area's edges
        warnings.simplefilter("ignore")
        weights = W(neighbours, silence_warnings=True)
        gi = G_Local(
            y.astype(float),
            weights,
            transform="B",
            permutations=options.permutations,
            star=True,
            seed=options.seed,
            n_jobs=1,
        )
    p = gi.p_sim if options.permutations else gi.p_norm
    return np.nan_to_num(np.asarray(gi.Zs, dtype=float)), np.asarray(p, dtype=float)


def _findings(frame: pl.DataFrame, kind: str, detail: pl.Expr) -> pl.DataFrame:
    hotspot = pl.col("id") if "id" in frame.columns else pl.lit(None, pl.String)
    z_score = pl.col("z_score") if kind == "emerging" else pl.lit(None, pl.Float64)
    return frame.select(
        pl.lit(kind).alias("kind"),
        pl.col("district_id"),
        pl.col("cell_id"),
        hotspot.alias("hotspot_id"),
        pl.col("visits").fill_null(0),
        pl.col("previous_visits").fill_null(0),
        pl.col("days_since_last_visit"),
        z_score.alias("z_score"),
        detail.alias("detail"),
    )


def hotspot_gaps(
    report: CoverageReport,
    data: CoverageData,
    *,
    signals: SignalOptions | None = None,
    district_id: str | None = None,
) -> pl.DataFrame:
    """Return the hotspots that need the coordinator's attention, one row per finding.

    Kinds: ``overdue`` (no visit within the options' overdue weeks), ``uncovered`` (no key
    service type within reach at the hotspot's hours; the detail lists the missing types),
    ``emerging`` (an unregistered cell whose visits cluster significantly by Gi* and grew
    against the previous period) and ``fading`` (a registered cell whose visits fell sharply
    against the previous period, as after a raid).
    """
    signals = signals or SignalOptions()
    options: CoverageOptions = report.options
    cells = (
        cell_signals(data, signals)
        .join(
            report.cells.select("cell", "cell_id", "days_since_last_visit"), on="cell", how="left"
        )
        .with_columns(pl.col("cell_id").fill_null(hex_ids(pl.col("cell"))))
    )
    hotspots = (
        report.hotspots.select(
            "id", "cell", "overdue", *(f"reach_{t}" for t in options.key_service_types)
        )
        .join(cells.drop("registered"), on="cell", how="left")
        .with_columns(pl.col("district_id").fill_null(pl.lit(None, pl.String)))
    )
    findings = [
        _findings(
            hotspots.filter(pl.col("overdue")),
            "overdue",
            pl.when(pl.col("days_since_last_visit").is_null())
            .then(pl.lit("never visited"))
            .otherwise(pl.format("last visit {} days ago", pl.col("days_since_last_visit"))),
        )
    ]
    key = list(options.key_service_types)
    if key:
        # uncovered: no key service of any type serves it (per-type gaps are in the
        # district's access_<type> figures; listing every hotspot missing one type is noise)
        uncovered = hotspots.filter(~pl.any_horizontal(*(pl.col(f"reach_{t}") for t in key)))
        findings.append(
            _findings(
                uncovered,
                "uncovered",
                pl.lit(
                    f"no friendly {', '.join(key)} open at its hours within "
                    f"{options.reach_minutes:g} min"
                ),
            )
        )
    # a period that has not ended is compared by visits per day so far
    days = (data.as_of - data.period.start).days + 1
    previous_days = data.period.previous().days
    rate = pl.col("visits") / days
    previous_rate = pl.col("previous_visits") / previous_days
    emerging = cells.filter(
        ~pl.col("registered")
        & (pl.col("z_score") > 0)
        & (pl.col("p_value") < signals.p_value)
        & (pl.col("visits") >= signals.min_visits)
        & (rate >= signals.growth * previous_rate)
    )
    findings.append(
        _findings(
            emerging,
            "emerging",
            pl.format(
                "not in the registry; visits cluster here (Gi* z = {}, p {}); "
                "{} visits against {} in the previous period",
                "z_score",
                pl.when(pl.col("p_value") < 0.0001)
                .then(pl.lit("< 0.0001"))
                .otherwise(pl.format("= {}", pl.col("p_value").round(4))),
                "visits",
                "previous_visits",
            ),
        )
    )
    fading = hotspots.filter(
        (pl.col("previous_visits") >= signals.min_previous_visits)
        & (rate <= signals.drop_to * previous_rate)
    )
    findings.append(
        _findings(
            fading,
            "fading",
            pl.format(
                "visits fell from {} in the previous period to {}", "previous_visits", "visits"
            ),
        )
    )
    result = pl.concat(findings, how="vertical_relaxed").join(
        data.districts.select("district_id", "district"), on="district_id", how="left"
    )
    if district_id is not None:
        result = result.filter(pl.col("district_id") == district_id)
    order = {"overdue": 0, "uncovered": 1, "emerging": 2, "fading": 3}
    return (
        result.with_columns(
            pl.col("kind").replace_strict(order, return_dtype=pl.Int8).alias("__order")
        )
        .sort("__order", "district_id", "hotspot_id", "cell_id", nulls_last=True)
        .select(GAP_COLUMNS)
    )
