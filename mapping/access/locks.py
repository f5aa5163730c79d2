"""The lock of a session that lasts a shift: PINs, unlocking, and the device a shift runs on.

A peer educator's stops are 35-50 minutes apart; a session idle for ``lock_idle_minutes``
locks (:func:`mapping.access.accounts.check_session`) and a short PIN opens it again, on the
device where the password was typed, until the shift ends (``shift_hours``). The device is
remembered by an HttpOnly cookie holding a random token; the store keeps only its SHA-256,
on the session's row, and the cookie is set through a one-time ticket (also kept only
hashed, valid :data:`TICKET_SECONDS`). ``pin_tries`` wrong PINs in a row end the shift: each
try is counted in the transaction that checks it, so parallel attempts never get more.
docs/security.md says what a seized phone shows in each state.
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Connection

from mapping import clock
from mapping.access.accounts import (
    HASHER,
    Account,
    account_from_row,
    end_session,
    holding,
    token_hash,
)
from mapping.errors import InvalidInputError
from mapping.settings import Settings, get_settings
from mapping.storage.audit import Actor, record
from mapping.storage.store import sessions, users
from mapping.storage.workspace import Workspace

#: Shortest and longest PIN, in digits.
MIN_PIN_DIGITS = 4
MAX_PIN_DIGITS = 8
#: Roles that may set a PIN. Not the admin: accounts and the wipe stay behind the password.
PIN_ROLES = ("coordinator", "peer", "funder")
#: Seconds a ticket for the device cookie stays valid: the page fetches it at once.
TICKET_SECONDS = 60
#: Name of the device cookie.
DEVICE_COOKIE = "om_device"
#: Four-digit PINs among the most chosen (DataGenetics' analysis of 3.4 million PINs) that no
#: rule below catches: the most common 20 make up about a quarter of all PINs people choose.
COMMON_PINS = frozenset({"1004", "2000", "6969", "1122", "2580", "0852", "5683", "7777"})


class PinRefusedError(InvalidInputError):
    """A PIN was refused when set, with the rule it breaks: ``rule`` names it for the app."""

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


def pin_rule_broken(pin: str) -> str | None:
    """Return the rule a new PIN breaks, or None for a usable PIN.

    The rules: ``digits``, ``length``, ``repeated``, ``sequence``, ``pattern``, ``year``,
    ``common`` (see ``_RULES``).

    Examples
    --------
    >>> [pin_rule_broken(p) for p in ("1234", "9876", "0000", "1212", "1987", "4096", "48151")]
    ['sequence', 'sequence', 'repeated', 'pattern', 'year', None, None]
    """
    if not pin.isascii() or not pin.isdigit():
        return "digits"
    if not MIN_PIN_DIGITS <= len(pin) <= MAX_PIN_DIGITS:
        return "length"
    if len(set(pin)) == 1:
        return "repeated"
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    if steps in ({1}, {9}):  # 1234, 7890, 4321, 3210: a run up or down the digits
        return "sequence"
    if all(pin[i] == pin[i % 2] for i in range(len(pin))) or pin in {
        pin[:3] * 2,
        pin[:4] * 2,
    }:  # 1212, 121212, 123123, 12341234
        return "pattern"
    if len(pin) == 4 and pin[:2] in ("19", "20"):  # a year: a birth year is on an ID card
        return "year"
    if pin in COMMON_PINS:
        return "common"
    return None


_RULES = {
    "digits": "use digits only",
    "length": f"use {MIN_PIN_DIGITS} to {MAX_PIN_DIGITS} digits",
    "repeated": "do not repeat one digit",
    "sequence": "do not count up or down",
    "pattern": "do not repeat a group of digits",
    "year": "do not use a year (a birth year is on an ID card)",
    "common": "it is among the PINs people choose most",
}


def check_pin(pin: str) -> str:
    """Return a usable new PIN, or refuse it with the rule it breaks and what to choose.

    Examples
    --------
    >>> check_pin("480516")
    '480516'
    >>> check_pin("1111")
    Traceback (most recent call last):
    ...
    mapping.access.locks.PinRefusedError: PIN 1111 is too easy to guess: do not repeat one ...
    """
    rule = pin_rule_broken(pin)
    if rule in ("digits", "length"):
        raise PinRefusedError(
            f"PIN of {len(pin)} characters is not usable — {_RULES[rule]} "
            f"({MIN_PIN_DIGITS}-{MAX_PIN_DIGITS} digits, e.g. six you do not use elsewhere)",
            rule=rule,
        )
    if rule:
        raise PinRefusedError(
            f"PIN {pin} is too easy to guess: {_RULES[rule]} — choose {MIN_PIN_DIGITS} to "
            f"{MAX_PIN_DIGITS} digits with no pattern (six are harder to guess than four)",
            rule=rule,
        )
    return pin


def may_set_pin(account: Account) -> bool:
    """Say whether this account may have a PIN: its role may, and it signs in with a secret."""
    return account.role in PIN_ROLES and not account.username.startswith("demo-")


def set_pin(connection: Connection, account: Account, pin: str) -> None:
    """Store a new PIN for ``account`` (Argon2id, as passwords are) and log it, never the PIN.

    The app offers this right after the password (or single sign-on), or after the current
    PIN; the caller checks that.

    Raises
    ------
    PinRefusedError
        For a PIN a rule refuses (:func:`check_pin`).
    InvalidInputError
        For an account that may not have one (an admin, a demo account).
    """
    if not may_set_pin(account):
        raise InvalidInputError(
            f"account {account.username} ({account.role}) cannot have a PIN — only "
            f"{', '.join(PIN_ROLES)} accounts can; it signs in with its password each time"
        )
    check_pin(pin)
    before = connection.execute(
        sa.select(users.c.pin_hash).where(users.c.id == account.id)
    ).scalar()
    connection.execute(
        users.update().where(users.c.id == account.id).values(pin_hash=HASHER.hash(pin))
    )
    record(connection, account.actor, "pin", "changed" if before else "set")


@dataclass(frozen=True)
class Unlock:
    """The outcome of a PIN: opened, or refused with the tries left (0: the shift ended)."""

    account: Account | None
    tries_left: int = 0
    #: The session is over: ended by this or an earlier try, or not found at all.
    ended: bool = False


def _now() -> dt.datetime:
    return clock.utc_now().replace(tzinfo=None)


def unlock(
    workspace: Workspace,
    token: str,
    pin: str,
    *,
    why: str = "PIN",
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> Unlock:
    """Check a PIN against the session of ``token``; open it, or count the wrong try.

    ``token`` is the app session's token or the device cookie's. The try is counted (and the
    count checked against ``pin_tries``) by one UPDATE in the same transaction as the check,
    before the PIN is verified: a parallel attempt waits for the row and sees the count, so
    no more than ``pin_tries`` PINs are ever checked in a row. The last wrong one ends the
    shift. Every try is logged, the PIN never. ``why`` says in the log what the PIN opened.
    """
    settings = settings or get_settings()
    now = now or _now()
    shift_began = now - dt.timedelta(hours=settings.shift_hours)
    with workspace.begin() as connection:
        counted = connection.execute(
            sessions.update()
            .where(
                holding(token),
                sessions.c.ended_at.is_(None),
                sessions.c.created_at >= shift_began,
                sessions.c.pin_failures < settings.pin_tries,
            )
            .values(pin_failures=sessions.c.pin_failures + 1)
        )
        row = connection.execute(
            sa.select(
                users,
                sessions.c.id.label("session_id"),
                sessions.c.pin_failures,
                sessions.c.created_at.label("started_at"),
            )
            .join(sessions, users.c.id == sessions.c.user_id)
            .where(holding(token))
        ).first()
        if row is None:
            return Unlock(None, ended=True)
        account = account_from_row(row)
        if not counted.rowcount:  # over already: ended, the shift's end, or out of tries
            over = row.started_at < shift_began
            if end_session(
                connection, row.session_id, "expired" if over else "wrong PINs", now=now
            ):
                why = "the shift is over" if over else "out of PIN tries"
                record(connection, account.actor, "session_ended", why)
            return Unlock(None, ended=True)
        try:
            right = row.pin_hash is not None and HASHER.verify(row.pin_hash, pin)
        except (VerificationError, InvalidHashError):
            right = False
        if right:
            connection.execute(
                sessions.update()
                .where(sessions.c.id == row.session_id)
                .values(pin_failures=0, locked_at=None, last_seen=now)
            )
            record(connection, account.actor, "unlock", why)
            return Unlock(account, tries_left=settings.pin_tries)
        failures = int(row.pin_failures)
        record(connection, account.actor, "pin_failed", f"{failures} of {settings.pin_tries}")
        if failures < settings.pin_tries:
            return Unlock(None, tries_left=settings.pin_tries - failures)
        end_session(connection, row.session_id, "wrong PINs", now=now)
        detail = f"signed out after {failures} wrong PINs: the password is needed"
        record(connection, account.actor, "session_ended", detail)
        return Unlock(None, ended=True)


def device_ticket(connection: Connection, token: str, *, now: dt.datetime | None = None) -> str:
    """Return a one-time ticket for the device cookie of the session of ``token``.

    Only its SHA-256 is stored, with an expiry :data:`TICKET_SECONDS` away; the app's page
    exchanges it at once (``GET api/device?ticket=…``, :func:`remember_device`).
    """
    now = now or _now()
    ticket = secrets.token_urlsafe(32)
    connection.execute(
        sessions.update()
        .where(holding(token), sessions.c.ended_at.is_(None))
        .values(
            ticket_hash=token_hash(ticket),
            ticket_expires=now + dt.timedelta(seconds=TICKET_SECONDS),
        )
    )
    return ticket


@dataclass(frozen=True)
class Device:
    """A device cookie to set: its token and how many seconds are left of the shift."""

    token: str
    seconds: int


def remember_device(
    workspace: Workspace,
    ticket: str,
    *,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> Device | None:
    """Exchange a ticket for a new device token, once; None for an unknown, used or old ticket.

    The exchange is one UPDATE that also clears the ticket, so two requests with the same
    ticket never both get a token.
    """
    settings = settings or get_settings()
    now = now or _now()
    device = secrets.token_urlsafe(32)
    with workspace.begin() as connection:
        exchanged = connection.execute(
            sessions.update()
            .where(
                sessions.c.ticket_hash == token_hash(ticket),
                sessions.c.ticket_expires >= now,
                sessions.c.ended_at.is_(None),
            )
            .values(device_hash=token_hash(device), ticket_hash=None, ticket_expires=None)
        )
        if not exchanged.rowcount:
            return None
        row = connection.execute(
            sa.select(sessions.c.created_at, users.c.username, users.c.role)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.device_hash == token_hash(device))
        ).one()
        record(connection, Actor(row.username, row.role), "device", "remembered for this shift")
    left = row.created_at + dt.timedelta(hours=settings.shift_hours) - now
    return Device(device, max(0, int(left.total_seconds())))


def mark_used(connection: Connection, token: str, *, now: dt.datetime | None = None) -> None:
    """Restart the idle clock of a live, unlocked session (the app calls it after each run).

    :func:`mapping.access.accounts.check_session` marks the start of a run; a run that lasts
    minutes (an import) would otherwise leave the session idle by the time it ends.
    """
    connection.execute(
        sessions.update()
        .where(holding(token), sessions.c.ended_at.is_(None), sessions.c.locked_at.is_(None))
        .values(last_seen=now or _now())
    )
