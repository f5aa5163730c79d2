"""Prepare, preview, commit: the preview tells exactly what a commit does, and stores nothing."""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import polars as pl
import pytest
import shapely
import sqlalchemy as sa
from helpers import assert_adds_up, copy_workspace, csv_text, query

from mapping.errors import InvalidInputError, UnusableFileError, WorkspaceError
from mapping.ingest.batch import ImportResult, PreparedImport, commit_prepared, preview_prepared
from mapping.ingest.readers import table_from_bytes
from mapping.ingest.uploads import IMPORT_KINDS, prepare_upload
from mapping.privacy import normalise_code
from mapping.storage.workspace import Workspace

#: Every workspace test here runs on SQLite and on a real PostgreSQL server.
pytestmark = pytest.mark.engines

#: Distinctive points inside Lima (7 decimals, unlike any district vertex), and one outside.
POINTS = [
    ("-12.0463712", "-77.0428137"),
    ("-12.1211386", "-77.0297149"),
    ("-11.9876543", "-77.0612345"),
    ("-12.0723451", "-77.0165432"),
]
CUSCO = ("-13.5318765", "-71.9674321")
CODES = ["QXZMAJO8501", "WVKROSA7702", "ZZTOP-JUNE-66"]


def visits_file() -> tuple[bytes, str]:
    """Five visits: four in Lima (one a repeated contact), one in Cusco (rejected)."""
    header = ("fecha", "educadora_par", "latitud", "longitud", "codigo_unico", "condones")
    rows = [
        [f"2026-02-0{i + 1}", f"PE{i % 2}", lat, lng, CODES[i % len(CODES)], str(i)]
        for i, (lat, lng) in enumerate(POINTS)
    ]
    rows.append(["2026-02-09", "PE1", *CUSCO, "KLMNOP4321", "3"])
    return csv_text(header, rows).encode(), "visitas.csv"


def services_file(hours: str = "Mo-Fr 08:00-17:00") -> tuple[bytes, str]:
    """A public clinic, a sensitive service (its point must go), one outside the area."""
    header = ("id", "name", "type", "latitude", "longitude", "sensitive", "opening_hours")
    rows = [
        ["S1", "Centro de salud", "vct", *POINTS[0], "no", hours],
        ["S2", "Médica de confianza", "prep", *POINTS[1], "sí", "Fr 20:00-02:00"],
        ["S3", "Clínica lejana", "vct", *CUSCO, "no", ""],
    ]
    return csv_text(header, rows).encode(), "servicios.csv"


def hotspots_file() -> tuple[bytes, str]:
    """Two hotspots given by points (stored as cells), one with an unknown typology."""
    header = ("id", "lat", "lon", "tipologia", "size_min", "size_max")
    rows = [
        ["H1", *POINTS[2], "calle", "3", "8"],
        ["H2", *POINTS[3], "bar", "5", "12"],
        ["H3", *POINTS[0], "casino", "", ""],
    ]
    return csv_text(header, rows).encode(), "puntos.csv"


FILES: dict[str, Callable[[], tuple[bytes, str]]] = {
    "visits": visits_file,
    "services": services_file,
    "hotspots": hotspots_file,
}


def every_table(workspace: Workspace) -> dict[str, int]:
    """The number of rows in every table of the store (SQLite's own included)."""
    with workspace.connect() as connection:
        names = (
            connection.execute(
                sa.text("SELECT name FROM sqlite_master WHERE type = 'table'")
            ).scalars()
            if connection.dialect.name == "sqlite"
            else sa.inspect(connection).get_table_names()
        )
        return {
            name: int(connection.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one())
            for name in names
        }


def reports(workspace: Workspace) -> list[Path]:
    return sorted(workspace.reports_dir.iterdir())


def counts_of(result: ImportResult) -> tuple[int, int, int, int, int]:
    return (
        result.rows_read,
        result.accepted,
        result.updated,
        result.duplicates,
        result.rejected,
    )


def prepared(workspace: Workspace, kind: str) -> PreparedImport:
    data, name = FILES[kind]()
    return prepare_upload(workspace, kind, data, source_name=name)


