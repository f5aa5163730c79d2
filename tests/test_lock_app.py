"""The lock in the app (AppTest): the PIN offered after the password, its refusals in each
language, a locked session that draws nothing but the PIN form, and a forgotten PIN. On
tests/test_access_app.py's deployment (one account per role), as its funder.

The browser's side (the device cookie, "lock now", a new page of the device) is in
``tests/test_browser_lock.py``; the rules and the counting in ``tests/test_locks.py``.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from helpers import TEST_PASSWORD
from streamlit.testing.v1 import AppTest
from test_access_app import deployment, fresh

from mapping.access.accounts import sign_in
from mapping.access.locks import set_pin
from mapping.storage.audit import audit_entries
from mapping.storage.store import sessions, users
from mapping.storage.workspace import Workspace

PIN = "480516"
FUNDER_PIN = sa.select(users.c.pin_hash).where(users.c.username == "funder")


def signed_in(language: str = "en") -> AppTest:
    """Sign the funder in through the form, in ``language``."""
    at = fresh(language)
    at.run()
    at.text_input[0].input("funder")
    at.text_input[1].input(TEST_PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def submit(at: AppTest, label: str) -> AppTest:
    """Click the button labelled ``label`` and run the app."""
    return next(b for b in at.button if b.label == label).click().run()


def has_pin(workspace: Workspace) -> bool:
    """Whether the funder has a PIN in the store."""
    with workspace.connect() as connection:
        return connection.execute(FUNDER_PIN).scalar() is not None


@pytest.mark.parametrize(
    ("language", "save", "refusals"),
    [
        (
            "en",
            "Save the PIN",
            {
                ("1234", "1234"): "PIN 1234 counts up or down and is easy to guess.",
                ("1987", "1987"): "PIN 1987 looks like a year",
                ("121212", "121212"): "PIN 121212 repeats a group of digits",
                ("5555", "5555"): "PIN 5555 repeats one digit",
                ("2580", "2580"): "PIN 2580 is one of the PINs people choose most.",
                ("12", "12"): "A PIN of 2 characters cannot be used: type 4 to 8 digits",
                ("48a516", "48a516"): "A PIN of 6 characters cannot be used",
                ("480516", "480517"): "The two PINs differ.",
            },
        ),
        (
            "es",
            "Guardar el PIN",
            {
                ("1234", "1234"): "El PIN 1234 cuenta hacia arriba o hacia abajo",
                ("1987", "1987"): "El PIN 1987 parece un año",
                ("121212", "121212"): "El PIN 121212 repite un grupo de dígitos",
                ("5555", "5555"): "El PIN 5555 repite un mismo dígito",
                ("2580", "2580"): "El PIN 2580 es de los que más se eligen.",
                ("12", "12"): "Un PIN de 2 caracteres no sirve: escriba de 4 a 8 dígitos",
                ("48a516", "48a516"): "Un PIN de 6 caracteres no sirve",
                ("480516", "480517"): "Los dos PIN no coinciden.",
            },
        ),
    ],
)
def test_the_pin_offered_after_the_password_refuses_trivial_ones_naming_them(
    deployment: Workspace, language: str, save: str, refusals: dict[tuple[str, str], str]
) -> None:
    at = signed_in(language)
    # the offer comes before any page: nothing of the programme drawn yet
    assert at.title[0].value == ("Set a PIN" if language == "en" else "Elija un PIN")
    assert not at.sidebar.get("page_link") and not at.dataframe
    for (pin, again), message in refusals.items():
        at.text_input(key="pin-new").input(pin)
        at.text_input(key="pin-again").input(again)
        submit(at, save)
        assert message in " ".join(e.value for e in at.error), (pin, [e.value for e in at.error])
        assert not has_pin(deployment)
    at.text_input(key="pin-new").input(PIN)
    at.text_input(key="pin-again").input(PIN)
    submit(at, save)
    assert has_pin(deployment) and not at.error
    assert at.title[0].value not in ("Set a PIN", "Elija un PIN")
    assert "lock-now" in [b.key for b in at.button]  # the page, with "lock now"


def test_a_locked_session_draws_only_the_pin_form_and_the_pin_opens_it(
    deployment: Workspace,
) -> None:
    _, account = sign_in(deployment, "funder", TEST_PASSWORD, start=False)
    with deployment.begin() as connection:
        set_pin(connection, account, PIN)
    at = signed_in()
    assert at.title[0].value == "Reach"  # a PIN already: no offer
    long_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=6)
    with deployment.begin() as connection:
        connection.execute(sessions.update().values(last_seen=long_ago))
    at.run()
    assert [t.value for t in at.title] == ["Locked"]
    assert "Account: **funder**" in [m.value for m in at.markdown]
    assert not at.dataframe and not at.sidebar.get("page_link") and not at.get("plotly_chart")
    at.text_input(key="pin-unlock").input("000000")
    submit(at, "Unlock")
    assert [e.value for e in at.error] == [
        "Wrong PIN: 2 tries left. After that you are signed out and need your password."
    ]
    at.text_input(key="pin-unlock").input(PIN)
    submit(at, "Unlock")
    assert at.title[0].value == "Reach" and not at.error
    with deployment.connect() as connection:
        log = audit_entries(connection)
    # newest first; the page's view was logged once, before the lock
    assert log["action"].to_list()[:3] == ["unlock", "pin_failed", "lock"]
    assert log["detail"].to_list()[:3] == ["PIN", "1 of 3", "idle"]


def test_a_forgotten_pin_is_replaced_with_the_password_not_without_a_proof(
    deployment: Workspace,
) -> None:
    _, account = sign_in(deployment, "funder", TEST_PASSWORD, start=False)
    with deployment.begin() as connection:
        set_pin(connection, account, PIN)
    at = signed_in("es")
    proof = at.sidebar.text_input(key="pin-current")
    assert proof.label == "PIN actual (o su contraseña, si olvidó el PIN)"
    for typed, message in (
        ("not the password", "Usuario o contraseña incorrectos."),
        ("111111", "PIN incorrecto: le quedan 2 intentos."),
    ):
        at.sidebar.text_input(key="pin-current").input(typed)
        at.sidebar.text_input(key="pin-change-new").input("739204")
        at.sidebar.text_input(key="pin-change-again").input("739204")
        submit(at, "Guardar el PIN")
        assert message in " ".join(e.value for e in at.sidebar.error)
    with deployment.connect() as connection:
        before = connection.execute(FUNDER_PIN).scalar()
    at.sidebar.text_input(key="pin-current").input(TEST_PASSWORD)
    at.sidebar.text_input(key="pin-change-new").input("739204")
    at.sidebar.text_input(key="pin-change-again").input("739204")
    submit(at, "Guardar el PIN")
    assert not at.sidebar.error
    assert "PIN guardado." in " ".join(s.value for s in at.sidebar.success)
    with deployment.connect() as connection:
        assert connection.execute(FUNDER_PIN).scalar() != before
        log = audit_entries(connection)
    assert ("pin", "changed") in zip(log["action"], log["detail"], strict=True)


__all__ = ["deployment"]  # the fixture, shared with tests/test_access_app.py
