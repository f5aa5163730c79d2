"""Accounts, passwords and server-side sessions: who may sign in, in which role, for how long.

Passwords are hashed with Argon2id at OWASP's minimum parameters (19 MiB, 2 passes, 1 lane).
A session is a random token the app's session on the server holds; the store keeps only its
SHA-256 with the times it began and was last used. It lasts one shift (``shift_hours`` from the
password); left idle it locks, and only its PIN (:mod:`mapping.access.locks`) opens it again.
Signing out, the shift's end and an admin's "end all sessions" take effect at the very next
interaction, and a token copied from anywhere is refused once its session has ended. Repeated
wrong passwords make every further attempt on the account wait, longer each time, and each
failure is logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Connection

from mapping import clock
from mapping.errors import InvalidInputError, MappingError
from mapping.privacy import code_problem
from mapping.settings import Settings, get_settings
from mapping.storage.audit import Actor, record
from mapping.storage.store import meta, sessions, sign_in_failures, users
from mapping.storage.workspace import Workspace

#: Roles, from the most to the least data they may see (admin sees accounts, not data).
ROLES = ("admin", "coordinator", "peer", "funder")
#: Argon2id at OWASP's Password Storage Cheat Sheet minimum: m = 19 MiB, t = 2, p = 1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)
#: Shortest password accepted (NIST SP 800-63B asks at least 8; 12 because there is no 2FA).
MIN_PASSWORD_LENGTH = 12
#: The first wait after too many failures, in seconds; it doubles with each further failure.
FIRST_WAIT_SECONDS = 30
#: The longest wait between attempts once an account is being guessed at.
LONGEST_WAIT_SECONDS = 15 * 60
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
#: Verified against when the username is unknown, so that a wrong name takes as long as a
#: wrong password and does not tell which accounts exist.
_DUMMY_HASH = HASHER.hash("not a password of anyone")


class SignInRefusedError(MappingError, PermissionError):
    """A sign-in was refused: wrong name or password, a disabled account, or too many tries.

    ``wait_seconds`` is set when the account must wait before the next attempt; ``too_soon``
    says the attempt came before the wait was over, so the password was not even checked.
    """

    def __init__(self, message: str, *, wait_seconds: int = 0, too_soon: bool = False) -> None:
        super().__init__(message)
        self.wait_seconds = wait_seconds
        self.too_soon = too_soon


@dataclass(frozen=True)
class Account:
    """A signed-in person: username, role, the teams a peer educator's account is bound to."""

    id: int
    username: str
    role: str
    teams: tuple[str, ...]
    sso_email: str | None = None
    #: Whether the account has set a PIN, so that its sessions lock instead of ending.
    has_pin: bool = False

    @property
    def actor(self) -> Actor:
        """Return the account as the audit log names it."""
        return Actor(self.username, self.role)


@dataclass(frozen=True)
class SessionCheck:
    """The outcome of checking a session token: the account, or why it may not go on.

    ``account`` is set only for a live, unlocked session. A locked one gives ``holder``
    (whose PIN opens it) and the reason ``locked``; an ended one gives only the reason.
    """

    account: Account | None
    #: ``locked``, or why it is over: ``ended`` (signed out, ended by an admin or by wrong
    #: PINs), ``idle`` (idle without a PIN), ``expired`` (the shift is over), ``unknown``
    reason: str = ""
    holder: Account | None = None


def _now() -> dt.datetime:
    return clock.utc_now().replace(tzinfo=None)


def token_hash(token: str) -> bytes:
    """Return the SHA-256 the store keeps of a token (a session's, a device's, a ticket's)."""
    return hashlib.sha256(token.encode()).digest()


def holding(token: str) -> sa.ColumnElement[bool]:
    """Select the session a token opens: the app session's token, or its device's cookie."""
    digest = token_hash(token)
    return sa.or_(sessions.c.token_hash == digest, sessions.c.device_hash == digest)


def check_username(username: str) -> str:
    """Return the username in lower case, or refuse it with the rule it breaks.

    Examples
    --------
    >>> check_username("Ana.Lopez")
    'ana.lopez'
    >>> check_username("ana lopez")
    Traceback (most recent call last):
    ...
    mapping.errors.InvalidInputError: username 'ana lopez' is not usable — use 2 to 64 ...
    """
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise InvalidInputError(
            f"username {username!r} is not usable — use 2 to 64 letters, digits, dots, dashes, "
            "underscores or @, starting with a letter or digit (no spaces)"
        )
    return name


