"""Helpers shared by the tests: writing input files, reading reports, counting what is stored."""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import re
import shutil
import sqlite3
import string
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h3
import shapely
import sqlalchemy as sa

from mapping.access.accounts import sign_in
from mapping.access.locks import DEVICE_COOKIE, device_ticket
from mapping.ingest.batch import REPORT_COLUMNS, ImportResult
from mapping.storage.workspace import Workspace, open_workspace

DATA = Path("/work/shared/data/lima_peru")
DISTRICTS_SOURCE = DATA / "lima_callao_districts_simplified.geojson"
FACILITIES_SOURCE = DATA / "lima_callao_facilities_minsa_ipress.csv"

#: Points inside the area (central Lima, Miraflores) and clearly outside it (Cusco).
LIMA = ("-12.0464", "-77.0428")
MIRAFLORES = ("-12.1211", "-77.0297")
CUSCO = ("-13.5320", "-71.9675")

#: Every table the importers write to.
TABLES = (
    "imports",
    "peer_educators",
    "contacts",
    "visit_profiles",
    "visits",
    "services",
    "hotspots",
)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]], delimiter: str = ",") -> str:
    """Return CSV text (quoted where needed) for a header and rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> Path:
    """Write a CSV file and return its path."""
    path.write_bytes(csv_text(header, rows, delimiter).encode(encoding))
    return path


def counts(workspace: Workspace) -> dict[str, int]:
    """Return the number of rows in each table the importers write to."""
    with workspace.connect() as connection:
        return {
            table: int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in TABLES
        }


def query(workspace: Workspace, sql: str, **params: object) -> list[tuple[object, ...]]:
    """Run a read-only SQL query on the workspace store and return its rows."""
    with workspace.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql), params)]


def report_rows(result: ImportResult) -> list[dict[str, str]]:
    """Return the rows of an import's rejection report, checking its columns."""
    assert result.report is not None
    with result.report.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == REPORT_COLUMNS
        return list(reader)


def problems_by_row(result: ImportResult) -> dict[int, list[tuple[str, str]]]:
    """Return (field, problem) pairs of the report, by spreadsheet row number."""
    found: dict[int, list[tuple[str, str]]] = {}
    for line in report_rows(result):
        found.setdefault(int(line["row"]), []).append((line["field"], line["problem"]))
    return found


def assert_adds_up(result: ImportResult) -> None:
    """Every row read is accepted, a duplicate, skipped or rejected, exactly once."""
    assert (
        result.rows_read == result.accepted + result.duplicates + result.skipped + result.rejected
    ), result


