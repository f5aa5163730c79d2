"""The audit log: who did what, when, with which role, at which resolution, spending what budget.

It is append-only (the store's triggers refuse to change or delete an entry) and holds no
coordinate, no contact code and no cell: :func:`record` refuses a detail that looks like one.
"""

from __future__ import annotations

import contextvars
import getpass
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mapping import clock
from mapping.errors import InvalidInputError
from mapping.settings import ACCESS_SETTINGS, Settings
from mapping.storage.store import audit_log
from mapping.storage.store import settings as settings_table

#: What an entry may record.
ACTIONS = frozenset(
    {
        "assign",
        "sign_in",
        "sign_in_failed",
        "sign_out",
        "session_ended",
        "lock",
        "unlock",
        "pin",
        "pin_failed",
        "device",
        "view",
        "import",
        "edit",
        "plan",
        "export",
        "release",
        "release_refused",
        "setting",
        "store",
        "user",
        "wipe",
    }
)
#: A decimal number with 4 or more decimals (a coordinate) or a 15-hex-digit H3 index.
_FORBIDDEN = re.compile(r"-?\d{1,3}\.\d{4,}|\b8[0-9a-f]{14}\b", re.IGNORECASE)


_ACTING: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("acting", default=None)


@dataclass(frozen=True)
class Actor:
    """Who acts: an account's username and the role it acted in."""

    username: str
    role: str

    @classmethod
    def command_line(cls, role: str = "admin") -> Actor:
        """Return the operating-system user running a command, as ``cli:<name>``."""
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (e.g. a container)
            name = "unknown"
        return cls(username=f"cli:{name}"[:64], role=role)


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Name who acts for everything the library records inside the block (one thread's run).

    The app wraps each page run in it, so an import or an edit made on a page is logged under
    the signed-in account; outside any block the operating-system user is the actor.
    """
    token = _ACTING.set(actor)
    try:
        yield
    finally:
        _ACTING.reset(token)


def acting() -> Actor:
    """Return who acts now: the account of :func:`acting_as`, else the command-line user."""
    return _ACTING.get() or Actor.command_line()


def redact(detail: str) -> str:
    """Return ``detail`` with anything that looks like a coordinate or a cell replaced by "…".

    Examples
    --------
    >>> redact("visits from points at -12.0464 -77.0428.csv")
    'visits from points at … ….csv'
    """
    return _FORBIDDEN.sub("…", detail)


def record(
    connection: Connection,
    actor: Actor,
    action: str,
    detail: str = "",
    *,
    resolution: int | None = None,
    epsilon: float | None = None,
    delta: float | None = None,
) -> None:
    """Append an entry inside the caller's transaction.

    Raises
    ------
    InvalidInputError
        For an unknown action, or a detail holding something that looks like a coordinate or
        an H3 cell: the log must never hold a place finer than the viewer was allowed.

    Examples
    --------
    >>> check_detail("reach at -12.0464, -77.0428")
    Traceback (most recent call last):
    ...
    mapping.errors.InvalidInputError: audit detail 'reach at -12.0464, -77.0428' looks like ...
    >>> check_detail("reach of 2026-Q3 by district")
    """
    if action not in ACTIONS:
        raise InvalidInputError(
            f"audit action {action!r} is unknown — use one of {', '.join(sorted(ACTIONS))}"
        )
    check_detail(detail)
    connection.execute(
        audit_log.insert().values(
            at=clock.utc_now().replace(tzinfo=None),
            username=actor.username[:64],
            role=actor.role,
            action=action,
            detail=detail[:500],
            resolution=resolution,
            epsilon=epsilon,
            delta=delta,
        )
    )


def check_detail(detail: str) -> None:
    """Refuse a detail holding something that looks like a coordinate or an H3 cell.

    Examples
    --------
    >>> check_detail("cell 8a8e6c4a2d9ffff")
    Traceback (most recent call last):
    ...
    mapping.errors.InvalidInputError: audit detail 'cell 8a8e6c4a2d9ffff' looks like ...
    """
    if _FORBIDDEN.search(detail):
        raise InvalidInputError(
            f"audit detail {detail!r} looks like it holds a coordinate or a cell — log the "
            "district or the resolution instead"
        )


def audit_entries(connection: Connection, *, limit: int = 1000) -> pl.DataFrame:
    """Return the newest entries first (times in UTC)."""
    rows = connection.execute(
        sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    ).all()
    return pl.DataFrame(
        [row._asdict() for row in rows],
        schema={
            "id": pl.Int64,
            "at": pl.Datetime,
            "username": pl.String,
            "role": pl.String,
            "action": pl.String,
            "detail": pl.String,
            "resolution": pl.Int64,
            "epsilon": pl.Float64,
            "delta": pl.Float64,
        },
        orient="row",
    )


def note_settings(connection: Connection, settings: Settings, actor: Actor) -> list[str]:
    """Audit every access or disclosure setting that changed since the last start; return them.

    Settings come from the server's environment, so a change happens between two starts of
    the app: ``outreach-map serve`` compares the values in force with those it saw last.
    """
    seen = dict(connection.execute(sa.select(settings_table.c.key, settings_table.c.value)).all())
    now = clock.utc_now().replace(tzinfo=None)
    defaults = type(settings)()
    changes = []
    for name in ACCESS_SETTINGS:
        value = str(getattr(settings, name))
        before = seen.get(name, str(getattr(defaults, name)))
        stamp = {"value": value, "changed_at": now, "changed_by": actor.username}
        if name not in seen:
            connection.execute(settings_table.insert().values(key=name, **stamp))
        elif value != before:
            connection.execute(
                settings_table.update().where(settings_table.c.key == name).values(**stamp)
            )
        if value != before:
            changes.append(f"{name}: {before} -> {value}")
            record(connection, actor, "setting", redact(changes[-1]))
    return changes
