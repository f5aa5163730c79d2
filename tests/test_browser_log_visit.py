"""Log a visit on a phone, in Chromium: the place becomes a cell on the phone; only the cell leaves.

The area is built here, east of 90° E (near 100.5° E, 13.75° N): four districts of about 700 m
with zig-zag borders and a tiny one (a 120 m square) cut out of one of them, at resolution 8, so
that borders cross cells, a district's piece of a cell can be a sliver, and a place just outside
every outline still lies in a cell of the area. For each kind of place the truth (stored cell,
district, estimated or not) is worked out here with h3 and shapely on the raw point, without the
code under test; the point is then tapped on the phone's map, or given as the phone's location,
and the stored visit must equal the truth. Every request and every WebSocket frame the page sends
is recorded and searched for the coordinates; each visit's taps are counted; and the network is
cut while a visit is saved.
"""

from __future__ import annotations

import functools
import json
import math
import struct
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import h3
import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    need_chromium,
    outside_requests,
    serving,
    tap_point,
)
from helpers import TEST_PASSWORD, cell_polygon, share, sliver_target

from mapping.access.accounts import add_account
from mapping.cli.main import main
from mapping.i18n import translator
from mapping.storage import store
from mapping.storage.audit import Actor
from mapping.storage.workspace import Workspace, open_workspace

pytestmark = pytest.mark.browser

FORM = 'iframe[title="views.components.visit_form.visit_form"]'
ORIGIN = (100.50, 13.75)
M_PER_DEG = 111_320.0
NAMES = {"SW": "Bang Rak", "SE": "Sathon", "NW": "Pathum Wan", "NE": "Ratchathewi", "TT": "Soi 7"}


def degrees(x: float, y: float) -> tuple[float, float]:
    """(lng, lat) of the point ``x`` metres east and ``y`` north of the origin."""
    scale = math.cos(math.radians(ORIGIN[1]))
    return ORIGIN[0] + x / (M_PER_DEG * scale), ORIGIN[1] + y / M_PER_DEG


def polygon(points: list[tuple[float, float]], *holes: list[tuple[float, float]]) -> Any:
    return shapely.Polygon([degrees(*p) for p in points], [[degrees(*p) for p in h] for h in holes])


TINY = [(1000, 300), (1120, 300), (1120, 420), (1000, 420)]
DISTRICTS = {
    "SW": polygon([(0, 0), (700, 0), (770, 350), (640, 700), (350, 760), (0, 700)]),
    "SE": polygon([(700, 0), (1400, 0), (1400, 700), (1050, 690), (640, 700), (770, 350)], TINY),
    "NW": polygon([(0, 700), (350, 760), (640, 700), (720, 1050), (700, 1400), (0, 1400)]),
    "NE": polygon([(640, 700), (1050, 690), (1400, 700), (1400, 1400), (700, 1400), (720, 1050)]),
    "TT": polygon(TINY),
}
#: The team's earlier visits (metres east and north of the origin): its cells on the map.
TEAM_VISITS = [(350, 350), (1050, 1050), (300, 1100)]


@dataclass(frozen=True)
class Place:
    """A point of a kind, and where its visit must be stored (worked out here)."""

    kind: str
    lat: float
    lng: float
    cell: int
    district: str
    estimated: bool


@dataclass
class Served:
    url: str
    workspace: Workspace
    places: dict[str, Place]
    #: every point given to the page (targets, the points the map was tapped at, locations)
    points: list[tuple[float, float]] = field(default_factory=list)


def district_at(lng: float, lat: float) -> str | None:
    """The truth: the district whose polygon holds the point (shapely, nothing else)."""
    point = shapely.Point(lng, lat)
    found = [d for d, p in DISTRICTS.items() if p.contains(point)]
    return found[0] if found else None


def metres(geometry: Any) -> Any:
    """The geometry in metres east and north of the origin."""
    scale = math.cos(math.radians(ORIGIN[1]))
    return shapely.transform(
        geometry,
        lambda xy: np.column_stack(
            [(xy[:, 0] - ORIGIN[0]) * M_PER_DEG * scale, (xy[:, 1] - ORIGIN[1]) * M_PER_DEG]
        ),
    )


