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

The phone profile (``--profile phone``) opens My area as a peer educator's phone would on a
slow mobile connection: 390 × 844, touch, dark, Chromium's own emulation through CDP of a
1.6 Mbit/s down, 750 kbit/s up, 150 ms network and a CPU 4 × slower. "Usable" is: the page's
title shown, the map's cells drawn (paths in the map frame, with its legend) and Streamlit's run
finished. Cold is a fresh browser context (empty cache), warm the second load in the same
tab; each server has first served one unmeasured, unthrottled load, as a running server has.
It runs against two servers on the same workspace: the app as shipped, and a naive baseline
with ``OUTREACH_MAP_COMPRESSION=0`` and ``OUTREACH_MAP_FIRST_LOAD=0`` (static files
uncompressed, Streamlit's whole icon font and its text font preload, no prefetch:
views/compression.py and views/first_load.py off; the websocket's compression and the
theme's fonts are settings both servers share), alternating between them, and prints the
goals (cold ≤ 6 s, warm ≤ 2 s), the bytes received (over HTTP as counted by Chromium's
``encodedDataLength``, and over the websocket) and the phases. It also loads a "floor": a
Streamlit page holding one title, through the same middleware and settings. Then My area,
quick (``api/quick/area``, views/quick_area.py: the same page outside Streamlit) on the same
phone, two ways in: the demo's (no PIN, as ``?role=peer``), and a copy of the demo run as a
real deployment, where a peer educator's device cookie (from a real password sign-in and the
device route) brings the PIN form and the PIN the page; the time spent typing is left out.

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
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
#: A slow mobile connection (CDP ``Network.emulateNetworkConditions``: bytes per second, ms).
PHONE_NETWORK = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1_600_000 / 8,
    "uploadThroughput": 750_000 / 8,
}
#: How many times slower than this machine a modest phone runs scripts.
PHONE_CPU = 4
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "color_scheme": "dark",
    "has_touch": True,
    "is_mobile": True,
}
#: Goals for My area on the phone profile, in seconds.
PHONE_GOALS = {"cold": 6.0, "warm": 2.0}
#: The map frame's cells are drawn: paths in Leaflet's overlay pane, and the legend.
CELLS_DRAWN = """() => document.querySelectorAll('.leaflet-overlay-pane path').length > 0
    && document.querySelector('.om-legend') !== null"""


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


