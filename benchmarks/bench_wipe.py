"""Benchmark: emergency wipe of the demo workspace and of one with 1,000,000 visits.

Run with ``python benchmarks/bench_wipe.py [--rows N]``. The workspaces are built first (the
large one from ``bench_import``'s generator), copied, and each copy wiped in its own child
process, so that its peak memory (max RSS) is its own. Beside our wipe (overwrite with random
bytes, fsync, unlink) runs a naive baseline in the same run: plain unlink of the same files, no
overwrite — fast, and the data stays on the disk. The machine is shared: compare ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# this checkout's `mapping` (not another installed one), and bench_import beside this file
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_import import DISTRICTS, write_visits_csv  # noqa: E402


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB.

    Not ``getrusage``: on Linux its maximum is inherited from the parent across fork and exec,
    and the parent here holds a million-row import.
    """
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(step: str, workspace: Path) -> None:
    """Wipe (or naively delete) ``workspace`` in this child process; print a JSON line."""
    import mapping
    from mapping.storage.wipe import wipe_workspace

    assert Path(mapping.__file__).is_relative_to(ROOT), mapping.__file__
    size = sum(f.stat().st_size for f in workspace.rglob("*") if f.is_file())
    # the libraries `mapping` loads are most of the peak: report what the step adds to them
    before_mb = _peak_mb()
    started = time.perf_counter()
    if step == "wipe":
        result = wipe_workspace(workspace, by="bench")
        assert result.complete, result.failures
    else:
        # naive: delete the files, leave their contents on the disk
        shutil.rmtree(workspace)
    elapsed = time.perf_counter() - started
    peak_mb = _peak_mb()
    added_mb = peak_mb - before_mb
    print(
        json.dumps(
            {"step": step, "bytes": size, "seconds": elapsed, "peak_mb": peak_mb, "added": added_mb}
        )
    )


def _run(step: str, workspace: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", step, "--workspace", str(workspace)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _measure(label: str, workspace: Path, scratch: Path) -> None:
    copies = {step: scratch / f"{label}-{step}" for step in ("wipe", "naive_unlink")}
    for copy in copies.values():
        shutil.copytree(workspace, copy)
    results = {step: _run(step, copy) for step, copy in copies.items()}
    wipe, naive = results["wipe"], results["naive_unlink"]
    for step, r in results.items():
        print(
            f"{label:<18}{step:<18}{r['bytes'] / 1e6:>10.1f}{r['seconds']:>10.3f}"
            f"{r['bytes'] / 1e6 / max(r['seconds'], 1e-9):>10.0f}{r['peak_mb']:>10.0f}"
            f"{r['added']:>10.1f}"
        )
    print(
        f"{label:<18}wipe / naive unlink: {wipe['seconds'] / max(naive['seconds'], 1e-9):.1f}x "
        "the time (the price of overwriting and fsync)"
    )


def main() -> None:
    """Build the workspaces, wipe copies of them, print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child")
    parser.add_argument("--workspace", type=Path)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.workspace)
        return
    from mapping.cli.demo import build_demo
    from mapping.ingest.area import districts_from_file, init_area
    from mapping.ingest.visits import visits_from_file
    from mapping.storage.store import dispose_engines

    with tempfile.TemporaryDirectory() as name:
        scratch = Path(name)
        demo = scratch / "demo"
        build_demo(demo)
        large = scratch / "large"
        csv = scratch / "visits.csv"
        write_visits_csv(csv, args.rows)
        districts = districts_from_file(DISTRICTS, id_column="district_id", name_column="district")
        workspace = init_area(large, districts, name="bench", resolution=8)
        started = time.perf_counter()
        summary = visits_from_file(workspace, csv).summary()
        print(f"built {args.rows:,} visits in {time.perf_counter() - started:.0f} s: {summary}")
        csv.unlink()
        # the stores are copied as files: close this process's connections, which folds each
        # write-ahead log into its store, as when every call closed its own
        dispose_engines()
        print("2 cores shared: compare ratios\n")
        print(
            f"{'workspace':<18}{'step':<18}{'MB':>10}{'seconds':>10}{'MB/s':>10}"
            f"{'peak MB':>10}{'added MB':>10}"
        )
        _measure("demo", demo, scratch)
        _measure(f"{args.rows:,} visits", large, scratch)


if __name__ == "__main__":
    main()
