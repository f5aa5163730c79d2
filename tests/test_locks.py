"""A session that lasts a shift: PIN rules, the idle lock, wrong PINs, the device ticket.

On a real store, on SQLite and PostgreSQL; parallel PIN attempts run in real threads against
one session, and the audit log is read back to count what was checked.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import sys
import threading

import pytest
import sqlalchemy as sa
from helpers import TEST_PASSWORD

from mapping.access.accounts import (
    HASHER,
    Account,
    add_account,
    check_session,
    create_demo_accounts,
    end_all_sessions,
    find_account,
    lock_session,
    reset_password,
    sign_in,
    token_hash,
)
from mapping.access.locks import (
    TICKET_SECONDS,
    PinRefusedError,
    check_pin,
    device_ticket,
    mark_used,
    pin_rule_broken,
    remember_device,
    set_pin,
    unlock,
)
from mapping.cli.main import main
from mapping.errors import InvalidInputError
from mapping.settings import Settings
from mapping.storage.audit import Actor, audit_entries
from mapping.storage.store import sessions, users
from mapping.storage.workspace import Workspace

pytestmark = pytest.mark.engines

ADMIN = Actor("admin-test", "admin")
T0 = dt.datetime(2026, 12, 2, 20, 0)
PIN = "480516"


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def peer(workspace: Workspace, *, pin: str | None = PIN) -> tuple[Account, str]:
    """A peer educator signed in at T0 (with a PIN set unless ``pin`` is None); the token."""
    with workspace.begin() as connection:
        account = add_account(
            connection, "ana", "peer", by=ADMIN, password=TEST_PASSWORD, teams=["T1"]
        )
    token, account = sign_in(workspace, "ana", TEST_PASSWORD, now=T0)
    if pin is not None:
        with workspace.begin() as connection:
            set_pin(connection, account, pin)
        account = find_account_(workspace)
    return account, token


def find_account_(workspace: Workspace) -> Account:
    with workspace.connect() as connection:
        account = find_account(connection, "ana")
    assert account is not None
    return account


def state(workspace: Workspace, token: str, now: dt.datetime, *, touch: bool = True) -> str:
    """'live', 'locked' or the reason the session is over."""
    with workspace.begin() as connection:
        check = check_session(connection, token, now=now, touch=touch)
    if check.account is not None:
        return "live"
    if check.holder is not None:
        assert check.reason == "locked" and check.holder.username == "ana"
    return check.reason


def log(workspace: Workspace, *actions: str) -> list[tuple[str, str]]:
    with workspace.connect() as connection:
        entries = audit_entries(connection).sort("id")
    chosen = entries.filter(entries["action"].is_in(actions))
    return list(zip(chosen["action"], chosen["detail"], strict=True))


# --- the PIN's rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "rule", "message"),
    [
        ("12a4", "digits", "PIN of 4 characters is not usable — use digits only"),
        ("123", "length", "PIN of 3 characters is not usable — use 4 to 8 digits"),
        ("123456789", "length", "PIN of 9 characters is not usable — use 4 to 8 digits"),
        ("7777", "repeated", "PIN 7777 is too easy to guess: do not repeat one digit"),
        ("000000", "repeated", "PIN 000000 is too easy to guess: do not repeat one digit"),
        ("1234", "sequence", "PIN 1234 is too easy to guess: do not count up or down"),
        ("987654", "sequence", "PIN 987654 is too easy to guess: do not count up or down"),
        ("7890", "sequence", "PIN 7890 is too easy to guess: do not count up or down"),
        ("1212", "pattern", "PIN 1212 is too easy to guess: do not repeat a group of digits"),
        ("123123", "pattern", "PIN 123123 is too easy to guess: do not repeat a group"),
        ("1994", "year", r"PIN 1994 is too easy to guess: do not use a year \(a birth year"),
        ("2580", "common", "PIN 2580 is too easy to guess: it is among the PINs people choose"),
    ],
)
def test_a_trivial_pin_is_refused_with_its_rule(pin: str, rule: str, message: str) -> None:
    assert pin_rule_broken(pin) == rule
    with pytest.raises(PinRefusedError, match=f"^{message}") as refused:
        check_pin(pin)
    assert refused.value.rule == rule
    assert re.search(r"— (use|choose) 4 to 8 digits|\(4-8 digits", str(refused.value))


@pytest.mark.parametrize("pin", ["4096", "3031", "2468", "480516", "13572468", "0815"])
def test_pins_without_a_pattern_are_usable(pin: str) -> None:
    assert pin_rule_broken(pin) is None and check_pin(pin) == pin


def test_a_pin_is_stored_as_argon2id_and_logged_without_its_digits(workspace: Workspace) -> None:
    account, _ = peer(workspace)
    with workspace.connect() as connection:
        stored = connection.execute(sa.select(users.c.pin_hash)).scalar()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and PIN not in stored
    assert HASHER.verify(stored, PIN)
    with workspace.begin() as connection:
        set_pin(connection, account, "3031")
    assert log(workspace, "pin") == [("pin", "set"), ("pin", "changed")]
    with workspace.connect() as connection:
        assert not any(
            PIN in str(row) for row in connection.execute(sa.text("SELECT * FROM audit_log"))
        )


def test_an_admin_or_a_demo_account_cannot_have_a_pin(workspace: Workspace) -> None:
    with workspace.begin() as connection:
        admin = add_account(connection, "root", "admin", by=ADMIN, password=TEST_PASSWORD)
        with pytest.raises(InvalidInputError, match=r"account root \(admin\) cannot have a PIN"):
            set_pin(connection, admin, PIN)
        create_demo_accounts(connection, ["T1"])
        demo = find_account(connection, "demo-peer")
        assert demo is not None
        with pytest.raises(InvalidInputError, match=r"demo-peer \(peer\) cannot have a PIN"):
            set_pin(connection, demo, PIN)


# --- the idle lock, the PIN, the shift ------------------------------------------------------------


def test_an_idle_session_with_a_pin_locks_and_the_pin_opens_it(workspace: Workspace) -> None:
    _, token = peer(workspace)
    assert state(workspace, token, minutes(4)) == "live"
    # a check that does not count as use (the page's timer) leaves the idle clock running
    assert state(workspace, token, minutes(8), touch=False) == "live"
    assert state(workspace, token, minutes(9.1), touch=False) == "locked"
    # locked stays locked: later use does not open it, only the PIN does
    assert state(workspace, token, minutes(10)) == "locked"
    opened = unlock(workspace, token, PIN, now=minutes(45))
    assert opened.account is not None and opened.account.username == "ana"
    assert state(workspace, token, minutes(46)) == "live"
    assert log(workspace, "lock", "unlock") == [("lock", "idle"), ("unlock", "PIN")]


def test_a_session_without_a_pin_ends_when_it_would_lock(workspace: Workspace) -> None:
    _, token = peer(workspace, pin=None)
    with workspace.begin() as connection:
        assert lock_session(connection, token, "lock now", now=minutes(1)) is False
    assert state(workspace, token, minutes(2)) == "ended"
    assert log(workspace, "session_ended") == [("session_ended", "lock now: no PIN to lock with")]


def test_three_wrong_pins_end_the_shift_and_a_right_one_resets_the_count(
    workspace: Workspace,
) -> None:
    _, token = peer(workspace)
    with workspace.begin() as connection:
        assert lock_session(connection, token, "lock now", now=minutes(1))
    assert unlock(workspace, token, "1111", now=minutes(2)).tries_left == 2
    assert unlock(workspace, token, "2222", now=minutes(2)).tries_left == 1
    assert unlock(workspace, token, PIN, now=minutes(3)).account is not None  # count back to 3
    with workspace.begin() as connection:
        lock_session(connection, token, "lock now", now=minutes(4))
    outcomes = [unlock(workspace, token, "0000", now=minutes(5)) for _ in range(3)]
    assert [(o.tries_left, o.ended) for o in outcomes] == [(2, False), (1, False), (0, True)]
    # the right PIN no longer opens it: the password is needed, a new shift begins
    assert unlock(workspace, token, PIN, now=minutes(6)).ended
    assert state(workspace, token, minutes(6)) == "ended"
    assert sign_in(workspace, "ana", TEST_PASSWORD, now=minutes(7))[0]
    assert log(workspace, "pin_failed", "session_ended") == [
        ("pin_failed", "1 of 3"),
        ("pin_failed", "2 of 3"),
        ("pin_failed", "1 of 3"),
        ("pin_failed", "2 of 3"),
        ("pin_failed", "3 of 3"),
        ("session_ended", "signed out after 3 wrong PINs: the password is needed"),
    ]


def test_parallel_wrong_pins_get_no_more_than_the_tries(workspace: Workspace) -> None:
    _, token = peer(workspace)
    with workspace.begin() as connection:
        lock_session(connection, token, "lock now", now=minutes(1))
    start = threading.Barrier(8)
    outcomes = []

    def guess(digits: str) -> None:
        start.wait()
        outcomes.append(unlock(workspace, token, digits, now=minutes(2)))

    threads = [threading.Thread(target=guess, args=(f"{n}{n}47",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # eight at once: three PINs were checked (and logged), the other five refused unchecked
    assert [entry for entry in log(workspace, "pin_failed")] == [
        ("pin_failed", f"{n} of 3") for n in (1, 2, 3)
    ]
    assert sum(o.ended for o in outcomes) == 6 and all(o.account is None for o in outcomes)
    assert state(workspace, token, minutes(3)) == "ended"


def test_the_shift_ends_after_10_hours_locked_or_not(workspace: Workspace) -> None:
    _, token = peer(workspace)
    for moment in range(4, 600, 4):  # used every 4 minutes for ten hours
        assert state(workspace, token, minutes(moment)) == "live"
    with workspace.begin() as connection:
        lock_session(connection, token, "lock now", now=minutes(599))
    assert unlock(workspace, token, PIN, now=minutes(600) + dt.timedelta(seconds=1)).ended
    assert state(workspace, token, minutes(601)) == "ended"
    assert log(workspace, "session_ended") == [("session_ended", "the shift is over")]
    with workspace.connect() as connection:
        assert connection.execute(sa.select(sessions.c.end_reason)).scalar() == "expired"


def test_a_shorter_shift_and_fewer_tries_come_from_the_settings(workspace: Workspace) -> None:
    settings = Settings.from_env(
        {"OUTREACH_MAP_SHIFT_HOURS": "0.5", "OUTREACH_MAP_PIN_TRIES": "1",
         "OUTREACH_MAP_LOCK_IDLE_MINUTES": "0.1"}
    )  # fmt: skip
    _, token = peer(workspace)
    with workspace.begin() as connection:
        assert check_session(connection, token, settings=settings, now=minutes(0.05)).account
        assert check_session(connection, token, settings=settings, now=minutes(0.2)).holder
    assert unlock(workspace, token, "1111", settings=settings, now=minutes(1)).ended
    second, _ = sign_in(workspace, "ana", TEST_PASSWORD, now=T0)
    with workspace.begin() as connection:
        later = check_session(connection, second, settings=settings, now=minutes(31))
    assert later.reason == "expired"


def test_the_old_session_settings_are_refused_with_what_to_set() -> None:
    with pytest.raises(
        ValueError,
        match=r"OUTREACH_MAP_SESSION_MAX_HOURS='4' is no longer read — a session now lasts a "
        r"shift: set OUTREACH_MAP_SHIFT_HOURS \(default 10\) instead",
    ):
        Settings.from_env({"OUTREACH_MAP_SESSION_MAX_HOURS": "4"})
    with pytest.raises(ValueError, match=r"OUTREACH_MAP_SESSION_IDLE_MINUTES='15' is no longer"):
        Settings.from_env({"OUTREACH_MAP_SESSION_IDLE_MINUTES": "15"})
    with pytest.raises(ValueError, match=r"OUTREACH_MAP_LOCK_IDLE_MINUTES='soon' is not a number"):
        Settings.from_env({"OUTREACH_MAP_LOCK_IDLE_MINUTES": "soon"})


def test_a_long_run_is_not_idle_time(workspace: Workspace) -> None:
    _, token = peer(workspace)
    assert state(workspace, token, minutes(1)) == "live"  # a run starts (an import)...
    with workspace.begin() as connection:
        mark_used(connection, token, now=minutes(7))  # ...and ends six minutes later
    assert state(workspace, token, minutes(11), touch=False) == "live"


# --- the device ---------------------------------------------------------------------------------


def test_a_ticket_gives_one_device_token_which_opens_the_locked_shift(
    workspace: Workspace,
) -> None:
    _, token = peer(workspace)
    with workspace.begin() as connection:
        ticket = device_ticket(connection, token, now=T0)
    device = remember_device(workspace, ticket, now=minutes(0.5))
    assert device is not None and device.seconds == 10 * 3600 - 30
    # once only, whoever asks again
    assert remember_device(workspace, ticket, now=minutes(0.5)) is None
    with workspace.connect() as connection:
        row = connection.execute(sa.select(sessions)).one()
    # the store keeps the cookie's SHA-256 only, and the ticket is gone
    assert row.ticket_hash is None and bytes(row.device_hash) == token_hash(device.token)
    # a new app session on this device: the cookie finds the shift, locked by the PIN
    assert state(workspace, device.token, minutes(1), touch=False) == "live"
    assert unlock(workspace, device.token, PIN, why="PIN, new page", now=minutes(2)).account
    # a forged cookie opens nothing
    assert state(workspace, "forged" + device.token[6:], minutes(2)) == "unknown"
    assert unlock(workspace, "forged", PIN, now=minutes(2)).ended
    assert log(workspace, "device", "unlock") == [
        ("device", "remembered for this shift"),
        ("unlock", "PIN, new page"),
    ]


def test_a_ticket_is_refused_late_or_for_an_ended_shift(workspace: Workspace) -> None:
    _, token = peer(workspace)
    with workspace.begin() as connection:
        late = device_ticket(connection, token, now=T0)
    assert (
        remember_device(workspace, late, now=T0 + dt.timedelta(seconds=TICKET_SECONDS + 1)) is None
    )
    with workspace.begin() as connection:
        ended = device_ticket(connection, token, now=T0)
        end_all_sessions(connection, by=ADMIN)
    assert remember_device(workspace, ended, now=T0) is None
    assert remember_device(workspace, "a made-up ticket", now=T0) is None


def test_an_admin_reset_clears_the_pin_and_ends_every_shift(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, token = peer(workspace)
    with workspace.begin() as connection:
        ticket = device_ticket(connection, token, now=T0)
    device = remember_device(workspace, ticket, now=T0)
    assert device is not None
    monkeypatch.setattr(sys, "stdin", io.StringIO("another long password\n"))
    assert (
        main(["user", "reset", "ana", "--password-stdin", "--workspace", str(workspace.path)]) == 0
    )
    assert "new password set for ana; sessions ended" in capsys.readouterr().out
    assert state(workspace, token, T0) == "ended"
    assert state(workspace, device.token, T0) == "ended"
    assert not find_account_(workspace).has_pin
    with workspace.connect() as connection:
        assert connection.execute(sa.select(users.c.pin_hash)).scalar() is None
    assert log(workspace, "user")[-1][1] == "reset the password and PIN of ana; 1 session(s) ended"
    # the admin page's reset is the same call
    token, account = sign_in(workspace, "ana", "another long password", now=T0)
    with workspace.begin() as connection:
        set_pin(connection, account, PIN)
        reset_password(connection, "ana", TEST_PASSWORD, by=ADMIN)
    assert state(workspace, token, T0) == "ended" and not find_account_(workspace).has_pin
