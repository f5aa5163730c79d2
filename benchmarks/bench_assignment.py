"""Benchmark: splitting hotspots between peer educators, at a city's scale and on the demo.

Run with ``python benchmarks/bench_assignment.py [--time-limit S] [--hotspots N --peers P]``.
The synthetic city is Nairobi's scale from docs (1,400 hotspots with 27,000 sex workers, 245
peer educators, so 22,050 within the norm of 90): hotspots and peer educators in 40 clusters.
Each split is timed, then rebalanced at once (a stable split keeps nearly every hotspot), and
the overload summed over peer educators is compared with the least possible (need minus
capacity). The demo workspace is built in a temporary folder and assigned through the store.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import h3
import numpy as np
import polars as pl

# this checkout's `mapping` (not another installed one)
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from mapping.planning.split import assign_hotspots, workloads  # noqa: E402

NORM = 90.0


def synthetic_city(
    n_hotspots: int, n_peers: int, sex_workers: int, seed: int = 1
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return hotspots (none assigned yet) and peer educators in 40 clusters around Nairobi."""
    rng = np.random.default_rng(seed)
    areas = rng.normal([-1.286, 36.82], 0.08, size=(40, 2))
    points = areas[rng.integers(0, 40, n_hotspots)] + rng.normal(0, 0.01, size=(n_hotspots, 2))
    size = rng.lognormal(0, 0.8, n_hotspots)
    size = np.round(size / size.sum() * sex_workers * 2) / 2
    hotspots = pl.DataFrame(
        {
            "id": [f"H{i:05d}" for i in range(n_hotspots)],
            "cell": [h3.str_to_int(h3.latlng_to_cell(lat, lng, 8)) for lat, lng in points],
            "weight": size,
            "peer_educator_id": pl.Series([None] * n_hotspots, dtype=pl.Int64),
        }
    )
    anchors = areas[rng.integers(0, 40, n_peers)] + rng.normal(0, 0.01, size=(n_peers, 2))
    peers = pl.DataFrame(
        {
            "peer_educator_id": np.arange(1, n_peers + 1),
            "peer_educator": [f"PE{i}" for i in range(n_peers)],
            "team": [f"T{i % 40}" for i in range(n_peers)],
            "anchor_lat": anchors[:, 0],
            "anchor_lng": anchors[:, 1],
        }
    )
    return hotspots, peers


def _report(name: str, assigned: pl.DataFrame, peers: pl.DataFrame, seconds: float) -> None:
    table = workloads(assigned, peers, NORM)
    over = float((table["sex_workers"] - NORM).clip(lower_bound=0).sum())
    least = max(float(assigned["weight"].sum()) - NORM * peers.height, 0.0)
    ratios = table["ratio"]
    print(
        f"{name}: {assigned.height} hotspots, {peers.height} peer educators: {seconds:.2f} s; "
        f"overload {over:,.0f} (least possible {least:,.0f}); load / norm median "
        f"{ratios.median():.2f}, max {ratios.max():.2f}"
    )


def main() -> None:
    """Time the synthetic city and the demo; print one line per step."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hotspots", type=int, default=1400)
    parser.add_argument("--peers", type=int, default=245)
    parser.add_argument("--sex-workers", type=int, default=27_000)
    parser.add_argument("--time-limit", type=float, default=5.0)
    args = parser.parse_args()
    hotspots, peers = synthetic_city(args.hotspots, args.peers, args.sex_workers)
    started = time.perf_counter()
    assigned = assign_hotspots(hotspots, peers, norm=NORM, time_limit_s=args.time_limit)
    _report("city", assigned, peers, time.perf_counter() - started)
    started = time.perf_counter()
    again = assign_hotspots(
        assigned, peers, norm=NORM, rebalance=True, time_limit_s=args.time_limit
    )
    _report("city rebalanced", again, peers, time.perf_counter() - started)
    print(f"  kept {int(again['kept'].sum())} of {again.height}")

    from mapping.cli.demo import build_demo
    from mapping.planning.assignments import run_assignment

    with tempfile.TemporaryDirectory() as scratch:
        workspace = build_demo(Path(scratch) / "demo")
        started = time.perf_counter()
        result = run_assignment(workspace, time_limit_s=args.time_limit)
        seconds = time.perf_counter() - started
        demo_peers = result.workloads.select("peer_educator_id", "peer_educator", "team")
        _report("demo (run_assignment)", result.assignments, demo_peers, seconds)
        started = time.perf_counter()
        result = run_assignment(workspace, time_limit_s=args.time_limit)
        print(f"demo rerun: {time.perf_counter() - started:.2f} s, {result.summary()}")


if __name__ == "__main__":
    main()
