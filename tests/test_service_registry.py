"""The service registry as the app edits it: filters, map layers, add and change, errors."""

from __future__ import annotations

import datetime as dt
import json
import re
import struct
from pathlib import Path
from typing import Any

import folium
import h3
import polars as pl
import pytest
import sqlalchemy as sa
from folium.plugins import MarkerCluster
from helpers import LIMA, MIRAFLORES, counts, csv_text, query

from mapping.errors import InvalidInputError
from mapping.i18n import translator
from mapping.ingest.registry_files import services_from_file
from mapping.maps.base import (
    DEFAULT_ASSETS_URL,
    GESTURE_HANDLING_URL,
    MARKERCLUSTER_URL,
    MapOverlay,
    district_layers,
)
from mapping.maps.services import (
    SERVICE_ICONS,
    service_clusters,
    services_legend,
    services_map,
    type_layers,
)
from mapping.registries.service_edits import KEEP, add_service, place_from_click, update_service
from mapping.registries.services import (
    ServiceFilter,
    filter_services,
    open_at,
    open_at_night,
    read_services,
)
from mapping.settings import Settings
from mapping.storage.workspace import Workspace
from mapping.vocab import SERVICE_TYPES

#: Every test here runs on SQLite and on a real PostgreSQL server.
pytestmark = pytest.mark.engines

#: A point of a sensitive service, distinctive enough to find in any file (La Victoria).
HOME = (-12.0712345, -77.0223456)
HOME_CELL = h3.latlng_to_cell(*HOME, 8)
LIMA_POINT = (float(LIMA[0]), float(LIMA[1]))
MIRAFLORES_POINT = (float(MIRAFLORES[0]), float(MIRAFLORES[1]))
#: A Saturday, and the moments the filters are checked at.
SATURDAY = dt.date(2026, 3, 7)
SATURDAY_2230 = dt.datetime(2026, 3, 7, 22, 30)
SUNDAY_0200 = dt.datetime(2026, 3, 8, 2, 0)
WEDNESDAY_1000 = dt.datetime(2026, 3, 11, 10, 0)


@pytest.fixture
def registry(workspace: Workspace) -> Workspace:
    """Five hand-made services: night, daytime, closed, sensitive (home-based), unknown hours."""
    add_service(
        workspace,
        service_id="NIGHT",
        name="Centro nocturno",
        service_type="drop_in_centre",
        point=LIMA_POINT,
        friendly=True,
        free=True,
        opening_hours="Th-Sa 20:00-04:00",
    )
    add_service(
        workspace,
        service_id="DAY",
        name="Posta de día",
        service_type="hiv_testing",
        point=MIRAFLORES_POINT,
        friendly=True,
        free=False,
        opening_hours="Mo-Fr 08:00-14:00",
    )
    add_service(
        workspace,
        service_id="CLOSED",
        name="Clínica cerrada",
        service_type="sti_clinic",
        cell=h3.latlng_to_cell(*LIMA_POINT, 8),
        friendly=True,
        opening_hours="24/7",
        active_until=dt.date(2026, 1, 31),
    )
    add_service(
        workspace,
        service_id="HOME",
        name="Dra. Rosa Quispe, consultorio en casa",
        service_type="prep_pep",
        point=HOME,  # given, but a sensitive service keeps only its cell
        sensitive=True,
        friendly=True,
        free=True,
        opening_hours="Mo-Su 18:00-23:00",
    )
    add_service(
        workspace,
        service_id="UNKNOWN",
        name="Asesoría legal",
        service_type="legal_aid",
        cell=HOME_CELL,
    )
    return workspace


def ids(frame: pl.DataFrame) -> list[str]:
    return sorted(frame["id"].to_list())


# --- reading and filtering ----------------------------------------------------------------------


