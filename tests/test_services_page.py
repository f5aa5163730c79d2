"""The coordinator's Services page, run headless with AppTest on the demo workspace."""

from __future__ import annotations

from pathlib import Path

import h3
import pytest
from helpers import account_token, copy_workspace, query
from streamlit.testing.v1 import AppTest

from mapping.registries.service_edits import Place
from mapping.storage.workspace import open_workspace

APP = Path(__file__).resolve().parent.parent / "app.py"
PAGE = "views/services.py"


def services_page(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, language: str = "en"
) -> AppTest:
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(workspace))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state["auth_token"] = account_token(workspace)
    at.query_params["lang"] = language
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def test_services_page_in_english_and_spanish(
    demo_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page lists the active services, filters them, and speaks both languages."""
    at = services_page(demo_workspace, monkeypatch)
    assert at.title[0].value == "Services"
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "Id",
        "Name",
        "Type",
        "Opening hours",
        "Friendly",
        "Free",
        "Sensitive",
        "Cell",
        "Active until",
    ]
    total = len(table)
    assert total > 500
    assert not any("lat" in column.lower() or "lon" in column.lower() for column in table.columns)
    at.toggle(key="svc_at_night").set_value(True).run()
    night = at.dataframe[0].value
    assert 0 < len(night) < total
    assert set(night["Id"]) >= {"DEMO-S01", "DEMO-S03"}  # open to 02:00
    at.multiselect(key="svc_types").set_value(["hiv_testing"]).run()
    assert set(at.dataframe[0].value["Type"]) == {"HIV testing"}
    assert at.info[0].value == "Give the service's name and click the map where it is."

    at.query_params["lang"] = "es"
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Servicios"
    spanish = at.dataframe[0].value
    assert list(spanish.columns)[:3] == ["Código", "Nombre", "Tipo"]
    assert set(spanish["Tipo"]) == {"Prueba de VIH"}
    assert any(hours.startswith("Ju–Sá") for hours in spanish["Horario"])  # Th-Sa, in Spanish
    assert at.info[0].value.startswith("Escriba el nombre del servicio")


def test_edit_a_service_asks_for_confirmation_and_says_what_changed(
    demo_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = copy_workspace(demo_workspace, tmp_path / "demo").path
    at = services_page(workspace, monkeypatch)
    at.radio(key="svc_mode").set_value("edit").run()
    at.selectbox(key="svc_edit_id").set_value("DEMO-S03").run()
    assert at.text_input(key="svc_edit_opening_hours").value == "Th-Sa 20:00-02:00"
    assert at.info[0].value.startswith("Nothing changes yet")
    at.text_input(key="svc_edit_opening_hours").set_value("Th-Sa 8pm-3am").run()
    assert "Opening hours “Th-Sa 8pm-3am” cannot be read" in at.warning[0].value
    at.text_input(key="svc_edit_opening_hours").set_value("Th-Su 20:00-03:00").run()
    assert "- Opening hours: Th–Sa 20:00–02:00 → Th–Su 20:00–03:00" in [
        m.value for m in at.markdown
    ]
    save = at.button(key="svc_edit_save")
    assert save.disabled  # confirmation first
    at.checkbox(key="svc_edit_confirm").check().run()
    at.button(key="svc_edit_save").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith("Changed service DEMO-S03:")
    assert "Th–Su 20:00–03:00" in at.success[0].value  # stored as written (below)
    assert query_one(workspace, "SELECT opening_hours FROM services WHERE id = 'DEMO-S03'") == (
        "Th-Su 20:00-03:00"
    )
    assert query_one(workspace, "SELECT source_name FROM imports ORDER BY id DESC LIMIT 1") == (
        "app: changed service DEMO-S03: opening_hours"
    )


def test_add_a_sensitive_service_keeps_only_its_cell(
    demo_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A place picked on the map (as the click leaves it: a cell) becomes a new service."""
    workspace = copy_workspace(demo_workspace, tmp_path / "demo").path
    at = services_page(workspace, monkeypatch, language="es")
    cell = h3.latlng_to_cell(-12.0712, -77.0223, 8)
    at.session_state["svc_place"] = Place(int(h3.str_to_int(cell)), (-12.0712, -77.0223))
    at.toggle(key="svc_add_sensitive").set_value(True).run()
    # turning 'sensitive' on dropped the point from the session at once
    assert at.session_state["svc_place"] == Place(int(h3.str_to_int(cell)))
    at.text_input(key="svc_add_name").set_value("Consultorio de confianza").run()
    at.selectbox(key="svc_add_service_type").set_value("prep_pep").run()
    at.text_input(key="svc_add_opening_hours").set_value("Lu-Vi 18:00-23:00").run()
    markdown = [m.value for m in at.markdown]
    assert "**Al guardar se añade el servicio S-0001:**" in markdown
    assert any(f"Lugar: celda {cell}; solo se guarda la celda." in c.value for c in at.caption)
    at.checkbox(key="svc_add_confirm").check().run()
    at.button(key="svc_add_save").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith("Se añadió el servicio S-0001:")
    assert query(
        open_workspace(workspace),
        "SELECT name, service_type, cell, location, sensitive, opening_hours FROM services "
        "WHERE id = 'S-0001'",
    ) == [("Consultorio de confianza", 5, h3.str_to_int(cell), None, 1, "Mo-Fr 18:00-23:00")]
    # the form is empty again and the picked place is gone
    assert at.text_input(key="svc_add_name").value == ""
    assert "svc_place" not in at.session_state


def query_one(path: Path, sql: str) -> object:
    rows = query(open_workspace(path), sql)
    assert len(rows) == 1, rows
    return rows[0][0]


def _click_then_capture() -> None:
    """A script: the map reports a click (as streamlit-folium stores it), the page captures it."""
    import streamlit as st

    from views.service_form import capture

    if "clicked" not in st.session_state:
        click = {"lat": -12.0712345, "lng": -77.0223456}
        st.session_state["svc-map-0"] = {"last_clicked": click}  # under the map's key
        st.session_state["3f9a0c"] = {"last_clicked": click, "zoom": 12}  # its widget's key
        capture("svc-map-0", 8, True)
        st.session_state["clicked"] = True


def test_a_click_leaves_only_its_cell_in_the_session() -> None:
    at = AppTest.from_function(_click_then_capture, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    state = {key: at.session_state[key] for key in at.session_state}
    assert state["svc_place"] == Place(
        int(h3.str_to_int(h3.latlng_to_cell(-12.0712345, -77.0223456, 8)))
    )
    assert state["svc_map"] == 1  # the next map gets a new key, without the click
    assert "svc-map-0" not in state and "3f9a0c" not in state
    assert "12.07" not in repr(state) and "77.02" not in repr(state)