def check_password(password: str, username: str) -> None:
    """Refuse a password that is too short or is the username.

    Examples
    --------
    >>> check_password("short", "ana")
    Traceback (most recent call last):
    ...
    mapping.errors.InvalidInputError: the password has 5 characters — use at least 12 ...
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"the password has {len(password)} characters — use at least {MIN_PASSWORD_LENGTH} "
            "(a few unrelated words make a long password that is easy to remember)"
        )
    if username.lower() in password.lower():
        raise InvalidInputError("the password contains the username — choose another one")


def check_role(role: str, teams: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """Return the role and teams, refusing an unknown role or a peer educator without a team."""
    if role not in ROLES:
        raise InvalidInputError(f"role {role!r} is unknown — use one of {', '.join(ROLES)}")
    given = [t.strip() for t in teams if t.strip()]
    bound = tuple(sorted(set(given)))
    if role == "peer" and not bound:
        raise InvalidInputError(
            "a peer educator's account is bound to at least one team — give --teams T1[,T2]"
        )
    if role != "peer" and bound:
        raise InvalidInputError(f"only a peer educator's account has teams, not a {role}")
    for number, team in enumerate(given, 1):
        problem = code_problem(team)
        if problem:
            raise InvalidInputError(
                f"team {number} of {len(given)} (redacted) {problem} — give the team's code as "
                "its visits carry it (e.g. T1, EQUIPO 3), never an e-mail address, a phone "
                "number or a name"
            )
    return role, bound


def account_from_row(row: sa.Row[tuple[object, ...]]) -> Account:
    """Return the account of a row holding the columns of ``users``."""
    teams = str(row.teams or "")
    return Account(
        id=int(row.id),  # type: ignore[call-overload]
        username=str(row.username),
        role=str(row.role),
        teams=tuple(t for t in teams.split(",") if t),
        sso_email=row.sso_email,  # type: ignore[arg-type]
        has_pin=row.pin_hash is not None,
    )


def find_account(connection: Connection, username: str) -> Account | None:
    """Return the active account of this username, if there is one."""
    row = connection.execute(
        sa.select(users).where(users.c.username == username.strip().lower(), users.c.active)
    ).first()
    return account_from_row(row) if row else None


def add_account(
    connection: Connection,
    username: str,
    role: str,
    *,
    by: Actor,
    password: str | None = None,
    teams: Sequence[str] = (),
    sso_email: str | None = None,
) -> Account:
    """Create an account; it needs a password, or an e-mail address for single sign-on."""
    name = check_username(username)
    role, bound = check_role(role, teams)
    if password is None and not sso_email:
        raise InvalidInputError(
            f"account {name} needs a password or a single sign-on address (--sso EMAIL)"
        )
    if password is not None:
        check_password(password, name)
    if connection.execute(sa.select(users.c.id).where(users.c.username == name)).first():
        raise InvalidInputError(f"account {name} exists already — choose another username")
    email = sso_email.strip().lower() if sso_email else None
    taken = sa.select(users.c.id).where(users.c.sso_email == email)
    if email and connection.execute(taken).first():
        raise InvalidInputError(f"another account signs in as {email} already")
    connection.execute(
        users.insert().values(
            username=name,
            password_hash=HASHER.hash(password) if password is not None else None,
            role=role,
            teams=",".join(bound),
            sso_email=email,
            created_at=_now(),
            active=True,
        )
    )
    record(connection, by, "user", f"added {name} as {role}")
    account = find_account(connection, name)
    assert account is not None
    return account


def _known(connection: Connection, username: str) -> str:
    name = username.strip().lower()
    if not connection.execute(sa.select(users.c.id).where(users.c.username == name)).first():
        raise InvalidInputError(f"there is no account {name} — `outreach-map user list` shows them")
    return name


def remove_account(connection: Connection, username: str, *, by: Actor) -> None:
    """Delete an account and end its sessions (the audit log keeps what it did)."""
    name = _known(connection, username)
    user_id = sa.select(users.c.id).where(users.c.username == name).scalar_subquery()
    connection.execute(sessions.delete().where(sessions.c.user_id == user_id))
    connection.execute(users.delete().where(users.c.username == name))
    record(connection, by, "user", f"removed {name}")


def reset_password(connection: Connection, username: str, password: str, *, by: Actor) -> None:
    """Set a new password, clear the PIN and end every session (every shift) of the account.

    A reset answers a lost phone or a leaked password: the PIN may be known to whoever has the
    phone, so the owner sets a new one after signing in with the new password.
    """
    name = _known(connection, username)
    check_password(password, name)
    connection.execute(
        users.update()
        .where(users.c.username == name)
        .values(password_hash=HASHER.hash(password), pin_hash=None)
    )
    user_id = connection.execute(sa.select(users.c.id).where(users.c.username == name)).scalar()
    ended = _end(connection, sessions.c.user_id == user_id, "password reset")
    connection.execute(sign_in_failures.delete().where(sign_in_failures.c.username == name))
    detail = f"reset the password and PIN of {name}; {ended} session(s) ended"
    record(connection, by, "user", detail)


def accounts_table(connection: Connection) -> pl.DataFrame:
    """Return every account: username, role, teams, sign-on, created, last seen (no hashes)."""
    last_seen = (
        sa.select(sessions.c.user_id, sa.func.max(sessions.c.last_seen).label("last_seen"))
        .group_by(sessions.c.user_id)
        .subquery()
    )
    rows = connection.execute(
        sa.select(
            users.c.username,
            users.c.role,
            users.c.teams,
            sa.case(
                (users.c.password_hash.is_not(None), "password"),
                (users.c.sso_email.is_not(None), "single sign-on"),
                else_="demo",
            ).label("sign_in"),
            users.c.sso_email,
            users.c.created_at,
            last_seen.c.last_seen,
        )
        .outerjoin(last_seen, last_seen.c.user_id == users.c.id)
        .order_by(users.c.username)
    ).all()
    return pl.DataFrame(
        [row._asdict() for row in rows],
        schema={
            "username": pl.String,
            "role": pl.String,
            "teams": pl.String,
            "sign_in": pl.String,
            "sso_email": pl.String,
            "created_at": pl.Datetime,
            "last_seen": pl.Datetime,
        },
        orient="row",
    )


def _wait_seconds(
    connection: Connection, name: str, settings: Settings, now: dt.datetime
) -> tuple[int, int]:
    """Return the recent failures of an account and how long the next attempt must still wait."""
    since = now - dt.timedelta(minutes=settings.sign_in_window_minutes)
    failures, last = connection.execute(
        sa.select(sa.func.count(), sa.func.max(sign_in_failures.c.at)).where(
            sign_in_failures.c.username == name, sign_in_failures.c.at >= since
        )
    ).one()
    over = int(failures) - settings.max_failed_sign_ins
    if over < 0 or last is None:
        return int(failures), 0
    wait = min(FIRST_WAIT_SECONDS * 2**over, LONGEST_WAIT_SECONDS)
    left = (last + dt.timedelta(seconds=wait) - now).total_seconds()
    return int(failures), max(0, int(left + 0.999))


def sign_in(
    workspace: Workspace,
    username: str,
    password: str,
    *,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
    start: bool = True,
) -> tuple[str, Account]:
    """Check a username and password; on success return a new session's token and the account.

    With ``start`` off no session starts (the token is empty): the password only proves who
    is asking, e.g. to set a PIN later in a shift.

    After ``max_failed_sign_ins`` failures within ``sign_in_window_minutes``, each attempt must
    wait (30 s, then twice as long after each further failure, 15 min at most) and an attempt
    made too soon is refused without checking the password. Every failure is logged, in a
    transaction of its own that is committed before the refusal is raised.

    Raises
    ------
    SignInRefusedError
        With the same message for an unknown name and a wrong password.
    """
    settings = settings or get_settings()
    now = now or _now()
    name = username.strip().lower()[:64]
    with workspace.begin() as connection:
        outcome = _check_password(connection, name, password, settings, now)
        token = ""
        if start and isinstance(outcome, Account):
            token = _start_session(connection, outcome, now, "password")
    if isinstance(outcome, SignInRefusedError):
        raise outcome
    return token, outcome


def _check_password(
    connection: Connection, name: str, password: str, settings: Settings, now: dt.datetime
) -> Account | SignInRefusedError:
    """Return the account, or the refusal after recording it (the caller commits, then raises)."""
    _, wait = _wait_seconds(connection, name, settings, now)
    if wait:
        record(connection, Actor(name, "-"), "sign_in_failed", f"too soon: wait {wait} s")
        return SignInRefusedError(
            f"too many wrong passwords for this account — wait {wait} seconds and try again",
            wait_seconds=wait,
            too_soon=True,
        )
    row = connection.execute(
        sa.select(users).where(users.c.username == name, users.c.active)
    ).first()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
    try:
        HASHER.verify(stored, password)
        ok = row is not None and row.password_hash is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None:
        connection.execute(sign_in_failures.insert().values(username=name, at=now))
        failures, wait = _wait_seconds(connection, name, settings, now)
        detail = f"wrong name or password ({failures} in a row)"
        record(connection, Actor(name, "-"), "sign_in_failed", detail)
        return SignInRefusedError("wrong username or password", wait_seconds=wait)
    if HASHER.check_needs_rehash(row.password_hash):
        connection.execute(
            users.update().where(users.c.id == row.id).values(password_hash=HASHER.hash(password))
        )
    connection.execute(sign_in_failures.delete().where(sign_in_failures.c.username == name))
    return account_from_row(row)


def _start_session(connection: Connection, account: Account, now: dt.datetime, how: str) -> str:
    token = secrets.token_urlsafe(32)
    connection.execute(
        sessions.insert().values(
            token_hash=token_hash(token), user_id=account.id, created_at=now, last_seen=now
        )
    )
    record(connection, account.actor, "sign_in", how)
    return token


def sign_in_sso(
    workspace: Workspace, email: str, *, now: dt.datetime | None = None
) -> tuple[str, Account]:
    """Start a session for an address an identity provider has verified (``st.login``).

    Only an active account an admin created with that single sign-on address may sign in;
    the identity provider proves who the person is, the account says what they may see.
    """
    address = email.strip().lower()
    with workspace.begin() as connection:
        row = connection.execute(
            sa.select(users).where(users.c.sso_email == address, users.c.active)
        ).first()
        if row is not None:
            account = account_from_row(row)
            return _start_session(connection, account, now or _now(), "single sign-on"), account
        detail = "single sign-on: no account"
        record(connection, Actor(address[:64], "-"), "sign_in_failed", detail)
    raise SignInRefusedError(
        f"{address} has no account here — ask an admin to add one with "
        f"`outreach-map user add NAME --role ROLE --sso {address}`"
    )


def demo_session(connection: Connection, role: str) -> tuple[str, Account]:
    """Start a session as the demo workspace's account for ``role`` (no password: demo only)."""
    account = find_account(connection, f"demo-{role}")
    if account is None:
        raise InvalidInputError(f"the demo has no {role} account — rebuild the demo workspace")
    return _start_session(connection, account, _now(), "demo"), account