def test_read_services_gives_points_of_public_services_only(registry: Workspace) -> None:
    services = read_services(registry).sort("id")
    assert services["id"].to_list() == ["CLOSED", "DAY", "HOME", "NIGHT", "UNKNOWN"]
    by_id = {row["id"]: row for row in services.iter_rows(named=True)}
    assert (by_id["NIGHT"]["latitude"], by_id["NIGHT"]["longitude"]) == LIMA_POINT
    assert by_id["HOME"]["latitude"] is None and by_id["HOME"]["sensitive"] is True
    assert by_id["HOME"]["cell_id"] == HOME_CELL
    assert by_id["CLOSED"]["latitude"] is None  # given as a cell: no point
    assert by_id["DAY"]["service_type"] == "hiv_testing"
    assert by_id["UNKNOWN"]["friendly"] is None and by_id["UNKNOWN"]["opening_hours"] is None
    # the store holds no point for the sensitive service, whatever was given
    assert query(registry, "SELECT location FROM services WHERE id = 'HOME'") == [(None,)]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (SATURDAY_2230, ["HOME", "NIGHT"]),  # the closed 24/7 clinic is not open
        (SUNDAY_0200, ["NIGHT"]),  # Saturday night's hours run past midnight
        (WEDNESDAY_1000, ["DAY"]),
        (dt.datetime(2026, 1, 14, 10, 0), ["CLOSED", "DAY"]),  # before the clinic closed
        (dt.datetime(2026, 3, 11, 23, 30), []),
    ],
)
def test_open_at(registry: Workspace, moment: dt.datetime, expected: list[str]) -> None:
    assert ids(open_at(read_services(registry), moment)) == expected


def test_open_at_night_follows_the_night_setting(registry: Workspace) -> None:
    services = read_services(registry)
    # 22:00-06:00 by default: 18:00-23:00 reaches into it, 08:00-14:00 does not
    assert ids(open_at_night(services)) == ["CLOSED", "HOME", "NIGHT"]
    late = Settings(night_starts=23, day_starts=5)
    assert ids(open_at_night(services, settings=late)) == ["CLOSED", "NIGHT"]


@pytest.mark.parametrize(
    ("choice", "now", "expected"),
    [
        (ServiceFilter(), WEDNESDAY_1000, ["DAY", "HOME", "NIGHT", "UNKNOWN"]),
        (
            ServiceFilter(include_closed=True),
            WEDNESDAY_1000,
            ["CLOSED", "DAY", "HOME", "NIGHT", "UNKNOWN"],
        ),
        (ServiceFilter(open_now=True), SATURDAY_2230, ["HOME", "NIGHT"]),
        (ServiceFilter(at_night=True), WEDNESDAY_1000, ["HOME", "NIGHT"]),
        (ServiceFilter(friendly=True), WEDNESDAY_1000, ["DAY", "HOME", "NIGHT"]),
        (ServiceFilter(free=True), WEDNESDAY_1000, ["HOME", "NIGHT"]),
        (ServiceFilter(free=True, at_night=True, types=("prep_pep",)), SATURDAY_2230, ["HOME"]),
        (ServiceFilter(types=("hiv_testing", "legal_aid")), WEDNESDAY_1000, ["DAY", "UNKNOWN"]),
    ],
)
def test_filters(
    registry: Workspace, choice: ServiceFilter, now: dt.datetime, expected: list[str]
) -> None:
    assert ids(filter_services(read_services(registry), choice, now=now)) == expected


def test_an_unknown_type_is_refused(registry: Workspace) -> None:
    with pytest.raises(InvalidInputError, match=r"service type 'clinic' is not known — use one of"):
        filter_services(
            read_services(registry), ServiceFilter(types=("clinic",)), now=WEDNESDAY_1000
        )


# --- the map ------------------------------------------------------------------------------------


def render(workspace: Workspace, services: pl.DataFrame, **options: Any) -> str:
    with workspace.connect() as connection:
        outlines, labels = district_layers(connection)
    t = translator(options.pop("language", "en"))
    m = services_map(services, outlines, labels, t, language="en", **options)
    return str(m.get_root().render())


def test_one_layer_per_type_points_and_cells(registry: Workspace) -> None:
    layers = dict(type_layers(read_services(registry), translator("en"), language="en"))
    assert list(layers) == ["drop_in_centre", "hiv_testing", "sti_clinic", "prep_pep", "legal_aid"]
    kinds = {
        name: [f["geometry"]["type"] for f in layer["features"]] for name, layer in layers.items()
    }
    assert kinds == {
        "drop_in_centre": ["Point"],
        "hiv_testing": ["Point"],
        "sti_clinic": ["Polygon"],  # no point given
        "prep_pep": ["Polygon"],  # sensitive
        "legal_aid": ["Polygon"],
    }
    home = layers["prep_pep"]["features"][0]
    assert "Rosa" not in json.dumps(home)  # a sensitive service is never named on the map
    assert home["properties"]["tip"].startswith("PrEP / PEP: sensitive service HOME")
    night = layers["drop_in_centre"]["features"][0]
    assert night["properties"]["tip"] == (
        "Centro nocturno\nDrop-in centre\nhours: Th–Sa 20:00–04:00\nfriendly · free"
    )
    # a feature holds its tooltip (and a cell's style) only; coordinates keep 5 decimals
    for layer in layers.values():
        for feature in layer["features"]:
            assert set(feature["properties"]) <= {"tip", "style"}
            coordinates = json.dumps(feature["geometry"]["coordinates"])
            assert not re.search(r"\.\d{6,}", coordinates), coordinates


