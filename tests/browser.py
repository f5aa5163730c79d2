"""Driving the real app: serve it with the real command, open it in Debian's Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h3
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
#: Where browser tests save their pictures (gitignored).
SCREENSHOTS = ROOT / "screenshots"


def need_chromium() -> None:
    """Fail under CI, skip elsewhere, when Debian's chromium is not installed."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def record_traffic(context: Any, requested: list[str], failed: list[str] | None = None) -> None:
    """Record every request and websocket of a browser context, and its failed responses."""
    context.on("request", lambda request: requested.append(request.url))
    context.on("page", lambda page: page.on("websocket", lambda ws: requested.append(ws.url)))
    if failed is not None:
        context.on(
            "response",
            lambda response: (
                failed.append(f"{response.status} {response.url}")
                if response.status >= 400
                else None
            ),
        )


def outside_requests(urls: Iterable[str]) -> list[str]:
    """Return the requests (http, https, ws, wss) that went to another host than this one."""
    return [
        url
        for url in urls
        if urlsplit(url).scheme in {"http", "https", "ws", "wss"}
        and urlsplit(url).hostname not in LOCAL_HOSTS
    ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    pytest.fail(f"streamlit did not answer at {url} in 90 s:\n{log.read_text()[-3000:]}")


@contextmanager
def serving(
    workspace: Path, log: Path, base_path: str = "", *, settings: dict[str, str] | None = None
) -> Iterator[str]:
    """Run ``outreach-map serve`` (the real command) on a free port; always stop it.

    ``base_path`` (e.g. ``"outreach"``) is Streamlit's ``server.baseUrlPath``; the URL yielded
    ends with it. ``settings`` are ``OUTREACH_MAP_*`` variables for the server (none of the
    machine's pass).
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_MAP_")}
    env |= settings or {}
    if base_path:
        env["STREAMLIT_SERVER_BASE_URL_PATH"] = base_path
    command = [sys.executable, "-m", "mapping.cli.main", "serve", "--workspace", str(workspace)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port)], cwd=ROOT, env=env, stdout=output, stderr=output
        )
        try:
            url = f"http://127.0.0.1:{port}" + (f"/{base_path}" if base_path else "")
            wait_until_healthy(process, url, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def tap_cell(page: Any, iframe: str, cell: int) -> None:
    """Tap the map at the centre of ``cell``, found through the page's own Leaflet map."""
    lat, lng = h3.cell_to_latlng(h3.int_to_str(cell))
    tap_point(page, iframe, lat, lng)


def tap_point(page: Any, iframe: str, lat: float, lng: float) -> tuple[float, float]:
    """Tap the map of the frame ``iframe`` at a point; return the point the map was tapped at.

    The map is scrolled into view first; the tap lands on the nearest whole pixel, whose
    latitude and longitude (what the page itself reads from the tap) are returned.
    """
    frame = page.locator(iframe).first.element_handle().content_frame()
    frame.locator(".leaflet-container").first.scroll_into_view_if_needed()
    x, y, tapped_lat, tapped_lng = frame.evaluate(
        """([lat, lng]) => {
            const name = Object.keys(window).find((k) => k.startsWith("map_"));
            const map = window[name];
            const p = map.latLngToContainerPoint([lat, lng]).round();
            const box = map.getContainer().getBoundingClientRect();
            const at = map.containerPointToLatLng(p);
            return [box.left + p.x, box.top + p.y, at.lat, at.lng];
        }""",
        [lat, lng],
    )
    box = page.locator(iframe).first.bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    return tapped_lat, tapped_lng
