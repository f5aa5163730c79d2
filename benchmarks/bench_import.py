"""Benchmark: 1,000,000 visits from CSV into a fresh workspace, beside naive baselines.

Run with ``python benchmarks/bench_import.py [--rows N]``. Each measured step runs in its own
child process so its peak memory (max RSS) is its own. Prints rows/s and peak memory, and
ratios against baselines measured in the same run (the machine is shared; compare ratios).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
DISTRICTS = ROOT / "data" / "lima_callao_districts_simplified.geojson"


def write_visits_csv(path: Path, rows: int, seed: int = 1) -> None:
    """Write a realistic visits export: Spanish headers, night outreach, returning contacts."""
    rng = np.random.default_rng(seed)
    centres = np.array(
        [
            [-12.050, -77.033],
            [-12.066, -77.017],
            [-12.121, -77.030],
            [-11.990, -77.070],
            [-12.055, -77.120],
        ]
    )
    pick = rng.integers(0, len(centres), rows)
    lat = centres[pick, 0] + rng.normal(0, 0.01, rows)
    lng = centres[pick, 1] + rng.normal(0, 0.01, rows)
    days = rng.integers(0, 365, rows)
    dates = (np.datetime64("2025-11-01") + days.astype("timedelta64[D]")).astype(str)
    frame = pl.DataFrame(
        {
            "fecha": dates,
            "hora": np.char.add(rng.integers(18, 24, rows).astype(str), ":30"),
            "educadora_par": np.char.add("PE", rng.integers(1, 250, rows).astype(str)),
            "equipo": np.char.add("T", rng.integers(1, 40, rows).astype(str)),
            "codigo_unico": np.char.add("UIC", rng.integers(0, 150_000, rows).astype(str)),
            "genero": rng.choice(["mujer", "mujer trans", "hombre"], rows),
            "lugar": rng.choice(["calle", "local"], rows),
            "latitud": np.round(lat, 6),
            "longitud": np.round(lng, 6),
            "condones": rng.poisson(8, rows),
            "lubricante": rng.poisson(2, rows),
            "referido_a": rng.choice(["", "prueba_vih", "its prep"], rows, p=[0.85, 0.1, 0.05]),
            "prueba_vih": rng.choice(["", "ofrecida", "realizada"], rows),
        }
    )
    frame.write_csv(path)


def _child(step: str, csv: Path, workdir: Path) -> None:
    """Run one measured step in this (child) process and print a JSON line.

    Modules are imported before the clock starts: the step measures the code path, not
    Python loading libraries.
    """
    import h3
    import pandas as pd
    import polars_h3 as plh3

    from mapping.cells import cells_from_points
    from mapping.ingest.visits import visits_from_file
    from mapping.storage.workspace import open_workspace

    detail = step
    if step == "import":
        workspace = open_workspace(workdir / "ws")
        started = time.perf_counter()
        result = visits_from_file(workspace, csv)
        elapsed = time.perf_counter() - started
        detail = result.summary()
        rows = result.rows_read
    elif step == "naive_apply":
        started = time.perf_counter()
        naive = pd.read_csv(csv)
        naive["cell"] = naive.apply(
            lambda r: h3.latlng_to_cell(r["latitud"], r["longitud"], 8), axis=1
        )
        elapsed = time.perf_counter() - started
        rows = len(naive)
    else:
        frame = pl.read_csv(csv, columns=["latitud", "longitud"])
        rows = frame.height
        lat, lng = frame["latitud"], frame["longitud"]
        started = time.perf_counter()
        if step == "cells_ours":
            cells_from_points(lat, lng, 8)
        elif step == "cells_polars_h3":
            frame.select(plh3.latlng_to_cell("latitud", "longitud", 8))
        elif step == "cells_h3_loop":
            [h3.latlng_to_cell(a, b, 8) for a, b in zip(lat.to_list(), lng.to_list(), strict=True)]
        elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"step": step, "rows": rows, "seconds": elapsed, "peak_mb": peak_mb, "detail": detail}
        )
    )


def _run(step: str, csv: Path, workdir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", step, "--csv", str(csv), "--workdir", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child")
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.csv, args.workdir)
        return
    from mapping.ingest.area import districts_from_file, init_area

    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        csv = workdir / "visits.csv"
        write_visits_csv(csv, args.rows)
        districts = districts_from_file(DISTRICTS, id_column="district_id", name_column="district")
        init_area(workdir / "ws", districts, name="bench", resolution=8)
        print(
            f"{args.rows:,} visits, CSV {csv.stat().st_size / 1e6:.0f} MB, "
            "2 cores shared: compare ratios\n"
        )
        results = {
            step: _run(step, csv, workdir)
            for step in ("import", "naive_apply", "cells_ours", "cells_polars_h3", "cells_h3_loop")
        }
        print(f"{'step':<18}{'rows/s':>12}{'seconds':>10}{'peak MB':>10}")
        for step, r in results.items():
            print(
                f"{step:<18}{r['rows'] / r['seconds']:>12,.0f}"
                f"{r['seconds']:>10.2f}{r['peak_mb']:>10.0f}"
            )
        rate = {s: r["rows"] / r["seconds"] for s, r in results.items()}
        print()
        print(f"import: {results['import']['detail']}")
        print(
            "whole CSV -> store import vs naive per-row apply (cells only!): "
            f"{rate['import'] / rate['naive_apply']:.1f}x faster"
        )
        print(
            "location -> cell, ours vs polars-h3 on the same points: "
            f"{rate['cells_ours'] / rate['cells_polars_h3']:.2f}x (target >= 0.5)"
        )
        print(
            "location -> cell, ours vs plain h3 loop: "
            f"{rate['cells_ours'] / rate['cells_h3_loop']:.1f}x"
        )
        print(
            f"targets: import >= 200,000 rows/s (got {rate['import']:,.0f}), "
            f"peak < 2048 MB (got {results['import']['peak_mb']:.0f})"
        )


if __name__ == "__main__":
    main()