def test_map_html_is_offline_and_holds_no_point_of_a_sensitive_service(
    registry: Workspace,
) -> None:
    services = read_services(registry)
    page = render(registry, services, picked=h3.str_to_int(HOME_CELL))
    assert sorted(set(re.findall(r'(?:src|href)="([^"]+)"', page))) == [
        f"{DEFAULT_ASSETS_URL}/leaflet.css",
        f"{DEFAULT_ASSETS_URL}/leaflet.js",
        f"{GESTURE_HANDLING_URL}/leaflet-gesture-handling.min.css",
        f"{GESTURE_HANDLING_URL}/leaflet-gesture-handling.min.js",
        f"{MARKERCLUSTER_URL}/MarkerCluster.css",
        f"{MARKERCLUSTER_URL}/leaflet.markercluster.js",
    ]
    assert not re.search(r"https?://", page)
    assert "L.tileLayer" not in page and "AwesomeMarkers" not in page and "fa-" not in page
    for decimals in (5, 6, 7):  # fewer decimals turn up in district outlines
        for value in HOME:
            assert f"{value:.{decimals}f}" not in page, (value, decimals)
    assert "Rosa" not in page
    # the public service's point is there, rounded
    assert f"[{LIMA_POINT[1]:.4f}, {LIMA_POINT[0]:.4f}]" in page
    # each type's icon is written once (in its layer's marker function), not per service
    assert page.count(SERVICE_ICONS["drop_in_centre"][0]) >= 1
    assert page.count('className: "om-service"') == 2  # two types have points
    assert "place picked, not saved yet" in page


def test_legend_names_each_type_shown_and_the_cells(registry: Workspace) -> None:
    t, es = translator("en"), translator("es")
    legend = services_legend(t, ["hiv_testing", "prep_pep"], cells=True, picked=True)
    assert "HIV testing" in legend and "PrEP / PEP" in legend and "STI clinic" not in legend
    assert "cell only (sensitive, or no exact place)" in legend
    assert "place picked, not saved yet" in legend and "district" in legend
    assert legend.count("<svg") == 2
    assert "Prueba de VIH" in services_legend(es, ["hiv_testing"], cells=False)
    assert "none match the filters" in services_legend(t, [], cells=False)
    spanish = render(registry, read_services(registry), language="es")
    assert "Centro comunitario" in spanish and "Servicios" in spanish


def test_icons_are_clustered_and_cells_are_not(registry: Workspace) -> None:
    """Public services' icons go into one cluster group; sensitive services' cells stay cells."""
    t = translator("en")
    services = read_services(registry)
    with registry.connect() as connection:
        outlines, labels = district_layers(connection)
    m = services_map(services, outlines, labels, t, language="en")
    groups = [child for child in m._children.values() if isinstance(child, MarkerCluster)]
    assert len(groups) == 1
    clustered = [
        feature
        for layer in groups[0]._children.values()
        if isinstance(layer, folium.GeoJson)
        for feature in layer.data["features"]
    ]
    assert [f["geometry"]["type"] for f in clustered] == ["Point", "Point"]
    drawn = [
        feature
        for layer in m._children.values()
        if isinstance(layer, folium.GeoJson) and layer.layer_name not in ("districts", "names")
        for feature in layer.data["features"]
    ]
    # the three services without a public point: their cells, on the map itself
    assert [f["geometry"]["type"] for f in drawn] == ["Polygon"] * 3
    assert m.options["max_zoom"] >= 16  # leaflet.markercluster needs one
    page = m.get_root().render()
    assert page.count("L.markerClusterGroup(") == 1
    assert '"showCoverageOnHover": false' in page
    assert "services close together" in page  # the legend says what a cluster is