def check_session(
    connection: Connection,
    token: str,
    *,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
    touch: bool = True,
) -> SessionCheck:
    """Return the account of a live, unlocked session and mark it used (unless ``touch`` is off).

    A session ends ``shift_hours`` after the password was typed, used or not. Idle for
    ``lock_idle_minutes`` it locks if its account has a PIN (only the PIN opens it again,
    :func:`mapping.access.locks.unlock`) and ends if not. An ended session never comes back,
    whoever presents its token. ``token`` is the app session's token or the device cookie's.
    """
    settings = settings or get_settings()
    now = now or _now()
    row = connection.execute(
        sa.select(
            users,
            sessions.c.id.label("session_id"),
            sessions.c.created_at.label("started_at"),
            sessions.c.last_seen,
            sessions.c.ended_at,
            sessions.c.locked_at,
        )
        .join(sessions, users.c.id == sessions.c.user_id)
        .where(holding(token), users.c.active)
    ).first()
    if row is None:
        return SessionCheck(None, "unknown")
    if row.ended_at is not None:
        return SessionCheck(None, "ended")
    account = account_from_row(row)
    session = sessions.c.id == row.session_id
    if now - row.started_at > dt.timedelta(hours=settings.shift_hours):
        _end(connection, session, "expired", now)
        record(connection, account.actor, "session_ended", "the shift is over")
        return SessionCheck(None, "expired")
    if row.locked_at is not None:
        return SessionCheck(None, "locked", holder=account)
    if now - row.last_seen > dt.timedelta(minutes=settings.lock_idle_minutes):
        if lock_session(connection, token, "idle", now=now):
            return SessionCheck(None, "locked", holder=account)
        return SessionCheck(None, "idle")
    if touch:
        connection.execute(sessions.update().where(session).values(last_seen=now))
    return SessionCheck(account)


