"""Real facility registries: flags and lists to service types, rows skipped, the (facility, type)
key, and facilities kept with hours unknown, on areas that are not Lima.

The KMHFL file has the Kenya Master Health Facility List export's own columns (with Latitude
and Longitude added, as its mapping file asks) in invented Nairobi wards; the healthsites.io
file has the HDX export's columns, in invented wards of Bangkok (east of 90°E). Every count
below is worked out by hand from the rows written here.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import geopandas as gpd
import h3
import polars as pl
import pytest
import shapely
from helpers import problems_by_row, query, report_rows, write_csv

from mapping.analysis.coverage import coverage
from mapping.errors import InvalidInputError, UnusableFileError
from mapping.ingest.area import init_area
from mapping.ingest.readers import mapping_from_file
from mapping.ingest.registry_files import hotspots_from_file, services_from_file
from mapping.ingest.visits import visits_from_file
from mapping.registries.service_edits import update_service
from mapping.registries.services import hours_unknown_at, open_at, read_services
from mapping.storage.workspace import Workspace

#: Every test here runs on SQLite and on a real PostgreSQL server.
pytestmark = pytest.mark.engines

DATA = Path(__file__).resolve().parents[1] / "data"
HOURS_FIX = "kept with hours unknown — write OSM opening_hours, e.g. Mo-Fr 08:00-17:00"


def build_area(
    folder: Path, store_url: str | None, wards: list[tuple[str, str, shapely.Polygon]]
) -> Workspace:
    """Return a workspace of the given wards (id, name, polygon in longitude/latitude)."""
    frame = gpd.GeoDataFrame(
        {
            "id": [w[0] for w in wards],
            "name": [w[1] for w in wards],
            "population": [None] * len(wards),
        },
        geometry=[w[2] for w in wards],
        crs=4326,
    )
    return init_area(folder / "area", frame, name="test", resolution=8, db_url=store_url)


# two invented Nairobi wards, about 4.4 km square each
NAIROBI = [
    ("KE-W1", "Kati", shapely.box(36.78, -1.31, 36.82, -1.27)),
    ("KE-W2", "Mashariki", shapely.box(36.82, -1.31, 36.86, -1.27)),
]
#: Points well inside the wards (latitude, longitude), and one far away (Mombasa).
W1_A = (-1.290, 36.795)
W1_B = (-1.280, 36.805)
W2_A = (-1.290, 36.845)
MOMBASA = (-4.050, 39.670)


@pytest.fixture
def nairobi(tmp_path: Path, store_url: str | None) -> Workspace:
    """A fresh workspace of the two Nairobi wards."""
    return build_area(tmp_path, store_url, NAIROBI)


#: The KMHFL "Export Excel" columns (see data/kmhfl_mapping.toml), with the coordinates added.
KMHFL_HEADER = (
    "Code",
    "Name",
    "Officialname",
    "Registration_number",
    "Keph level",
    "Facility type",
    "Facility_type_category",
    "Owner",
    "Owner type",
    "Regulatory body",
    "Beds",
    "Cots",
    "County",
    "Constituency",
    "Sub county",
    "Ward",
    "Operation status",
    "Open_whole_day",
    "Open_public_holidays",
    "Open_weekends",
    "Open_late_night",
    "Service_names",
    "Approved",
    "Public visible",
    "Closed",
    "Latitude",
    "Longitude",
)


def kmhfl_row(
    code: str, name: str, status: str, services: str, where: tuple[float, float], closed: str
) -> list[object]:
    """Return one facility row of the KMHFL export's shape."""
    return [
        code,
        name,
        name,
        "",
        "Level 3",
        "Health Centre",
        "HEALTH CENTRE",
        "Ministry of Health",
        "Ministry of Health",
        "Ministry of Health",
        "4",
        "2",
        "Nairobi",
        "Kibra",
        "Kibra",
        "Laini Saba",
        status,
        "False",
        "False",
        "True",
        "False",
        services,
        "True",
        "True",
        closed,
        *where,
    ]