def test_cluster_assets_are_the_vendored_ones_on_this_map_only() -> None:
    """The plugin's CDN links are replaced on the group, never on folium's shared class."""
    point = {"type": "Point", "coordinates": [-77.03, -12.06]}
    layer = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": point, "properties": {"tip": "x"}}],
    }
    group = service_clusters([("hiv_testing", layer)], cluster_url="/vendor/mc/")
    assert group.default_js == [("markerclusterjs", "/vendor/mc/leaflet.markercluster.js")]
    assert group.default_css == [("markerclustercss", "/vendor/mc/MarkerCluster.css")]
    assert "cdnjs" in MarkerCluster.default_js[0][1]  # folium's own list is left alone
    root = Path(__file__).resolve().parent.parent / "static/vendor" / Path(MARKERCLUSTER_URL).name
    for name in ("leaflet.markercluster.js", "MarkerCluster.css", "LICENSE"):
        assert (root / name).is_file(), root / name


def test_a_folding_legend_folds_into_its_title() -> None:
    """The legend's leading title becomes the line that opens it; the rest is folded under it."""
    overlay = MapOverlay("<h4>Services &amp; more</h4><div>key</div>", fold=True)
    assert overlay.summary == "Services &amp; more"
    assert overlay.legend_html == "<div>key</div>"
    untitled = MapOverlay("<div>key</div>", fold=True)
    assert untitled.summary and untitled.legend_html == "<div>key</div>"
    plain = MapOverlay("<h4>Services</h4><div>key</div>")
    assert plain.summary is None and plain.legend_html.startswith("<h4>")
    m = folium.Map(tiles=None)
    overlay.add_to(m)
    script = m.get_root().render()
    assert 'L.DomUtil.create("details"' in script and "om-legend-fold" in script


def test_every_type_has_its_own_colour_and_shape() -> None:
    assert set(SERVICE_ICONS) == set(SERVICE_TYPES)
    assert len(set(SERVICE_ICONS.values())) == len(SERVICE_TYPES)


def test_a_click_becomes_a_cell_and_a_point_only_for_public_services() -> None:
    click = {"lat": HOME[0], "lng": HOME[1]}
    sensitive = place_from_click(click, 8, sensitive=True)
    public = place_from_click(click, 8, sensitive=False)
    assert sensitive is not None and public is not None
    assert sensitive.cell_id == public.cell_id == HOME_CELL
    assert sensitive.point is None
    assert public.point == (round(HOME[0], 6), round(HOME[1], 6))
    assert place_from_click(None, 8, sensitive=True) is None
    assert place_from_click({"lat": None, "lng": None}, 8, sensitive=True) is None
    wrapped = place_from_click({"lat": HOME[0], "lng": HOME[1] - 360}, 8, sensitive=True)
    assert wrapped is not None and wrapped.cell_id == HOME_CELL
    with pytest.raises(InvalidInputError, match=r"clicked place \(hidden\) is not a latitude"):
        place_from_click({"lat": 136.8, "lng": -77.0}, 8, sensitive=True)


# --- adding and changing ------------------------------------------------------------------------


def test_add_round_trip_and_record(workspace: Workspace) -> None:
    plan = add_service(
        workspace, name="Centro", service_type="drop_in_centre", point=LIMA_POINT, dry_run=True
    )
    assert plan.import_id is None and not plan.problems
    assert counts(workspace)["services"] == 0  # a plan writes nothing
    done = add_service(
        workspace,
        name="  Centro  ",
        service_type="drop_in_centre",
        point=LIMA_POINT,
        friendly=True,
        opening_hours="Mo-Fr 10:00-18:00",
        active_from=dt.date(2026, 1, 1),
    )
    assert done.service_id == "S-0001" and done.action == "add"
    assert {c.field: c.after for c in done.changes} == {
        "name": "Centro",
        "service_type": "drop_in_centre",
        "sensitive": False,
        "friendly": True,
        "opening_hours": "Mo-Fr 10:00-18:00",
        "active_from": dt.date(2026, 1, 1),
        "cell": h3.latlng_to_cell(*LIMA_POINT, 8),
        "point": "added",
    }
    assert query(
        workspace,
        "SELECT kind, source_name, rows_read, accepted, updated, report FROM imports",
    ) == [("services", "app: added service S-0001", 1, 1, 0, None)]
    assert query(workspace, "SELECT import_id, open_at_night FROM services") == [
        (done.import_id, False)
    ]
    row = read_services(workspace).row(0, named=True)
    assert (row["name"], row["latitude"], row["longitude"]) == ("Centro", *LIMA_POINT)
    second = add_service(workspace, name="Otro", service_type="shelter", cell=HOME_CELL)
    assert second.service_id == "S-0002"