def the_truth(area_cells: set[int]) -> dict[str, Place]:
    """One point of each kind, at least 10 m from any border (a tap lands within 2 m)."""
    borders = metres(shapely.union_all([p.boundary for p in DISTRICTS.values()]))
    shares = functools.cache(lambda cell, district: share(cell, DISTRICTS[district]))
    places: dict[str, Place] = {}
    for x in range(-60, 1461, 20):
        for y in range(-60, 1461, 20):
            lng, lat = degrees(x, y)
            cell = int(h3.str_to_int(h3.latlng_to_cell(lat, lng, 8)))
            here = shapely.Point(x, y)
            if here.distance(metres(cell_polygon(cell)).boundary) < 10:
                continue
            to_border = here.distance(borders)
            district = district_at(lng, lat)
            centre = district_at(*reversed(h3.cell_to_latlng(h3.int_to_str(cell))))
            kind = None
            if district is None:
                # GPS drift: just outside every outline, in a cell of the area: the cell's
                # centre's district, marked estimated
                if cell in area_cells and centre and 10 <= to_border <= 40:
                    kind, district, estimated = "drift", centre, True
            elif to_border >= 10:
                own, estimated = shares(cell, district), False
                if district == "TT":
                    kind = "tiny"
                elif own >= 1 / 7 + 0.02:
                    kind = "plain" if centre == district else "border"
                elif own < 1 / 7 - 0.02 and sliver_target(cell, DISTRICTS[district]) != cell:
                    kind = "sliver"
            if kind and kind not in places and district:
                stored = cell if estimated else sliver_target(cell, DISTRICTS[district])
                places[kind] = Place(kind, lat, lng, stored, district, estimated)
    assert set(places) == {"plain", "border", "sliver", "tiny", "drift"}, sorted(places)
    assert places["sliver"].cell != h3.str_to_int(
        h3.latlng_to_cell(places["sliver"].lat, places["sliver"].lng, 8)
    )
    return places


@pytest.fixture(scope="module")
def bangkok(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The area served by the real app, with a peer educator's account for team T1."""
    folder = tmp_path_factory.mktemp("bangkok")
    outlines = folder / "districts.geojson"
    features = [
        {
            "type": "Feature",
            "properties": {"id": f"TH-{d}", "name": NAMES[d]},
            "geometry": shapely.geometry.mapping(p),
        }
        for d, p in DISTRICTS.items()
    ]
    outlines.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    path = folder / "workspace"
    argv = ["init", "--workspace", str(path), "--districts", str(outlines)]
    assert main([*argv, "--district-id", "id", "--district-name", "name", "--resolution", "8"]) == 0
    visits = folder / "visits.csv"
    day = time.strftime("%Y-%m-%d", time.localtime(time.time() - 3 * 86400))
    rows = [
        f"{day},PE-01,T1,{lat:.7f},{lng:.7f},BKK-{i:03d}"
        for i, (lng, lat) in enumerate(degrees(*p) for p in TEAM_VISITS)
    ]
    visits.write_text("date,peer_educator,team,latitude,longitude,contact_code\n" + "\n".join(rows))
    assert main(["import", "visits", str(visits), "--workspace", str(path)]) == 0
    workspace = open_workspace(path)
    with workspace.begin() as connection:
        add_account(
            connection, "peer", "peer", by=Actor("t", "admin"), password=TEST_PASSWORD, teams=["T1"]
        )
        area = set(connection.execute(sa.select(store.area_cells.c.cell)).scalars())
    places = {
        kind: Place(p.kind, p.lat, p.lng, p.cell, f"TH-{p.district}", p.estimated)
        for kind, p in the_truth({int(c) for c in area}).items()
    }
    with serving(path, folder / "streamlit.log") as url:
        yield Served(url, workspace, places)


# --- driving the page ----------------------------------------------------------------------------


def phone(browser: Any, **options: Any) -> Any:
    """A phone at night: 390 × 844, touch, dark mode."""
    return browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, color_scheme="dark", **options
    )


def open_form(page: Any, url: str, language: str = "en") -> Any:
    """Sign in as the peer educator and open Log a visit from My area; return the form's frame."""
    t = translator(language)
    page.goto(f"{url}/?lang={language}", wait_until="domcontentloaded")
    page.get_by_role("textbox", name=t("access.username")).fill("peer", timeout=90_000)
    page.get_by_role("textbox", name=t("access.password")).fill(TEST_PASSWORD)
    page.get_by_role("button", name=t("access.sign_in")).click()
    page.get_by_role("button", name=t("lock.not_now")).click(timeout=90_000)  # no PIN
    link = page.locator('[data-testid="stMain"] a', has_text=t("log.title"))
    link.first.click(timeout=90_000)
    page.locator(FORM).first.wait_for(timeout=90_000)
    frame = page.frame_locator(FORM).first
    frame.locator(".om-legend").wait_for(timeout=90_000)
    frame.locator(".leaflet-overlay-pane path").first.wait_for(timeout=30_000)
    return frame


