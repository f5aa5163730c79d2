"""Run sheets: the right stops, kits and map, in every language, and nothing that locates."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import h3
import numpy as np
import polars as pl
import pytest
import shapely
from helpers import english_fragments
from pypdf import PdfReader

from mapping.errors import InvalidInputError
from mapping.planning.plans import REFERRAL, RoutePlan, for_peer_educators
from mapping.planning.runsheet import runsheet_csv, runsheet_filename, runsheet_pdf
from mapping.planning.sheet_map import MAP_ASPECT, MAP_MIN_KM, MapProjection, map_frame

COORDINATE = re.compile(r"-?\d{1,3}\.\d{4,}")
HEX_64 = re.compile(r"\b[0-9a-fA-F]{64}\b")
CELLS = [h3.latlng_to_cell(-12.0464, -77.0528 + 0.012 * i, 8) for i in range(3)]
INTS = [h3.str_to_int(cell) for cell in CELLS]
NIGHT = dt.datetime(2026, 12, 5, 20, 0)


def at(hour: int, minute: int) -> dt.datetime:
    day = NIGHT.date() + dt.timedelta(days=1 if hour < 12 else 0)
    return dt.datetime.combine(day, dt.time(hour, minute))


#: Two districts side by side, the first holding the first stop, the second the others.
DISTRICTS = [
    ("Lima", shapely.box(-77.08, -12.06, -77.0428 + 0.0001, -12.03)),
    ("Breña", shapely.box(-77.0428 + 0.0001, -12.06, -77.00, -12.03)),
]


def stops_frame(**overrides: list[object]) -> pl.DataFrame:
    columns: dict[str, list[object]] = {
        "seq": [1, 2, 3],
        "hotspot_id": ["HS-0007", "HS-0002", "HS-0011"],
        "cell": INTS,
        "cell_id": CELLS,
        "district": ["Lima", "Breña", "Breña"],
        "typology": ["street", "bar", None],
        "peer_educator": ["PE-01", None, "=HYPERLINK(1)"],
        "arrive": [at(20, 45), at(22, 10), at(0, 5)],
        "arrive_until": [at(20, 50), at(22, 30), at(0, 40)],
        "minutes_there": [30, 30, 30],
        "overdue": [True, False, False],
        "missed_before": [False, True, False],
        "follow_up": [False, False, True],
        "done": [False, False, False],
        "referrals": [
            [{"service_type": "hiv_testing", "name": "Centro Esperanza", "minutes": 12}],
            [{"service_type": "violence_response", "name": None, "minutes": 7}],
            [],
        ],
        # 20-35 people: 35 kits at one per person; 5: 5 kits; no estimate: the median, 12
        "size_min": [20, 5, None],
        "size_max": [35, 5, None],
        "people": [35, 5, 12],
        "kits": [35, 5, 12],
    }
    columns.update(overrides)
    return pl.DataFrame(
        columns,
        schema_overrides={
            "referrals": REFERRAL,
            "size_min": pl.Int64,
            "size_max": pl.Int64,
            "people": pl.Int64,
            "kits": pl.Int64,
        },
    )


@pytest.fixture
def plan() -> RoutePlan:
    left_out = pl.DataFrame(
        {
            "hotspot_id": [f"H{i}" for i in range(10, 24)],
            "cell_id": [h3.latlng_to_cell(-12.1, -77.0 + 0.01 * i, 8) for i in range(14)],
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
        stops=stops_frame(),
        left_out=left_out,
        travel_minutes=42.0,
        back=at(1, 30),
        travel="straight line x 1.3 detour factor at 4.5 km/h",
    )


def rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def pages(data: bytes) -> list[str]:
    """Each page's text, its whitespace as single spaces."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def pdf_text(data: bytes) -> str:
    return " ".join(pages(data))


def assert_nothing_locates(text: str) -> None:
    assert not COORDINATE.search(text), COORDINATE.search(text)
    for cell in INTS:
        assert str(cell) not in text
    assert not HEX_64.search(text)


HEADER_EN = [
    "Team",
    "Date",
    "Shift",
    "Start",
    "Order",
    "Hotspot",
    "Typology",
    "Cell",
    "District",
    "Peer educator",
    "Arrive",
    "Arrive by",
    "Minutes there",
    "Overdue",
    "Missed before",
    "Follow-up due",
    "Referral services",
]


