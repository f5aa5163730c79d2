"""Where to add a service: the maximal covering location problem over the area's cells (spopt)."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl

from mapping.analysis.coverage import CoverageOptions, hotspot_access
from mapping.analysis.coverage_data import CoverageData
from mapping.cells import cell_centres, hex_ids
from mapping.errors import InvalidInputError
from mapping.vocab import SERVICE_TYPES

#: Columns of the table :func:`suggest_sites` returns, in order.
SITE_COLUMNS: tuple[str, ...] = (
    "rank",
    "cell_id",
    "district_id",
    "district",
    "hotspots_gained",
    "sex_workers_min",
    "sex_workers_max",
    "weight_gained",
    "cumulative_share",
)


def suggest_sites(
    data: CoverageData,
    options: CoverageOptions,
    *,
    service_type: str,
    count: int,
) -> pl.DataFrame:
    """Return up to ``count`` cells where a new service would bring the most people within reach.

    Demand is each active hotspot that no suitable service of ``service_type`` reaches now
    (see :func:`mapping.analysis.coverage.hotspot_access`), weighted by its estimated number of sex
    workers (the midpoint of its range). Candidates are the area's cells, a new service being
    assumed friendly and open at the hours its hotspots work. The cells are chosen together by
    the maximal covering location problem (spopt's ``MCLP``, solved exactly with CBC), then
    listed in order of what each adds to those before it; ``cumulative_share`` is the share of
    the uncovered weight reached so far. Fewer than ``count`` rows come back when the rest
    would add nothing.

    A site is a cell, not a point, so its ``district`` is the one holding the cell's centre
    (``area_cells``: the cells that make the area and the district of each centre), where a
    service placed at the cell would be. The candidates are those same cells: which cells make
    the area is the question there. The hotspots (the demand) are in their stored districts.
    """
    if service_type not in SERVICE_TYPES:
        raise InvalidInputError(
            f"service type {service_type!r} is not one of: {', '.join(SERVICE_TYPES)}"
        )
    if count < 1:
        raise InvalidInputError(f"count {count} is not a number of sites — give 1 or more")
    hotspots = hotspot_access(data, options).filter(~pl.col(f"reach_{service_type}"))
    empty = pl.DataFrame(schema={name: pl.String for name in SITE_COLUMNS})
    if hotspots.height == 0 or data.area_cells.height == 0:
        return empty
    h_lat, h_lng = cell_centres(hotspots["cell"].to_list())
    candidates = data.area_cells["cell"].to_list()
    c_lat, c_lng = cell_centres(candidates)
    minutes = options.travel.minutes(h_lat, h_lng, c_lat, c_lng)
    covers = minutes <= options.reach_minutes
    useful = covers.any(axis=0)
    minutes, covers = minutes[:, useful], covers[:, useful]
    candidate_cells = np.asarray(candidates)[useful]
    weights = hotspots["weight"].to_numpy().astype(float)
    chosen = _solve(minutes, weights, options.reach_minutes, min(count, len(candidate_cells)))
    rows = []
    covered = np.zeros(len(weights), dtype=bool)
    remaining = list(chosen)
    while remaining:
        gains = [float(weights[covers[:, j] & ~covered].sum()) for j in remaining]
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        j = remaining.pop(best)
        newly = covers[:, j] & ~covered
        covered |= newly
        rows.append(
            {
                "cell": int(candidate_cells[j]),
                "hotspots_gained": int(newly.sum()),
                "sex_workers_min": int(hotspots["size_min"].fill_null(0).to_numpy()[newly].sum()),
                "sex_workers_max": int(hotspots["size_max"].fill_null(0).to_numpy()[newly].sum()),
                "weight_gained": round(gains[best], 1),
                "cumulative_share": round(float(weights[covered].sum() / weights.sum()), 3),
            }
        )
    if not rows:
        return empty
    return (
        pl.DataFrame(rows)
        .with_row_index("rank", offset=1)
        .with_columns(
            pl.col("rank").cast(pl.Int64),
            hex_ids(pl.col("cell")).alias("cell_id"),
        )
        .join(data.area_cells, on="cell", how="left")
        .join(data.districts.select("district_id", "district"), on="district_id", how="left")
        .sort("rank")
        .select(SITE_COLUMNS)
    )


def _solve(minutes: np.ndarray, weights: np.ndarray, radius: float, count: int) -> list[int]:
    """Return the columns (candidates) the maximal covering location problem chooses."""
    import pulp
    from spopt.locate import MCLP

    with warnings.catch_warnings():
        # spopt warns when fewer facilities than asked for cover everything
        warnings.simplefilter("ignore")
        model = MCLP.from_cost_matrix(minutes, weights, radius, p_facilities=count)
        # results=False: spopt's own client/facility tables loop in Python over every pair
        model.solve(pulp.PULP_CBC_CMD(msg=False), results=False)
    return [j for j, chosen in enumerate(model.fac_vars) if (chosen.value() or 0) > 0.5]