def zoom_to(page: Any, lat: float, lng: float) -> None:
    """Zoom the map in around a point, as a person does before tapping (a cell is wider than
    the map at this zoom: the point, not its cell's centre, must be on it)."""
    content = page.locator(FORM).first.element_handle().content_frame()
    content.evaluate(
        "([lat, lng]) => window.map_visit.setView([lat, lng], 17, {animate: false})", [lat, lng]
    )
    page.wait_for_timeout(300)


def picture_chosen(page: Any, frame: Any, place: Place, name: str) -> None:
    """Take a picture of the chosen cell, whole, and the line naming its district."""
    zoom_to(page, place.lat, place.lng)
    content = page.locator(FORM).first.element_handle().content_frame()
    content.evaluate("() => window.map_visit.setZoom(15, {animate: false})")
    page.mouse.move(1, 1)  # no tooltip of a cell under the pointer
    frame.locator("#place").scroll_into_view_if_needed()
    page.mouse.wheel(0, 120)
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOTS / name))


class Taps:
    """Counts what a person taps: a visit should take six at most."""

    def __init__(self, page: Any, frame: Any) -> None:
        self.page, self.frame, self.count = page, frame, 0

    def button(self, name: str) -> None:
        self.frame.get_by_role("button", name=name, exact=True).click()
        self.count += 1

    def map(self, lat: float, lng: float) -> tuple[float, float]:
        self.count += 1
        return tap_point(self.page, FORM, lat, lng)


def newest_visit(workspace: Workspace) -> tuple[int, str, bool] | None:
    v = store.visits.c
    with workspace.connect() as connection:
        row = connection.execute(
            sa.select(v.cell, v.district_id, v.district_estimated).where(
                v.import_id == sa.select(sa.func.max(v.import_id)).scalar_subquery()
            )
        ).first()
    return (
        None if row is None else (int(row.cell), str(row.district_id), bool(row.district_estimated))
    )


def visit_count(workspace: Workspace) -> int:
    with workspace.connect() as connection:
        return int(
            connection.execute(sa.select(sa.func.count()).select_from(store.visits)).scalar()
        )


def save_and_wait(taps: Taps, workspace: Workspace, before: int) -> None:
    """Standard kit, Save, confirm: three taps; wait until the page says it is saved."""
    taps.button("Standard kit")
    taps.button("Save visit")
    taps.button("Yes, save")
    taps.frame.get_by_text("Visit saved").wait_for(timeout=60_000)
    assert visit_count(workspace) == before + 1


# --- what the page sends -------------------------------------------------------------------------


def coordinate_patterns(points: Iterable[tuple[float, float]]) -> list[bytes]:
    """Each coordinate as decimal text (4 to 8 places, rounded and cut) and as float64/32 bytes."""
    patterns: set[bytes] = set()
    for point in points:
        for value in point:
            for places in range(4, 9):
                patterns.add(f"{value:.{places}f}".encode())
                cut = math.trunc(value * 10**places) / 10**places
                patterns.add(f"{cut:.{places}f}".encode())
            patterns.add(struct.pack("<d", value))
            patterns.add(struct.pack("<f", value))
    return sorted(patterns)


def coordinates_in(messages: Iterable[bytes], points: Iterable[tuple[float, float]]) -> list[str]:
    """Return which coordinate pattern turns up in which message (none, if all is well)."""
    patterns = coordinate_patterns(points)
    return [
        f"{pattern!r} in message {index}: {message[:120]!r}"
        for index, message in enumerate(messages)
        for pattern in patterns
        if pattern in message
    ]


def record_messages(context: Any, sent: list[bytes]) -> None:
    """Record every request (its address and body) and WebSocket frame a context sends."""

    def request(req: Any) -> None:
        sent.append(req.url.encode())
        sent.append(req.post_data_buffer or b"")

    def websocket(socket: Any) -> None:
        sent.append(socket.url.encode())
        socket.on(
            "framesent",
            lambda data: sent.append(data if isinstance(data, bytes) else data.encode()),
        )

    context.on("request", request)
    context.on("page", lambda page: page.on("websocket", websocket))


def test_the_check_finds_a_coordinate_in_a_message() -> None:
    """Control: a point as text at 5 places, cut at 6, or as float64 or float32 bytes is found."""
    lat, lng = 13.7563092, 100.5017651
    for message in (
        b'{"lat": 13.75631, "x": 1}',
        b"lng=100.501765&z=1",
        b"\x0a\x08" + struct.pack("<d", lat),
        b"\x15" + struct.pack("<f", lng),
    ):
        assert coordinates_in([message], [(lat, lng)]), message
    assert not coordinates_in([b'{"cell": "8864a4b5a1fffff", "waited_seconds": 13}'], [(lat, lng)])