KMHFL_ROWS = [
    # row 2: testing and treatment (ART), family planning is no service of interest
    kmhfl_row(
        "13023",
        "Kati HC",
        "Operational",
        "HIV Testing Services, ART, Family Planning",
        W1_A,
        "False",
    ),
    # row 3: testing and PrEP
    kmhfl_row("13024", "Mashariki HC", "Operational", "HTS, PrEP", W2_A, "False"),
    # row 4: nothing of interest ("Heart" is not ART): skipped
    kmhfl_row(
        "13025", "Moyo Clinic", "Operational", "Dental Services, Heart clinic", W1_B, "False"
    ),
    # row 5: not operational: skipped
    kmhfl_row("13026", "Old Dispensary", "Non-Operational", "HTS", W1_B, "False"),
    # row 6: closed: skipped
    kmhfl_row("13027", "Closed Clinic", "Operational", "HTS", W1_B, "True"),
    # row 7: in Mombasa, outside the area: rejected (one service: testing)
    kmhfl_row("13028", "Coast Clinic", "Operational", "VCT", MOMBASA, "False"),
    # row 8: comprehensive care only
    kmhfl_row("13029", "Kati CCC", "Operational", "Comprehensive Care Centre (CCC)", W1_B, "False"),
]


def stored_services(workspace: Workspace) -> list[tuple[object, ...]]:
    """Return every service as (id, facility id, type code, opening hours), by id."""
    return query(
        workspace,
        "SELECT id, facility_id, service_type, opening_hours FROM services ORDER BY id",
    )


def import_record(workspace: Workspace) -> tuple[object, ...]:
    """Return the newest import's counts: rows read, accepted, duplicates, skipped, rejected,
    records."""
    [row] = query(
        workspace,
        "SELECT rows_read, accepted, duplicates, skipped, rejected, records FROM imports "
        "ORDER BY id DESC LIMIT 1",
    )
    return row


def test_kmhfl_export_with_its_mapping_file(nairobi: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "kmhfl.csv", KMHFL_HEADER, KMHFL_ROWS)
    mapping = mapping_from_file(DATA / "kmhfl_mapping.toml")

    result = services_from_file(nairobi, path, mapping=mapping)

    # 7 rows: 5 services from rows 2, 3 and 8; rows 4, 5, 6 skipped; row 7 rejected
    assert (result.rows_read, result.accepted, result.duplicates) == (7, 5, 0)
    assert (result.skipped, result.rejected, result.records) == (3, 1, 9)
    assert result.summary().startswith(
        "read 7 rows as 9 records (one per facility and service type): 5 accepted, "
        "0 duplicates, 3 skipped, 1 rejected"
    )
    assert import_record(nairobi) == (7, 5, 0, 3, 1, 9)
    assert problems_by_row(result) == {7: [("location", "is outside every district of the area")]}
    # hiv_testing 2, hiv_treatment 4, prep_pep 5 (mapping.vocab.SERVICE_TYPES)
    assert stored_services(nairobi) == [
        ("13023", "13023", 2, None),
        ("13023:hiv_treatment", "13023", 4, None),
        ("13024", "13024", 2, None),
        ("13024:prep_pep", "13024", 5, None),
        ("13029", "13029", 4, None),
    ]
    warnings = "\n".join(result.warnings)
    assert (
        "skipped 1 row, not a service of interest (row 4): no column of [services] "
        "(Service_names) says it offers a service"
    ) in warnings
    assert (
        "skipped 1 row, not a service of interest (row 5): 'Operation status' is "
        "Non-Operational, not 'Operational'"
    ) in warnings
    assert "skipped 1 row, not a service of interest (row 6): 'Closed' is True" in warnings
    assert (
        f"rows 2, 3, 8: opening_hours is missing — {HOURS_FIX} (or give [defaults] "
        "opening_hours in the mapping file)"
    ) in warnings
    # nothing about the export's other columns is a problem: no rejection but row 7
    assert [line["row"] for line in report_rows(result)] == ["7"]

    again = services_from_file(nairobi, path, mapping=mapping)
    assert (again.accepted, again.duplicates, again.skipped, again.rejected) == (0, 5, 3, 1)
    assert import_record(nairobi) == (7, 0, 5, 3, 1, 9)
    assert len(stored_services(nairobi)) == 5


