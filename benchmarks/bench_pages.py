"""Benchmark: how long each page of the app takes to become usable, in Chromium, on the demo.

Run with ``python benchmarks/bench_pages.py [--rounds N]``. Builds the demo workspace (real Lima
districts and facilities, synthetic visits) in a scratch folder, starts the real
``outreach-map serve`` on a free local port, and opens every page of every role through the
sidebar links, as people do. For each page it measures the time from the click to the page
being usable: its title shown, its map drawn (the Leaflet legend inside the map frame) and
Streamlit's run finished (no "running" indicator). The first visit of a page runs on cold
caches (the store is read and the analytics computed), later rounds on warm ones: the ratio
between the two is what caching buys. It also counts the bytes the server sent over the
websocket on the first visit of each page (the map payload dominates; Streamlit caches large
messages in the browser, so later visits send a reference) and the server's peak memory (VmHWM).

Needs Debian's chromium at /usr/bin/chromium and Playwright (``pip install -e '.[dev]'``).
The 2-second budget is for the warm visits on a 2-core machine; the machine is shared, so read
the ratios before the absolute times.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
#: role -> (link text, text that shows the page is there, has a map)
PAGES: dict[str, list[tuple[str, str, bool]]] = {
    "coordinator": [
        ("Overview", "Unique contacts", True),
        ("Coverage", "Districts ranked by gap", True),
        ("Hotspots", "Needs attention", True),
        ("Services", "Services", True),
        ("Suggest sites", "Service type", True),
        ("Import", "What does the file hold?", False),
    ],
    "peer": [
        ("My area", "Open now, friendly", True),
        ("Log a visit", "Tap the map where you met", True),
    ],
    "funder": [("Reach", "Reach", True)],
}
IFRAME = 'iframe[title="streamlit_folium.st_folium"]'


def free_port() -> int:
    """Return a free TCP port on this machine."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peak_memory_mb(pid: int) -> float:
    """Return a process's peak resident memory (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    """Wait for the server to answer its health check (90 s at most)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server stopped with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not answer in 90 s")


def visit(page: object, link: str, marker: str, has_map: bool) -> float:
    """Click a sidebar link; return the seconds until the page is usable."""
    started = time.perf_counter()
    page.locator('[data-testid="stSidebar"] a', has_text=link).first.click()  # type: ignore[attr-defined]
    page.get_by_text(marker).first.wait_for(timeout=120_000)  # type: ignore[attr-defined]
    if has_map:
        frame = page.frame_locator(IFRAME).first  # type: ignore[attr-defined]
        frame.locator(".leaflet-container").wait_for(timeout=120_000)
        frame.locator(".om-legend").first.wait_for(timeout=120_000)
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=120_000,
    )
    return time.perf_counter() - started


def main() -> None:
    """Build the demo, serve it, visit every page, print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="visits per page (first is cold)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from mapping.cli.demo import build_demo

    with tempfile.TemporaryDirectory(prefix="bench-pages-") as scratch:
        workspace = Path(scratch) / "demo"
        build_demo(workspace)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_MAP_")}
        command = [sys.executable, "-m", "mapping.cli.main", "serve", "--workspace", str(workspace)]
        log = (Path(scratch) / "serve.log").open("wb")
        server = subprocess.Popen(
            [*command, "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        rows: list[tuple[str, str, float, float, float]] = []
        try:
            wait_until_healthy(url, server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
                )
                for role, pages in PAGES.items():
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})
                    page = context.new_page()
                    sent: list[int] = []

                    def count(socket: object, sent: list[int] = sent) -> None:
                        socket.on(  # type: ignore[attr-defined]
                            "framereceived",
                            lambda payload: sent.append(len(payload)),
                        )

                    page.on("websocket", count)
                    page.goto(f"{url}/?role={role}", wait_until="domcontentloaded")
                    page.get_by_text(pages[0][1]).first.wait_for(timeout=120_000)
                    # the links are drawn once the page's run has finished
                    page.locator('[data-testid="stSidebar"] a').first.wait_for(timeout=120_000)
                    for link, marker, has_map in pages:
                        if page.locator('[data-testid="stSidebar"] a', has_text=link).count() == 0:
                            print(f"{role}: no page {link!r} in this version, skipped")
                            continue
                        times = []
                        sizes = []
                        for _ in range(args.rounds):
                            # leave and come back, so each round is a real navigation
                            other = next((p for p in pages if p[0] != link), None)
                            if other is not None and times:
                                visit(page, *other)
                            sent.clear()
                            times.append(visit(page, link, marker, has_map))
                            sizes.append(sum(sent))
                        warm = statistics.median(times[1:]) if len(times) > 1 else times[0]
                        rows.append((role, link, times[0], warm, sizes[0] / 1e6))
                    context.close()
                browser.close()
            memory = peak_memory_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
    print(f"pages of the demo workspace, {args.rounds} visits each (the first on cold caches)")
    print(f"{'role':<12} {'page':<14} {'cold s':>7} {'warm s':>7} {'cold/warm':>9} {'MB first':>8}")
    for role, link, cold, warm, size in rows:
        print(f"{role:<12} {link:<14} {cold:7.2f} {warm:7.2f} {cold / warm:9.1f} {size:8.2f}")
    within = sum(1 for *_, warm, _ in rows if warm <= 2.0)
    print(f"warm visits within 2 s: {within} of {len(rows)} pages")
    print(f"server peak memory: {memory:,.0f} MB")


if __name__ == "__main__":
    main()
