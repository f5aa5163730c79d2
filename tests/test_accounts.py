"""Accounts, passwords, sessions and sign-in throttling, on a real store (and the real CLI)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys

import pytest
import sqlalchemy as sa
from helpers import TEST_PASSWORD

from mapping.access.accounts import (
    LONGEST_WAIT_SECONDS,
    SignInRefusedError,
    accounts_table,
    add_account,
    check_session,
    end_all_sessions,
    remove_account,
    reset_password,
    sign_in,
    sign_in_sso,
    sign_out,
)
from mapping.cli.main import main
from mapping.errors import InvalidInputError
from mapping.settings import Settings
from mapping.storage.audit import Actor, audit_entries
from mapping.storage.store import audit_log, sessions, users
from mapping.storage.workspace import Workspace

#: Every test here runs on SQLite and on a real PostgreSQL server.
pytestmark = pytest.mark.engines

ADMIN = Actor("admin-test", "admin")
T0 = dt.datetime(2026, 12, 2, 20, 0)


def add(
    workspace: Workspace, name: str = "ana", role: str = "coordinator", **extra: object
) -> None:
    with workspace.begin() as connection:
        add_account(
            connection, name, role, by=ADMIN, password=extra.pop("password", TEST_PASSWORD), **extra
        )  # type: ignore[arg-type]


def attempt(workspace: Workspace, password: str, now: dt.datetime, name: str = "ana") -> str:
    token, _ = sign_in(workspace, name, password, now=now)
    return token


def check(workspace: Workspace, token: str, now: dt.datetime) -> tuple[str | None, str]:
    with workspace.begin() as connection:
        result = check_session(connection, token, now=now)
    return (result.account.username if result.account else None), result.reason


def test_passwords_are_stored_as_argon2id_at_owasp_parameters(workspace: Workspace) -> None:
    add(workspace)
    with workspace.connect() as connection:
        stored = connection.execute(sa.select(users.c.password_hash)).scalar_one()
    # m = 19 MiB, t = 2, p = 1: OWASP's minimum for Argon2id
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert TEST_PASSWORD not in stored


@pytest.mark.parametrize(
    ("name", "role", "password", "teams", "message"),
    [
        ("ana lopez", "coordinator", TEST_PASSWORD, (), "username 'ana lopez' is not usable"),
        ("ana", "coordinator", "short", (), "the password has 5 characters — use at least 12"),
        ("ana", "coordinator", "ana-is-my-password", (), "the password contains the username"),
        ("ana", "chief", TEST_PASSWORD, (), "role 'chief' is unknown"),
        ("ana", "peer", TEST_PASSWORD, (), "bound to at least one team — give --teams"),
        ("ana", "funder", TEST_PASSWORD, ("T1",), "only a peer educator's account has teams"),
        (
            "ana",
            "peer",
            TEST_PASSWORD,
            ("T1", "ana.lopez@gmail.com"),
            r"team 2 of 2 \(redacted\) looks like an e-mail address — give the team's code as "
            r"its visits carry it \(e.g. T1, EQUIPO 3\), never an e-mail address, a phone "
            "number or a name",
        ),
        (
            "ana",
            "peer",
            TEST_PASSWORD,
            ("0712 345 678",),
            r"team 1 of 1 \(redacted\) looks like a phone",
        ),
        (
            "ana",
            "peer",
            TEST_PASSWORD,
            ("Ana Lopez [T1]",),
            r"team 1 of 1 \(redacted\) looks like a person's",
        ),
    ],
)
def test_unusable_accounts_are_refused_with_the_rule(
    workspace: Workspace, name: str, role: str, password: str, teams: tuple[str, ...], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        add(workspace, name, role, password=password, teams=teams)


def test_a_second_account_of_the_same_name_or_address_is_refused(workspace: Workspace) -> None:
    add(workspace, sso_email="Ana@Example.org")
    with pytest.raises(InvalidInputError, match="account ana exists already"):
        add(workspace)
    with pytest.raises(InvalidInputError, match=r"another account signs in as ana@example\.org"):
        add(workspace, "bea", sso_email="ana@example.org")
    with (
        workspace.begin() as connection,
        pytest.raises(InvalidInputError, match="needs a password or a single sign-on address"),
    ):
        add_account(connection, "cris", "funder", by=ADMIN)


def test_a_session_without_a_pin_ends_after_5_idle_minutes(workspace: Workspace) -> None:
    # with a PIN it locks instead (tests/test_locks.py); without one there is nothing to lock with
    add(workspace)
    token = attempt(workspace, TEST_PASSWORD, T0)
    assert check(workspace, token, T0 + dt.timedelta(minutes=4)) == ("ana", "")
    # each use restarts the idle clock
    assert check(workspace, token, T0 + dt.timedelta(minutes=8)) == ("ana", "")
    assert check(workspace, token, T0 + dt.timedelta(minutes=13, seconds=1)) == (None, "idle")
    # replayed later, the ended session stays ended
    assert check(workspace, token, T0 + dt.timedelta(minutes=14)) == (None, "ended")


def test_a_session_in_use_still_ends_after_a_10_hour_shift(workspace: Workspace) -> None:
    add(workspace)
    token = attempt(workspace, TEST_PASSWORD, T0)
    moment = T0
    while moment < T0 + dt.timedelta(hours=11):
        moment += dt.timedelta(minutes=4)
        name, reason = check(workspace, token, moment)
        if name is None:
            break
    assert reason == "expired" and moment - T0 > dt.timedelta(hours=10)
    assert moment - T0 <= dt.timedelta(hours=10, minutes=4)
    with workspace.connect() as connection:
        log = audit_entries(connection)
    assert log.filter(log["action"] == "session_ended")["detail"].to_list() == ["the shift is over"]


def test_sign_out_and_end_all_sessions_refuse_the_token_at_once(workspace: Workspace) -> None:
    add(workspace)
    add(workspace, "bea", "funder")
    first, second = attempt(workspace, TEST_PASSWORD, T0), attempt(workspace, TEST_PASSWORD, T0)
    other = attempt(workspace, TEST_PASSWORD, T0, name="bea")
    with workspace.begin() as connection:
        sign_out(connection, first)
    assert check(workspace, first, T0) == (None, "ended")
    assert check(workspace, second, T0) == ("ana", "")
    with workspace.begin() as connection:
        assert end_all_sessions(connection, by=ADMIN, keep=second) == 1
    assert check(workspace, other, T0) == (None, "ended")
    assert check(workspace, second, T0) == ("ana", "")
    assert check(workspace, "a made-up token", T0) == (None, "unknown")


def test_a_reset_password_or_a_removed_account_ends_its_sessions(workspace: Workspace) -> None:
    add(workspace)
    token = attempt(workspace, TEST_PASSWORD, T0)
    with workspace.begin() as connection:
        reset_password(connection, "ana", "another long password", by=ADMIN)
    assert check(workspace, token, T0) == (None, "ended")
    with pytest.raises(SignInRefusedError, match="wrong username or password"):
        attempt(workspace, TEST_PASSWORD, T0)
    token = attempt(workspace, "another long password", T0)
    with workspace.begin() as connection:
        remove_account(connection, "ana", by=ADMIN)
        with pytest.raises(InvalidInputError, match="there is no account ana"):
            remove_account(connection, "ana", by=ADMIN)
    assert check(workspace, token, T0) == (None, "unknown")


def test_five_wrong_passwords_slow_every_further_attempt(workspace: Workspace) -> None:
    add(workspace)
    settings = Settings()
    for second in range(settings.max_failed_sign_ins - 1):
        with pytest.raises(SignInRefusedError, match="wrong username or password") as refused:
            attempt(workspace, "not the password", T0 + dt.timedelta(seconds=second))
        assert refused.value.wait_seconds == 0
    with pytest.raises(SignInRefusedError) as refused:
        attempt(workspace, "not the password", T0 + dt.timedelta(seconds=4))
    assert refused.value.wait_seconds == 30
    # even the right password is refused until the wait is over, without being checked
    with pytest.raises(SignInRefusedError, match="wait 20 seconds") as refused:
        attempt(workspace, TEST_PASSWORD, T0 + dt.timedelta(seconds=14))
    # a sixth failure after the wait doubles it
    with pytest.raises(SignInRefusedError) as refused:
        attempt(workspace, "still not it", T0 + dt.timedelta(seconds=40))
    assert refused.value.wait_seconds == 60
    with pytest.raises(SignInRefusedError, match="wait 60 seconds"):
        attempt(workspace, TEST_PASSWORD, T0 + dt.timedelta(seconds=40))
    assert attempt(workspace, TEST_PASSWORD, T0 + dt.timedelta(seconds=101))
    # success clears the count
    with pytest.raises(SignInRefusedError) as refused:
        attempt(workspace, "a slip", T0 + dt.timedelta(seconds=102))
    assert refused.value.wait_seconds == 0
    with workspace.connect() as connection:
        log = audit_entries(connection)
    failed = log.filter(log["action"] == "sign_in_failed")
    assert failed.height == 9  # 7 wrong passwords and 2 attempts made too soon
    assert set(failed["username"]) == {"ana"}
    assert not any(TEST_PASSWORD in d or "not the password" in d for d in log["detail"])
    assert LONGEST_WAIT_SECONDS == 15 * 60


def test_an_unknown_name_gets_the_same_answer_as_a_wrong_password(workspace: Workspace) -> None:
    add(workspace)
    with pytest.raises(SignInRefusedError) as unknown:
        attempt(workspace, TEST_PASSWORD, T0, name="nobody")
    with pytest.raises(SignInRefusedError) as wrong:
        attempt(workspace, "not the password", T0)
    assert str(unknown.value) == str(wrong.value) == "wrong username or password"


def test_single_sign_on_needs_an_account_an_admin_created(workspace: Workspace) -> None:
    with workspace.begin() as connection:
        add_account(connection, "ana", "funder", by=ADMIN, sso_email="ana@example.org")
    token, account = sign_in_sso(workspace, "ANA@example.org ")
    assert account.role == "funder"
    with pytest.raises(SignInRefusedError, match=r"bea@example\.org has no account here"):
        sign_in_sso(workspace, "bea@example.org")
    # an account without a password cannot sign in with one
    with pytest.raises(SignInRefusedError, match="wrong username or password"):
        sign_in(workspace, "ana", "")
    assert check(workspace, token, dt.datetime.now(dt.UTC).replace(tzinfo=None))[0] == "ana"


def test_the_audit_log_refuses_changes_and_deletions(workspace: Workspace) -> None:
    add(workspace)
    for statement in (audit_log.update().values(detail="rewritten"), audit_log.delete()):
        with (
            pytest.raises(sa.exc.IntegrityError, match="the audit log is append-only"),
            workspace.begin() as connection,
        ):
            connection.execute(statement)
    with workspace.connect() as connection:
        assert audit_entries(connection)["detail"].to_list() == ["added ana as coordinator"]


def test_the_user_command_adds_lists_resets_and_removes(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--workspace", str(workspace.path)]

    def run(*args: str, stdin: str = "") -> int:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return main(["user", *args, *where])

    assert run("add", "Bea", "--role", "peer", "--teams", "T1,T2", "--password-stdin",
               stdin=TEST_PASSWORD + "\n") == 0  # fmt: skip
    assert "added bea (peer)" in capsys.readouterr().out
    assert run("add", "cris", "--role", "funder", "--sso", "cris@example.org") == 0
    assert run("add", "dan", "--role", "admin", "--password-stdin", stdin="short\n") == 2
    assert "the password has 5 characters" in capsys.readouterr().err
    assert run("list") == 0
    listing = capsys.readouterr().out
    assert "bea\tpeer teams T1,T2\tpassword\tlast seen never" in listing
    assert "cris\tfunder\tsingle sign-on" in listing
    assert "$argon2" not in listing
    assert run("list", "--format", "csv") == 0
    listed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [
        (a["username"], a["role"], a["teams"], a["sign_in"], a["last_seen"]) for a in listed
    ] == [
        ("bea", "peer", "T1,T2", "password", ""),
        ("cris", "funder", "", "single sign-on", ""),
    ]
    assert run("list", "--format", "json") == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(a["username"], a["role"], a["sign_in"]) for a in rows] == [
        ("bea", "peer", "password"),
        ("cris", "funder", "single sign-on"),
    ]
    # the hash never, and the sign-on email no more than in the text listing
    assert not {"password_hash", "sso_email"} & set(rows[0])
    assert run("list", "--format", "xml") == 2
    assert "argument --format: invalid choice: 'xml'" in capsys.readouterr().err
    assert run("reset", "bea", "--password-stdin", stdin="a new long password\n") == 0
    assert run("remove", "nobody") == 2
    assert "there is no account nobody" in capsys.readouterr().err
    assert run("remove", "bea") == 0
    assert run("end-sessions") == 0
    with workspace.connect() as connection:
        assert accounts_table(connection)["username"].to_list() == ["cris"]
        assert connection.execute(sa.select(sa.func.count()).select_from(sessions)).scalar() == 0
        log = audit_entries(connection)
    assert log["username"].str.starts_with("cli:").all()
    assert log["detail"].to_list()[::-1][:2] == ["added bea as peer", "added cris as funder"]