FLAGS_HEADER = ("Code", "Name", "Latitude", "Longitude", "HTS", "ART")


def flag_file(folder: Path, name: str, rows: list[list[object]]) -> Path:
    """Write a facility file with yes/no flags per service."""
    return write_csv(folder / name, FLAGS_HEADER, rows)


def flag_mapping(folder: Path, name: str, rules: str) -> Path:
    """Write a mapping file with the given [services] rules; unmapped rows are skipped."""
    path = folder / name
    path.write_text(
        f'[columns]\nid = "Code"\n\n[services]\n{rules}\n\n[skip]\nunmapped = true\n',
        encoding="utf-8",
    )
    return path


FACILITIES = [
    ["F1", "Kati HC", *W1_A, "True", "True"],
    ["F2", "Kati Annex", *W1_B, "False", "True"],
    ["F3", "Mashariki HC", *W2_A, "True", "True"],
]


def test_a_second_type_of_the_same_facilities_never_changes_the_first(
    nairobi: Workspace, tmp_path: Path
) -> None:
    """ "64 testing services silently became treatment": importing the ART flag after the HTS
    flag, with the same ids, adds treatment services and leaves the testing ones as they were."""
    path = flag_file(tmp_path, "facilities.csv", FACILITIES)
    testing = mapping_from_file(flag_mapping(tmp_path, "hts.toml", 'hiv_testing = "HTS"'))
    treatment = mapping_from_file(flag_mapping(tmp_path, "art.toml", 'hiv_treatment = "ART"'))

    first = services_from_file(nairobi, path, mapping=testing)
    assert (first.accepted, first.skipped, first.rejected) == (2, 1, 0)  # F2 says False
    before = query(nairobi, "SELECT * FROM services ORDER BY id")

    second = services_from_file(nairobi, path, mapping=treatment)
    assert (second.accepted, second.updated, second.skipped, second.rejected) == (3, 0, 0, 0)
    assert stored_services(nairobi) == [
        ("F1", "F1", 2, None),
        ("F1:hiv_treatment", "F1", 4, None),
        ("F2", "F2", 4, None),
        ("F3", "F3", 2, None),
        ("F3:hiv_treatment", "F3", 4, None),
    ]
    after = query(nairobi, "SELECT * FROM services WHERE service_type = 2 ORDER BY id")
    assert after == [row for row in before if row[0] in ("F1", "F3")]

    # importing both again changes nothing
    snapshot = query(nairobi, "SELECT * FROM services ORDER BY id")
    for mapping in (testing, treatment):
        again = services_from_file(nairobi, path, mapping=mapping)
        assert (again.accepted, again.updated) == (0, 0)
    assert query(nairobi, "SELECT * FROM services ORDER BY id") == snapshot

    # the same in one file: both flags at once give the same services, all duplicates now
    both = mapping_from_file(
        flag_mapping(tmp_path, "both.toml", 'hiv_testing = "HTS"\nhiv_treatment = "ART"')
    )
    once = services_from_file(nairobi, path, mapping=both)
    assert (once.rows_read, once.records, once.duplicates, once.accepted) == (3, 5, 5, 0)

    # a type column with the same ids: a third type is a third service of F1
    typed = write_csv(
        tmp_path / "typed.csv",
        ("id", "name", "type", "latitude", "longitude"),
        [["F1", "Kati HC", "prep_pep", *W1_A], ["F1", "Kati HC", "hiv_testing", *W1_A]],
    )
    third = services_from_file(nairobi, typed)
    assert (third.accepted, third.duplicates, third.updated) == (1, 1, 0)
    assert query(nairobi, "SELECT id, service_type FROM services WHERE facility_id = 'F1'") == [
        ("F1", 2),
        ("F1:hiv_treatment", 4),
        ("F1:prep_pep", 5),
    ]