class PhoneLoad:
    """One load of My area on the phone profile: its phases (s) and the bytes it received."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self.http_bytes = 0
        self.socket_bytes = 0
        self.requests = 0


def load_my_area(page: object, cdp: object, url: str) -> PhoneLoad:
    """Open My area in ``page`` (already throttled); return when it is usable, with the timings."""
    load = PhoneLoad()

    def finished(event: dict[str, object]) -> None:
        load.http_bytes += int(event["encodedDataLength"])  # type: ignore[call-overload]
        load.requests += 1

    def frame(event: dict[str, object]) -> None:
        load.socket_bytes += len(event["response"]["payloadData"])  # type: ignore[index]

    cdp.on("Network.loadingFinished", finished)  # type: ignore[attr-defined]
    cdp.on("Network.webSocketFrameReceived", frame)  # type: ignore[attr-defined]
    started = time.perf_counter()
    page.goto(f"{url}/?role=peer", wait_until="domcontentloaded")  # type: ignore[attr-defined]
    load.phases["document"] = time.perf_counter() - started
    page.locator("h1", has_text="My area").first.wait_for(timeout=180_000)  # type: ignore[attr-defined]
    load.phases["title"] = time.perf_counter() - started
    map_frame = None
    while map_frame is None:
        map_frame = next(
            (f for f in page.frames if "streamlit_folium" in f.url),  # type: ignore[attr-defined]
            None,
        )
        if map_frame is None:
            page.wait_for_timeout(50)  # type: ignore[attr-defined]
            if time.perf_counter() - started > 180:
                raise SystemExit("My area's map frame did not appear in 180 s")
    map_frame.wait_for_function(CELLS_DRAWN, timeout=180_000, polling=50)
    load.phases["cells"] = time.perf_counter() - started
    page.wait_for_function(IDLE, timeout=180_000, polling=50)  # type: ignore[attr-defined]
    load.phases["usable"] = time.perf_counter() - started
    cdp.remove_listener("Network.loadingFinished", finished)  # type: ignore[attr-defined]
    cdp.remove_listener("Network.webSocketFrameReceived", frame)  # type: ignore[attr-defined]
    return load


#: The floor: a Streamlit page holding one title, served through the app's own middleware
#: (compression, the cut fonts) with the app's settings; no app can load faster on Streamlit.
FLOOR_PAGE = 'import streamlit as st\n\nst.title("My area")\n'
FLOOR_SERVER = (
    "import streamlit as st\n\nfrom views.web import middleware\n\n"
    "app = st.App({page!r}, middleware=middleware())\n"
)


def start_floor(scratch: Path) -> tuple[str, object]:
    """Serve the one-title page (see ``FLOOR_PAGE``); return its URL and process."""
    from mapping.cli.main import STREAMLIT_OPTIONS

    page = scratch / "floor_page.py"
    page.write_text(FLOOR_PAGE, encoding="utf-8")
    server_file = scratch / "floor_server.py"
    server_file.write_text(FLOOR_SERVER.format(page=str(page)), encoding="utf-8")
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(server_file)]
    command += ["--server.port", str(port)]
    for option, value in {**STREAMLIT_OPTIONS, "server.address": "127.0.0.1"}.items():
        command += [f"--{option}", value]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_MAP_")}
    env["PYTHONPATH"] = str(ROOT)
    log = (scratch / "floor.log").open("wb")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url, server)
    return url, server


def load_title(page: object, url: str) -> float:
    """Open the one-title page; return the seconds until its title shows and its run ends."""
    started = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded")  # type: ignore[attr-defined]
    page.locator("h1", has_text="My area").first.wait_for(timeout=180_000)  # type: ignore[attr-defined]
    page.wait_for_function(IDLE, timeout=180_000, polling=50)  # type: ignore[attr-defined]
    return time.perf_counter() - started


def throttled(browser: object) -> tuple[object, object, object]:
    """Return a new phone context, its page and CDP session, with the slow network and CPU."""
    context = browser.new_context(**PHONE)  # type: ignore[attr-defined]
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", PHONE_NETWORK)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": PHONE_CPU})
    return context, page, cdp


def floor_profile(browser: object, url: str, rounds: int) -> None:
    """Load the one-title page cold and warm on the throttled phone; print the medians."""
    warm_up = browser.new_context()  # type: ignore[attr-defined]
    load_title(warm_up.new_page(), url)
    warm_up.close()
    loads: dict[str, list[float]] = {"cold": [], "warm": []}
    for _ in range(rounds):
        context, page, _ = throttled(browser)
        loads["cold"].append(load_title(page, url))
        page.wait_for_timeout(1000)  # type: ignore[attr-defined]
        loads["warm"].append(load_title(page, url))
        context.close()  # type: ignore[attr-defined]
    for kind, times in loads.items():
        every = [round(x, 2) for x in times]
        print(f"{'floor':<12} {kind:<5} {statistics.median(times):8.2f}  (one title) {every}")


def phone_profile(browser: object, servers: dict[str, str], rounds: int) -> None:
    """Load My area cold and warm on a throttled phone from each server; print the results."""
    results: dict[str, dict[str, list[PhoneLoad]]] = {
        name: {"cold": [], "warm": []} for name in servers
    }
    for url in servers.values():
        # a running server has served pages before: one unmeasured, unthrottled load first
        # (the first page after a start imports the analytics and fills the caches)
        context = browser.new_context(**PHONE)  # type: ignore[attr-defined]
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        load_my_area(page, cdp, url)
        context.close()
    for _ in range(rounds):
        for name, url in servers.items():  # alternate, so a busy moment hits both
            context, page, cdp = throttled(browser)
            results[name]["cold"].append(load_my_area(page, cdp, url))
            page.wait_for_timeout(1000)
            # warm: the app opened again in the same tab, its cache filled by the cold load
            results[name]["warm"].append(load_my_area(page, cdp, url))
            context.close()  # type: ignore[attr-defined]
    down = PHONE_NETWORK["downloadThroughput"] * 8 / 1e6
    print(
        f"\nMy area on a phone: 390x844, dark, {down:.1f} Mbit/s down, "
        f"{PHONE_NETWORK['latency']} ms, CPU x{PHONE_CPU}; median of {rounds} loads"
    )
    print(
        f"{'server':<12} {'load':<5} {'usable s':>8} {'goal':>5} {'title s':>7} {'cells s':>7}"
        f" {'HTTP kB':>8} {'socket kB':>9} {'requests':>8}"
    )
    medians: dict[tuple[str, str], float] = {}
    for name in servers:
        for kind in ("cold", "warm"):
            loads = results[name][kind]
            usable = statistics.median(x.phases["usable"] for x in loads)
            medians[(name, kind)] = usable
            goal = PHONE_GOALS[kind]
            print(
                f"{name:<12} {kind:<5} {usable:8.2f} {'met' if usable <= goal else 'MISS':>5}"
                f" {statistics.median(x.phases['title'] for x in loads):7.2f}"
                f" {statistics.median(x.phases['cells'] for x in loads):7.2f}"
                f" {statistics.median(x.http_bytes for x in loads) / 1e3:8.0f}"
                f" {statistics.median(x.socket_bytes for x in loads) / 1e3:9.0f}"
                f" {statistics.median(x.requests for x in loads):8.0f}"
            )
            every = [round(x.phases["usable"], 2) for x in loads]
            print(f"  every {kind} load (usable s): {every}")
    names = list(servers)
    if len(names) == 2:
        shipped, naive = names
        for kind in ("cold", "warm"):
            ratio = medians[(naive, kind)] / medians[(shipped, kind)]
            print(f"{kind}: naive / {shipped} = {ratio:.2f}x")
        print(f"goals: cold <= {PHONE_GOALS['cold']:.0f} s, warm <= {PHONE_GOALS['warm']:.0f} s")


#: The quick page (views/quick_area.py): My area as one HTML page, outside Streamlit.
QUICK_ROUTE = "/api/quick/area"
#: The PIN of the benchmark's peer educator on the deployment copy.
QUICK_PIN = "480516"


def load_quick(page: object, cdp: object, address: str, pin: str = "") -> PhoneLoad:
    """Open the quick page (typing ``pin`` into its form first, if given); time it to usable.

    Usable: the map's cells drawn with its legend, in the page itself. With a PIN, the time
    to type it is left out: ``form`` is the PIN form shown, ``usable`` adds the time from
    the tap on "Unlock" to the cells.
    """
    load = PhoneLoad()

    def finished(event: dict[str, object]) -> None:
        load.http_bytes += int(event["encodedDataLength"])  # type: ignore[call-overload]
        load.requests += 1

    cdp.on("Network.loadingFinished", finished)  # type: ignore[attr-defined]
    started = time.perf_counter()
    page.goto(address, wait_until="domcontentloaded")  # type: ignore[attr-defined]
    if pin:
        field = page.locator("#pin")  # type: ignore[attr-defined]
        field.wait_for(timeout=180_000)
        load.phases["form"] = time.perf_counter() - started
        field.fill(pin)
        submitted = time.perf_counter()
        page.locator("button[type=submit]").click()  # type: ignore[attr-defined]
        started = submitted - load.phases["form"]  # the typing left out
    page.wait_for_function(CELLS_DRAWN, timeout=180_000, polling=50)  # type: ignore[attr-defined]
    load.phases["usable"] = time.perf_counter() - started
    cdp.remove_listener("Network.loadingFinished", finished)  # type: ignore[attr-defined]
    return load


def quick_deployment(demo: Path, target: Path) -> str:
    """Copy the demo as a real deployment with a peer educator who has a PIN; return her name."""
    import shutil

    import sqlalchemy as sa

    from mapping.access.accounts import DEMO_KEY, add_account, find_account
    from mapping.access.locks import set_pin
    from mapping.storage.audit import Actor
    from mapping.storage.store import meta
    from mapping.storage.workspace import open_workspace

    shutil.copytree(demo, target)
    workspace = open_workspace(target)
    with workspace.begin() as connection:
        connection.execute(meta.delete().where(meta.c.key == DEMO_KEY))
        demo = "SELECT id FROM users WHERE username LIKE 'demo-%'"
        connection.execute(sa.text(f"DELETE FROM sessions WHERE user_id IN ({demo})"))
        connection.execute(sa.text("DELETE FROM users WHERE username LIKE 'demo-%'"))
        add_account(
            connection,
            "bench-peer",
            "peer",
            by=Actor("bench", "admin"),
            password="a long benchmark password",
            teams=["T1"],
        )
        account = find_account(connection, "bench-peer")
        assert account is not None
        set_pin(connection, account, QUICK_PIN)
    return "bench-peer"


def quick_cookie(workspace: Path, url: str, username: str) -> dict[str, object]:
    """Sign ``username`` in with the password and exchange the ticket: the device cookie."""
    from mapping.access.accounts import sign_in
    from mapping.access.locks import DEVICE_COOKIE, device_ticket
    from mapping.storage.workspace import open_workspace

    opened = open_workspace(workspace)
    token, _ = sign_in(opened, username, "a long benchmark password")
    with opened.begin() as connection:
        ticket = device_ticket(connection, token)
    request = urllib.request.Request(f"{url}/api/device?ticket={ticket}")
    with urllib.request.urlopen(request, timeout=30) as answer:
        value = answer.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    return {"name": DEVICE_COOKIE, "value": value, "url": f"{url}/"}


def quick_profile(
    browser: object, demo_url: str, deployment: tuple[Path, str, str], rounds: int
) -> None:
    """Load the quick page cold and warm on the throttled phone: the demo's, and with a PIN."""
    workspace, url, username = deployment
    loads: dict[tuple[str, str], list[PhoneLoad]] = {}
    for _ in range(rounds):
        context, page, cdp = throttled(browser)
        demo = f"{demo_url}{QUICK_ROUTE}?role=peer"
        loads.setdefault(("demo", "cold"), []).append(load_quick(page, cdp, demo))
        page.wait_for_timeout(1000)  # type: ignore[attr-defined]
        loads.setdefault(("demo", "warm"), []).append(load_quick(page, cdp, demo))
        context.close()  # type: ignore[attr-defined]
        context, page, cdp = throttled(browser)
        context.add_cookies([quick_cookie(workspace, url, username)])  # type: ignore[attr-defined]
        address = f"{url}{QUICK_ROUTE}"
        loads.setdefault(("PIN", "cold"), []).append(load_quick(page, cdp, address, QUICK_PIN))
        page.wait_for_timeout(1000)  # type: ignore[attr-defined]
        loads.setdefault(("PIN", "warm"), []).append(load_quick(page, cdp, address, QUICK_PIN))
        context.close()  # type: ignore[attr-defined]
    print("\nMy area, quick (api/quick/area, outside Streamlit), same phone; median of loads")
    print(f"{'way in':<12} {'load':<5} {'usable s':>8} {'goal':>5} {'form s':>7} {'HTTP kB':>8}")
    for (way, kind), found in loads.items():
        usable = statistics.median(x.phases["usable"] for x in found)
        form = statistics.median(x.phases.get("form", 0.0) for x in found)
        goal = PHONE_GOALS[kind]
        print(
            f"{way:<12} {kind:<5} {usable:8.2f} {'met' if usable <= goal else 'MISS':>5}"
            f" {form:7.2f} {statistics.median(x.http_bytes for x in found) / 1e3:8.0f}"
        )
        print(f"  every {kind} load (usable s): {[round(x.phases['usable'], 2) for x in found]}")


