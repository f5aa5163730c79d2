"""Benchmark: coverage analytics on 1,000,000 stored visits, beside a naive per-point baseline.

Run with ``python benchmarks/bench_coverage.py [--visits N]``. The workspace (the 50 real Lima
+ Callao districts, about 5,000 visited cells, a hotspot registry and the demo's services) is
built once per run through the real import path into a scratch directory; building is not
timed. Each measured step then runs three times, in rounds that interleave the steps, each
time in its own child process so its peak memory (VmHWM) is its own; the best wall time is
kept. Prints visits/s, peak memory and the split between loading and computing. The naive
baseline (per-row ``apply`` of ``h3.latlng_to_cell``, a geopandas ``sjoin`` to the districts,
a pandas groupby) runs on the same synthetic points, which only ever exist in memory: each
child regenerates them from the seed and nothing writes a coordinate to disk.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from mapping.ingest.readers import RawTable
    from mapping.storage.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
DISTRICTS = DATA / "lima_callao_districts_simplified.geojson"
#: The last day of the synthetic year of visits; periods are computed as if today were this day.
END = dt.date(2026, 11, 30)
DAYS = 365
#: ``last-400-days`` ends on END and starts before the first visit: every visit is in it.
ALL = "last-400-days"
RECENT = "last-90-days"
SEED = 7
REPEATS = 3
#: Where visited cells cluster: commercial and nightlife areas (as in the demo), in degrees.
CENTRES = np.array(
    [
        [-12.050, -77.033],
        [-12.066, -77.017],
        [-12.085, -77.036],
        [-12.120, -77.030],
        [-12.113, -77.016],
        [-12.010, -77.080],
        [-11.990, -77.070],
        [-11.940, -77.050],
        [-11.980, -77.005],
        [-12.030, -76.930],
        [-12.055, -77.120],
        [-12.170, -77.020],
        [-12.210, -76.940],
        [-11.890, -77.065],
    ]
)


def synthetic_visits(area: np.ndarray, rows: int, cells: int, seed: int = SEED) -> dict:
    """Return the synthetic visits as numpy arrays, deterministic for ``area``, sizes and seed.

    ``area`` is the workspace's sorted area cells. ``cells`` of them are visited, chosen near
    commercial and nightlife areas, each with a log-normal popularity; about 150,000 returning
    contacts each work mostly in one cell; 40 teams of six peer educators; night outreach.
    """
    import h3

    rng = np.random.default_rng(seed)
    centres = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in area])
    distance2 = ((centres[:, None, :] - CENTRES[None, :, :]) ** 2).sum(axis=2)
    weight = 0.05 + np.exp(-distance2 / (2 * 0.03**2)).sum(axis=1)
    visited = np.sort(rng.choice(len(area), size=cells, replace=False, p=weight / weight.sum()))
    popularity = rng.lognormal(0, 1.2, cells)
    popularity /= popularity.sum()
    n_contacts = max(1, min(150_000, rows // 6))
    home = rng.choice(cells, size=n_contacts, p=popularity)
    activity = rng.lognormal(0, 1.0, n_contacts)
    contact = rng.choice(n_contacts, size=rows, p=activity / activity.sum())
    roaming = rng.random(rows) < 0.15
    where = np.where(roaming, rng.choice(cells, size=rows, p=popularity), home[contact])
    # points near the cell's centre: nearly all stay in that cell (a res-9 cell is ~170 m wide)
    lat = centres[visited[where], 0] + rng.normal(0, 0.00025, rows)
    lng = centres[visited[where], 1] + rng.normal(0, 0.00025, rows)
    team = visited[where] % 40
    return {
        "lat": np.round(lat, 6),
        "lng": np.round(lng, 6),
        "contact": contact,
        "team": team,
        "worker": team * 6 + rng.integers(0, 6, rows),
        "day": rng.integers(0, DAYS, rows),
        "visited": area[visited],
        "popularity": popularity,
        "rng": rng,
    }


def visits_frame(points: dict) -> pl.DataFrame:
    """Return the visits as a field export would come: text columns, Spanish headers."""
    rng = points["rng"]
    rows = len(points["lat"])
    dates = (np.datetime64(END) - points["day"].astype("timedelta64[D]")).astype(str)
    return pl.DataFrame(
        {
            "id_visita": np.char.add("V", np.arange(rows).astype(str)),
            "fecha": dates,
            "hora": np.char.add(rng.choice([19, 20, 21, 22, 23, 0, 1, 2], rows).astype(str), ":30"),
            "educadora_par": np.char.add("PE", points["worker"].astype(str)),
            "equipo": np.char.add("T", points["team"].astype(str)),
            "codigo_unico": np.char.add("UIC", points["contact"].astype(str)),
            "genero": rng.choice(["mujer", "mujer trans", "hombre"], rows, p=[0.75, 0.18, 0.07]),
            "lugar": rng.choice(["calle", "local"], rows),
            "latitud": points["lat"].astype(str),
            "longitud": points["lng"].astype(str),
            "condones": rng.poisson(8, rows).astype(str),
            "lubricante": rng.poisson(2, rows).astype(str),
            "referido_a": rng.choice(
                ["", "prueba_vih", "its", "prep", "prueba_vih its"],
                rows,
                p=[0.82, 0.08, 0.04, 0.03, 0.03],
            ),
            "prueba_vih": rng.choice(["", "ofrecida", "realizada"], rows, p=[0.74, 0.18, 0.08]),
        }
    )


def hotspot_registry(points: dict, area: np.ndarray, count: int = 300) -> pl.DataFrame:
    """Return a registry of ``count`` hotspots: most in visited cells, a sixth never visited."""
    import h3

    from mapping.vocab import HOTSPOT_TYPOLOGIES

    rng = np.random.default_rng(SEED + 1)
    visited, popularity = points["visited"], points["popularity"]
    n_unvisited = count // 6
    cells = list(rng.choice(visited, size=count - n_unvisited, replace=False, p=popularity)) + list(
        rng.choice(np.setdiff1d(area, visited), size=n_unvisited, replace=False)
    )
    typology = rng.choice(HOTSPOT_TYPOLOGIES[:9], size=count)
    night = ~np.isin(typology, ["massage_parlour", "home_based"])
    size_min = rng.integers(3, 25, count)
    return pl.DataFrame(
        {
            "id": [f"H{index + 1:03d}" for index in range(count)],
            "cell": [h3.int_to_str(int(c)) for c in cells],
            "typology": typology,
            "days": np.where(np.isin(typology, ["street", "highway"]), "Mo-Su", "Th-Su"),
            "opening_hours": np.where(night, "20:00-04:00", "10:00-22:00"),
            "size_min": size_min,
            "size_max": size_min + rng.integers(2, 20, count),
            "last_validated": [
                (END - dt.timedelta(days=int(d))).isoformat() for d in rng.integers(10, 400, count)
            ],
            "active": np.where(rng.random(count) < 0.95, "yes", "no"),
            "safety": rng.choice(["none", "police_harassment", "violence", "raids"], size=count),
        }
    )


def peak_mb() -> float:
    """Return this process's peak resident memory in MB.

    ``VmHWM`` belongs to the process's own address space. ``ru_maxrss`` is not used when it
    can be avoided: Linux carries it across ``exec`` from the parent, so a child started by a
    parent holding a large frame would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_area(
    workdir: Path, rows: int, cells: int, resolution: int, *, db_url: str | None = None
) -> tuple[Workspace, list[str]]:
    """Build the workspace at ``workdir / "ws"`` without visits; return it and a summary.

    The 50 districts, the demo's programme services, the MINSA facilities and a hotspot
    registry drawn near the cells the synthetic visits of ``rows`` and ``cells`` will visit.
    ``db_url`` puts the store on another database (PostgreSQL) instead of the SQLite file.
    """
    import h3

    from mapping.ingest.area import districts_from_file, init_area
    from mapping.ingest.locations import area_cells
    from mapping.ingest.readers import mapping_from_file
    from mapping.ingest.registry_files import hotspots_from_file, services_from_file

    districts = districts_from_file(
        DISTRICTS,
        id_column="district_id",
        name_column="district",
        population_column="pop2020_est",
    )
    workspace = init_area(
        workdir / "ws", districts, name="bench", resolution=resolution, db_url=db_url
    )
    lines = [f"districts: {len(districts)}"]
    # the demo's services hold res-8 cells: at a finer workspace resolution give their centre child
    services = pl.read_csv(DATA / "demo_programme_services.csv", infer_schema=False)
    services = services.with_columns(
        pl.col("cell").map_elements(
            lambda c: h3.cell_to_center_child(c, resolution), return_dtype=pl.String
        )
    )
    services.write_csv(workdir / "services.csv")
    result = services_from_file(workspace, workdir / "services.csv")
    lines.append(f"programme services: {result.summary()}")
    result = services_from_file(
        workspace,
        DATA / "lima_callao_facilities_minsa_ipress.csv",
        mapping=mapping_from_file(DATA / "minsa_ipress_mapping.toml"),
    )
    lines.append(f"MINSA facilities: {result.summary()}")
    area = np.sort(area_cells(workspace).to_numpy().astype(np.int64))
    points = synthetic_visits(area, rows, cells)
    # the registry holds cells only, never points, so it may touch the disk
    hotspot_registry(points, area).write_csv(workdir / "hotspots.csv")
    result = hotspots_from_file(workspace, workdir / "hotspots.csv")
    lines.append(f"hotspots: {result.summary()}")
    return workspace, lines


