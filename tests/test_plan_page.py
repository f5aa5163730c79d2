"""The Plan page (AppTest): routes are shown first and stored on saving; who covers what."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import copy_workspace, query
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parent.parent / "app.py"


def test_routes_are_stored_only_when_saved_and_assignment_shows_the_workloads(
    demo_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = copy_workspace(demo_workspace, tmp_path / "demo")
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(workspace.path))
    monkeypatch.setenv("OUTREACH_MAP_PLAN_SEARCH_SECONDS", "0.5")
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["role"] = "coordinator"
    at.run()
    at.switch_page("views/plan.py")
    at.run()
    assert not at.exception, at.exception
    at.button(key="FormSubmitter:plan_form-Plan the route").click().run()
    assert not at.exception, at.exception
    assert query(workspace, "select count(*) from plans") == [(0,)]  # shown, not stored
    assert [b.label for b in at.button if b.label == "Save these plans"]
    at.button(key="plan_save").click().run()
    assert not at.exception, at.exception
    assert query(workspace, "select team from plans") == [("T1",)]
    assert any(s.value == "Saved." for s in at.success)
    assert not [b for b in at.button if b.label == "Save these plans"]
    assert query(workspace, "select username from audit_log where action = 'plan'") == [
        ("demo-coordinator",)
    ]
    # the run sheets come with the saved plan
    # and the team's copy to print for the team (no size estimate on it), with the coordinator's
    # table showing the sizes and kits the coordinator's own sheet explains
    assert {b.label for b in at.get("download_button")} >= {
        "Run sheet (PDF)",
        "Run sheet (CSV)",
        "Team copy (PDF)",
    }
    stops = at.dataframe[0].value  # then the hotspots left out
    assert {"Hotspot", "Typology", "Estimated people", "Kits to bring"} <= set(stops.columns)
    assert (stops["Kits to bring"] == stops["Estimated people"]).all()  # 1 kit per person

    at.radio(key="plan_view").set_value("assign").run()
    at.button[0].click().run()  # Assign new hotspots
    assert not at.exception, at.exception
    assert "hotspots between 24 peer educators" in at.success[0].value
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "Team",
        "Peer educator",
        "Hotspots",
        "Estimated sex workers",
        "% of the workload norm",
    ]
    assert len(table) == 24
    assert query(workspace, "select count(*) from assignments") == [(111,)]