def copy_workspace(template: Path, target: Path) -> Workspace:
    """Copy a workspace folder (store, key with its 0600 mode, reports) and open the copy.

    The store is copied with SQLite's backup API, not as files: the template may be open in
    the app of another test, with writes still in its write-ahead log.
    """
    shutil.copytree(template, target, ignore=shutil.ignore_patterns("outreach.db*"))
    os.close(os.open(target / "outreach.db", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    source = sqlite3.connect(template / "outreach.db")
    copy = sqlite3.connect(target / "outreach.db")
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return open_workspace(target)


def copy_workspace_to_server(template: Path, target: Path, url: str) -> Workspace:
    """Copy a workspace folder without its SQLite store, pointing it at the store at ``url``."""
    shutil.copytree(template, target, ignore=shutil.ignore_patterns("outreach.db*"))
    config = target / "workspace.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r'(?m)^url = ".*"$', f'url = "{url}"', text), encoding="utf-8")
    return open_workspace(target)


#: Password of the accounts tests create (long enough for the product's rule).
TEST_PASSWORD = "a long test password"


def account_token(path: Path, role: str = "coordinator", teams: Sequence[str] = ()) -> str:
    """Create the account ``test-<role>`` in a workspace if needed; return a new session token.

    Set it as ``at.session_state["auth_token"]`` before an AppTest runs: the app then checks it
    on the server, as it does for a person who signed in through the form.
    """
    from mapping.access.accounts import add_account, find_account, sign_in
    from mapping.storage.audit import Actor
    from mapping.storage.workspace import open_workspace

    workspace = open_workspace(path)
    with workspace.begin() as connection:
        name = f"test-{role}"
        if find_account(connection, name) is None:
            add_account(
                connection,
                name,
                role,
                by=Actor("test", "admin"),
                password=TEST_PASSWORD,
                teams=teams,
            )
    token, _ = sign_in(workspace, name, TEST_PASSWORD)
    return token


def folium_rings(html: str) -> list[list[tuple[float, float]]]:
    """Return every polygon ring of the GeoJSON layers in a folium map's HTML, as (lat, lng)."""
    rings: list[list[tuple[float, float]]] = []
    for block in re.findall(r"_add\((\{.*?\})\);\n", html, re.S):
        layer = json.loads(block)
        for feature in layer.get("features", []):
            geometry = feature.get("geometry") or {}
            polygons = {"Polygon": [geometry.get("coordinates")], "MultiPolygon": None}.get(
                geometry.get("type", ""), []
            )
            if geometry.get("type") == "MultiPolygon":
                polygons = geometry["coordinates"]
            for polygon in polygons or []:
                rings += [[(lat, lng) for lng, lat in ring] for ring in polygon]
    return rings


def drawn_cells(rings: Iterable[Sequence[tuple[float, float]]]) -> dict[int, int]:
    """Return the H3 cells that drawn rings are exactly the outline of, with their resolution.

    A ring of 5 or 6 distinct corners is compared, to 5 decimals, with the outline of the
    cell holding its centre at each resolution; district outlines have far more corners.
    """
    found: dict[int, int] = {}
    for ring in rings:
        corners = {(round(lat, 5), round(lng, 5)) for lat, lng in ring}
        if not 5 <= len(corners) <= 6:
            continue
        lat = sum(c[0] for c in corners) / len(corners)
        lng = sum(c[1] for c in corners) / len(corners)
        for resolution in range(16):
            cell = h3.latlng_to_cell(lat, lng, resolution)
            outline = {(round(a, 5), round(b, 5)) for a, b in h3.cell_to_boundary(cell)}
            if outline == corners:
                found[h3.str_to_int(cell)] = resolution
                break
    return found


def app_maps(at: Any) -> list[str]:
    """Return the HTML of every folium map an AppTest run drew (st_folium's payload)."""
    return [
        json.loads(element.proto.json_args)["script"]
        for element in at.get("component_instance")
        if element.proto.component_name == "streamlit_folium.st_folium"
    ]


def english_fragments(section: str = "runsheet", language: str = "es") -> set[str]:
    """Every run of English words (two or more) of a locale section that ``language`` lacks.

    What a text in Spanish (or French) must not hold: pieces between the placeholders and
    punctuation of each English text, of six characters or more, not in the key's own text.
    """
    from mapping.i18n import catalogue

    english, spanish = catalogue("en"), catalogue(language)
    fragments = set()
    for key, text in english.items():
        if not key.startswith(f"{section}."):
            continue
        for literal, *_ in string.Formatter().parse(text):
            for piece in re.split(r"[(),.:;·×=]", literal):
                piece = piece.strip()
                if " " in piece and len(piece) >= 6 and piece not in spanish[key]:
                    fragments.add(piece)
    return fragments


# --- cells and districts, worked out with h3 and shapely alone (the truth of attribution) ---


def cell_polygon(cell: int) -> shapely.Polygon:
    """The cell's boundary as a lon/lat polygon, from h3 directly."""
    return shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))])


def share(cell: int, ward: shapely.Geometry) -> float:
    """The share of the cell's area lying in the ward."""
    polygon = cell_polygon(cell)
    return float(polygon.intersection(ward).area / polygon.area)


def sliver_target(cell: int, ward: shapely.Geometry) -> int:
    """Where the sliver rule must store a row of ``ward`` in ``cell``, worked out here."""
    own = share(cell, ward)
    if own >= 1 / 7:
        return cell
    disk = sorted(int(h3.str_to_int(c)) for c in h3.grid_disk(h3.int_to_str(cell), 1))
    best = max(disk, key=lambda c: (share(c, ward), -c))
    return best if share(best, ward) > own else cell


def ask(
    url: str, *, method: str = "GET", body: str = "", cookie: str = "", **headers: str
) -> tuple[int, dict[str, str], str]:
    """Send one request without following redirects; return the status, headers and text."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=60)
    sent = dict(headers)
    if cookie:
        sent["Cookie"] = f"{DEVICE_COOKIE}={cookie}"
    if method == "POST":
        sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
    connection.request(method, f"{parts.path}?{parts.query}", body=body.encode(), headers=sent)
    answer = connection.getresponse()
    text = answer.read().decode()
    connection.close()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, text


def device_cookie(url: str, workspace: Workspace, username: str) -> str:
    """Sign ``username`` in with the password, as on the app's page; return the device cookie."""
    token, _ = sign_in(workspace, username, TEST_PASSWORD)
    with workspace.begin() as connection:
        ticket = device_ticket(connection, token)
    status, headers, _ = ask(f"{url}/api/device?ticket={ticket}")
    assert status == 204, status
    return headers["set-cookie"].split(";")[0].split("=", 1)[1]
