"""Area set-up and registries: workspaces, resolutions, services and hotspots."""

from __future__ import annotations

from pathlib import Path

import h3
import polars as pl
import pytest
import shapely
from helpers import (
    CUSCO,
    FACILITIES_SOURCE,
    LIMA,
    MIRAFLORES,
    assert_adds_up,
    counts,
    csv_text,
    problems_by_row,
    query,
    report_rows,
)

from mapping.cells import check_resolution
from mapping.errors import ResolutionError, UnusableFileError, WorkspaceError
from mapping.ingest.area import districts_from_file, init_area
from mapping.ingest.readers import ColumnMapping, mapping_from_file
from mapping.ingest.registry_files import hotspots_from_file, services_from_file
from mapping.storage.workspace import Workspace, open_workspace
from mapping.vocab import HOTSPOT_TYPOLOGIES, SERVICE_TYPES

LIMA_CELL_8 = h3.latlng_to_cell(float(LIMA[0]), float(LIMA[1]), 8)
MIRAFLORES_CELL_8 = h3.latlng_to_cell(float(MIRAFLORES[0]), float(MIRAFLORES[1]), 8)


def as_int(cell: str) -> int:
    return int(h3.str_to_int(cell))


# --- workspaces and resolutions -------------------------------------------------------------


def test_districts_and_area_cells(template_workspace: Path) -> None:
    workspace = open_workspace(template_workspace)
    assert (workspace.name, workspace.resolution) == ("Lima", 8)
    [(districts, population)] = query(workspace, "SELECT count(*), sum(population) FROM districts")
    assert districts == 50
    assert population > 9_000_000
    cells = {c for (c,) in query(workspace, "SELECT cell FROM area_cells")}
    assert as_int(LIMA_CELL_8) in cells
    assert as_int(MIRAFLORES_CELL_8) in cells
    assert as_int(h3.latlng_to_cell(float(CUSCO[0]), float(CUSCO[1]), 8)) not in cells
    assert all(h3.get_resolution(h3.int_to_str(c)) == 8 for c in list(cells)[:100])
    [(district,)] = query(
        workspace, "SELECT district_id FROM area_cells WHERE cell = :c", c=as_int(MIRAFLORES_CELL_8)
    )
    assert district == "PE-150122"


@pytest.mark.parametrize(
    ("resolution", "message"), [(10, "finer than 9"), (15, "finer than 9"), (5, "coarser than 6")]
)
def test_resolution_outside_6_to_9_is_refused(
    districts_file: Path, tmp_path: Path, resolution: int, message: str
) -> None:
    districts = districts_from_file(districts_file, id_column="district_id", name_column="district")
    with pytest.raises(ResolutionError, match=message):
        init_area(tmp_path / "fine", districts, name="Lima", resolution=resolution)
    assert not (tmp_path / "fine").exists()


def test_resolution_limit_follows_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ResolutionError, match="finer than 9"):
        check_resolution(10)
    monkeypatch.setenv("OUTREACH_MAP_MAX_RESOLUTION", "7")
    with pytest.raises(ResolutionError, match="finer than 7"):
        check_resolution(8)


def test_a_folder_is_a_workspace_only_once(template_workspace: Path, districts_file: Path) -> None:
    districts = districts_from_file(districts_file, id_column="district_id", name_column="district")
    with pytest.raises(WorkspaceError, match="already a workspace"):
        init_area(template_workspace, districts, name="Again", resolution=8)


def test_district_file_problems(districts_file: Path, tmp_path: Path) -> None:
    with pytest.raises(UnusableFileError, match="no column 'distrito'"):
        districts_from_file(districts_file, id_column="district_id", name_column="distrito")
    with pytest.raises(UnusableFileError, match="could not be read"):
        districts_from_file(tmp_path / "missing.geojson", id_column="a", name_column="b")
    with pytest.raises(
        UnusableFileError,
        match=r"feature 8, district LIMA: its id 'LIMA' is also the id of features 9, 10, 11, "
        r"12, 13, 14, 15, 16, 17, 18 and 32 more — give each district its own id",
    ):
        districts_from_file(districts_file, id_column="province", name_column="district")
    with pytest.raises(WorkspaceError, match="is not a workspace"):
        open_workspace(tmp_path)


