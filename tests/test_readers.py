"""Reading the files field teams really have: ODK, KoboToolbox, Latin-1 CSV, XLSX, GeoJSON."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from helpers import (
    CUSCO,
    LIMA,
    MIRAFLORES,
    assert_adds_up,
    csv_text,
    problems_by_row,
    query,
    report_rows,
)

from mapping.cells import cells_from_points
from mapping.errors import UnusableFileError
from mapping.ingest.batch import ImportResult
from mapping.ingest.columns import recognise_columns
from mapping.ingest.readers import ColumnMapping, mapping_from_file, table_from_file
from mapping.ingest.visits import VISIT_FIELDS, visits_from_file
from mapping.storage.workspace import Workspace
from mapping.vocab import GENDERS, HIV_TESTS, SETTINGS

DAY, EVENING, NIGHT = 1, 2, 3


def cell(point: tuple[str, str]) -> int:
    lat, lng = (pl.Series([float(v)]) for v in point)
    return int(cells_from_points(lat, lng, 8)[0])


def stored(workspace: Workspace) -> list[tuple[object, ...]]:
    """(date, time of day, cell, gender) of every stored visit, by date and time."""
    return query(
        workspace,
        "SELECT visit_date, time_of_day, cell, gender FROM visit_details "
        "ORDER BY visit_date, time_of_day",
    )


# --- ODK Central ----------------------------------------------------------------------------

ODK_CENTRAL_HEADER = (
    "SubmissionDate",
    "start",
    "end",
    "grp-peer_educator",
    "grp-loc-Latitude",
    "grp-loc-Longitude",
    "grp-loc-Altitude",
    "grp-loc-Accuracy",
    "grp-contact_code",
    "grp-gender",
    "grp-condoms",
    "meta-instanceID",
    "KEY",
    "SubmitterID",
    "SubmitterName",
    "AttachmentsPresent",
    "AttachmentsExpected",
    "Status",
    "ReviewState",
    "DeviceID",
    "Edits",
    "FormVersion",
)


def _odk_row(index: int, start: str, point: tuple[str, str] | None, **answers: str) -> list[str]:
    uuid = f"uuid:5f1c0e2a-0000-4000-8000-{index:012d}"
    lat, lng = point if point else ("", "")
    return [
        "2026-09-09T02:20:11.532Z",  # sent the next morning (UTC): not when the visit happened
        start,
        start.replace(":14:03", ":20:41"),
        answers.get("pe", "PE07"),
        lat,
        lng,
        "151.2" if point else "",
        "4.8" if point else "",
        answers.get("code", f"RQ{index:04d}"),
        answers.get("gender", "mujer trans"),
        answers.get("condoms", "12"),
        uuid,
        uuid,
        "42",
        "Rosa",
        "0",
        "0",
        "",
        "",
        "collect:abc123",
        "0",
        "2026081001",
    ]


def test_odk_central_export(workspace: Workspace, tmp_path: Path) -> None:
    rows = [
        _odk_row(1, "2026-09-08T21:14:03.000-05:00", LIMA),
        _odk_row(2, "2026-09-08T23:14:03.000-05:00", MIRAFLORES, gender="n/a", code="n/a"),
        _odk_row(3, "2026-09-09T10:14:03.000-05:00", None, condoms="n/a"),
        _odk_row(4, "2026-09-09T10:14:03.000-05:00", ("n/a", "n/a")),
        _odk_row(5, "2026-09-09T10:14:03.000-05:00", LIMA, gender="ardilla"),
    ]
    path = tmp_path / "Outreach_Visits.csv"
    path.write_text(csv_text(ODK_CENTRAL_HEADER, rows), encoding="utf-8")

    result = visits_from_file(workspace, path)

    assert_adds_up(result)
    assert (result.accepted, result.rejected) == (4, 1)
    assert problems_by_row(result) == {6: [("gender", "is not a known value")]}
    # ODK Central's own columns (KEY, SubmitterID, ReviewState...) are ignored quietly
    assert result.warnings == []
    trans_woman = GENDERS.index("trans_woman") + 1
    assert stored(workspace) == [
        ("2026-09-08", EVENING, cell(LIMA), trans_woman),
        ("2026-09-08", NIGHT, cell(MIRAFLORES), None),
        ("2026-09-09", DAY, None, trans_woman),
        ("2026-09-09", DAY, None, trans_woman),
    ]
    # re-exporting the same submissions adds nothing
    assert visits_from_file(workspace, path).duplicates == 4


def test_odk_collect_dates_and_month_first_option(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "formhub.csv"
    path.write_text(
        csv_text(
            ("today", "start", "peer", "gps", "_uuid"),
            [
                ["", "Sep 8, 2026 3:24:32 PM", "PE01", f"{LIMA[0]} {LIMA[1]} 150.0 5.0", "a1"],
                ["", "Sep 8, 2026 11:05:10 PM", "PE01", "", "a2"],
                ["", "Mar 4, 2026 7:00:00 AM", "PE02", "", "a3"],
                ["", "Feb 30, 2026 7:00:00 AM", "PE02", "", "a4"],
            ],
        ),
        encoding="utf-8",
    )
    result = visits_from_file(workspace, path)

    assert (result.accepted, result.rejected) == (3, 1)
    assert problems_by_row(result) == {5: [("date", "is not a date this importer understands")]}
    assert report_value(result, "date") == "Feb 30, 2026 7:00:00 AM"
    assert stored(workspace) == [
        ("2026-03-04", DAY, None, None),
        ("2026-09-08", DAY, cell(LIMA), None),
        ("2026-09-08", NIGHT, None, None),
    ]


def test_slashed_dates_are_day_first_unless_told(workspace: Workspace, tmp_path: Path) -> None:
    body = csv_text(("fecha", "promotora"), [["03/04/2026", "PE01"], ["25/04/2026", "PE01"]])
    path = tmp_path / "slashed.csv"
    path.write_text(body, encoding="utf-8")
    visits_from_file(workspace, path)
    assert [d for d, *_ in stored(workspace)] == ["2026-04-03", "2026-04-25"]

    mapping_path = tmp_path / "mapping.toml"
    mapping_path.write_text('[options]\ndate_order = "month_first"\n', encoding="utf-8")
    month_first = tmp_path / "month_first.csv"
    month_first.write_text(body.replace("PE01", "PE02"), encoding="utf-8")
    result = visits_from_file(workspace, month_first, mapping=mapping_from_file(mapping_path))
    assert (result.accepted, result.rejected) == (1, 1)
    assert query(workspace, "SELECT visit_date FROM visits WHERE peer_educator_id = 2") == [
        ("2026-03-04",)
    ]


# --- KoboToolbox ----------------------------------------------------------------------------

KOBO = (
    '"start";"end";"today";"fecha_visita";"educadora_par";"gps";"_gps_latitude";'
    '"_gps_longitude";"_gps_altitude";"_gps_precision";"genero";"lugar";"condones";'
    '"referido_a";"observaciones";"_id";"_uuid";"_submission_time";"_validation_status";'
    '"_notes";"_status";"_submitted_by";"__version__";"_tags";"_index"\n'
    '"2026-09-08T21:02:11.120-05:00";"2026-09-08T21:30:40.551-05:00";"2026-09-08";"2026-09-08";'
    f'"PE03";"{LIMA[0]} {LIMA[1]} 154.3 4.9";"{LIMA[0]}";"{LIMA[1]}";"154.3";"4.9";'
    '"mujer_trans";"calle";"20";"prep its";"dijo que vuelve;\nel jueves";"101";"u-101";'
    '"2026-09-09T03:00:01";"";"";"submitted_via_web";"";"vQ9";"";"1"\n'
    '"2026-09-08T22:40:00.000-05:00";"2026-09-08T22:45:00.000-05:00";"2026-09-08";"";'
    f'"PE03";"{MIRAFLORES[0]} {MIRAFLORES[1]} 80 12";"{MIRAFLORES[0]}";"{MIRAFLORES[1]}";"80";"12";'
    '"mujer";"bar";"";"";"";"102";"u-102";"2026-09-09T03:00:02";"";"";"submitted_via_web";"";'
    '"vQ9";"";"2"\n'
    '"2026-09-09T09:00:00.000-05:00";"2026-09-09T09:05:00.000-05:00";"2026-09-09";"2026-09-09";'
    '"PE04";"";"";"";"";"";"hombre";"casa";"x";"";"";"103";"u-103";"2026-09-09T15:00:02";"";"";'
    '"submitted_via_web";"";"vQ9";"";"3"\n'
)


def test_kobo_export(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "kobo.csv"
    path.write_text(KOBO, encoding="utf-8")
    table = table_from_file(path)
    assert (table.delimiter, table.frame.height) == (";", 3)

    result = visits_from_file(workspace, path)

    assert_adds_up(result)
    assert (result.accepted, result.rejected) == (2, 1)
    # the quoted line break did not shift the row numbers: the bad count is on row 4
    assert problems_by_row(result) == {4: [("male_condoms", "is not a whole number of items")]}
    assert any("'observaciones' (free-text notes)" in w for w in result.warnings)
    assert not any("ignored" in w for w in result.warnings), "Kobo metadata is ignored quietly"
    # the visit date wins over "today"; a date without a time takes the hour from the form's
    # start when it is the same day (21:02: evening), and a visit without a date takes both
    # from the start; the submission time (UTC) is never used for the hour
    assert stored(workspace) == [
        ("2026-09-08", EVENING, cell(LIMA), GENDERS.index("trans_woman") + 1),
        ("2026-09-08", NIGHT, cell(MIRAFLORES), GENDERS.index("female") + 1),
    ]
    assert query(workspace, "SELECT setting, referrals FROM visit_details ORDER BY setting") == [
        (SETTINGS.index("street") + 1, 0b10100),
        (SETTINGS.index("venue") + 1, 0),
    ]


def test_kobo_select_multiple_options_never_hold_a_field(
    workspace: Workspace, tmp_path: Path
) -> None:
    # "Derivaciones/Prueba de VIH" is an option of the referrals question (0/1), not the test
    header = (
        "fecha",
        "educadora_par",
        "Derivaciones",
        "Derivaciones/Prueba de VIH",
        "Derivaciones/PrEP",
        "Prueba de VIH",
    )
    rows = [
        ["2026-09-08", "PE03", "prueba_vih prep", "1", "1", "ofrecida"],
        ["2026-09-09", "PE03", "", "0", "0", "realizada"],
    ]
    path = tmp_path / "kobo_options.csv"
    path.write_text(csv_text(header, rows), encoding="utf-8")

    table = table_from_file(path)
    recognised = recognise_columns(table.frame, VISIT_FIELDS, ColumnMapping(), source_name="x")
    assert recognised.fields["hiv_test"] == "Prueba de VIH"
    assert recognised.fields["referrals"] == "Derivaciones"
    assert "Derivaciones/Prueba de VIH" not in recognised.fields.values()

    result = visits_from_file(workspace, path)
    assert (result.accepted, result.rejected) == (2, 0)
    assert not any("ignored" in w for w in result.warnings), result.warnings
    assert query(workspace, "SELECT hiv_test, referrals FROM visit_details ORDER BY 1") == [
        (HIV_TESTS.index("offered") + 1, 0b10010),
        (HIV_TESTS.index("done") + 1, 0),
    ]


def test_a_whole_header_beats_the_same_name_on_a_group_path(tmp_path: Path) -> None:
    path = tmp_path / "grouped.csv"
    path.write_text(
        "fecha,pe,otro_grupo/prueba_vih,prueba_vih\n2026-09-08,PE1,1,realizada\n", encoding="utf-8"
    )
    frame = table_from_file(path).frame
    recognised = recognise_columns(frame, VISIT_FIELDS, ColumnMapping(), source_name="x")
    assert recognised.fields["hiv_test"] == "prueba_vih"


def test_kobo_spanish_label_headers(workspace: Workspace, tmp_path: Path) -> None:
    # a Kobo export "with labels" instead of question names
    header = (
        "Fecha de la visita",
        "Código de la educadora par",
        "Código del equipo",
        "Código único (UIC)",
        "¿Prueba de VIH?",
    )
    path = tmp_path / "kobo_labels.csv"
    path.write_text(
        csv_text(header, [["2026-09-08", "PE03", "T1", "MAJO85", "Realizada"]], delimiter=";"),
        encoding="utf-8",
    )
    frame = table_from_file(path).frame
    recognised = recognise_columns(frame, VISIT_FIELDS, ColumnMapping(), source_name="x")
    assert recognised.fields == {
        "date": "Fecha de la visita",
        "peer_educator": "Código de la educadora par",
        "team": "Código del equipo",
        "contact_code": "Código único (UIC)",
        "hiv_test": "¿Prueba de VIH?",
    }
    result = visits_from_file(workspace, path)
    assert (result.accepted, result.rejected, result.warnings) == (1, 0, [])
    assert query(workspace, "SELECT peer_educator, team FROM peer_educators") == [("PE03", "T1")]


def test_mostly_empty_geopoint_gives_visits_without_a_cell(
    workspace: Workspace, tmp_path: Path
) -> None:
    rows = [["2026-05-0" + str(i), "PE01", ""] for i in range(1, 8)]
    rows[3][2] = f"{MIRAFLORES[0]} {MIRAFLORES[1]} 0 0"
    path = tmp_path / "sparse.csv"
    path.write_text(csv_text(("date", "pe", "geopoint"), rows), encoding="utf-8")

    result = visits_from_file(workspace, path)

    assert (result.accepted, result.rejected) == (7, 0)
    assert query(workspace, "SELECT count(*) FROM visits WHERE cell IS NULL") == [(6,)]
    assert query(workspace, "SELECT cell FROM visits WHERE cell IS NOT NULL") == [
        (cell(MIRAFLORES),)
    ]


def test_empty_geopoint_column_is_fine(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "no_points.csv"
    path.write_text(
        csv_text(
            ("date", "pe", "gps"), [["2026-05-01", "PE01", ""], ["2026-05-02", "PE01", "n/a"]]
        ),
        encoding="utf-8",
    )
    result = visits_from_file(workspace, path)
    assert (result.accepted, result.rejected) == (2, 0)


GEOPOINTS_HEADER = ("date", "pe", "gps_start", "gps_end")
GEOPOINTS_ROWS = [
    ["2026-05-01", "PE01", f"{LIMA[0]} {LIMA[1]} 0 5", f"{MIRAFLORES[0]} {MIRAFLORES[1]} 0 5"],
    ["2026-05-02", "PE01", f"{LIMA[0]} {LIMA[1]} 0 5", ""],
]


def test_several_geopoints_need_a_mapping_file(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "two_points.csv"
    path.write_text(csv_text(GEOPOINTS_HEADER, GEOPOINTS_ROWS), encoding="utf-8")

    with pytest.raises(UnusableFileError, match=r"has 2 locations \(gps_start, gps_end\)") as error:
        visits_from_file(workspace, path)
    assert 'location = "NAME"' in str(error.value)

    mapping_path = tmp_path / "mapping.toml"
    mapping_path.write_text('[columns]\nlocation = "gps_end"\n', encoding="utf-8")
    result = visits_from_file(workspace, path, mapping=mapping_from_file(mapping_path))
    assert (result.accepted, result.rejected) == (2, 0)
    assert query(workspace, "SELECT visit_date, cell FROM visits ORDER BY visit_date") == [
        ("2026-05-01", cell(MIRAFLORES)),
        ("2026-05-02", None),
    ]


def test_mapping_file_naming_an_unknown_geopoint(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "two_points.csv"
    path.write_text(csv_text(GEOPOINTS_HEADER, GEOPOINTS_ROWS), encoding="utf-8")
    mapping_path = tmp_path / "mapping.toml"
    mapping_path.write_text('[columns]\nlocation = "gps_middle"\n', encoding="utf-8")
    with pytest.raises(UnusableFileError, match="no such geopoint was found"):
        visits_from_file(workspace, path, mapping=mapping_from_file(mapping_path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[columns\n", "is not valid TOML"),
        ("[colums]\ndate = 'x'\n", "unknown sections"),
        ("[columns]\nbirthday = 'x'\n", "unknown field 'birthday'"),
    ],
)
def test_bad_mapping_files(workspace: Workspace, tmp_path: Path, text: str, message: str) -> None:
    mapping_path = tmp_path / "mapping.toml"
    mapping_path.write_text(text, encoding="utf-8")
    path = tmp_path / "v.csv"
    path.write_text("date,pe\n2026-05-01,PE01\n", encoding="utf-8")
    with pytest.raises(UnusableFileError, match=message):
        visits_from_file(workspace, path, mapping=mapping_from_file(mapping_path))


# --- encodings, spreadsheets, GeoJSON -------------------------------------------------------


def test_latin1_spanish_csv(workspace: Workspace, tmp_path: Path) -> None:
    header = ("fecha", "educadora_par", "latitud", "longitud", "género", "lugar", "derivación")
    rows = [
        ["14/03/2026", "Sofía", LIMA[0], LIMA[1], "mujer trans", "vía pública", "prueba"],
        ["14/03/2026", "Sofía", MIRAFLORES[0], MIRAFLORES[1], "Mujer", "establecimiento", ""],
        ["15/03/2026", "Begoña", "-12,0700", "-77,0500", "no binarie", "calle", "tratamiento"],
        ["16/03/2026", "Begoña", "", "", "mujer trans", "calle", "niñería"],
    ]
    path = tmp_path / "visitas_latin1.csv"
    path.write_bytes(csv_text(header, rows, delimiter=";").encode("latin-1"))

    table = table_from_file(path)
    assert table.encoding.lower().replace("_", "-") in {
        "latin-1",
        "iso-8859-1",
        "cp1252",
        "windows-1252",
    }
    result = visits_from_file(workspace, path)

    assert (result.accepted, result.rejected) == (3, 1)
    assert problems_by_row(result) == {5: [("referrals", "is not a known service type")]}
    assert report_value(result, "referrals") == "niñería"
    assert query(workspace, "SELECT peer_educator FROM peer_educators ORDER BY id") == [
        ("Sofía",),
        ("Begoña",),
    ]
    genders = [g for _, _, _, g in stored(workspace)]
    assert genders == [
        GENDERS.index("trans_woman") + 1,
        GENDERS.index("female") + 1,
        GENDERS.index("non_binary") + 1,
    ]


def report_value(result: ImportResult, field: str) -> str:
    return next(line["value"] for line in report_rows(result) if line["field"] == field)


def test_utf8_bom_and_utf16_files(workspace: Workspace, tmp_path: Path) -> None:
    text = csv_text(("fecha", "educadora_par", "género"), [["2026-03-14", "Sofía", "mujer"]])
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes(text.replace(",", "\t").replace("Sofía", "Begoña").encode("utf-16"))

    assert visits_from_file(workspace, bom).accepted == 1
    assert visits_from_file(workspace, utf16).accepted == 1
    assert query(workspace, "SELECT peer_educator FROM peer_educators ORDER BY id") == [
        ("Sofía",),
        ("Begoña",),
    ]


def test_xlsx_with_date_cells_and_numbers(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "visitas.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Visitas")
    date_format = book.add_format({"num_format": "dd/mm/yyyy"})
    stamp_format = book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    sheet.write_row(
        0, 0, ["Fecha", "Hora", "Educadora par", "Latitud", "Longitud", "Condones", "Nombre"]
    )
    sheet.write_datetime(1, 0, dt.datetime(2026, 3, 14), date_format)
    sheet.write_row(1, 1, ["21:30", "PE01", float(LIMA[0]), float(LIMA[1]), 12, "Rosa"])
    sheet.write_datetime(2, 0, dt.datetime(2026, 3, 15, 23, 10), stamp_format)
    sheet.write_row(2, 1, ["", "PE01", float(MIRAFLORES[0]), float(MIRAFLORES[1]), 3.0, "Ana"])
    sheet.write_datetime(3, 0, dt.datetime(2026, 3, 16), date_format)
    sheet.write_row(3, 1, ["", "PE02", "", "", 1.5, "Eva"])
    sheet.write_datetime(4, 0, dt.datetime(2026, 3, 17), date_format)
    sheet.write_row(4, 1, ["", "PE02", "", "", "", ""])
    book.close()

    result = visits_from_file(workspace, path)

    assert (result.accepted, result.rejected) == (3, 1)
    assert problems_by_row(result) == {4: [("male_condoms", "is not a whole number of items")]}
    assert any("'Nombre' (a name)" in w for w in result.warnings)
    assert query(
        workspace,
        "SELECT visit_date, time_of_day, cell, male_condoms FROM visit_details ORDER BY visit_date",
    ) == [
        ("2026-03-14", EVENING, cell(LIMA), 12),
        ("2026-03-15", NIGHT, cell(MIRAFLORES), 3),
        # a date cell holds no time of day: it is not "night" because Excel says 00:00
        ("2026-03-17", None, None, 0),
    ]


def test_xlsx_time_cells(workspace: Workspace, tmp_path: Path) -> None:
    # a time cell reads as a date-time on Excel's day 0 ("1899-12-31 20:30:00")
    path = tmp_path / "horas.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    date_format = book.add_format({"num_format": "dd/mm/yyyy"})
    time_format = book.add_format({"num_format": "hh:mm"})
    sheet.write_row(0, 0, ["Fecha", "Hora", "Educadora par"])
    for index, (day, time) in enumerate(
        [(14, dt.time(20, 30)), (15, dt.time(0, 0)), (16, dt.time(9, 15)), (17, None)], start=1
    ):
        sheet.write_datetime(index, 0, dt.datetime(2026, 3, day), date_format)
        if time is not None:
            sheet.write_datetime(index, 1, time, time_format)
        sheet.write(index, 2, "PE01")
    book.close()
    assert table_from_file(path).frame["Hora"].to_list()[:2] == [
        "1899-12-31 20:30:00",
        "1899-12-31 00:00:00",
    ]

    result = visits_from_file(workspace, path)

    assert (result.accepted, result.rejected) == (4, 0)
    assert query(workspace, "SELECT visit_date, time_of_day FROM visit_details ORDER BY 1") == [
        ("2026-03-14", EVENING),
        ("2026-03-15", NIGHT),  # a time cell at 00:00 is midnight, unlike a date cell
        ("2026-03-16", DAY),
        ("2026-03-17", None),
    ]


def test_unreadable_spreadsheet(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip file")
    with pytest.raises(UnusableFileError, match="could not be read as a spreadsheet"):
        visits_from_file(workspace, path)


def test_geojson_points(workspace: Workspace, tmp_path: Path) -> None:
    def feature(geometry: dict[str, object], **properties: object) -> dict[str, object]:
        return {"type": "Feature", "geometry": geometry, "properties": properties}

    def point(where: tuple[str, str]) -> dict[str, object]:
        return {"type": "Point", "coordinates": [float(where[1]), float(where[0])]}

    square = {
        "type": "Polygon",
        "coordinates": [[[-77.05, -12.05], [-77.04, -12.05], [-77.04, -12.04], [-77.05, -12.05]]],
    }
    collection = {
        "type": "FeatureCollection",
        "features": [
            feature(point(LIMA), fecha="2026-03-14", equipo="NORTE", genero="mujer"),
            feature(point(MIRAFLORES), fecha="2026-03-14", equipo="SUR", condones=4),
            feature(point(CUSCO), fecha="2026-03-14", equipo="SUR"),
            feature(square, fecha="2026-03-15", equipo="SUR"),
            feature(None, fecha="2026-03-16", equipo="SUR"),  # type: ignore[arg-type]
        ],
    }
    path = tmp_path / "visitas.geojson"
    path.write_text(json.dumps(collection), encoding="utf-8")

    result = visits_from_file(workspace, path)

    assert_adds_up(result)
    assert (result.accepted, result.rejected) == (3, 2)
    problems = problems_by_row(result)
    assert problems[4] == [("location", "is outside every district of the area")]
    assert problems[5] == [("geometry", "is not a point")]
    assert set(query(workspace, "SELECT cell, male_condoms FROM visit_details")) == {
        (None, 0),
        (cell(MIRAFLORES), 4),
        (cell(LIMA), 0),
    }


def test_geojson_date_properties_hold_no_time_of_day(workspace: Workspace, tmp_path: Path) -> None:
    # GDAL types "2026-03-14" as a date and "2026-03-14T21:30:00" as a date-time
    def feature(**properties: object) -> dict[str, object]:
        geometry = {"type": "Point", "coordinates": [float(LIMA[1]), float(LIMA[0])]}
        return {"type": "Feature", "geometry": geometry, "properties": properties}

    dated = {
        "type": "FeatureCollection",
        "features": [
            feature(fecha="2026-03-14", equipo="N"),
            feature(fecha="2026-03-15", equipo="N"),
        ],
    }
    stamped = {
        "type": "FeatureCollection",
        "features": [
            feature(fecha="2026-03-16T21:30:00", equipo="N"),
            feature(fecha="2026-03-17T00:00:00", equipo="N"),
        ],
    }
    for name, collection in (("dated", dated), ("stamped", stamped)):
        path = tmp_path / f"{name}.geojson"
        path.write_text(json.dumps(collection), encoding="utf-8")
        assert visits_from_file(workspace, path).accepted == 2

    assert query(workspace, "SELECT visit_date, time_of_day FROM visit_details ORDER BY 1") == [
        ("2026-03-14", None),
        ("2026-03-15", None),
        ("2026-03-16", EVENING),
        # a date-time property at midnight is a real midnight
        ("2026-03-17", NIGHT),
    ]


def test_submission_time_never_gives_the_hour(workspace: Workspace, tmp_path: Path) -> None:
    # Kobo's _submission_time is UTC and says when the form reached the server
    path = tmp_path / "submitted.csv"
    path.write_text(
        "_submission_time,fecha,educadora_par\n"
        "2026-09-09T03:00:01,2026-09-08,PE01\n"
        "2026-09-09T03:00:01,,PE01\n",
        encoding="utf-8",
    )
    result = visits_from_file(workspace, path)
    assert (result.accepted, result.rejected) == (2, 0)
    assert query(workspace, "SELECT visit_date, time_of_day FROM visit_details ORDER BY 1") == [
        ("2026-09-08", None),
        ("2026-09-09", None),
    ]
