"""Run sheets: the right stops and words, in English and Spanish, and nothing that locates."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import h3
import polars as pl
import pytest
from pypdf import PdfReader

from mapping.errors import InvalidInputError
from mapping.planning.plans import REFERRAL, RoutePlan
from mapping.planning.runsheet import runsheet_csv, runsheet_filename, runsheet_pdf
from mapping.vocab import SUPPLIES

COORDINATE = re.compile(r"-?\d{1,3}\.\d{4,}")
HEX_64 = re.compile(r"\b[0-9a-fA-F]{64}\b")
CELLS = [h3.latlng_to_cell(-12.0464 + 0.01 * i, -77.0428, 9) for i in range(3)]
INTS = [h3.str_to_int(cell) for cell in CELLS]
NIGHT = dt.datetime(2026, 12, 5, 20, 0)


def at(hour: int, minute: int) -> dt.datetime:
    day = NIGHT.date() + dt.timedelta(days=1 if hour < 12 else 0)
    return dt.datetime.combine(day, dt.time(hour, minute))


@pytest.fixture
def plan() -> RoutePlan:
    stops = pl.DataFrame(
        {
            "seq": [1, 2, 3],
            "hotspot_id": ["H1", "H2", "H3"],
            "cell": INTS,
            "cell_id": CELLS,
            "district": ["Lima", "Breña", "La Victoria"],
            "typology": ["street", "bar", None],
            "peer_educator": ["Rosa", None, "=HYPERLINK(1)"],
            "arrive": [at(20, 45), at(22, 10), at(0, 5)],
            "arrive_until": [at(20, 50), at(22, 30), at(0, 40)],
            "minutes_there": [20, 15, 30],
            "overdue": [True, False, False],
            "missed_before": [False, True, False],
            "follow_up": [False, False, True],
            "done": [False, False, False],
            "referrals": [
                [{"service_type": "hiv_testing", "name": "Centro Esperanza", "minutes": 12}],
                [{"service_type": "violence_response", "name": None, "minutes": 7}],
                [],
            ],
            **{f"supplies_{name}": [10 + i, 0, 3] for i, name in enumerate(SUPPLIES)},
        },
        schema_overrides={"referrals": REFERRAL},
    )
    left_out = pl.DataFrame(
        {
            "hotspot_id": [f"H{i}" for i in range(10, 24)],
            "cell_id": [h3.latlng_to_cell(-12.1, -77.0 + 0.01 * i, 9) for i in range(14)],
            "priority": [float(i) for i in range(14)],
            "reason": ["not_working", "unreachable", "no_time", "no_time"] * 3 + ["no_time"] * 2,
        }
    )
    return RoutePlan(
        team="T1",
        day=NIGHT.date(),
        shift_start=NIGHT,
        shift_end=at(2, 0),
        start_service="S1",
        start_name="Casa de la Mujer",
        stops=stops,
        left_out=left_out,
        travel_minutes=42.0,
        back=at(1, 30),
        travel="straight line x 1.3 detour factor at 4.5 km/h",
    )


def rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def pdf_text(data: bytes) -> str:
    pages = PdfReader(io.BytesIO(data)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


def assert_nothing_locates(text: str) -> None:
    assert not COORDINATE.search(text), COORDINATE.search(text)
    for cell in INTS:
        assert str(cell) not in text
    assert not HEX_64.search(text)


def test_csv_has_one_row_per_stop_with_the_plan_leading(plan: RoutePlan) -> None:
    data = runsheet_csv(plan)
    assert not data.startswith(b"\xef\xbb\xbf")
    header, *body = rows(data)
    assert header == [
        "Team",
        "Date",
        "Shift",
        "Start",
        "Order",
        "Cell",
        "District",
        "Typology",
        "Peer educator",
        "Arrive",
        "Arrive by",
        "Minutes there",
        "Overdue",
        "Missed before",
        "Follow-up due",
        "Referral services",
        "Condoms",
        "Female condoms",
        "Lube",
        "Information material",
        "Harm reduction kits",
    ]
    assert len(body) == 3
    first = dict(zip(header, body[0], strict=True))
    assert first["Team"] == "T1"
    assert first["Date"] == "2026-12-05"
    assert first["Shift"] == "20:00-02:00"
    assert first["Start"] == "Casa de la Mujer"
    assert first["Cell"] == CELLS[0]
    assert first["Typology"] == "Street"
    assert (first["Arrive"], first["Arrive by"], first["Minutes there"]) == ("20:45", "20:50", "20")
    assert (first["Overdue"], first["Missed before"], first["Follow-up due"]) == ("yes", "no", "no")
    assert first["Referral services"] == "HIV testing: Centro Esperanza (12 min)"
    assert [first[label] for label in header[-5:]] == ["10", "11", "12", "13", "14"]
    second = dict(zip(header, body[1], strict=True))
    assert second["Referral services"] == "Violence response: ask your coordinator (7 min)"
    assert second["Peer educator"] == ""
    third = dict(zip(header, body[2], strict=True))
    assert third["Arrive"] == "00:05"
    assert third["Peer educator"] == "'=HYPERLINK(1)"  # text in a spreadsheet, not a formula
    assert third["Typology"] == ""
    assert_nothing_locates(data.decode("utf-8"))
    assert "H1" not in data.decode("utf-8")  # the cell is the only place reference


def test_csv_in_spanish(plan: RoutePlan) -> None:
    header, *body = rows(runsheet_csv(plan, language="es"))
    assert header[:8] == [
        "Equipo",
        "Fecha",
        "Turno",
        "Salida",
        "Orden",
        "Celda",
        "Distrito",
        "Tipología",
    ]
    assert "Educadora par" in header
    assert "Condones" in header
    first, second = (dict(zip(header, row, strict=True)) for row in body[:2])
    assert first["Atrasado"] == "sí"
    assert first["Tipología"] == "Calle"
    assert first["Servicios de referencia"] == "Prueba de VIH: Centro Esperanza (a 12 min)"
    assert second["Servicios de referencia"] == (
        "Respuesta a la violencia: pregunte a su coordinadora (a 7 min)"
    )


def test_csv_of_a_plan_without_stops_is_its_header(plan: RoutePlan) -> None:
    plan.stops = plan.stops.clear()
    assert len(rows(runsheet_csv(plan))) == 1


def test_pdf_holds_the_plan_and_nothing_that_locates(plan: RoutePlan) -> None:
    data = runsheet_pdf(plan)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert "Outreach plan — team T1 — Sat 5 Dec 2026, 20:00-02:00" in text
    assert "Start: Casa de la Mujer" in text
    assert "Planned return: 01:30" in text
    assert "4.5 km/h" in text
    for cell in CELLS:
        assert cell in text
    assert "20:45 (by 20:50)" in text
    assert "ask your coordinator" in text
    assert "Left out" in text
    # the ten of highest priority, in words; the rest counted
    shown = plan.left_out.sort("priority", descending=True)["cell_id"].to_list()
    assert all(cell in text for cell in shown[:10])
    assert not any(cell in text for cell in shown[10:])
    assert "… and 4 more." in text
    assert "not working during the shift" in text
    assert "Keep this sheet out of sight; destroy it after the shift." in text
    assert_nothing_locates(text)
    assert_nothing_locates(data.decode("latin-1"))


def test_pdf_in_spanish(plan: RoutePlan) -> None:
    text = pdf_text(runsheet_pdf(plan, language="es"))
    assert "Plan de trabajo de campo — equipo T1 — sáb 5 dic 2026, 20:00-02:00" in text
    assert "Celda" in text and "Distrito" in text and "Tipología" in text
    assert "20:45 (antes de 20:50)" in text
    assert "pregunte a su coordinadora" in text
    assert "Quedaron fuera" in text
    assert "Mantenga esta hoja fuera de la vista; destrúyala después del turno." in text


def test_pdf_of_a_stored_plan_without_stops_or_left_out(plan: RoutePlan) -> None:
    plan.stops = plan.stops.clear()
    plan.left_out = pl.DataFrame()
    plan.back = None
    text = pdf_text(runsheet_pdf(plan))
    assert "No stops in this plan." in text
    assert "Planned return: not known" in text
    assert "Left out" not in text


def test_filename() -> None:
    plan = RoutePlan(
        "T 1/night", NIGHT.date(), NIGHT, at(2, 0), "S1", "", pl.DataFrame(), pl.DataFrame(),
        0.0, None, "",
    )  # fmt: skip
    assert runsheet_filename(plan, "csv") == "plan-T_1_night-2026-12-05.csv"
    assert runsheet_filename(plan, ".PDF") == "plan-T_1_night-2026-12-05.pdf"
    with pytest.raises(InvalidInputError, match=r"extension 'xlsx' is not a run sheet format"):
        runsheet_filename(plan, "xlsx")


def test_errors(plan: RoutePlan) -> None:
    plan.stops = plan.stops.drop("cell_id", "referrals")
    for write in (runsheet_csv, runsheet_pdf):
        with pytest.raises(
            InvalidInputError, match=r"team 'T1' lacks the stop columns cell_id, referrals"
        ):
            write(plan)
    with pytest.raises(InvalidInputError, match=r"language 'fr' is not offered"):
        runsheet_csv(plan, language="fr")