# --- services -------------------------------------------------------------------------------

MINSA_MAPPING = """\
[columns]
id = "facility_id"
name = "name"
service_type = "classification"

[values.service_type]
"CENTROS DE SALUD O CENTROS MEDICOS" = "hiv_testing"
"CENTROS DE SALUD CON CAMAS DE INTERNAMIENTO" = "sti_clinic"
"PUESTOS DE SALUD O POSTAS DE SALUD" = "condom_outlet"
"POLICLINICOS" = "hiv_testing"
"HOSPITALES O CLINICAS DE ATENCION GENERAL" = "hiv_treatment"

[defaults]
free = "yes"
opening_hours = "Mo-Sa 08:00-20:00"
"""
MAPPED = {
    "CENTROS DE SALUD O CENTROS MEDICOS": "hiv_testing",
    "CENTROS DE SALUD CON CAMAS DE INTERNAMIENTO": "sti_clinic",
    "PUESTOS DE SALUD O POSTAS DE SALUD": "condom_outlet",
    "POLICLINICOS": "hiv_testing",
    "HOSPITALES O CLINICAS DE ATENCION GENERAL": "hiv_treatment",
}
#: The area's bounding box (west, south, east, north): points beyond it are far outside Lima.
AREA_BOUNDS = (-77.20, -12.52, -76.62, -11.57)


def test_minsa_facility_registry(workspace: Workspace, tmp_path: Path) -> None:
    mapping_path = tmp_path / "minsa.toml"
    mapping_path.write_text(MINSA_MAPPING, encoding="utf-8")
    mapping = mapping_from_file(mapping_path)
    facilities = pl.read_csv(FACILITIES_SOURCE, infer_schema=False).with_row_index("row", offset=2)

    result = services_from_file(workspace, FACILITIES_SOURCE, mapping=mapping)

    assert_adds_up(result)
    assert result.rows_read == facilities.height
    problems = problems_by_row(result)
    west, south, east, north = AREA_BOUNDS
    far = facilities.filter(
        ~pl.col("lat").cast(pl.Float64).is_between(south, north)
        | ~pl.col("lon").cast(pl.Float64).is_between(west, east)
    )
    assert far.height >= 20
    for row in far["row"]:
        assert ("location", "is outside every district of the area") in problems[row]
    unmapped = facilities.filter(
        pl.col("classification").is_not_null() & ~pl.col("classification").is_in(list(MAPPED))
    )
    for row in unmapped["row"]:
        assert ("service_type", "is not a known value") in problems[row]
    accepted = facilities.filter(~pl.col("row").is_in(list(problems)))
    assert accepted.height == result.accepted
    assert accepted["classification"].is_in(list(MAPPED)).all()
    assert counts(workspace)["services"] == result.accepted

    # a public facility keeps its point, its type, and the defaults of the mapping file
    sample = accepted.row(0, named=True)
    [(name, kind, location, sensitive, free, hours, night)] = query(
        workspace,
        "SELECT name, service_type, location, sensitive, free, opening_hours, open_at_night "
        "FROM services WHERE id = :id",
        id=sample["facility_id"],
    )
    assert name == sample["name"]
    assert kind == SERVICE_TYPES.index(MAPPED[sample["classification"]]) + 1
    point = shapely.from_wkb(location)
    assert (point.y, point.x) == pytest.approx(
        (float(sample["lat"]), float(sample["lon"])), abs=1e-6
    )
    assert (sensitive, free, hours, night) == (0, 1, "Mo-Sa 08:00-20:00", 0)

    again = services_from_file(workspace, FACILITIES_SOURCE, mapping=mapping)
    assert (again.accepted, again.duplicates, again.rejected) == (
        0,
        result.accepted,
        result.rejected,
    )


SERVICES_HEADER = (
    "id",
    "name",
    "type",
    "latitude",
    "longitude",
    "sensitive",
    "friendly",
    "opening_hours",
    "cell",
)


