"""Benchmark: the store on SQLite and on PostgreSQL, side by side in one run.

Run with ``python benchmarks/bench_store.py [--visits N]`` (default 1,000,000). It starts a
throwaway PostgreSQL server (``tests/pgserver.py``: Debian's binaries, ``fsync`` off) and, for
the SQLite file and for a PostgreSQL database alike, builds the workspace of
``bench_coverage.py`` without visits (districts, services, hotspot registry; not timed), then
measures:

* the import of N synthetic visits through the real import path (``visits_from_table``, which
  writes with ``store.insert_frame``: multi-row ``INSERT`` on SQLite, ``COPY`` on PostgreSQL),
  each time into a fresh copy of the empty workspace, and beside it a per-row ``INSERT``
  baseline (the same import with ``insert_frame`` replaced by one statement per row) on a
  smaller sample, with the real import timed on the same sample for the ratio;
* ``coverage`` on the N visits through the library's path (``load_coverage_data`` then
  ``coverage_from_data``, which is what ``coverage()`` does), as the command line and as the
  app read, with the naive per-point baseline of ``bench_coverage.py`` in the same run;
* three ways to get what coverage needs from the visits: every row through the driver's
  cursor then polars, every row through ConnectorX then polars, and ``GROUP BY`` in SQL first
  (per cell and contact: visits in the period, first and last day; per cell: visits,
  supplies and referrals; per peer educator and cell: visits; the totals).

Each measured step runs in its own child process, so its peak memory (VmHWM) is its own, in
rounds that interleave the steps; the best wall time of the rounds is kept. The machine is
shared: read the ratios, not the absolute times. Each coverage run prints a digest of its
whole report, and the run fails unless every engine and every read path gives the same one;
the aggregates of the three ways are compared too. The synthetic points exist only in
memory: each child regenerates them from the seed and nothing writes a coordinate to disk.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_coverage
import polars as pl
from bench_coverage import (
    ALL,
    END,
    build_area,
    peak_mb,
    visits_table,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

REPEATS = 3
IMPORT_REPEATS = 2
ENGINES = ("sqlite", "postgresql")
#: Steps measured on the store holding the N visits, per engine (``cx`` and ``agg_cx`` read
#: through ConnectorX, which the product never uses on SQLite in the app); ``coverage_cursor``
#: is coverage with every read through the driver's cursor (the app's path on SQLite).
COVERAGE_STEPS = (
    "coverage_cli",
    "coverage_app",
    "coverage_cursor",
    "rows_cursor",
    "rows_cx",
    "agg_cursor",
    "agg_cx",
)


def _workspace(path: Path, db_url: str | None) -> Any:
    """Open the workspace at ``path``, on the database ``db_url`` if given."""
    from mapping.storage.workspace import open_workspace

    workspace = open_workspace(path)
    return dataclasses.replace(workspace, db_url=db_url) if db_url else workspace


def _per_row_insert(connection: Any, table: Any, frame: pl.DataFrame) -> None:
    """The naive write: one ``INSERT`` statement per row, on the transaction's connection."""
    placeholder = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(frame.columns)}) "
        f"VALUES ({', '.join([placeholder] * frame.width)})"
    )
    cursor = connection.connection.driver_connection.cursor()
    try:
        for row in frame.iter_rows():
            cursor.execute(sql, row)
    finally:
        cursor.close()


def _import(args: argparse.Namespace) -> dict[str, Any]:
    """Import the synthetic visits (all, or the first ``--sample``) into the workspace."""
    from mapping.ingest.readers import RawTable
    from mapping.ingest.visits import visits_from_table
    from mapping.storage import store

    workspace = _workspace(args.workdir, args.db_url)
    table = visits_table(workspace, args.visits, args.cells)
    if args.step != "import":
        table = RawTable(frame=table.frame.head(args.sample), source_name=table.source_name)
    if args.step == "naive_import":
        store.insert_frame = _per_row_insert  # type: ignore[assignment]
    start_mb = peak_mb()
    started = time.perf_counter()
    result = visits_from_table(workspace, table)
    elapsed = time.perf_counter() - started
    return {
        "visits": result.accepted,
        "seconds": elapsed,
        "start_mb": start_mb,
        "detail": {"summary": result.summary()},
    }


