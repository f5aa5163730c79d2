"""Hotspot signals: overdue and uncovered hotspots, emerging places, fading hotspots.

Each finding is named with its district: a hotspot's stored district, and for an emerging place
the district its visits were stored in (:mod:`mapping.analysis.signals`), so that a district's
gap list holds its own unregistered clusters.
"""

from __future__ import annotations

import polars as pl

from mapping.analysis.coverage import CoverageOptions, CoverageReport
from mapping.analysis.coverage_data import CoverageData
from mapping.analysis.signals import SignalOptions, cell_signals, emerging_places
from mapping.cells import hex_ids

__all__ = [
    "FINDING_KINDS",
    "GAP_COLUMNS",
    "SignalOptions",
    "cell_signals",
    "findings_by_district",
    "hotspot_gaps",
]

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


#: The kinds of finding, in the order :func:`hotspot_gaps` lists them.
FINDING_KINDS: tuple[str, ...] = ("overdue", "uncovered", "emerging", "fading")


def hotspot_gaps(
    report: CoverageReport,
    data: CoverageData,
    *,
    signals: SignalOptions | None = None,
    district_id: str | None = None,
) -> pl.DataFrame:
    """Return the hotspots and places that need the coordinator's attention, one row per finding.

    Kinds: ``overdue`` (no visit within the options' overdue weeks), ``uncovered`` (no key
    service type within reach at the hotspot's hours; the detail lists the missing types),
    ``emerging`` (a place outside the registry whose own visits are high and grew against the
    previous period: :func:`mapping.analysis.signals.emerging_places`) and ``fading`` (a
    registered hotspot whose cell's visits fell sharply against the previous period, as after a
    raid). A hotspot's finding is in its stored district; an emerging place's in the district
    its visits were stored in (a border cell with visits in two districts is a place in each).
    Listed by kind; emerging places from the most visits of their own, the rest by district.
    """
    signals = signals or SignalOptions()
    options: CoverageOptions = report.options
    cells = cell_signals(data, signals)
    hotspots = report.hotspots.select(
        "id",
        "cell",
        "cell_id",
        "district_id",
        "overdue",
        "days_since_last_visit",
        *(f"reach_{t}" for t in options.key_service_types),
    ).join(cells.select("cell", "visits", "previous_visits"), on="cell", how="left")
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
    emerging = emerging_places(data, signals, cells=cells).with_columns(
        hex_ids(pl.col("cell")).alias("cell_id")
    )
    findings.append(
        _findings(
            emerging,
            "emerging",
            pl.format(
                "not in the registry; {} visits here against {} in the previous period "
                "(z = {} among the area's cells; with its neighbours Gi* z = {})",
                "visits",
                "previous_visits",
                "z_score",
                "cluster_z",
            ),
        )
    )
    # a period that has not ended is compared by visits per day so far
    days = (data.as_of - data.period.start).days + 1
    previous_days = data.period.previous().days
    fading = hotspots.filter(
        (pl.col("previous_visits") >= signals.min_previous_visits)
        & (pl.col("visits") / days <= signals.drop_to * pl.col("previous_visits") / previous_days)
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
    order = {kind: index for index, kind in enumerate(FINDING_KINDS)}
    return (
        result.with_columns(
            pl.col("kind").replace_strict(order, return_dtype=pl.Int8).alias("__order"),
            (-pl.col("z_score")).alias("__score"),
        )
        .sort("__order", "__score", "district_id", "hotspot_id", "cell_id", nulls_last=True)
        .select(GAP_COLUMNS)
    )


def findings_by_district(findings: pl.DataFrame) -> pl.DataFrame:
    """Return each district's gap list in numbers: its findings of each kind, and emerging visits.

    ``findings`` is :func:`hotspot_gaps`. One row per district with a finding (findings outside
    every district under a null district), with a column per kind of :data:`FINDING_KINDS` and
    ``emerging_visits`` (the visits of its emerging places: unregistered clusters count as gaps
    of the district they are in). Sorted by findings, then emerging visits, most first.

    Examples
    --------
    >>> findings = pl.DataFrame(
    ...     {
    ...         "kind": ["overdue", "emerging", "emerging"],
    ...         "district_id": ["A", "B", "B"],
    ...         "district": ["Alfa", "Bravo", "Bravo"],
    ...         "visits": [0, 1090, 40],
    ...     }
    ... )
    >>> findings_by_district(findings).rows()
    [('B', 'Bravo', 0, 0, 2, 0, 1130), ('A', 'Alfa', 1, 0, 0, 0, 0)]
    """
    emerging = pl.col("kind") == "emerging"
    return (
        findings.group_by("district_id", "district")
        .agg(
            *((pl.col("kind") == kind).sum().cast(pl.Int64).alias(kind) for kind in FINDING_KINDS),
            pl.col("visits").filter(emerging).sum().cast(pl.Int64).alias("emerging_visits"),
            pl.len().alias("__findings"),
        )
        .sort(
            ["__findings", "emerging_visits", "district_id"],
            descending=[True, True, False],
            nulls_last=True,
        )
        .drop("__findings")
    )
