"""The Import page's words for the importer's findings: English as the command line says it."""

from __future__ import annotations

import datetime as dt
import io
import json

import polars as pl
import pytest
from helpers import csv_text
from test_import_preview import CODES, CUSCO, POINTS

from mapping.errors import MissingColumnError
from mapping.i18n import LANGUAGES, catalogue, translator
from mapping.ingest.batch import REPORT_COLUMNS, Notice, column_warnings
from mapping.ingest.uploads import prepare_upload
from mapping.privacy import FORBIDDEN_COLUMN_WORDS
from mapping.settings import get_settings
from mapping.storage.workspace import Workspace
from views.import_report import (
    PAGE_FIXES,
    problems_in,
    report_csv,
    report_name,
    unusable_in,
    warning_in,
)

#: Visits with a planted problem per row from row 3 (row 2 is fine): row, field and code.
HEADER = ("fecha", "educadora_par", "latitud", "longitud", "codigo_unico", "condones", "hora")
PLANTED = {
    3: ("date", "not_date"),
    4: ("latitude", "not_number"),
    5: ("location", "outside_area"),
    6: ("male_condoms", "not_count"),
    7: ("date", "two_digit_year"),
    8: ("time", "not_time"),
    9: ("location", "half_location"),
    10: ("date", "too_early"),
}


def bad_visits() -> tuple[bytes, str]:
    """A visits file with a good row, then the rows of :data:`PLANTED`, in that order."""
    lat, lng = POINTS[0]
    code = CODES[0]
    rows = [
        ["2026-02-01", "PE1", lat, lng, code, "2", "21:00"],
        ["2026-13-45", "PE1", lat, lng, code, "2", ""],
        ["2026-02-02", "PE1", "doce sur", lng, code, "2", ""],
        ["2026-02-03", "PE1", *CUSCO, code, "2", ""],
        ["2026-02-04", "PE1", lat, lng, code, "muchos", ""],
        ["04/02/26", "PE1", lat, lng, code, "1", ""],
        ["2026-02-05", "PE1", lat, lng, code, "1", "noche"],
        ["2026-02-06", "PE1", lat, "", code, "1", ""],
        ["1999-02-06", "PE1", lat, lng, code, "1", ""],
    ]
    return csv_text(HEADER, rows).encode(), "malas.csv"


def test_each_planted_problem_has_its_code(workspace: Workspace) -> None:
    data, name = bad_visits()
    ready = prepare_upload(workspace, "visits", data, source_name=name)
    found = set(ready.problems.frame(coded=True).select("row", "field", "code").iter_rows())
    assert {(row, *planted) for row, planted in PLANTED.items()} <= found
    assert {row for row, _, _ in found} == set(PLANTED)
    assert ready.problems.frame().columns == list(REPORT_COLUMNS)  # the report is unchanged


def test_english_is_the_command_lines_text(workspace: Workspace) -> None:
    """Each coded problem and fix reads in English exactly as the report and the CLI say it."""
    data, name = bad_visits()
    ready = prepare_upload(workspace, "visits", data, source_name=name)
    english = translator("en")
    for row in ready.problems.frame(coded=True).iter_rows(named=True):
        values = json.loads(row["values"])
        assert english(f"problems.{row['code']}", **values) == row["problem"], row["row"]
        assert english(f"fixes.{row['code']}", **values) == row["fix"], row["row"]
    for kind, content, code in (
        ("visits", b"educadora_par,latitud\nPE1,-12.1\n", "no_date_column"),
        ("visits", b"fecha,latitud\n2026-02-01,-12.1\n", "no_peer_educator_column"),
        ("services", b"id,name\nS1,x\n", "no_service_type_column"),
        ("hotspots", b"id,h3\nH1,888e62c01bfffff\n", "no_typology_column"),
    ):
        with pytest.raises(MissingColumnError) as caught:
            prepare_upload(workspace, kind, content, source_name="f.csv")
        assert caught.value.code == code
        assert unusable_in(caught.value, "f.csv", english) == str(caught.value)


def test_the_page_says_problems_in_its_language(workspace: Workspace) -> None:
    data, name = bad_visits()
    ready = prepare_upload(workspace, "visits", data, source_name=name)
    spanish = problems_in(ready, translator("es"))
    assert spanish.columns == list(REPORT_COLUMNS)
    by_row = {row["row"]: row for row in spanish.iter_rows(named=True)}
    assert by_row[3]["problem"] == "no es una fecha que este importador entienda"
    assert by_row[3]["fix"].startswith("escriba las fechas como AAAA-MM-DD")
    assert by_row[4]["value"] == "(oculto)"  # never the latitude
    assert "cancele, marque «Conservar ubicaciones" in by_row[5]["fix"]  # the page's box
    assert by_row[10]["problem"] == f"es anterior a {get_settings().earliest_year}"
    report = pl.read_csv(io.BytesIO(report_csv(spanish)), infer_schema=False)
    assert report.columns == list(REPORT_COLUMNS)
    assert {int(r) for r in report["row"]} == set(PLANTED)
    text = report_csv(spanish).decode()
    assert not any(part in text for point in [*POINTS, CUSCO] for part in point)
    assert not any(code in text for code in CODES)


def test_warnings_read_in_each_language_and_english_as_before() -> None:
    dropped, ignored = column_warnings({"Teléfono": "a phone number"}, ["extra"])
    assert isinstance(dropped, Notice) and dropped.code == "dropped_columns"
    assert warning_in(dropped, translator("en")) == dropped
    assert warning_in(ignored, translator("en")) == ignored
    assert warning_in(dropped, translator("es")) == (
        "se descartaron columnas que nunca deben guardarse: 'Teléfono' (un número de teléfono)"
    )
    assert warning_in("plain text", translator("fr")) == "plain text"


def test_every_reason_a_column_is_dropped_has_its_words() -> None:
    for reason in set(FORBIDDEN_COLUMN_WORDS.values()):
        (notice,) = column_warnings({"c": reason}, [])
        for language in LANGUAGES:
            assert "column_reasons" not in warning_in(notice, translator(language))
        assert warning_in(notice, translator("en")) == notice


def test_page_fixes_exist_and_the_name_says_what_and_when() -> None:
    assert all(key in catalogue("en") for key in PAGE_FIXES.values())
    assert report_name("hotspots", dt.date(2026, 12, 7)) == "rejected-hotspots-2026-12-07.csv"