def test_services_are_still_edited_by_id(nairobi: Workspace, tmp_path: Path) -> None:
    path = flag_file(tmp_path, "facilities.csv", FACILITIES)
    both = mapping_from_file(
        flag_mapping(tmp_path, "both.toml", 'hiv_testing = "HTS"\nhiv_treatment = "ART"')
    )
    services_from_file(nairobi, path, mapping=both)

    change = update_service(
        nairobi, "F1:hiv_treatment", friendly=True, opening_hours="Lu-Vi 8:00-17:00"
    )
    assert change.fields == ["friendly", "opening_hours"]
    assert query(
        nairobi, "SELECT friendly, opening_hours FROM services WHERE id = 'F1:hiv_treatment'"
    ) == [(True, "Mo-Fr 8:00-17:00")]
    # the facility's testing service is another service: untouched
    assert query(nairobi, "SELECT friendly FROM services WHERE id = 'F1'") == [(None,)]
    message = (
        "service type 'hiv_testing': facility 'F1' already has that service (F1) — edit that "
        "service instead, or choose another type"
    )
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        update_service(nairobi, "F1:hiv_treatment", service_type="hiv_testing")
    # F2 has no testing service: its treatment service may become one
    assert update_service(nairobi, "F2", service_type="hiv_testing").fields == ["service_type"]


def test_flags_that_are_not_yes_or_no_and_rows_of_no_type(
    nairobi: Workspace, tmp_path: Path
) -> None:
    path = flag_file(
        tmp_path,
        "facilities.csv",
        [
            ["F1", "Kati HC", *W1_A, "maybe", "False"],  # row 2: HTS is not yes or no
            ["F2", "Kati Annex", *W1_B, "no", "no"],  # row 3: no service at all
            ["F3", "Mashariki HC", *W2_A, "1", "0"],  # row 4: testing
        ],
    )
    mapping = tmp_path / "strict.toml"
    mapping.write_text(
        '[columns]\nid = "Code"\n[services]\nhiv_testing = "HTS"\nhiv_treatment = "ART"\n',
        encoding="utf-8",
    )

    result = services_from_file(nairobi, path, mapping=mapping_from_file(mapping))

    assert (result.accepted, result.skipped, result.rejected) == (1, 0, 2)
    rows: dict[int, list[dict[str, str]]] = {}
    for line in report_rows(result):
        rows.setdefault(int(line["row"]), []).append(line)
    # a flag that is not yes or no is the row's one problem (not also "no service")
    [(bad_flag)], [(no_type)] = rows[2], rows[3]
    assert (bad_flag["field"], bad_flag["value"], bad_flag["problem"]) == (
        "HTS",
        "maybe",
        "is not yes or no",
    )
    assert (
        bad_flag["fix"]
        == "write yes or no (true/false and 1/0 work too) in the columns of [services]"
    )
    assert (no_type["field"], no_type["problem"]) == (
        "service_type",
        "is none: no column of [services] says this facility offers a service",
    )
    assert no_type["fix"] == (
        "check the row, or add [skip] unmapped = true to the mapping file to skip such rows"
    )


#: The healthsites.io HDX export's columns (see data/healthsites_mapping.toml).
HEALTHSITES_HEADER = (
    "X", "Y", "osm_id", "osm_type", "completeness", "amenity", "healthcare", "name", "operator",
    "source", "speciality", "operator_type", "operational_status", "opening_hours", "beds",
    "staff_doctors", "staff_nurses", "health_amenity_type", "dispensing", "wheelchair",
    "emergency", "insurance", "water_source", "electricity", "is_in_health_area",
    "is_in_health_zone", "url", "addr_housenumber", "addr_street", "addr_postcode", "addr_city",
    "changeset_id", "changeset_version", "changeset_timestamp", "changeset_user", "uuid",
)  # fmt: skip
# two invented wards of Bangkok, about 4.4 km square each
BANGKOK = [
    ("TH-1", "Pathum Wan", shapely.box(100.50, 13.72, 100.54, 13.76)),
    ("TH-2", "Ratchathewi", shapely.box(100.54, 13.72, 100.58, 13.76)),
]