def start_server(workspace: Path, log_path: Path, extra_env: dict[str, str]) -> tuple[str, object]:
    """Start ``outreach-map serve`` on a free port; return its URL and process."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_MAP_")}
    env.update(extra_env)
    command = [sys.executable, "-m", "mapping.cli.main", "serve", "--workspace", str(workspace)]
    log = log_path.open("wb")
    server = subprocess.Popen(
        [*command, "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url, server)
    return url, server


def desktop_profile(browser: object, url: str, rounds: int) -> None:
    """Visit every page of every role through the sidebar on a desktop; print the timings."""
    rows: list[tuple[str, str, float, float, float]] = []
    for role, pages in PAGES.items():
        context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
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
            for _ in range(rounds):
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
    print(f"pages of the demo workspace, {rounds} visits each (the first on cold caches)")
    print(f"{'role':<12} {'page':<14} {'cold s':>7} {'warm s':>7} {'cold/warm':>9} {'MB first':>8}")
    for role, link, cold, warm, size in rows:
        print(f"{role:<12} {link:<14} {cold:7.2f} {warm:7.2f} {cold / warm:9.1f} {size:8.2f}")
    within = sum(1 for *_, warm, _ in rows if warm <= 2.0)
    print(f"warm visits within 2 s: {within} of {len(rows)} pages")


def main() -> None:
    """Build the demo, serve it, run the profiles asked for, print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="visits per page (first is cold)")
    parser.add_argument(
        "--profile",
        choices=["desktop", "phone", "both"],
        default="both",
        help="every page on a desktop, My area on a throttled phone, or both",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from mapping.cli.demo import build_demo

    with tempfile.TemporaryDirectory(prefix="bench-pages-") as scratch:
        workspace = Path(scratch) / "demo"
        build_demo(workspace)
        servers: list[object] = []
        try:
            url, server = start_server(workspace, Path(scratch) / "serve.log", {})
            servers.append(server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
                )
                if args.profile in {"desktop", "both"}:
                    desktop_profile(browser, url, args.rounds)
                    memory = peak_memory_mb(server.pid)  # type: ignore[attr-defined]
                    print(f"server peak memory: {memory:,.0f} MB")
                if args.profile in {"phone", "both"}:
                    plain_url, plain = start_server(
                        workspace,
                        Path(scratch) / "plain.log",
                        {"OUTREACH_MAP_COMPRESSION": "0", "OUTREACH_MAP_FIRST_LOAD": "0"},
                    )
                    servers.append(plain)
                    phone_profile(browser, {"shipped": url, "naive": plain_url}, args.rounds)
                    programme = Path(scratch) / "programme"
                    username = quick_deployment(workspace, programme)
                    real_url, real = start_server(programme, Path(scratch) / "real.log", {})
                    servers.append(real)
                    deployment = (programme, real_url, username)
                    quick_profile(browser, url, deployment, args.rounds)
                    floor_url, floor = start_floor(Path(scratch))
                    servers.append(floor)
                    floor_profile(browser, floor_url, args.rounds)
                browser.close()
        finally:
            for process in servers:
                process.terminate()  # type: ignore[attr-defined]
                process.wait(timeout=30)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