def visits_table(workspace: Workspace, rows: int, cells: int) -> RawTable:
    """Return the synthetic visits of ``workspace``'s area as an import reads a file, in memory.

    The same rows every time for the same area, sizes and seed; no coordinate touches the disk.
    """
    from mapping.ingest.locations import area_cells
    from mapping.ingest.readers import RawTable

    area = np.sort(area_cells(workspace).to_numpy().astype(np.int64))
    frame = visits_frame(synthetic_visits(area, rows, cells))
    return RawTable(frame=frame.with_row_index("__row", offset=2), source_name="bench-visits")


def build(workdir: Path, rows: int, cells: int, resolution: int) -> str:
    """Build the workspace at ``workdir / "ws"`` through the real import path; return a summary."""
    from mapping.ingest.visits import visits_from_table

    workspace, lines = build_area(workdir, rows, cells, resolution)
    result = visits_from_table(workspace, visits_table(workspace, rows, cells))
    lines.append(f"visits: {result.summary()}")
    return "\n".join(lines)


def _child(step: str, workdir: Path, rows: int, cells: int, resolution: int, sample: int) -> None:
    """Run one measured step in this (child) process and print a JSON line.

    Modules are imported and inputs prepared before the clock starts: the step measures the
    code path, not Python loading libraries.
    """
    if step == "build":
        started = time.perf_counter()
        summary = build(workdir, rows, cells, resolution)
        elapsed = time.perf_counter() - started
        print(
            json.dumps({"step": step, "seconds": elapsed, "peak_mb": peak_mb(), "detail": summary})
        )
        return
    from mapping.analysis.coverage import (
        CoverageOptions,
        cell_coverage,
        coverage,
        coverage_from_data,
        district_coverage,
        hotspot_access,
    )
    from mapping.analysis.coverage_data import allow_arrow_reads, load_coverage_data
    from mapping.periods import parse_period
    from mapping.storage.workspace import open_workspace

    workspace = open_workspace(workdir / "ws")
    detail: dict[str, object] = {}
    if step.startswith("naive"):
        import geopandas as gpd
        import h3
        import pandas as pd

        from mapping.ingest.locations import area_cells

        area = np.sort(area_cells(workspace).to_numpy().astype(np.int64))
        points = synthetic_visits(area, rows, cells)
        n = sample or rows
        frame = pd.DataFrame(
            {
                "lat": points["lat"][:n],
                "lng": points["lng"][:n],
                "contact": np.char.add("UIC", points["contact"][:n].astype(str)),
            }
        )
        del points
        polygons = gpd.read_file(DISTRICTS)[["district_id", "geometry"]]
        resolution = workspace.resolution
        start_mb = peak_mb()
        started = time.perf_counter()
        frame["cell"] = frame.apply(
            lambda r: h3.latlng_to_cell(r["lat"], r["lng"], resolution), axis=1
        )
        located = time.perf_counter()
        points_gdf = gpd.GeoDataFrame(
            frame, geometry=gpd.points_from_xy(frame["lng"], frame["lat"]), crs=4326
        )
        joined = gpd.sjoin(points_gdf, polygons, how="left", predicate="within")
        joined_at = time.perf_counter()
        per_district = joined.groupby("district_id", dropna=False).agg(
            visits=("cell", "size"), contacts=("contact", "nunique")
        )
        elapsed = time.perf_counter() - started
        detail = {
            "h3_apply": located - started,
            "sjoin": joined_at - located,
            "groupby": elapsed - (joined_at - started),
            "districts": int(per_district.index.notna().sum()),
            "unplaced": int(per_district.loc[per_district.index.isna(), "visits"].sum()),
        }
        visits = n
    else:
        period_text = ALL if step.endswith("_all") else RECENT
        period = parse_period(period_text, today=END)
        # the command line reads visits through ConnectorX; the app ("app_") through the cursor
        allow_arrow_reads(not step.startswith("app"))
        options = CoverageOptions.from_settings()
        start_mb = peak_mb()
        if step.startswith(("coverage", "app")):
            started = time.perf_counter()
            report = coverage(workspace, period_text, options=options, today=END)
            elapsed = time.perf_counter() - started
        else:  # parts: loading, then computing, then each part of the computation again
            started = time.perf_counter()
            data = load_coverage_data(workspace, period)
            loaded = time.perf_counter()
            report = coverage_from_data(data, options)
            elapsed = time.perf_counter() - started
            detail["load"] = loaded - started
            detail["compute"] = elapsed - detail["load"]
            detail["history_rows"] = data.visits.height
            clock = time.perf_counter()
            cells_frame = cell_coverage(data, options)
            detail["cell_coverage"] = time.perf_counter() - clock
            clock = time.perf_counter()
            hotspots = hotspot_access(data, options)
            detail["hotspot_access"] = time.perf_counter() - clock
            clock = time.perf_counter()
            district_coverage(data, options, cells_frame, hotspots)
            detail["district_coverage"] = time.perf_counter() - clock
        visits = report.totals["visits"]
        detail["cells"] = report.cells.filter(pl.col("visits") > 0).height
        detail["contacts"] = report.totals["contacts"]
        detail["hotspots"] = report.hotspots.height
        detail["districts"] = int(report.districts["rank"].is_not_null().sum())
    print(
        json.dumps(
            {
                "step": step,
                "visits": visits,
                "seconds": elapsed,
                "start_mb": start_mb,
                "peak_mb": peak_mb(),
                "detail": detail,
            }
        )
    )