# --- the tests -----------------------------------------------------------------------------------


def test_each_place_is_stored_as_the_truth_says_and_no_coordinate_leaves_the_phone(
    bangkok: Served,
) -> None:
    """Tapped (five kinds of place) or located, each visit takes four taps and is stored in the
    cell and district worked out here; nothing the page sends holds a coordinate."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    workspace, places = bangkok.workspace, bangkok.places
    sent: list[bytes] = []
    requested: list[str] = []
    stored: dict[str, tuple[int, str, bool] | None] = {}
    taps_per_visit: dict[str, int] = {}
    named: dict[str, str] = {}
    small: list[Any] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = phone(browser)
            record_messages(context, sent)
            context.on("request", lambda request: requested.append(request.url))
            page = context.new_page()
            frame = open_form(page, bangkok.url)
            content = page.locator(FORM).first.element_handle().content_frame()
            assert content.evaluate("() => document.body.classList.contains('dark')")
            small = content.evaluate(SMALL_CONTROLS)
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "log-visit-en-phone.png"))
            # a tap outside the area: said at once, nothing chosen
            outside = degrees(-2000, -2000)
            zoom_to(page, outside[1], outside[0])
            bangkok.points.append(tap_point(page, FORM, outside[1], outside[0]))
            frame.get_by_text("That place is outside the area's districts").wait_for()
            for kind in ("plain", "border", "sliver", "tiny", "drift"):
                place = places[kind]
                before = visit_count(workspace)
                taps = Taps(page, frame)
                zoom_to(page, place.lat, place.lng)
                bangkok.points += [(place.lat, place.lng), taps.map(place.lat, place.lng)]
                frame.get_by_text("Place chosen").wait_for(timeout=10_000)
                named[kind] = frame.locator("#place").inner_text()
                if kind == "border":
                    picture_chosen(page, frame, place, "log-visit-en-chosen-phone.png")
                save_and_wait(taps, workspace, before)
                stored[kind] = newest_visit(workspace)
                taps_per_visit[kind] = taps.count
            # the page's storage (shared with the app's own page: same origin) and address
            storage = content.evaluate(KEPT)
            page.screenshot(path=str(SCREENSHOTS / "log-visit-saved-phone.png"))
            context.close()
            # "use my location": first without a fix (the phone's GPS finds none), then with one
            context = phone(browser)
            record_messages(context, sent)
            context.grant_permissions(["geolocation"])
            page = context.new_page()
            frame = open_form(page, bangkok.url)
            frame.get_by_role("button", name="Use my location").click()
            frame.get_by_text("Your phone cannot find its location here").wait_for(timeout=40_000)
            place = places["border"]
            context.set_geolocation({"latitude": place.lat, "longitude": place.lng})
            bangkok.points.append((place.lat, place.lng))
            before = visit_count(workspace)
            taps = Taps(page, frame)
            taps.button("Use my location")
            frame.get_by_text("Place chosen").wait_for(timeout=30_000)
            named["location"] = frame.locator("#place").inner_text()
            save_and_wait(taps, workspace, before)
            stored["location"] = newest_visit(workspace)
            taps_per_visit["location"] = taps.count
            context.close()
        finally:
            browser.close()
    print(taps_per_visit)
    expected = {kind: (p.cell, p.district, p.estimated) for kind, p in places.items()}
    assert stored == expected | {"location": expected["border"]}
    # the phone named each place's district by the point, not by its cell's centre
    for kind, place in [*places.items(), ("location", places["border"])]:
        assert NAMES[place.district.removeprefix("TH-")] in named[kind], (kind, named[kind])
    assert all(count <= 6 for count in taps_per_visit.values()), taps_per_visit
    assert len(sent) > 100  # the pages, the app's frames and the form's saves were recorded
    assert coordinates_in(sent, bangkok.points) == []
    print(storage)
    assert len(storage) > 2  # the control: both addresses were read
    assert coordinates_in([kept.encode() for kept in storage], bangkok.points) == []
    assert not outside_requests(requested)
    assert small == []  # every control a thumb can hit is 44 px high at least


#: Everything the form's frame and the app's page hold in storage, and their addresses.
KEPT = """() => [location.href, parent.location.href,
  ...[localStorage, sessionStorage].flatMap((kept) => Object.entries(kept).flat())]"""
#: Controls of the form (and the map's zoom buttons) under 44 px high (WCAG 2.5.5).
SMALL_CONTROLS = """() => [...document.querySelectorAll('button, input, .leaflet-bar a')]
  .filter((e) => e.offsetParent !== null)
  .map((e) => [e.getAttribute("aria-label") || e.innerText.slice(0, 30),
               Math.round(e.getBoundingClientRect().height)])
  .filter(([, height]) => height > 0 && height < 44)"""


def test_a_location_that_cannot_be_had_says_to_tap_the_map(bangkok: Served) -> None:
    """Refused by the person, or a browser without location: the page says so and what to do."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = phone(browser)  # no permission given: the browser refuses
            page = context.new_page()
            frame = open_form(page, bangkok.url, "es")
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "log-visit-es-phone.png"))
            frame.get_by_role("button", name="Usar mi ubicación").click()
            frame.get_by_text("Esta aplicación no puede usar su ubicación").wait_for()
            place = bangkok.places["border"]  # then the map is tapped instead
            zoom_to(page, place.lat, place.lng)
            tap_point(page, FORM, place.lat, place.lng)
            frame.get_by_text("Lugar elegido").wait_for()
            assert NAMES[place.district.removeprefix("TH-")] in frame.locator("#place").inner_text()
            picture_chosen(page, frame, place, "log-visit-es-chosen-phone.png")
            context.close()
            context = phone(browser)
            context.add_init_script("delete Navigator.prototype.geolocation;")
            page = context.new_page()
            frame = open_form(page, bangkok.url)
            frame.get_by_role("button", name="Use my location").click()
            frame.get_by_text("This phone or connection cannot give a location").wait_for()
            frame.get_by_role("button", name="Save visit").click()
            frame.get_by_text("Tap the map where you met (or use your location) first.").wait_for()
            context.close()
        finally:
            browser.close()


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_visit_saved_while_the_signal_is_down_is_stored_once_when_it_is_back(
    bangkok: Served, language: str
) -> None:
    """Chromium's offline mode (``set_offline``) keeps the WebSocket open and drops what is sent
    on it, as a lost signal does: checked here (frames sent, nothing stored). Saved then, the
    form keeps the visit and says it is not saved yet; once the network is back it sends it
    again (same submission id) and it is stored exactly once."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    workspace, place = bangkok.workspace, bangkok.places["plain"]
    t = translator(language)
    chosen = t("log.place_plain").split(".")[0]  # "Place chosen" / "Lugar elegido"
    frames_sent: list[float] = []
    closed: list[float] = []

    def watch(socket: Any) -> None:
        socket.on("framesent", lambda _: frames_sent.append(time.monotonic()))
        socket.on("close", lambda _: closed.append(time.monotonic()))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = phone(browser)
            page = context.new_page()
            page.on("websocket", watch)
            frame = open_form(page, bangkok.url, language)
            zoom_to(page, place.lat, place.lng)
            tap_point(page, FORM, place.lat, place.lng)
            frame.get_by_text(chosen).wait_for()
            frame.get_by_role("button", name=t("log.kit")).click()
            frame.get_by_role("button", name=t("service_types.hiv_testing")).click()
            frame.locator("#code").fill(f"BKK-0777-{language}")
            frame.get_by_role("button", name=t("log.review")).click()
            before = visit_count(workspace)
            context.set_offline(True)
            offline = time.monotonic()
            frame.get_by_role("button", name=t("log.save")).click()
            frame.get_by_text(t("log.pending")).wait_for(timeout=20_000)
            page.wait_for_timeout(2_000)
            # offline mode alone: frames were sent, none arrived, the socket is still open
            assert [t for t in frames_sent if t > offline] and not closed
            assert visit_count(workspace) == before
            # everything is kept in the form meanwhile
            assert frame.locator("#code").input_value() == f"BKK-0777-{language}"
            assert frame.locator(".stepper output").all_inner_texts() == ["10", "10", "1"]
            assert chosen in frame.locator("#place").inner_text()
            page.screenshot(path=str(SCREENSHOTS / f"log-visit-not-saved-phone-{language}.png"))
            context.set_offline(False)  # the signal is back: the form sends it again
            frame.get_by_text(t("log.saved")).wait_for(timeout=60_000)
            page.wait_for_timeout(12_000)  # a late re-send would be stored now, if ever
            assert frame.locator("#code").input_value() == ""  # cleared for the next visit
        finally:
            browser.close()
    assert visit_count(workspace) == before + 1
    assert newest_visit(workspace) == (place.cell, place.district, place.estimated)