def test_csv_has_one_row_per_stop_with_the_plan_leading(plan: RoutePlan) -> None:
    data = runsheet_csv(plan)
    assert not data.startswith(b"\xef\xbb\xbf")
    header, *body = rows(data)
    assert header == [*HEADER_EN, "Estimated people", "Kits to bring"]
    assert len(body) == 3
    first = dict(zip(header, body[0], strict=True))
    assert first["Team"] == "T1"
    assert first["Date"] == "2026-12-05"
    assert first["Shift"] == "20:00-02:00"
    assert first["Start"] == "Casa de la Mujer"
    assert (first["Hotspot"], first["Typology"], first["Cell"]) == ("HS-0007", "Street", CELLS[0])
    assert (first["Arrive"], first["Arrive by"], first["Minutes there"]) == ("20:45", "20:50", "30")
    assert (first["Overdue"], first["Missed before"], first["Follow-up due"]) == ("yes", "no", "no")
    assert first["Referral services"] == "HIV testing: Centro Esperanza (12 min)"
    # the coordinator's kits, explained by the size estimate they come from
    people = [dict(zip(header, row, strict=True))["Estimated people"] for row in body]
    kits = [dict(zip(header, row, strict=True))["Kits to bring"] for row in body]
    assert people == ["20–35", "5", "≈12 (median)"]
    assert kits == ["35", "5", "12"]
    second = dict(zip(header, body[1], strict=True))
    assert second["Referral services"] == "Violence response: ask your coordinator (7 min)"
    assert second["Peer educator"] == ""
    third = dict(zip(header, body[2], strict=True))
    assert third["Arrive"] == "00:05"
    assert third["Peer educator"] == "'=HYPERLINK(1)"  # text in a spreadsheet, not a formula
    assert third["Typology"] == ""
    assert_nothing_locates(data.decode("utf-8"))


def test_a_teams_csv_has_no_size_and_kits_by_the_norm(plan: RoutePlan) -> None:
    header, *body = rows(runsheet_csv(for_peer_educators(plan)))
    assert header == [*HEADER_EN, "Kits to bring"]
    # the coordinator's rows without the size and the kits from it, and the norm instead
    _, *coordinator = rows(runsheet_csv(plan))
    assert body == [[*row[:-2], "1 per person"] for row in coordinator]


def test_csv_in_spanish(plan: RoutePlan) -> None:
    header, *body = rows(runsheet_csv(plan, language="es"))
    assert header[:9] == [
        "Equipo",
        "Fecha",
        "Turno",
        "Salida",
        "Orden",
        "Punto",
        "Tipología",
        "Celda",
        "Distrito",
    ]
    assert header[-2:] == ["Personas estimadas", "Kits a llevar"]
    assert "Educadora par" in header
    first, second, third = (dict(zip(header, row, strict=True)) for row in body)
    assert first["Atrasado"] == "sí"
    assert first["Tipología"] == "Calle"
    assert first["Servicios de referencia"] == "Prueba de VIH: Centro Esperanza (a 12 min)"
    assert second["Servicios de referencia"] == (
        "Respuesta a la violencia: pregunte a su coordinadora (a 7 min)"
    )
    assert third["Personas estimadas"] == "≈12 (mediana)"
    team_header, *team_rows = rows(runsheet_csv(for_peer_educators(plan), language="es"))
    assert team_header[-1] == "Kits a llevar"
    assert {row[-1] for row in team_rows} == {"1 por persona"}


def test_csv_of_a_plan_without_stops_is_its_header(plan: RoutePlan) -> None:
    plan.stops = plan.stops.clear()
    assert len(rows(runsheet_csv(plan))) == 1


def test_pdf_holds_the_plan_its_map_and_nothing_that_locates(plan: RoutePlan) -> None:
    data = runsheet_pdf(plan, districts=DISTRICTS)
    assert data.startswith(b"%PDF-")
    first, map_page, *_ = pages(data)
    text = pdf_text(data)
    assert "Outreach plan — team T1 — Sat 5 Dec 2026, 20:00-02:00" in first
    assert "Coordinator's copy: it holds each hotspot's size estimate." in first
    assert "Start: Casa de la Mujer" in first
    assert "Planned return: 01:30" in first
    assert "Planned stay: 30 min at each stop." in first
    assert "Travel times: a straight line × 1.3 for the streets, walked at 4.5 km/h." in first
    # 35 + 5 + 12 kits; a kit is 10 condoms, 10 sachets of lubricant and 1 female condom
    assert (
        "Supplies for the night: 52 standard kits (520 condoms, 520 lubricant sachets, "
        "52 female condoms)." in first
    )
    assert "Kits per stop = estimated people (top of the range) × 1 kit per person" in first
    for code in ("HS-0007 (Street)", "HS-0002 (Bar or club)", "HS-0011"):
        assert code in first
    for cell in CELLS:
        assert cell in first
    assert "20:45 (by 20:50)" in first
    assert "ask your coordinator" in first
    assert "20–35" in first and "≈12 (median)" in first
    # the map: its title, both districts by name, the three stops numbered
    assert "Map of the night" in map_page
    assert "Lima" in map_page and "Breña" in map_page
    assert {"1", "2", "3"} <= set(map_page.split())
    assert "1 km" in map_page or "500 m" in map_page  # the scale bar
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