def lock_session(
    connection: Connection, token: str, why: str, *, now: dt.datetime | None = None
) -> bool:
    """Lock the live session of ``token`` and say so; a session without a PIN ends instead.

    ``why`` goes to the audit log (``idle``, ``lock now``). Return whether the session is
    locked (False: it ended, or was over already).
    """
    now = now or _now()
    row = connection.execute(
        sa.select(sessions.c.id, users.c.username, users.c.role, users.c.pin_hash)
        .join(users, users.c.id == sessions.c.user_id)
        .where(holding(token), sessions.c.ended_at.is_(None))
    ).first()
    if row is None:
        return False
    actor = Actor(row.username, row.role)
    session = sessions.c.id == row.id
    if row.pin_hash is None:
        if _end(connection, session, "idle" if why == "idle" else "signed out", now):
            record(connection, actor, "session_ended", f"{why}: no PIN to lock with")
        return False
    locked = connection.execute(
        sessions.update().where(session, sessions.c.locked_at.is_(None)).values(locked_at=now)
    )
    if locked.rowcount:
        record(connection, actor, "lock", why)
    return True


def _end(
    connection: Connection,
    where: sa.ColumnElement[bool],
    reason: str,
    now: dt.datetime | None = None,
) -> int:
    result = connection.execute(
        sessions.update()
        .where(where, sessions.c.ended_at.is_(None))
        .values(ended_at=now or _now(), end_reason=reason)
    )
    return int(result.rowcount)