def test_sensitive_service_keeps_no_point(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "services.csv"
    path.write_text(
        csv_text(
            SERVICES_HEADER,
            [
                ["S1", "Casa de acogida", "shelter", *MIRAFLORES, "sí", "yes", "24/7", ""],
                ["S2", "CERITS Centro", "its", *LIMA, "no", "", "Mo-Fr 08:00-17:00", ""],
                [
                    "S3",
                    "Médica de confianza",
                    "prep",
                    "",
                    "",
                    "yes",
                    "",
                    "Vi 20:00-02:00",
                    LIMA_CELL_8,
                ],
                ["S4", "Clínica lejana", "vct", *CUSCO, "no", "", "", ""],
                ["S5", "Horario raro", "vct", *LIMA, "no", "", "cuando se pueda", ""],
                ["S6", "Sin tipo", "", *LIMA, "no", "", "", ""],
                ["S7", "Sin lugar", "legal", "", "", "no", "", "", ""],
                ["S8", "Bandera rara", "legal", *LIMA, "quizás", "", "", ""],
            ],
        ),
        encoding="utf-8",
    )
    result = services_from_file(workspace, path)

    assert (result.accepted, result.rejected) == (4, 4)
    problems = problems_by_row(result)
    assert problems[5] == [("location", "is outside every district of the area")]
    # unreadable hours keep the service, with hours unknown and a warning naming the row
    assert 6 not in problems
    assert (
        "row 6: opening_hours 'cuando se pueda' is not OpenStreetMap opening_hours — kept with "
        "hours unknown — write OSM opening_hours, e.g. Mo-Fr 08:00-17:00"
    ) in result.warnings
    assert query(workspace, "SELECT opening_hours FROM services WHERE id = 'S5'") == [(None,)]
    assert query(workspace, "SELECT opening_hours FROM services WHERE id = 'S3'") == [
        ("Fr 20:00-02:00",)
    ]
    assert problems[7] == [("service_type", "is empty")]
    assert problems[8] == [("location", "is missing")]
    assert problems[9] == [("sensitive", "is not yes or no")]
    stored = {
        row[0]: row[1:]
        for row in query(
            workspace,
            "SELECT id, sensitive, location, cell, service_type, open_at_night FROM services",
        )
    }
    sensitive, location, cell, kind, night = stored["S1"]
    assert (sensitive, location, night) == (1, None, 1)
    assert cell == as_int(MIRAFLORES_CELL_8)
    assert kind == SERVICE_TYPES.index("shelter") + 1
    assert stored["S2"][1] is not None
    assert shapely.from_wkb(stored["S2"][1]).equals(shapely.Point(float(LIMA[1]), float(LIMA[0])))
    assert stored["S2"][3] == SERVICE_TYPES.index("sti_clinic") + 1
    assert stored["S3"][:3] == (1, None, as_int(LIMA_CELL_8))
    # the sensitive service's point is nowhere in the store
    data = (workspace.path / "outreach.db").read_bytes()
    assert MIRAFLORES[0].encode() not in data
    assert shapely.to_wkb(shapely.Point(float(MIRAFLORES[1]), float(MIRAFLORES[0]))) not in data


def test_changed_service_is_updated(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "services.csv"
    rows = [["S1", "CERITS", "sti", *LIMA, "no", "", "Mo-Fr 08:00-17:00", ""]]
    path.write_text(csv_text(SERVICES_HEADER, rows), encoding="utf-8")
    services_from_file(workspace, path)
    rows[0][7] = "Mo-Fr 08:00-23:00"
    path.write_text(csv_text(SERVICES_HEADER, rows), encoding="utf-8")

    result = services_from_file(workspace, path)

    assert (result.accepted, result.updated, result.duplicates) == (1, 1, 0)
    assert query(workspace, "SELECT opening_hours, open_at_night FROM services") == [
        ("Mo-Fr 08:00-23:00", 1)
    ]


def test_services_file_without_a_type_column(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "services.csv"
    path.write_text("id,latitude,longitude\nS1,-12.05,-77.04\n", encoding="utf-8")
    with pytest.raises(UnusableFileError, match="no service type column"):
        services_from_file(workspace, path)


# --- hotspots -------------------------------------------------------------------------------


def test_hotspots_from_cells_and_points(workspace: Workspace, tmp_path: Path) -> None:
    fine = h3.latlng_to_cell(float(LIMA[0]), float(LIMA[1]), 10)
    coarse = h3.latlng_to_cell(float(LIMA[0]), float(LIMA[1]), 6)
    header = (
        "id",
        "nombre",
        "cell",
        "lat",
        "lon",
        "tipologia",
        "dias",
        "size_min",
        "size_max",
        "activo",
    )
    rows = [
        ["H1", "Bar La Estrella", MIRAFLORES_CELL_8, "", "", "bar", "Vi-Do", "5", "12"],
        ["H2", "Calle 5", fine, "", "", "calle", "", "3", "3"],
        ["H3", "Hostal", coarse, "", "", "hostal", "", "", ""],
        ["H4", "", "not-a-cell", "", "", "bar", "", "", ""],
        ["H5", "", "", *LIMA, "street", "Lu-Sa", "10", "4"],
        ["H6", "", "", *MIRAFLORES, "prostibulo", "", "", "20"],
        ["H7", "", "", *CUSCO, "street", "", "", ""],
        ["H8", "", "", *LIMA, "casino", "", "", ""],
        ["H9", "", "", *LIMA, "street", "", "-1", "2.5"],
        ["H10", "", "", *LIMA, "street", "Lu-Sa", "1", "4"],
    ]
    rows = [[*r, "no" if r[0] == "H10" else ""] for r in rows]
    path = tmp_path / "hotspots.csv"
    path.write_text(csv_text(header, rows), encoding="utf-8")

    result = hotspots_from_file(workspace, path)

    assert_adds_up(result)
    assert (result.accepted, result.rejected) == (4, 6)
    assert any("'nombre' (a name)" in w for w in result.warnings)
    problems = problems_by_row(result)
    assert problems[4] == [
        ("cell", "is coarser than the workspace's resolution 8"),
        ("location", "is missing"),
    ]
    assert problems[5] == [("cell", "is not an H3 cell id"), ("location", "is missing")]
    assert problems[6] == [("size_min", "is larger than size_max")]
    assert problems[8] == [("location", "is outside every district of the area")]
    assert problems[9] == [("typology", "is not a known value")]
    assert {f for f, _ in problems[10]} == {"size_min", "size_max"}
    typology_fix = next(line["fix"] for line in report_rows(result) if line["field"] == "typology")
    assert all(value in typology_fix for value in HOTSPOT_TYPOLOGIES)
    stored = {
        row[0]: row[1:]
        for row in query(
            workspace, "SELECT id, cell, typology, days, size_min, size_max, active FROM hotspots"
        )
    }
    bar, street = HOTSPOT_TYPOLOGIES.index("bar") + 1, HOTSPOT_TYPOLOGIES.index("street") + 1
    brothel = HOTSPOT_TYPOLOGIES.index("brothel") + 1
    assert stored == {
        "H1": (as_int(MIRAFLORES_CELL_8), bar, "fr,sa,su", 5, 12, 1),
        # a finer cell is coarsened to its parent at the workspace's resolution
        "H2": (as_int(h3.cell_to_parent(fine, 8)), street, None, 3, 3, 1),
        # a point becomes its cell and is dropped
        "H6": (as_int(MIRAFLORES_CELL_8), brothel, None, None, 20, 1),
        "H10": (as_int(LIMA_CELL_8), street, "mo,tu,we,th,fr,sa", 1, 4, 0),
    }
    data = (workspace.path / "outreach.db").read_bytes()
    assert b"Bar La Estrella" not in data and b"Hostal" not in data

    again = hotspots_from_file(workspace, path)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 4, 6)


def test_hotspot_without_typology_column(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "hotspots.csv"
    path.write_text(f"id,cell\nH1,{LIMA_CELL_8}\n", encoding="utf-8")
    with pytest.raises(UnusableFileError, match="no typology column"):
        hotspots_from_file(workspace, path, mapping=ColumnMapping())
