"""Signing in to the app, as each role, on a workspace that is not the demo (AppTest).

Each role signs in through the form, visits every page it has, and the test checks what the
pages drew: the finest H3 cells in every map payload, whose cells they are, and the figures in
every table. Sessions are replayed after sign-out, left idle and ended by an admin.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import TEST_PASSWORD, app_maps, copy_workspace, drawn_cells, folium_rings
from streamlit.testing.v1 import AppTest

from mapping.access.accounts import DEMO_KEY, add_account
from mapping.storage.audit import Actor, audit_entries
from mapping.storage.store import meta, peer_educators, services, sessions, users, visits
from mapping.storage.workspace import Workspace, is_wiped

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
#: Each role's pages, as registered in app.py, and the title its first page shows.
PAGES = {
    "coordinator": (
        [
            "views/overview.py",
            "views/coverage.py",
            "views/hotspots.py",
            "views/plan.py",
            "views/services.py",
            "views/sites.py",
            "views/import_data.py",
        ],
        "outreach-map",  # the overview's title
    ),
    "peer": (["views/my_area.py", "views/log_visit.py"], "My area"),
    "funder": (["views/reach.py"], "Reach"),
    "admin": (["views/admin.py"], "Admin"),
}
K = 11


@pytest.fixture
def deployment(demo_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A copy of the demo's data run as a real deployment: no demo accounts, one per role."""
    workspace = copy_workspace(demo_workspace, tmp_path / "programme")
    with workspace.begin() as connection:
        connection.execute(meta.delete().where(meta.c.key == DEMO_KEY))
        connection.execute(users.delete().where(users.c.username.like("demo-%")))
        for role in PAGES:
            teams = ["T1"] if role == "peer" else []
            add_account(
                connection, role, role, by=Actor("t", "admin"), password=TEST_PASSWORD, teams=teams
            )
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(workspace.path))
    return workspace


def fresh(language: str = "en") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["lang"] = language
    return at


def signed_in(role: str, password: str = TEST_PASSWORD) -> AppTest:
    """Sign in through the form; decline the PIN offered first (tests/test_lock_app.py sets one)."""
    at = fresh()
    at.run()
    at.text_input[0].input(role)
    at.text_input[1].input(password)
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, at.exception
    if role != "admin":  # an admin has no PIN: accounts and the wipe stay behind the password
        assert at.title[0].value == "Set a PIN" and not at.sidebar.get("page_link")
        at.button(key="pin-not-now").click().run()
    return at


def on_sign_in_page(at: AppTest) -> bool:
    return [s.value for s in at.subheader][-1:] == ["Sign in"] and not at.sidebar.get("page_link")


def test_only_the_sign_in_form_is_reachable_without_a_session(deployment: Workspace) -> None:
    at = fresh()
    at.query_params["role"] = "coordinator"  # the demo's shortcut means nothing here
    at.run()
    assert not at.exception, at.exception
    assert on_sign_in_page(at)
    assert not at.get("component_instance") and not at.dataframe and not at.metric
    assert [b.label for b in at.button] == ["Sign in"]  # no demo roles
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/coverage.py")


@pytest.mark.parametrize("role", list(PAGES))
def test_each_role_signs_in_and_gets_only_its_own_pages(deployment: Workspace, role: str) -> None:
    at = signed_in(role)
    pages, title = PAGES[role]
    assert at.title[0].value == title
    links = [link.label for link in at.sidebar.get("page_link")]
    assert len(links) == len(pages)
    # no role switch outside the demo; who is signed in, and the way out
    assert "role__box" not in [box.key for box in at.sidebar.selectbox]
    assert f"Signed in as **{role}**" in " ".join(c.value for c in at.sidebar.caption)
    assert "Sign out" in [b.label for b in at.sidebar.button]
    others = {p for r, (ps, _) in PAGES.items() if r != role for p in ps} - set(pages)
    for page in sorted(others):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)


def team_cells(workspace: Workspace, team: str) -> set[int]:
    with workspace.connect() as connection:
        return set(
            connection.execute(
                sa.select(visits.c.cell)
                .join(peer_educators, peer_educators.c.id == visits.c.peer_educator_id)
                .where(peer_educators.c.team == team, visits.c.cell.is_not(None))
            ).scalars()
        )