def end_session(
    connection: Connection, session_id: int, reason: str, *, now: dt.datetime | None = None
) -> bool:
    """End one session by its id (a forced sign-out); say whether it was live until now."""
    return _end(connection, sessions.c.id == session_id, reason, now) > 0


def sign_out(connection: Connection, token: str) -> None:
    """End the session of this token (its token and its device cookie are refused from now on)."""
    row = connection.execute(
        sa.select(sessions.c.id, users.c.username, users.c.role)
        .join(users, users.c.id == sessions.c.user_id)
        .where(holding(token))
    ).first()
    if row is None:
        return
    if _end(connection, sessions.c.id == row.id, "signed out"):
        record(connection, Actor(row.username, row.role), "sign_out")


def end_all_sessions(connection: Connection, *, by: Actor, keep: str | None = None) -> int:
    """End every live session (but ``keep``'s, the admin's own); return how many ended."""
    where: sa.ColumnElement[bool] = sa.true()
    if keep:
        kept = connection.execute(sa.select(sessions.c.id).where(holding(keep))).scalar()
        if kept is not None:
            where = sessions.c.id != kept
    ended = _end(connection, where, "ended by admin")
    record(connection, by, "session_ended", f"admin ended {ended} session(s)")
    return ended


#: ``meta`` key marking the demo workspace: its sign-in page offers one account per role.
DEMO_KEY = "demo"


def is_demo(connection: Connection) -> bool:
    """Say whether this store is the demo's (synthetic visits; demo accounts without password)."""
    value = connection.execute(sa.select(meta.c.value).where(meta.c.key == DEMO_KEY)).scalar()
    return value == "1"


def create_demo_accounts(connection: Connection, teams: Sequence[str]) -> None:
    """Mark the store as the demo's and create ``demo-<role>`` for each role (no password).

    The demo peer educator is bound to every team. These accounts can only be entered
    through the demo's sign-in page, which :func:`is_demo` turns on.
    """
    connection.execute(meta.insert().values(key=DEMO_KEY, value="1"))
    for role in ROLES:
        connection.execute(
            users.insert().values(
                username=f"demo-{role}",
                password_hash=None,
                role=role,
                teams=",".join(sorted(teams)) if role == "peer" else "",
                created_at=_now(),
                active=True,
            )
        )