def test_update_round_trip_changes_only_what_is_given(registry: Workspace) -> None:
    before = counts(registry)["imports"]
    done = update_service(
        registry, "NIGHT", opening_hours="Th-Su 20:00-05:00", active_until=dt.date(2026, 12, 31)
    )
    assert [(c.field, c.before, c.after) for c in done.changes] == [
        ("opening_hours", "Th-Sa 20:00-04:00", "Th-Su 20:00-05:00"),
        ("active_until", None, dt.date(2026, 12, 31)),
    ]
    assert done.summary() == "changed service NIGHT: opening_hours, active_until"
    row = read_services(registry).filter(pl.col("id") == "NIGHT").row(0, named=True)
    assert row["opening_hours"] == "Th-Su 20:00-05:00" and row["free"] is True
    assert row["latitude"] == LIMA_POINT[0]  # the point stays
    assert query(registry, "SELECT source_name, updated FROM imports ORDER BY id DESC LIMIT 1") == [
        ("app: changed service NIGHT: opening_hours, active_until", 1)
    ]
    assert query(registry, "SELECT import_id FROM services WHERE id = 'NIGHT'") == [
        (done.import_id,)
    ]
    # nothing to change: nothing written
    same = update_service(registry, "NIGHT", opening_hours="Th-Su 20:00-05:00", free=KEEP)
    assert same.changes == () and same.import_id is None
    assert counts(registry)["imports"] == before + 1


def test_making_a_service_sensitive_drops_its_point(registry: Workspace) -> None:
    done = update_service(registry, "DAY", sensitive=True)
    assert [(c.field, c.before, c.after) for c in done.changes] == [
        ("sensitive", False, True),
        ("point", None, "removed"),
    ]
    assert query(registry, "SELECT location, sensitive FROM services WHERE id = 'DAY'") == [
        (None, 1)
    ]
    # a point given to a sensitive service is dropped too
    moved = update_service(registry, "HOME", point=LIMA_POINT)
    assert [c.field for c in moved.changes] == ["cell"]
    assert query(registry, "SELECT location FROM services WHERE id = 'HOME'") == [(None,)]


def test_moving_a_public_service(registry: Workspace) -> None:
    moved = update_service(registry, "NIGHT", point=MIRAFLORES_POINT)
    cells = (h3.latlng_to_cell(*LIMA_POINT, 8), h3.latlng_to_cell(*MIRAFLORES_POINT, 8))
    assert [(c.field, c.before, c.after) for c in moved.changes] == [
        ("cell", *cells),
        ("point", None, "moved"),
    ]
    # to another cell without a point: the old point cannot stay
    again = update_service(registry, "NIGHT", cell=HOME_CELL)
    assert [(c.field, c.after) for c in again.changes] == [
        ("cell", HOME_CELL),
        ("point", "removed"),
    ]
    closed = update_service(registry, "NIGHT", active_until=dt.date(2026, 3, 1))
    assert closed.fields == ["active_until"]
    assert "NIGHT" not in ids(
        filter_services(read_services(registry), ServiceFilter(), now=WEDNESDAY_1000)
    )


def test_the_file_and_the_app_agree_on_fingerprints(workspace: Workspace, tmp_path: Any) -> None:
    """A file holding exactly what the app saved changes nothing when imported."""
    add_service(
        workspace,
        service_id="F1",
        name="Centro",
        service_type="drop_in_centre",
        cell=HOME_CELL,
        friendly=True,
        opening_hours="Mo-Fr 10:00-18:00",
    )
    path = tmp_path / "services.csv"
    path.write_text(
        csv_text(
            ["id", "name", "type", "cell", "friendly", "opening_hours"],
            [["F1", "Centro", "drop_in_centre", HOME_CELL, "yes", "Mo-Fr 10:00-18:00"]],
        )
    )
    result = services_from_file(workspace, path)
    assert (result.accepted, result.duplicates) == (0, 1)