def healthsite(
    osm_id: str, amenity: str, name: str, status: str, hours: str, lon: float, lat: float
) -> list[object]:
    """Return one facility row of the healthsites.io export's shape."""
    values = dict.fromkeys(HEALTHSITES_HEADER, "")
    values.update(
        X=lon,
        Y=lat,
        osm_id=osm_id,
        osm_type="node",
        completeness="40",
        amenity=amenity,
        healthcare=amenity,
        name=name,
        operational_status=status,
        opening_hours=hours,
        addr_street="Rama I Road",
        changeset_user="mapper",
        uuid=f"uuid-{osm_id}",
    )
    return list(values.values())


HEALTHSITES = [
    healthsite(
        "101",
        "clinic",
        "Silom Clinic",
        "operational",
        "Mo-Fr 08:00-18:00, Sa 08:00-13:00",
        100.51,
        13.73,
    ),
    healthsite("102", "hospital", "City Hospital", "operational", "24/7", 100.52, 13.74),
    healthsite("103", "pharmacy", "Night Pharmacy", "", "Mo-Su 20:00-04:00", 100.55, 13.73),
    healthsite("104", "dentist", "Smile Dental", "operational", "Mo-Fr 09:00-17:00", 100.55, 13.74),
    healthsite(
        "105", "clinic", "Appointment Clinic", "operational", "by appointment", 100.56, 13.75
    ),
    healthsite("106", "clinic", "Shut Clinic", "closed", "Mo-Fr 08:00-17:00", 100.53, 13.75),
    healthsite("107", "doctors", "Dr. Somchai", "", "", 100.57, 13.73),
]


@pytest.mark.parametrize("kind", ["csv", "geojson"])
def test_healthsites_export_with_its_mapping_file(
    tmp_path: Path, store_url: str | None, kind: str
) -> None:
    workspace = build_area(tmp_path, store_url, BANGKOK)
    path = write_csv(tmp_path / "thailand.csv", HEALTHSITES_HEADER, HEALTHSITES)
    if kind == "geojson":
        frame = pl.read_csv(path, infer_schema=False)
        points = gpd.points_from_xy(frame["X"].cast(float), frame["Y"].cast(float))
        gpd.GeoDataFrame(frame.drop("X", "Y").to_pandas(), geometry=points, crs=4326).to_file(
            tmp_path / "thailand.geojson"
        )
        path = tmp_path / "thailand.geojson"

    result = services_from_file(
        workspace, path, mapping=mapping_from_file(DATA / "healthsites_mapping.toml")
    )

    # 7 rows: the dentist (row 5) and the closed clinic (row 7) skipped, 5 services
    assert (result.rows_read, result.accepted, result.skipped, result.rejected) == (7, 5, 2, 0)
    assert query(
        workspace, "SELECT rows_read, accepted, skipped, rejected, records FROM imports"
    ) == [(7, 5, 2, 0, 7)]
    # hiv_testing 2, hiv_treatment 4, condom_outlet 11 (mapping.vocab.SERVICE_TYPES)
    stored = query(
        workspace,
        "SELECT id, service_type, opening_hours, open_at_night FROM services ORDER BY id",
    )
    assert [(i, k, h, None if n is None else bool(n)) for i, k, h, n in stored] == [
        ("101", 2, "Mo-Fr 08:00-18:00, Sa 08:00-13:00", False),
        ("102", 4, "24/7", True),
        ("103", 11, "Mo-Su 20:00-04:00", True),
        ("105", 2, None, None),
        ("107", 2, None, None),
    ]
    warnings = "\n".join(result.warnings)
    assert (
        f"row 6: opening_hours 'by appointment' is not OpenStreetMap opening_hours — {HOURS_FIX}"
        in warnings
    )
    assert f"row 8: opening_hours is missing — {HOURS_FIX}" in warnings
    assert (
        "skipped 1 row, not a service of interest (row 5): 'amenity' dentist maps to no "
        "service type"
    ) in warnings
    assert "(row 7): 'operational_status' is closed" in warnings
    # the export's other columns (addresses, the mapper's user name...) are never read
    assert "'addr_street'" in warnings and "'changeset_user'" in warnings