def _once(step: str, args: argparse.Namespace, workdir: Path, sample: int = 0) -> dict:
    """Run ``step`` in a fresh process and return what it printed."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            step,
            "--workdir",
            str(workdir),
            "--visits",
            str(args.visits),
            "--cells",
            str(args.cells),
            "--resolution",
            str(args.resolution),
            "--naive-sample",
            str(sample),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _best(runs: list[dict]) -> dict:
    """Return the fastest run, with the top peak memory and every run's seconds."""
    best = min(runs, key=lambda r: r["seconds"])
    return {
        **best,
        "peak_mb": max(r["peak_mb"] for r in runs),
        "all_seconds": [r["seconds"] for r in runs],
    }


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    """Build the workspace, run every step and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--cells", type=int, default=5_000, help="distinct visited cells")
    parser.add_argument(
        "--resolution",
        type=int,
        default=9,
        help="storage resolution; the Lima area has only 3,519 cells at 8, 23,573 at 9",
    )
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=None,
        help="time the naive baseline on this many points and extrapolate (default: all "
        "points up to 1,000,000, else a 100,000 sample)",
    )
    parser.add_argument("--child")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if args.child:
        _child(
            args.child,
            args.workdir,
            args.visits,
            args.cells,
            args.resolution,
            args.naive_sample or 0,
        )
        return
    sample = args.naive_sample
    if sample is None:
        sample = 0 if args.visits <= 1_000_000 else 100_000
    sample = 0 if sample >= args.visits else sample

    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        # built in its own process too, so that no child inherits a large parent
        built = _once("build", args, workdir)
        print(
            f"{args.visits:,} visits over {DAYS} days to {END}, {args.cells:,} visited cells "
            f"targeted, resolution {args.resolution}, {os.cpu_count()} cores shared: compare "
            f"ratios; load average {_load()} at the start"
        )
        print(f"workspace built in {built['seconds']:.0f} s (not timed below):")
        print("  " + built["detail"].replace("\n", "\n  ") + "\n")
        # round after round of every step, so that a busy spell on the shared machine slows
        # one run of each step rather than every run of one
        steps = ("coverage_all", "coverage_90", "app_all", "parts_all", "parts_90", "naive_all")
        runs: dict[str, list[dict]] = {step: [] for step in steps}
        for _ in range(REPEATS):
            for step in steps:
                runs[step].append(_once(step, args, workdir, sample if step == "naive_all" else 0))
        results = {step: _best(r) for step, r in runs.items()}

    print(
        f"{'step':<40}{'visits':>10}{'visits/s':>12}{'seconds':>9}{'(3 runs)':>18}"
        f"{'start MB':>10}{'peak MB':>9}"
    )
    labels = {
        "coverage_all": f"coverage(), {ALL} (all visits)",
        "coverage_90": f"coverage(), {RECENT}",
        "app_all": "coverage() in the app (cursor reads)",
        "parts_all": "load + compute, all visits",
        "parts_90": f"load + compute, {RECENT}",
        "naive_all": "naive apply + sjoin + groupby",
    }
    for step, r in results.items():
        runs = " ".join(f"{s:.2f}" for s in r["all_seconds"])
        print(
            f"{labels[step]:<40}{r['visits']:>10,}{r['visits'] / r['seconds']:>12,.0f}"
            f"{r['seconds']:>9.2f}{runs:>18}{r['start_mb']:>10.0f}{r['peak_mb']:>9.0f}"
        )
    ours = results["coverage_all"]
    naive = results["naive_all"]
    naive_seconds = naive["seconds"] * args.visits / naive["visits"]
    print()
    d = ours["detail"]
    print(
        f"result, all visits: {ours['visits']:,} visits, "
        f"{d['contacts']:,} contacts, {d['cells']:,} visited cells, {d['hotspots']} active "
        f"hotspots, {d['districts']} ranked districts"
    )
    for step in ("parts_all", "parts_90"):
        p = results[step]["detail"]
        print(
            f"where the time goes, {labels[step].split(', ')[1]} (best run): "
            f"load_coverage_data {p['load']:.2f} s ({p['history_rows']:,} visits read: the "
            f"whole history to the period's end), coverage_from_data {p['compute']:.2f} s; "
            "its parts, re-run on the cached pass over visits: "
            f"cell_coverage {p['cell_coverage']:.2f}, hotspot_access "
            f"{p['hotspot_access']:.2f}, district_coverage {p['district_coverage']:.2f} s"
        )
    nd = naive["detail"]
    scale = args.visits / naive["visits"]
    print(
        f"naive, {naive['visits']:,} points: h3 apply {nd['h3_apply']:.2f} s, "
        f"sjoin {nd['sjoin']:.2f} s, groupby {nd['groupby']:.2f} s; "
        f"{nd['unplaced']:,} points outside every polygon"
    )
    if scale != 1:
        print(
            f"naive timed on a {naive['visits']:,}-point sample and extrapolated linearly "
            f"(x{scale:.0f}) to {naive_seconds:.1f} s for {args.visits:,} points"
        )
    print(
        f"naive / ours, all visits: {naive_seconds / ours['seconds']:.1f}x "
        "(naive starts from points in memory and computes visits and contacts per district "
        "only; ours reads the store and computes every figure of the ranking)"
    )
    print(f"load average {_load()} at the end (1, 5, 15 minutes)")
    print(
        f"target: coverage of {args.visits:,} visits < 2 s "
        f"(got {ours['seconds']:.2f} s, {ours['visits'] / ours['seconds']:,.0f} visits/s, "
        f"peak {ours['peak_mb']:.0f} MB)"
    )


if __name__ == "__main__":
    main()