# --- problems: each named with its field, value and fix -----------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "   "}, r"name is empty — give the service's name"),
        ({"name": "+51 987 654 321"}, r"name \(hidden\) looks like a phone number — give the"),
        ({"name": "x" * 201}, r"name 'xxx.*'… is longer than 200 characters — shorten"),
        (
            {"name": "Centro\u200bX"},
            r"name 'Centro\\u200bX' contains a line break, control or invisible character "
            r"\(U\+200B ZERO WIDTH SPACE\) — type it again by hand",
        ),
        (
            {"service_type": "clinic"},
            r"service type 'clinic' is not known — use one of: drop_in_centre,",
        ),
        (
            {"opening_hours": "Mo-Fr 8-17"},
            r"opening hours 'Mo-Fr 8-17' are not OpenStreetMap opening_hours — write OSM "
            r"opening_hours, e\.g\. Mo-Fr 08:00-17:00",
        ),
        (
            {"active_from": dt.date(2026, 5, 1), "active_until": dt.date(2026, 4, 1)},
            r"active_until 2026-04-01 is before active_from 2026-05-01 — a service closes after",
        ),
        ({"service_id": "DAY"}, r"id 'DAY' is already used by another service — choose another id"),
        ({"service_id": "S" * 65}, r"id 'SSS.*'… is longer than 64 characters — use a short code"),
        ({"cell": None}, r"no place given — click the map where the service is"),
        (
            {"cell": "not-a-cell"},
            r"cell 'not-a-cell' is not an H3 cell id — give the 15-character id",
        ),
        (
            {"cell": h3.latlng_to_cell(*LIMA_POINT, 6)},
            rf"cell {h3.latlng_to_cell(*LIMA_POINT, 6)} is coarser than the workspace's "
            r"resolution 8 — give a cell at resolution 8",
        ),
        (
            {"cell": h3.latlng_to_cell(-13.532, -71.9675, 8)},
            r"cell 88[0-9a-f]{13} is outside the area's districts — place the service inside "
            r"a district",
        ),
        (
            {"cell": None, "point": (136.8, -77.0)},
            r"point \(hidden\) is not a latitude in -90\.\.90 and a longitude in "
            r"-180\.\.180 — give \(latitude, longitude\)",
        ),
        (
            {"point": MIRAFLORES_POINT},
            r"point \(hidden\) is not in cell 888e.* — give the point or the cell, not both",
        ),
    ],
)
def test_add_problems_name_field_value_and_fix(
    registry: Workspace, changes: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {
        "name": "Centro",
        "service_type": "drop_in_centre",
        "cell": h3.latlng_to_cell(*LIMA_POINT, 8),
    }
    arguments.update(changes)
    before = counts(registry)
    with pytest.raises(InvalidInputError, match=message):
        add_service(registry, **arguments)
    assert counts(registry) == before  # nothing written, not even the change's record
    plan = add_service(registry, dry_run=True, **arguments)
    assert len(plan.problems) == 1 and re.search(message, plan.problems[0].text)


def test_every_problem_is_reported_together(registry: Workspace) -> None:
    with pytest.raises(InvalidInputError) as caught:
        add_service(registry, name="", service_type="clinic", opening_hours="later")
    assert [line.split(" — ")[0] for line in str(caught.value).splitlines()] == [
        "no place given",
        "name is empty",
        "service type 'clinic' is not known",
        "opening hours 'later' are not OpenStreetMap opening_hours",
    ]


def test_update_problems(registry: Workspace) -> None:
    with pytest.raises(InvalidInputError, match=r"no service has id 'NOPE' — pick an id from the"):
        update_service(registry, "NOPE", free=True)
    with pytest.raises(InvalidInputError, match=r"active_until 2025-12-31 is before active_from"):
        update_service(
            registry, "DAY", active_from=dt.date(2026, 1, 1), active_until=dt.date(2025, 12, 31)
        )
    with pytest.raises(InvalidInputError, match=r"cell 'x' is not an H3 cell id"):
        update_service(registry, "DAY", cell="x")


def test_no_coordinate_of_a_sensitive_service_reaches_a_file(registry: Workspace) -> None:
    """The point given to HOME is in no file of the workspace, as text or as a number."""
    update_service(registry, "UNKNOWN", sensitive=True, point=HOME)
    with registry.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(sa.text("PRAGMA wal_checkpoint(FULL)"))
    needles = {}
    for value in HOME:
        for decimals in (5, 6, 7):
            needles[f"{value:.{decimals}f}"] = f"{value:.{decimals}f}".encode()
        for fmt in ("<d", ">d", "<f", ">f"):
            needles[f"{fmt} {value}"] = struct.pack(fmt, value)
    for path in registry.path.rglob("*"):
        if path.is_file() and path.name != "secret.key":
            data = path.read_bytes()
            found = [name for name, needle in needles.items() if needle in data]
            assert not found, (path.name, found)
