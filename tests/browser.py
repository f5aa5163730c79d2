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
#: Records every text a canvas draws, with its start, width and canvas, before the page runs
#: (a table, st.dataframe, is drawn on a canvas: its headers are no elements to measure). Give
#: it to ``context.add_init_script`` before opening the page; :func:`table_problems` reads it.
RECORD_TEXT = """(() => {
  window.__drawn = [];
  const fill = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, x, y, ...rest) {
    const m = this.getTransform(), ratio = window.devicePixelRatio || 1;
    window.__drawn.push({canvas: this.canvas, text: String(text), x: x + m.e / ratio,
                         y: y + m.f / ratio, width: this.measureText(String(text)).width});
    return fill.call(this, text, x, y, ...rest);
  };
})();"""
#: For the n-th table of the page: its scroller's widths and each header as last drawn. The
#: headers are those named, or else those of the grid's own accessible table (the columns in
#: view, in their order).
TABLE_HEADERS = """([index, names]) => {
  const grid = document.querySelectorAll('[data-testid="stDataFrame"]')[index];
  const canvases = [...grid.querySelectorAll('canvas')];  // cells on one, headers on another
  const scroller = grid.querySelector('.dvn-scroller');
  const wanted = names || [...grid.querySelectorAll('table th')].map((th) => th.textContent);
  const last = new Map();
  for (const d of window.__drawn || []) {
    if (canvases.includes(d.canvas) && d.y < 36 && wanted.includes(d.text)) last.set(d.text, d);
  }
  return {scrollWidth: scroller.scrollWidth, clientWidth: scroller.clientWidth,
          headers: wanted.map((n) => last.has(n) ? [n, last.get(n).x, last.get(n).width] : [n])};
}"""
#: Which of the page's tables are shown: one in a tab not chosen or in a folded expander has
#: no size, or is not drawn at all (no scroller).
TABLES_SHOWN = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')]
  .map((grid) => grid.getBoundingClientRect().width > 0
    && grid.getBoundingClientRect().height > 0 && !!grid.querySelector('.dvn-scroller'))"""


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


def table_problems(page: Any, index: int, where: str, names: list[str] | None = None) -> list[str]:
    """Say how the ``index``-th table of the page does not fit its box; nothing if it fits.

    It fits when it does not scroll sideways (its scroller's ``scrollWidth`` is at most its
    ``clientWidth`` + 1, for rounding) and no header is cut: each header's text (``names``, or
    those the grid lists) ends before the next column begins — the next header's start less
    the cell padding, the first header's own start as the first column begins at 0 — or before
    the grid's right edge for the last one. The page must record drawn text
    (:data:`RECORD_TEXT`).
    """
    grid = page.locator('[data-testid="stDataFrame"]').nth(index)
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(800)  # a table scrolled into view draws its headers again
    seen = page.evaluate(TABLE_HEADERS, [index, names])
    problems = []
    if seen["scrollWidth"] > seen["clientWidth"] + 1:
        problems.append(
            f"{where}: table {index} scrolls sideways "
            f"(scrollWidth {seen['scrollWidth']} > clientWidth {seen['clientWidth']})"
        )
    headers = seen["headers"]
    if not headers or any(len(h) != 3 for h in headers):
        return [*problems, f"{where}: table {index}: headers not drawn: {headers}"]
    padding = headers[0][1]
    for (name, start, width), following in zip(headers, [*headers[1:], None], strict=True):
        end = following[1] - padding if following else seen["scrollWidth"]
        if start + width > end:
            problems.append(
                f"{where}: table {index}: header {name!r} is cut ({start + width:.0f} > {end:.0f})"
            )
    return problems


def tables_not_fitting(page: Any, where: str) -> list[str]:
    """Check every table shown on the page, and those of each of its tabs (one tab at a time).

    Returns what :func:`table_problems` says of each. Choosing a tab reruns nothing (Streamlit
    draws every tab's content at once), so this opens no page.
    """
    problems: list[str] = []
    tabs = page.get_by_role("tab")
    for tab in range(max(tabs.count(), 1)):
        if tab:
            tabs.nth(tab).click()
            page.wait_for_timeout(300)
        named = f"{where} (tab {tab + 1})" if tab else where
        for index, shown in enumerate(page.evaluate(TABLES_SHOWN)):
            if shown:
                problems += table_problems(page, index, named)
    return problems