def test_a_teams_pdf_says_what_to_hand_out_and_nothing_of_size(plan: RoutePlan) -> None:
    data = runsheet_pdf(for_peer_educators(plan), districts=DISTRICTS)
    text = pdf_text(data)
    assert "Coordinator's copy" not in text
    assert (
        "Supplies: your coordinator packs the night's kits. Hand out standard kits, 1 per "
        "person you meet (each kit: condoms 10, lubricant sachets 10, female condoms 1)." in text
    )
    assert "Estimated people" not in text and "Kits to bring" not in text
    assert "Kits per stop" not in text  # no norm: no per-stop amount to explain
    for figure in ("20–35", "35", "52", "median"):
        assert figure not in text
    assert "HS-0007 (Street)" in text and "Map of the night" in text
    # two pages: the stops, then the map with the closing safety line under it (not a third page)
    _, map_page = pages(data)
    assert "Map of the night" in map_page and map_page.count("Keep this sheet out of sight") == 2


def test_two_stops_in_one_cell_share_a_number_on_the_map(plan: RoutePlan) -> None:
    plan.stops = stops_frame(
        cell=[INTS[0], INTS[1], INTS[1]], cell_id=[CELLS[0], CELLS[1], CELLS[1]]
    )
    map_page = pages(runsheet_pdf(plan, districts=DISTRICTS))[1]
    assert "2·3" in map_page


@pytest.mark.parametrize("team", [False, True])
def test_pdf_in_spanish_has_no_english(plan: RoutePlan, team: bool) -> None:
    sheet = for_peer_educators(plan) if team else plan
    text = pdf_text(runsheet_pdf(sheet, language="es", districts=DISTRICTS))
    assert "Plan de trabajo de campo — equipo T1 — sáb 5 dic 2026, 20:00-02:00" in text
    assert "Punto" in text and "Celda" in text and "Distrito" in text
    assert "HS-0007 (Calle)" in text
    assert "20:45 (antes de 20:50)" in text
    assert "pregunte a su coordinadora" in text
    assert "Estadía prevista: 30 min en cada parada." in text
    assert "Tiempos de viaje: línea recta × 1.3 por las calles, a pie a 4.5 km/h." in text
    assert "Mapa de la noche" in text
    assert "Mantenga esta hoja fuera de la vista; destrúyala después del turno." in text
    if team:
        assert "Insumos: su coordinadora prepara los kits de la noche." in text
    else:
        assert "Quedaron fuera" in text
        assert "Insumos para la noche: 52 kits estándar" in text
        assert "Kits por parada = personas estimadas" in text
    fragments = english_fragments()
    assert len(fragments) > 40  # the check has teeth
    english = sorted(fragment for fragment in fragments if fragment in text)
    assert not english, english
    for sentence in ("straight line x", "detour factor", "Travel model", "Travel times"):
        assert sentence not in text


@pytest.mark.parametrize("team", [False, True])
def test_pdf_in_french_has_no_english(plan: RoutePlan, team: bool) -> None:
    sheet = for_peer_educators(plan) if team else plan
    text = pdf_text(runsheet_pdf(sheet, language="fr", districts=DISTRICTS))
    assert "Plan de travail de proximité — équipe T1 — sam. 5 déc. 2026, 20:00-02:00" in text
    assert "Point chaud" in text and "Cellule" in text and "HS-0007 (Rue)" in text
    assert "20:45 (avant 20:50)" in text and "demandez à votre coordinateur" in text
    assert "Carte de la nuit" in text
    # the no-break space before ";" reads as a space once pdf_text joins the words
    assert "Gardez cette feuille hors de vue ; détruisez-la après la tournée." in text
    if team:
        assert "votre coordinateur prépare les kits de la nuit" in text
    else:
        assert "Laissés de côté" in text and "52 kits standard" in text
    fragments = english_fragments(language="fr")
    assert len(fragments) > 40  # the check has teeth
    english = sorted(fragment for fragment in fragments if fragment in text)
    assert not english, english