@pytest.mark.parametrize("kind", IMPORT_KINDS)
def test_preview_gives_the_commits_counts_and_stores_nothing(
    kind: str, workspace: Workspace
) -> None:
    ready = prepared(workspace, kind)
    tables, files = every_table(workspace), reports(workspace)

    preview = preview_prepared(workspace, ready)
    again = preview_prepared(workspace, ready)

    assert every_table(workspace) == tables
    assert reports(workspace) == files
    assert preview.report is None
    assert counts_of(again) == counts_of(preview)
    assert_adds_up(preview)
    assert preview.accepted > 0 and preview.rejected == 1

    committed = commit_prepared(workspace, ready)

    assert counts_of(committed) == counts_of(preview)
    assert committed.report is not None and committed.report.is_file()
    assert reports(workspace) == [*files, committed.report]
    stored = every_table(workspace)
    assert stored["imports"] == tables["imports"] + 1
    assert stored[kind] == tables[kind] + committed.accepted
    data, name = FILES[kind]()
    assert query(workspace, "SELECT kind, source_name, source_sha256, accepted FROM imports") == [
        (kind, name, hashlib.sha256(data).hexdigest(), committed.accepted)
    ]


@pytest.mark.parametrize("kind", IMPORT_KINDS)
def test_the_same_file_again_is_all_duplicates(kind: str, workspace: Workspace) -> None:
    first = commit_prepared(workspace, prepared(workspace, kind))
    stored = every_table(workspace)

    ready = prepared(workspace, kind)
    preview = preview_prepared(workspace, ready)
    second = commit_prepared(workspace, ready)

    expected = (first.rows_read, 0, 0, first.accepted, first.rejected)
    assert counts_of(preview) == counts_of(second) == expected
    after = every_table(workspace)
    assert after.pop("imports") == stored.pop("imports") + 1
    # the audit log records the attempt (who imported what): a log of actions, not data
    assert after.pop("audit_log") == stored.pop("audit_log") + 1
    assert after == stored


def test_preview_counts_an_update_the_way_the_commit_does(workspace: Workspace) -> None:
    commit_prepared(workspace, prepared(workspace, "services"))
    data, name = services_file(hours="Mo-Sa 08:00-20:00")  # S1 changed its hours
    ready = prepare_upload(workspace, "services", data, source_name=name)

    preview = preview_prepared(workspace, ready)
    assert query(workspace, "SELECT opening_hours FROM services WHERE id = 'S1'") == [
        ("Mo-Fr 08:00-17:00",)
    ]
    committed = commit_prepared(workspace, ready)

    assert counts_of(preview) == counts_of(committed) == (3, 1, 1, 1, 1)
    assert query(workspace, "SELECT opening_hours FROM services WHERE id = 'S1'") == [
        ("Mo-Sa 08:00-20:00",)
    ]


def test_preview_on_the_demo_workspace_matches_the_commit(
    demo_workspace: Path, tmp_path: Path
) -> None:
    """On a store that already holds a year of visits, peer educators, contacts and profiles."""
    workspace = copy_workspace(demo_workspace, tmp_path / "demo")
    data, name = visits_file()
    ready = prepare_upload(workspace, "visits", data, source_name=name)
    tables = every_table(workspace)
    preview = preview_prepared(workspace, ready)
    assert every_table(workspace) == tables
    assert counts_of(commit_prepared(workspace, ready)) == counts_of(preview) == (5, 4, 0, 0, 1)


def needles(points: list[tuple[str, str]], codes: list[str]) -> dict[str, bytes]:
    """Coordinates as text (shortened down to 4 decimals) and as float bytes; raw codes."""
    found: dict[str, bytes] = {}
    for point in points:
        for text in point:
            whole, decimals = text.lstrip("-").split(".")
            for places in range(4, len(decimals) + 1):
                short = f"{whole}.{decimals[:places]}"
                found[f"text {short}"] = short.encode()
                found[f"utf-16 {short}"] = short.encode("utf-16-le")
            for fmt in ("<d", ">d", "<f", ">f"):
                found[f"{fmt} {text}"] = struct.pack(fmt, float(text))
                found[f"{fmt} {text} rounded"] = struct.pack(fmt, round(float(text), 6))
    for code in codes:
        for spelling in (code, normalise_code(code), code.lower()):
            found[f"code {spelling}"] = spelling.encode()
            found[f"utf-16 code {spelling}"] = spelling.encode("utf-16-le")
    return found


def in_pickle(kept: object, looked_for: dict[str, bytes]) -> list[str]:
    data = pickle.dumps(kept)
    return [label for label, needle in looked_for.items() if needle in data]


@pytest.mark.parametrize("kind", IMPORT_KINDS)
def test_the_search_finds_coordinates_in_the_file_read_as_a_table(kind: str) -> None:
    """The control: before preparing, the pickled table holds the coordinates as text."""
    data, name = FILES[kind]()
    lat, lng = POINTS[2] if kind == "hotspots" else POINTS[1]
    found = in_pickle(table_from_bytes(data, source_name=name), needles([(lat, lng)], []))
    assert f"text {lat[1:]}" in found and f"text {lng[1:]}" in found