def test_access_reports_unknown_hours_apart(nairobi: Workspace, tmp_path: Path) -> None:
    """A hotspot whose only friendly testing nearby has unknown hours is neither served nor a
    gap: coverage says "hours unknown", and gives the share once the hours are known."""
    hotspots = write_csv(
        tmp_path / "hotspots.csv",
        ("id", "latitude", "longitude", "typology", "days", "hours", "size_min", "size_max"),
        [["H1", *W1_A, "street", "Fr-Sa", "20:00-04:00", "10", "20"]],
    )
    assert hotspots_from_file(nairobi, hotspots).accepted == 1
    services = write_csv(
        tmp_path / "services.csv",
        ("id", "name", "type", "latitude", "longitude", "friendly", "opening_hours"),
        [
            ["S1", "Kati HC", "hiv_testing", *W1_A, "yes", ""],  # hours unknown
            ["S2", "Day clinic", "sti_clinic", *W1_A, "yes", "Mo-Fr 08:00-16:00"],  # closed then
        ],
    )
    assert services_from_file(nairobi, services).accepted == 2
    visits = write_csv(
        tmp_path / "visits.csv",
        ("date", "peer_educator", "team", "latitude", "longitude", "contact_code"),
        [["2026-08-07", "PE01", "KATI", *W1_A, "KE-001"]],
    )
    assert visits_from_file(nairobi, visits).accepted == 1
    today = dt.date(2026, 10, 15)

    def ward(report_districts: pl.DataFrame) -> dict[str, object]:
        return report_districts.filter(pl.col("district_id") == "KE-W1").row(0, named=True)

    report = coverage(nairobi, "2026-Q3", today=today)
    [hotspot] = report.hotspots.to_dicts()
    assert (hotspot["reach_hiv_testing"], hotspot["hours_unknown_hiv_testing"]) == (False, True)
    assert (hotspot["reach_sti_clinic"], hotspot["hours_unknown_sti_clinic"]) == (False, False)
    w1 = ward(report.districts)
    assert (w1["access_hiv_testing"], w1["hours_unknown_hiv_testing"]) == (0.0, 1.0)
    # key types: testing, STI care, PrEP/PEP, drop-in: none served, testing hours unknown
    assert w1["access_key"] == 0.0 and w1["hours_unknown_key"] == 0.25
    assert w1["gap_access"] == 0.75  # not 1: the testing may be open then
    assert report.totals["services_without_hours"] == 1

    update_service(nairobi, "S1", opening_hours="Fr-Sa 20:00-04:00")
    w1 = ward(coverage(nairobi, "2026-Q3", today=today).districts)
    assert (w1["access_hiv_testing"], w1["hours_unknown_hiv_testing"]) == (1.0, 0.0)
    assert w1["access_key"] == 0.25 and w1["gap_access"] == 0.75