def report_digest(report: Any) -> str:
    """Return a digest of a whole coverage report: every frame's rows and the totals."""
    digest = hashlib.sha256()
    for frame in (report.cells, report.hotspots, report.districts):
        digest.update(frame.write_csv().encode())
    digest.update(json.dumps(report.totals, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def _coverage(args: argparse.Namespace) -> dict[str, Any]:
    """Run coverage through the library as the command line (or the app) does."""
    from mapping.analysis import coverage_data
    from mapping.analysis.coverage import CoverageOptions, coverage_from_data
    from mapping.analysis.coverage_data import allow_arrow_reads, load_coverage_data
    from mapping.periods import parse_period

    if args.step == "coverage_cursor":
        coverage_data._postgres_arrow_visits = lambda *_: None  # type: ignore[assignment]

    workspace = _workspace(args.workdir, args.db_url)
    period = parse_period(ALL, today=END)
    options = CoverageOptions.from_settings()
    allow_arrow_reads(args.step == "coverage_cli")
    start_mb = peak_mb()
    started = time.perf_counter()
    data = load_coverage_data(workspace, period, today=END)
    loaded = time.perf_counter()
    report = coverage_from_data(data, options)
    elapsed = time.perf_counter() - started
    return {
        "visits": report.totals["visits"],
        "seconds": elapsed,
        "start_mb": start_mb,
        "detail": {
            "load": loaded - started,
            "compute": elapsed - (loaded - started),
            "digest": report_digest(report),
        },
    }


def _connectorx_url(db_url: str) -> str:
    """Return the URL ConnectorX takes for a store URL (no SQLAlchemy driver name)."""
    from mapping.storage.store import store_url

    url = store_url(db_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite://{Path(str(url.database)).resolve().as_posix()}"
    return str(url.set(drivername="postgresql").render_as_string(hide_password=False))


def _aggregate_queries(dialect: Any, period: Any) -> dict[str, Any]:
    """The ``GROUP BY`` queries that give what coverage reads from the visits, per figure."""
    import sqlalchemy as sa

    from mapping.analysis.coverage_data import _epoch_days_sql
    from mapping.storage import store
    from mapping.vocab import SERVICE_TYPES, SUPPLIES

    v = store.visits.c
    p = store.visit_profiles.c
    name = dialect.name
    upto = v.visit_date <= period.end
    within = v.visit_date >= period.start
    counted = sa.func.sum(sa.case((within, 1), else_=0))
    return {
        "pairs": sa.select(
            v.cell,
            v.contact_id,
            counted.label("n"),
            _epoch_days_sql(sa.func.min(v.visit_date), name).label("first_day"),
            _epoch_days_sql(sa.func.max(v.visit_date), name).label("last_day"),
        )
        .where(upto)
        .group_by(v.cell, v.contact_id),
        "cells": sa.select(
            v.cell,
            sa.func.count().label("visits"),
            *(sa.func.coalesce(sa.func.sum(p[s]), 0).label(s) for s in SUPPLIES),
            *(
                sa.func.sum(sa.case((p.referrals.op("&")(1 << i) != 0, 1), else_=0)).label(
                    f"referrals_{kind}"
                )
                for i, kind in enumerate(SERVICE_TYPES)
            ),
        )
        .select_from(store.visits.join(store.visit_profiles, v.profile_id == p.id))
        .where(upto, within, v.cell.is_not(None))
        .group_by(v.cell),
        "peer_educators": sa.select(v.peer_educator_id, v.cell, sa.func.count().label("n"))
        .where(upto, within, v.cell.is_not(None))
        .group_by(v.peer_educator_id, v.cell),
        "totals": sa.select(
            counted.label("visits"),
            sa.func.count(sa.distinct(sa.case((within, v.contact_id)))).label("contacts"),
            sa.func.sum(sa.case((within & v.cell.is_(None), 1), else_=0)).label("no_cell"),
            _epoch_days_sql(sa.func.min(v.visit_date), name).label("first_day"),
            _epoch_days_sql(sa.func.max(v.visit_date), name).label("last_day"),
        ).where(upto),
    }


def _aggregate_in_polars(visits: pl.DataFrame, profiles: pl.DataFrame, start: int) -> dict:
    """The same aggregates as :func:`_aggregate_queries`, from the visit rows, in polars."""
    from mapping.vocab import SERVICE_TYPES, SUPPLIES

    in_period = visits.filter(pl.col("day") >= start)
    located = in_period.filter(pl.col("cell").is_not_null())
    columns = profiles.select(
        "profile_id",
        *SUPPLIES,
        *(
            ((pl.col("referrals") & (1 << i)) != 0).cast(pl.Int64).alias(f"referrals_{kind}")
            for i, kind in enumerate(SERVICE_TYPES)
        ),
    )
    return {
        "pairs": visits.group_by("cell", "contact_id").agg(
            (pl.col("day") >= start).sum().alias("n"),
            pl.col("day").min().alias("first_day"),
            pl.col("day").max().alias("last_day"),
        ),
        "cells": located.select("cell", "profile_id")
        .join(columns, on="profile_id", how="left")
        .group_by("cell")
        .agg(pl.len().alias("visits"), pl.all().exclude("profile_id").sum()),
        "peer_educators": located.group_by("peer_educator_id", "cell").agg(pl.len().alias("n")),
        "totals": pl.DataFrame(
            {
                "visits": [in_period.height],
                "contacts": [in_period["contact_id"].drop_nulls().n_unique()],
                "no_cell": [in_period["cell"].null_count()],
                "first_day": [visits["day"].min()],
                "last_day": [visits["day"].max()],
            }
        ),
    }


def _aggregates_digest(frames: dict[str, pl.DataFrame]) -> str:
    """Return a digest of the aggregates, independent of row order and integer widths."""
    digest = hashlib.sha256()
    for key in sorted(frames):
        frame = frames[key]
        frame = frame.cast({c: pl.Int64 for c in frame.columns}).sort(frame.columns)
        digest.update(frame.write_csv().encode())
    return digest.hexdigest()[:16]


def _read_ways(args: argparse.Namespace) -> dict[str, Any]:
    """Get what coverage needs from the visits: rows then polars, or ``GROUP BY`` in SQL."""
    import sqlalchemy as sa

    from mapping.analysis.coverage_data import VISITS, _frame, _visits_query, epoch_day
    from mapping.periods import parse_period
    from mapping.storage import store
    from mapping.vocab import SUPPLIES

    workspace = _workspace(args.workdir, args.db_url)
    period = parse_period(ALL, today=END)
    cx_url = _connectorx_url(workspace.db_url)
    dialect = store.shared_engine(workspace.db_url).dialect  # no connection is opened yet
    p = store.visit_profiles.c
    profile_schema = {
        "profile_id": pl.Int32,
        "referrals": pl.Int64,
        **{name: pl.Int64 for name in SUPPLIES},
    }

    def sql(query: Any) -> str:
        return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))

    start_mb = peak_mb()
    started = time.perf_counter()
    detail: dict[str, Any] = {}
    frames: dict[str, pl.DataFrame] = {}
    # ConnectorX reads before any connection of Python's own SQLite opens in this process
    # (mapping.analysis.coverage_data.allow_arrow_reads says why)
    if args.step == "rows_cx":
        visits = pl.read_database_uri(
            sql(_visits_query(period, dialect)), cx_url, engine="connectorx"
        )
        visits = visits.rename(dict(zip(visits.columns, VISITS, strict=True))).cast(VISITS)
    elif args.step == "agg_cx":
        for key, query in _aggregate_queries(dialect, period).items():
            frames[key] = pl.read_database_uri(sql(query), cx_url, engine="connectorx")
    with workspace.connect() as connection:
        if args.step.startswith("rows"):
            if args.step == "rows_cursor":
                visits = _frame(connection, _visits_query(period, dialect), VISITS)
            profiles = _frame(
                connection,
                sa.select(p.id, p.referrals, *(p[name] for name in SUPPLIES)),
                profile_schema,
            )
            detail["read"] = time.perf_counter() - started
            detail["rows"] = visits.height
            frames = _aggregate_in_polars(visits, profiles, epoch_day(period.start))
        elif args.step == "agg_cursor":
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                for key, query in _aggregate_queries(dialect, period).items():
                    cursor.execute(sql(query))
                    names = [column[0] for column in cursor.description]
                    frames[key] = pl.DataFrame(cursor.fetchall(), schema=names, orient="row")
            finally:
                cursor.close()
    if args.step.startswith("agg"):
        detail["rows"] = sum(frame.height for frame in frames.values())
    elapsed = time.perf_counter() - started
    detail["digest"] = _aggregates_digest(frames)
    return {"visits": args.visits, "seconds": elapsed, "start_mb": start_mb, "detail": detail}


def _naive(args: argparse.Namespace) -> dict[str, Any]:
    """The naive per-point baseline of ``bench_coverage.py``, run by its own child."""
    return bench_coverage._once("naive_all", args, args.workdir.parent, args.sample)


def _child(args: argparse.Namespace) -> None:
    """Run one step in this (child) process and print a JSON line.

    Modules are imported and inputs prepared before the clock starts.
    """
    if args.step == "template":
        started = time.perf_counter()
        _, lines = build_area(
            args.workdir.parent, args.visits, args.cells, args.resolution, db_url=args.db_url
        )
        result = {"seconds": time.perf_counter() - started, "detail": "\n".join(lines)}
    elif args.step in ("import", "import_sample", "naive_import"):
        result = _import(args)
    elif args.step.startswith("coverage"):
        result = _coverage(args)
    else:
        result = _read_ways(args)
    print(json.dumps({"step": args.step, **result, "peak_mb": peak_mb()}))


def _once(args: argparse.Namespace, step: str, workdir: Path, db_url: str | None) -> dict:
    """Run ``step`` on the workspace at ``workdir`` in a fresh process; return what it printed."""
    command = [
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
        "--sample",
        str(args.sample),
    ]
    if db_url:
        command += ["--db-url", db_url]
    out = subprocess.run(command, check=False, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{step} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


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


class _Stores:
    """Fresh copies of each engine's empty workspace (a folder copy; a database template)."""

    def __init__(self, workdir: Path, server_url: str) -> None:
        from pgserver import create_database

        self.workdir = workdir
        self.server_url = server_url
        self.count = 0
        self.template_url = {"sqlite": None, "postgresql": create_database(server_url, "tmpl")}

    def template(self, engine: str) -> Path:
        """Return the folder of ``engine``'s empty workspace."""
        return self.workdir / engine / "template" / "ws"

    def fresh(self, engine: str) -> tuple[Path, str | None]:
        """Return a new copy of ``engine``'s empty workspace: its folder and database URL."""
        from pgserver import create_database

        self.count += 1
        folder = self.workdir / engine / f"copy{self.count}" / "ws"
        shutil.copytree(self.template(engine), folder)
        if engine == "sqlite":
            return folder, None
        return folder, create_database(self.server_url, f"copy{self.count}", template="tmpl")

    def drop(self, engine: str, folder: Path, url: str | None) -> None:
        """Delete a copy no longer needed."""
        from pgserver import drop_database

        shutil.rmtree(folder.parent)
        if url:
            drop_database(self.server_url, str(url).rsplit("/", 1)[1])


def _row(label: str, r: dict, visits: int | None = None) -> str:
    runs = " ".join(f"{s:.2f}" for s in r["all_seconds"])
    count = r["visits"] if visits is None else visits
    return (
        f"{label:<48}{count:>10,}{count / r['seconds']:>12,.0f}{r['seconds']:>9.2f}"
        f"{runs:>20}{r['start_mb']:>10.0f}{r['peak_mb']:>9.0f}"
    )


def main() -> None:
    """Start the server, build both stores, run every step and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--cells", type=int, default=5_000, help="distinct visited cells")
    parser.add_argument("--resolution", type=int, default=9, help="storage resolution")
    parser.add_argument(
        "--sample",
        type=int,
        default=20_000,
        help="visits in the per-row INSERT baseline (and the naive coverage one, if smaller "
        "than --visits: 100,000 at most; it is then extrapolated linearly)",
    )
    parser.add_argument("--child", dest="step")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--db-url")
    args = parser.parse_args()
    if args.step:
        _child(args)
        return
    from pgserver import throwaway_server

    results: dict[tuple[str, str], dict] = {}
    with tempfile.TemporaryDirectory() as scratch, throwaway_server() as server:
        workdir = Path(scratch)
        stores = _Stores(workdir, server)
        started_load = _load()
        for engine in ENGINES:
            folder = stores.template(engine)
            built = _once(args, "template", folder, stores.template_url[engine])
        print(
            f"{args.visits:,} visits, {args.cells:,} visited cells targeted, resolution "
            f"{args.resolution}, {os.cpu_count()} cores shared: compare ratios; load average "
            f"{started_load} at the start; PostgreSQL {_server_version(server)} on this machine "
            "(fsync off), SQLite file in a temporary folder"
        )
        print(f"empty workspace built in {built['seconds']:.0f} s (not timed below):")
        print("  " + built["detail"].replace("\n", "\n  ") + "\n")

        # imports: each into a fresh copy of the empty workspace; the last copy is kept for
        # the coverage steps
        runs: dict[tuple[str, str], list[dict]] = {}
        kept: dict[str, tuple[Path, str | None]] = {}
        for round_ in range(IMPORT_REPEATS):
            for engine in ENGINES:
                for step in ("import_sample", "naive_import", "import"):
                    folder, url = stores.fresh(engine)
                    runs.setdefault((engine, step), []).append(_once(args, step, folder, url))
                    if step == "import" and round_ == IMPORT_REPEATS - 1:
                        kept[engine] = (folder, url)
                    else:
                        stores.drop(engine, folder, url)
        # coverage and the ways to read, in rounds interleaving every step
        for _ in range(REPEATS):
            for engine in ENGINES:
                folder, url = kept[engine]
                for step in COVERAGE_STEPS:
                    runs.setdefault((engine, step), []).append(_once(args, step, folder, url))
            naive_sample = args.visits if args.visits <= 1_000_000 else 100_000
            naive_args = argparse.Namespace(**{**vars(args), "sample": naive_sample})
            naive_args.workdir = kept["sqlite"][0]
            runs.setdefault(("any", "naive_coverage"), []).append(_naive(naive_args))
        results = {key: _best(r) for key, r in runs.items()}
        ended_load = _load()

    _print(args, results, started_load, ended_load)


def _server_version(server_url: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(server_url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(sa.text("SHOW server_version")).scalar()).split()[0]
    finally:
        engine.dispose()


def _print(args: argparse.Namespace, results: dict, started_load: str, ended_load: str) -> None:
    """Print the table, the ratios and the checks of identical results."""
    labels = {
        "import": "import, real path",
        "import_sample": "import, real path, sample",
        "naive_import": "import, per-row INSERT, sample",
        "coverage_cli": "coverage, command line",
        "coverage_app": "coverage, app",
        "coverage_cursor": "coverage, cursor reads only",
        "rows_cursor": "read rows: cursor, then polars",
        "rows_cx": "read rows: ConnectorX, then polars",
        "agg_cursor": "GROUP BY in SQL, read by cursor",
        "agg_cx": "GROUP BY in SQL, read by ConnectorX",
    }
    print(
        f"{'engine, step':<48}{'visits':>10}{'visits/s':>12}{'seconds':>9}{'(runs)':>20}"
        f"{'start MB':>10}{'peak MB':>9}"
    )
    for engine in ENGINES:
        for step, label in labels.items():
            r = results[(engine, step)]
            visits = args.visits if step in COVERAGE_STEPS else None
            print(_row(f"{engine}: {label}", r, visits))
    naive = results[("any", "naive_coverage")]
    naive_seconds = naive["seconds"] * args.visits / naive["visits"]
    print(_row("naive apply + sjoin + groupby (in memory)", naive))
    print()
    for engine in ENGINES:
        r = {step: results[(engine, step)] for step in labels}
        rate = {step: x["visits"] / x["seconds"] for step, x in r.items()}
        cli = r["coverage_cli"]
        print(
            f"{engine}: import {rate['import']:,.0f} visits/s, peak {r['import']['peak_mb']:.0f} "
            f"MB; bulk vs per-row INSERT on {args.sample:,} visits: "
            f"{rate['import_sample'] / rate['naive_import']:.1f}x"
        )
        print(
            f"{engine}: coverage (command line) {cli['seconds']:.2f} s = load "
            f"{cli['detail']['load']:.2f} + compute {cli['detail']['compute']:.2f}; app "
            f"{r['coverage_app']['seconds']:.2f} s = load {r['coverage_app']['detail']['load']:.2f}"
            f" + compute {r['coverage_app']['detail']['compute']:.2f}; naive / command line "
            f"{naive_seconds / cli['seconds']:.1f}x"
        )
        base = r["rows_cursor"]["seconds"]
        print(
            f"{engine}: what coverage needs from the visits, relative to cursor rows + polars "
            f"({base:.2f} s, of which reading {r['rows_cursor']['detail']['read']:.2f}): "
            + ", ".join(
                f"{step} {base / r[step]['seconds']:.2f}x" for step in ("rows_cx", "agg_cursor")
            )
            + f", agg_cx {base / r['agg_cx']['seconds']:.2f}x "
            f"({r['agg_cursor']['detail']['rows']:,} aggregated rows instead of "
            f"{r['rows_cursor']['detail']['rows']:,})"
        )
    pg, lite = results[("postgresql", "coverage_cli")], results[("sqlite", "coverage_cli")]
    pg_app, lite_app = results[("postgresql", "coverage_app")], results[("sqlite", "coverage_app")]
    pg_import, lite_import = results[("postgresql", "import")], results[("sqlite", "import")]
    print(
        f"PostgreSQL / SQLite: import {pg_import['seconds'] / lite_import['seconds']:.2f}x the "
        f"time, coverage (command line) {pg['seconds'] / lite['seconds']:.2f}x, coverage (app) "
        f"{pg_app['seconds'] / lite_app['seconds']:.2f}x"
    )
    if naive["visits"] != args.visits:
        print(
            f"naive coverage timed on {naive['visits']:,} points, extrapolated linearly to "
            f"{naive_seconds:.1f} s"
        )
    reports = {
        r["detail"]["digest"]
        for key, r in results.items()
        if key[1].startswith("coverage") and key[0] != "any"
    }
    # per engine: contact ids are keyed hashes, and each workspace has a key of its own
    aggregates = {
        engine: {
            r["detail"]["digest"]
            for key, r in results.items()
            if key[0] == engine and key[1].startswith(("rows", "agg"))
        }
        for engine in ENGINES
    }
    same = all(len(digests) == 1 for digests in aggregates.values())
    print(
        f"identical results: coverage reports {'yes' if len(reports) == 1 else 'NO'} "
        f"({len(reports)} digest{'s' if len(reports) > 1 else ''} over both engines and every "
        f"read path); aggregates of the four ways {'yes' if same else 'NO'} (on each engine)"
    )
    print(f"load average {started_load} at the start, {ended_load} at the end (1, 5, 15 minutes)")
    if len(reports) != 1 or not same:
        raise SystemExit("results differ between engines or read paths")


if __name__ == "__main__":
    main()
