"""The Plan page (AppTest): routes and who covers what are shown first and stored on saving."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import app_maps, copy_workspace, query
from streamlit.testing.v1 import AppTest

from mapping.storage.workspace import Workspace

APP = Path(__file__).resolve().parent.parent / "app.py"
STORED = "select hotspot_id, peer_educator_id from assignments order by hotspot_id"


def test_routes_are_stored_only_when_saved(
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


def _assign_page(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """Return the app on the Plan page's "Who covers what", as the demo's coordinator."""
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(workspace))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["role"] = "coordinator"
    at.run()
    at.switch_page("views/plan.py")
    at.run()
    at.radio(key="plan_view").set_value("assign").run()
    assert not at.exception, at.exception
    return at


def _labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def _shown(at: AppTest) -> dict[str, str]:
    """Return the proposal's table: each hotspot's peer educator after saving."""
    changes = at.dataframe[0].value
    return dict(zip(changes["Hotspot"], changes["To peer educator"], strict=True))


def _stored(workspace: Workspace) -> dict[str, str]:
    """Return each stored assignment as the page names it: hotspot, "code (team)"."""
    rows = query(
        workspace,
        "select a.hotspot_id, w.peer_educator || ' (' || w.team || ')' from assignments a "
        "join peer_educators w on w.id = a.peer_educator_id",
    )
    return {str(hotspot): str(peer) for hotspot, peer in rows}


def _counts(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_assignments_are_shown_first_and_saved_only_when_confirmed(
    demo_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = copy_workspace(demo_workspace, tmp_path / "demo")
    at = _assign_page(workspace.path, monkeypatch)
    at.button(key="assign_new").click().run()
    assert not at.exception, at.exception
    assert query(workspace, "select count(*) from assignments") == [(0,)]  # shown, not stored
    assert _counts(at) == {"New assignments": "111", "Moved": "0", "Kept": "0", "Removed": "0"}
    changes = at.dataframe[0].value
    assert list(changes.columns) == [
        "Hotspot",
        "District",
        "Change",
        "From peer educator",
        "To peer educator",
    ]
    assert len(changes) == 111 and set(changes["Change"]) == {"new"}
    assert set(changes["From peer educator"]) == {"—"}
    assert changes["To peer educator"].str.fullmatch(r"PE-T\d-\d \(T\d\)").all()
    assert changes["District"].ne("—").all()
    loads = at.dataframe[1].value
    assert list(loads.columns) == [
        "Team",
        "Peer educator",
        "Hotspots",
        "Estimated sex workers",
        "% of the workload norm",
    ]
    assert len(loads) == 24 and loads["Hotspots"].sum() == 111
    assert "Save these 111 changes" in _labels(at)

    # Cancel: nothing written, the proposal gone
    at.button(key="assign_cancel").click().run()
    assert query(workspace, "select count(*) from assignments") == [(0,)]
    assert "Save these 111 changes" not in _labels(at)
    assert any(i.value == "Cancelled: nothing was saved." for i in at.info)

    # proposed again and confirmed: exactly what was shown is stored, audited once
    at.button(key="assign_new").click().run()
    shown = _shown(at)
    at.button(key="assign_save").click().run()
    assert not at.exception, at.exception
    assert _stored(workspace) == shown
    assert any(s.value == "Saved 111 changes: 111 new, 0 moved, 0 removed." for s in at.success)
    assert not [label for label in _labels(at) if label.startswith("Save these")]
    assert query(workspace, "select username, detail from audit_log where action = 'assign'") == [
        (
            "demo-coordinator",
            "assigned 111 hotspots between 24 peer educators: 0 kept, 111 new, 0 changed, "
            "0 removed",
        )
    ]

    # the map's key names every peer educator with their colour, and their number on the cells
    (html,) = app_maps(at)
    peers = query(workspace, "select peer_educator, team from peer_educators")
    assert len(peers) == 24
    for peer, team in peers:
        assert f"{peer} ({team}): " in html
    assert "Peer educator (team): hotspots" in html
    assert "om-stop" in html or '"ink"' in html  # 24 peer educators > 9 colours: numbered cells

    # nothing new to assign: said so, and nothing to confirm
    at.button(key="assign_new").click().run()
    assert any(i.value.startswith("Nothing to change") for i in at.info)
    assert not [label for label in _labels(at) if label.startswith("Save these")]


def test_a_rebalance_is_confirmed_and_an_outdated_one_refused(
    demo_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mapping.planning.assignments import run_assignment

    workspace = copy_workspace(demo_workspace, tmp_path / "demo")
    run_assignment(workspace)
    # every hotspot of team T1 given to one peer educator: far over the norm
    with workspace.begin() as connection:
        connection.execute(
            sa.text(
                "update assignments set peer_educator_id = (select id from peer_educators "
                "where peer_educator = 'PE-T1-1') where peer_educator_id in "
                "(select id from peer_educators where team = 'T1')"
            )
        )
    before = query(workspace, STORED)
    at = _assign_page(workspace.path, monkeypatch)
    at.button(key="assign_rebalance").click().run()
    assert not at.exception, at.exception
    assert query(workspace, STORED) == before  # shown, not stored
    moved = int(_counts(at)["Moved"])
    assert moved > 0 and _counts(at)["New assignments"] == "0"
    changes = at.dataframe[0].value
    assert len(changes) == moved
    # (the solver, stopped at its time limit, may also move a hotspot or two of other teams)
    assert (changes["From peer educator"] == "PE-T1-1 (T1)").sum() > moved / 2
    at.button(key="assign_cancel").click().run()
    assert query(workspace, STORED) == before

    # another coordinator saves between the proposal and its confirmation: refused
    at.button(key="assign_rebalance").click().run()
    assert [label for label in _labels(at) if label.startswith("Save these")]
    run_assignment(workspace, rebalance=True)
    theirs = query(workspace, STORED)
    assert theirs != before
    at.button(key="assign_save").click().run()
    assert not at.exception, at.exception
    assert query(workspace, STORED) == theirs  # nothing of the outdated proposal written
    assert any(e.value.startswith("Nothing was saved: the assignments changed") for e in at.error)
    # and a fresh proposal from the store as it is now is shown instead
    assert any(i.value.startswith("Nothing to change") for i in at.info) or [
        label for label in _labels(at) if label.startswith("Save these")
    ]
    assert len(query(workspace, "select * from audit_log where action = 'assign'")) == 2

    # a rebalance confirmed writes what it showed
    with workspace.begin() as connection:
        connection.execute(sa.text("update assignments set peer_educator_id = 1"))
    at.button(key="assign_rebalance").click().run()
    shown = _shown(at)
    before = _stored(workspace)
    at.button(key="assign_save").click().run()
    assert _stored(workspace) == {**before, **shown}  # the changes shown, the rest kept
    assert any(s.value.startswith(f"Saved {len(shown)} changes") for s in at.success)