def test_the_travel_model_of_a_street_network_is_in_words(plan: RoutePlan) -> None:
    plan.travel = "street network lima.osm.pbf at 4.5 km/h"
    assert "Tiempos de viaje: por las calles (lima.osm.pbf) a 4.5 km/h." in pdf_text(
        runsheet_pdf(plan, language="es")
    )
    plan.travel = "by canoe"  # a model the sheet cannot put in words is left out, not English
    assert "canoe" not in pdf_text(runsheet_pdf(plan, language="es"))


def test_pdf_of_a_stored_plan_without_stops_or_left_out(plan: RoutePlan) -> None:
    plan.stops = plan.stops.clear()
    plan.left_out = pl.DataFrame()
    plan.back = None
    text = pdf_text(runsheet_pdf(plan))
    assert "No stops in this plan." in text
    assert "Planned return: not known" in text
    assert "Supplies for the night: 0 standard kits" in text
    assert "Left out" not in text and "Map of the night" not in text


def test_the_map_frame_and_projection() -> None:
    """North up, east right, one scale both ways, and a one-cell night not blown up."""
    (one,) = INTS[:1]
    west, south, east, north = map_frame([one])
    lat = (south + north) / 2
    assert (north - south) * 111.2 == pytest.approx(MAP_MIN_KM)
    # widened to the shape of the map's box: 1.5 km high, 1.8 x 1.5 = 2.7 km wide
    assert (east - west) * 111.2 * np.cos(np.radians(lat)) == pytest.approx(2.7)
    assert MAP_ASPECT == 1.8
    frame = map_frame(INTS)
    lat = (frame[1] + frame[3]) / 2
    for cell in CELLS:  # every cell inside the frame, with room around it
        for c_lat, c_lng in h3.cell_to_boundary(cell):
            assert frame[0] < c_lng < frame[2] and frame[1] < c_lat < frame[3]
    box = (10.0, 30.0, 277.0, 160.0)
    projection = MapProjection.fit(frame, box)
    west_x, _ = projection.point(frame[0], lat)
    east_x, _ = projection.point(frame[2], lat)
    _, north_y = projection.point(frame[0], frame[3])
    _, south_y = projection.point(frame[0], frame[1])
    assert west_x < east_x and north_y < south_y  # east is right, north is up
    assert box[0] - 1e-9 <= west_x and east_x <= box[0] + box[2] + 1e-9
    assert box[1] - 1e-9 <= north_y and south_y <= box[1] + box[3] + 1e-9
    # a km east-west and a km north-south are the same length on paper
    km_lng = 1 / (111.2 * np.cos(np.radians(lat)))
    across = projection.point(frame[0] + km_lng, lat)[0] - west_x
    assert across == pytest.approx(projection.mm_per_km(), rel=1e-9)


def test_filename(plan: RoutePlan) -> None:
    night = RoutePlan(
        "T 1/night", NIGHT.date(), NIGHT, at(2, 0), "S1", "", pl.DataFrame(), pl.DataFrame(),
        0.0, None, "",
    )  # fmt: skip
    assert runsheet_filename(night, "csv") == "plan-T_1_night-2026-12-05.csv"
    assert runsheet_filename(night, ".PDF") == "plan-T_1_night-2026-12-05.pdf"
    assert runsheet_filename(for_peer_educators(plan), "pdf") == "plan-T1-2026-12-05-team.pdf"
    with pytest.raises(InvalidInputError, match=r"extension 'xlsx' is not a run sheet format"):
        runsheet_filename(night, "xlsx")


def test_errors(plan: RoutePlan) -> None:
    plan.stops = plan.stops.drop("cell_id", "referrals")
    for write in (runsheet_csv, runsheet_pdf):
        with pytest.raises(
            InvalidInputError, match=r"team 'T1' lacks the stop columns cell_id, referrals"
        ):
            write(plan)
    with pytest.raises(InvalidInputError, match=r"language 'xx' is not offered"):
        runsheet_csv(plan, language="xx")


def test_a_plan_stored_with_stays_by_size_is_not_given_to_a_team(plan: RoutePlan) -> None:
    """Stays that differ between stops were made from sizes: the times would tell them."""
    plan.stops = stops_frame(minutes_there=[38, 15, 22])
    with pytest.raises(
        InvalidInputError,
        match=r"the plan of team T1 for 2026-12-05 stays 15 to 38 minutes at its stops: .* "
        r"plan that night again",
    ):
        for_peer_educators(plan)