def test_every_page_of_every_role_draws_only_what_the_role_may_see(
    deployment: Workspace,
) -> None:
    """Finest cells per role, the peer's own team only, and no small figure for the funder."""
    with deployment.connect() as connection:
        service_cells = set(connection.execute(sa.select(services.c.cell)).scalars())
    own, others = (
        team_cells(deployment, "T1"),
        team_cells(deployment, "T2") - team_cells(deployment, "T1"),
    )
    seen: dict[str, dict[int, int]] = {}
    for role, (pages, _) in PAGES.items():
        at = signed_in(role)
        cells: dict[int, int] = {}
        tables = []
        for page in pages:
            at.switch_page(page).run()
            assert not at.exception, (role, page, at.exception)
            for html in app_maps(at):
                cells |= drawn_cells(folium_rings(html))
            tables += [frame.value for frame in at.dataframe]
            if role == "peer":
                assert not at.metric, page  # no counts of people on a peer educator's page
        seen[role] = cells
        if role == "funder":
            for table in tables:
                for column in table.select_dtypes("number").columns:
                    if "target" in column.lower() or "%" in column:
                        continue
                    shown = table[column].dropna()
                    assert (shown >= K).all(), (column, shown[shown < K].tolist())
    assert set(seen["coordinator"].values()) == {deployment.resolution}
    assert set(seen["peer"].values()) <= {deployment.resolution}
    # the peer educator's map: T1's cells and services' cells, never another team's
    assert seen["peer"] and set(seen["peer"]) <= own | service_cells
    assert not set(seen["peer"]) & (others - service_cells)
    assert all(resolution <= 6 for resolution in seen["funder"].values())
    assert not seen["admin"]


def test_a_peer_educator_cannot_ask_for_another_team(deployment: Workspace) -> None:
    at = signed_in("peer")
    assert at.selectbox(key="team__box").options == ["T1"]
    at.query_params["team"] = "T2"
    at.run()
    assert at.selectbox(key="team__box").value == "T1"


def test_a_session_replayed_after_sign_out_is_refused(deployment: Workspace) -> None:
    at = signed_in("coordinator")
    token = at.session_state["auth_token"]
    at.sidebar.button[0].click().run()
    assert on_sign_in_page(at)
    assert "You are signed out." in [i.value for i in at.info]
    replay = fresh()
    replay.session_state["auth_token"] = token
    replay.run()
    assert on_sign_in_page(replay) and not replay.dataframe
    with deployment.connect() as connection:
        log = audit_entries(connection)
    assert log.filter(log["action"] == "sign_out")["username"].to_list() == ["coordinator"]


def test_an_idle_session_without_a_pin_ends_at_the_next_click(deployment: Workspace) -> None:
    at = signed_in("funder")
    long_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=6)
    with deployment.begin() as connection:
        connection.execute(sessions.update().values(last_seen=long_ago))
    at.run()
    assert on_sign_in_page(at)
    # without a PIN there is nothing to lock with (with one it locks: tests/test_lock_app.py)
    assert "You were signed out after 5 minutes without use" in " ".join(i.value for i in at.info)


def test_an_admin_ends_every_other_session(deployment: Workspace) -> None:
    coordinator = signed_in("coordinator")
    admin = signed_in("admin")
    next(b for b in admin.button if b.label == "End all sessions").click().run()
    assert "1 session(s) ended." in [s.value for s in admin.success]
    coordinator.run()
    assert on_sign_in_page(coordinator)
    admin.run()
    assert admin.title[0].value == "Admin"  # the admin's own session goes on


def test_wrong_passwords_in_the_form_are_refused_then_slowed(deployment: Workspace) -> None:
    at = fresh()
    at.run()
    for attempt in range(5):
        at.text_input[0].input("coordinator")
        at.text_input[1].input(f"wrong password {attempt}")
        at.button[0].click().run()
    assert "Wrong username or password." in [e.value for e in at.error]
    assert "wait 30 seconds" in " ".join(w.value for w in at.warning)
    at.text_input[0].input("coordinator")
    at.text_input[1].input(TEST_PASSWORD)
    at.button[0].click().run()
    assert on_sign_in_page(at)
    assert "Too many wrong passwords for this account" in at.error[0].value


def test_page_views_are_audited_with_the_resolution_shown(deployment: Workspace) -> None:
    signed_in("coordinator").switch_page("views/coverage.py").run()
    signed_in("funder")
    with deployment.connect() as connection:
        log = audit_entries(connection)
    views = log.filter(log["action"] == "view").sort("id")
    assert views.select("username", "detail", "resolution").rows() == [
        ("coordinator", "page overview", 8),
        ("coordinator", "page coverage", 8),
        ("funder", "page reach", None),
    ]
    assert log.filter(log["action"] == "sign_in")["detail"].to_list() == ["password"] * 2


def test_the_admin_wipes_the_workspace_after_typing_its_name(deployment: Workspace) -> None:
    admin = signed_in("admin")
    admin.text_input[-1].input("not the name")
    next(b for b in admin.button if b.label == "Wipe everything now").click().run()
    assert f"The name typed is not {deployment.name}" in admin.error[0].value
    assert (deployment.path / "outreach.db").exists()
    admin.text_input[-1].input(deployment.name)
    next(b for b in admin.button if b.label == "Wipe everything now").click().run()
    assert not admin.exception, admin.exception
    assert "Wiped in" in admin.success[0].value
    assert is_wiped(deployment.path)
    assert not (deployment.path / "outreach.db").exists()
    assert not (deployment.path / "secret.key").exists()