def test_open_at_keeps_unknown_hours_apart(nairobi: Workspace, tmp_path: Path) -> None:
    services = write_csv(
        tmp_path / "services.csv",
        ("id", "name", "type", "latitude", "longitude", "opening_hours"),
        [
            ["S1", "Night", "hiv_testing", *W1_A, "Mo-Su 20:00-04:00"],
            ["S2", "Day", "hiv_testing", *W1_B, "Mo-Fr 08:00-12:00,13:00-17:00"],
            ["S3", "Unknown", "hiv_testing", *W2_A, ""],
        ],
    )
    services_from_file(nairobi, services)
    registry = read_services(nairobi)
    saturday_0230 = dt.datetime(2026, 12, 5, 2, 30)
    assert open_at(registry, saturday_0230)["id"].to_list() == ["S1"]
    assert hours_unknown_at(registry, saturday_0230)["id"].to_list() == ["S3"]
    monday_1230 = dt.datetime(2026, 12, 7, 12, 30)
    assert open_at(registry, monday_1230)["id"].to_list() == []
    monday_1300 = dt.datetime(2026, 12, 7, 13, 0)
    assert open_at(registry, monday_1300)["id"].to_list() == ["S2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[services]\nhiv_tests = "HTS"\n',
            "[services] 'hiv_tests' is not a service type — use one of: drop_in_centre,",
        ),
        (
            "[services]\nhiv_testing = 3\n",
            '[services] hiv_testing = 3 is not a rule — give a column name ("HTS"), a list of '
            'them (["ART", "CCC"]) or a column and the words it lists',
        ),
        (
            '[services]\nhiv_testing = { column = "Service_names" }\n',
            "[services] hiv_testing = {'column': 'Service_names'} is not a rule — give",
        ),
        ("services = 1\n", "[services] must be a table of service types"),
        ("skip = 1\n", "[skip] must be a table — e.g. unmapped = true"),
        ("[skip]\nunmaped = true\n", "[skip] has unknown keys ['unmaped'] — use unmapped, when"),
        ('[skip]\nunmapped = "yes"\n', "[skip] unmapped = 'yes' — write true or false"),
        (
            '[skip]\nwhen = "Closed"\n',
            "[skip] when = 'Closed' is not a table of columns and values — write e.g. when = ",
        ),
        (
            "[skip]\nunless = { Status = 1 }\n",
            "[skip] unless = {'Status': 1} is not a table of columns and values",
        ),
        ("[servces]\n", "unknown sections ['servces'] — use [columns], [values.FIELD], [defaults]"),
    ],
)
def test_mapping_file_mistakes_are_named_with_the_fix(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(
        UnusableFileError, match=re.escape(f"mapping file {path}") + ".*" + re.escape(message)
    ):
        mapping_from_file(path)


def test_rules_name_columns_the_file_has_and_apply_to_services_only(
    nairobi: Workspace, tmp_path: Path
) -> None:
    path = flag_file(tmp_path, "facilities.csv", FACILITIES)
    typo = mapping_from_file(flag_mapping(tmp_path, "typo.toml", 'hiv_testing = "HST"'))
    with pytest.raises(
        UnusableFileError,
        match=re.escape(
            "facilities.csv: the mapping file's [services] hiv_testing names column 'HST', but "
            "there is no such column — check its spelling; columns are: Code, Name, Latitude,"
        ),
    ):
        services_from_file(nairobi, path, mapping=typo)
    rules = mapping_from_file(flag_mapping(tmp_path, "rules.toml", 'hiv_testing = "HTS"'))
    hotspots = write_csv(
        tmp_path / "hotspots.csv",
        ("id", "latitude", "longitude", "typology"),
        [["H1", *W1_A, "bar"]],
    )
    message = (
        "hotspots.csv: the mapping file's [services] and [skip] rules apply to service "
        "registries only, not to hotspots — import the file as services, or use a mapping file "
        "without them"
    )
    with pytest.raises(UnusableFileError, match=re.escape(message)):
        hotspots_from_file(nairobi, hotspots, mapping=rules)
    with pytest.raises(UnusableFileError, match=re.escape("registries only, not to visits —")):
        visits_from_file(nairobi, hotspots, mapping=rules)
    assert query(nairobi, "SELECT count(*) FROM imports") == [(0,)]


def test_a_minsa_classification_that_maps_to_nothing_is_skipped(
    tmp_path: Path, store_url: str | None
) -> None:
    """The shipped MINSA mapping skips optics and the like instead of rejecting them."""
    lima = [("150101", "Lima", shapely.box(-77.06, -12.07, -77.02, -12.03))]
    workspace = build_area(tmp_path, store_url, lima)
    path = write_csv(
        tmp_path / "ipress.csv",
        ("facility_id", "name", "classification", "lat", "lon"),
        [
            ["1", "CS Lima", "CENTROS DE SALUD O CENTROS MEDICOS", "-12.05", "-77.04"],
            ["2", "Optica Lima", "OPTICAS", "-12.05", "-77.04"],
            ["3", "Sin clase", "", "-12.05", "-77.04"],
        ],
    )
    result = services_from_file(
        workspace, path, mapping=mapping_from_file(DATA / "minsa_ipress_mapping.toml")
    )
    assert (result.accepted, result.skipped, result.rejected) == (1, 2, 0)
    warnings = "\n".join(result.warnings)
    assert "(row 3): 'classification' OPTICAS maps to no service type" in warnings
    assert "(row 4): 'classification' is empty" in warnings
    assert h3.is_valid_cell(h3.int_to_str(query(workspace, "SELECT cell FROM services")[0][0]))