def test_prepared_visits_hold_no_coordinate_and_no_contact_code(workspace: Workspace) -> None:
    ready = prepared(workspace, "visits")
    assert ready.rows.height == 4 and ready.contacts is not None
    assert in_pickle(ready, needles([*POINTS, CUSCO], [*CODES, "KLMNOP4321"])) == []
    # what it does hold: cells and the contacts' keyed hashes, for the accepted rows only
    assert ready.rows["cell"].null_count() == 0
    assert ready.contacts.height == len(CODES)
    assert "contact_code" not in ready.rows.columns


def test_prepared_services_hold_no_point_of_a_sensitive_one(workspace: Workspace) -> None:
    ready = prepared(workspace, "services")
    # the public clinic keeps its point, as the store does; the sensitive one only a cell
    assert in_pickle(ready, needles([POINTS[1], CUSCO], [])) == []
    locations = dict(zip(ready.rows["facility_id"], ready.rows["location"], strict=True))
    assert locations["S2"] is None
    kept = shapely.from_wkb(locations["S1"])
    assert (kept.x, kept.y) == (round(float(POINTS[0][1]), 6), round(float(POINTS[0][0]), 6))


def test_prepared_hotspots_hold_cells_only(workspace: Workspace) -> None:
    ready = prepared(workspace, "hotspots")
    assert in_pickle(ready, needles(POINTS, [])) == []
    assert set(ready.rows.columns) >= {"id", "cell", "typology"}
    assert not {"latitude", "longitude", "location"} & set(ready.rows.columns)


def test_rejected_rows_are_kept_with_redacted_values(workspace: Workspace) -> None:
    ready = prepared(workspace, "visits")
    problems = ready.problems.frame()
    assert problems.select("row", "field", "value", "problem").rows() == [
        (6, "location", "(redacted)", "is outside every district of the area")
    ]
    assert problems["fix"][0].startswith("check the point")


def test_an_upload_is_read_from_memory_in_each_format(workspace: Workspace) -> None:
    """GeoJSON, GeoPackage and XLSX come as bytes too, and give the CSV's counts."""
    points = gpd.GeoDataFrame(
        {"fecha": ["2026-02-01", "2026-02-02"], "educadora_par": ["PE1", "PE2"]},
        geometry=[shapely.Point(float(lng), float(lat)) for lat, lng in POINTS[:2]],
        crs=4326,
    )
    for driver, name in (("GeoJSON", "v.geojson"), ("GPKG", "v.gpkg")):
        buffer = io.BytesIO()
        points.to_file(buffer, driver=driver, layer="visits")
        ready = prepare_upload(workspace, "visits", buffer.getvalue(), source_name=name)
        assert (ready.rows_read, ready.rows.height, ready.rejected) == (2, 2, 0), name
    sheet = io.BytesIO()
    pl.DataFrame(
        {
            "fecha": ["2026-02-01"],
            "educadora_par": ["PE1"],
            "latitud": [POINTS[0][0]],
            "longitud": [POINTS[0][1]],
        }
    ).write_excel(sheet)
    ready = prepare_upload(workspace, "visits", sheet.getvalue(), source_name="v.xlsx")
    assert (ready.rows_read, ready.rows.height) == (1, 1)


def test_an_unknown_kind_is_refused(workspace: Workspace) -> None:
    with pytest.raises(InvalidInputError, match=r"cannot import 'people' — choose visits, "):
        prepare_upload(workspace, "people", b"a,b\n1,2\n", source_name="x.csv")


def test_a_shapefile_alone_or_an_empty_upload_is_refused() -> None:
    with pytest.raises(UnusableFileError, match=r"a\.shp is a Shapefile, which needs its \.shx"):
        table_from_bytes(b"\x00\x00\x27\x0a", source_name="a.shp")
    with pytest.raises(UnusableFileError, match=r"^b\.csv is empty — export the data again"):
        table_from_bytes(b"", source_name="b.csv")


def test_a_file_without_its_key_column_is_refused_before_anything_is_prepared(
    workspace: Workspace,
) -> None:
    with pytest.raises(UnusableFileError, match="has no service type column"):
        prepare_upload(workspace, "services", b"id,name\nS1,x\n", source_name="s.csv")


def test_a_prepared_import_is_committed_only_where_it_was_prepared(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    ready = prepared(workspace, "visits")
    tables = every_table(other_workspace)
    with pytest.raises(WorkspaceError, match=r"visitas\.csv was prepared for the workspace .*"):
        commit_prepared(other_workspace, ready)
    with pytest.raises(WorkspaceError, match=r"prepare the file again for this workspace"):
        preview_prepared(other_workspace, ready)
    assert every_table(other_workspace) == tables
