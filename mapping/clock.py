"""The programme's clock: the one source of "now" and "today" for the library, app and CLI.

The programme works in one place, and its workspace records that place's time zone at ``init``
(``[area] timezone`` in ``workspace.toml``, e.g. ``America/Lima``). A server on UTC and a
programme in Lima are on different days after 19:00 in Lima: asking this module, never
``datetime`` directly, keeps imports, coverage, gaps, planning, exports and the ledger on the
programme's day.

The zone is passed, not kept: :func:`now` and :func:`today` take the workspace (anything with a
``timezone``), and every caller that has a workspace passes it. No process-wide state is set
when a workspace opens, so a test, or a process, holding two workspaces in two zones reads each
one's own day. Which zone wins:

1. the workspace's recorded zone (``OUTREACH_MAP_TIMEZONE`` does not override it: the variable
   is only the default ``init`` records, and the command line says when the two differ);
2. for a workspace made before zones were recorded, or a call with no workspace,
   ``OUTREACH_MAP_TIMEZONE``;
3. else the server's own clock and zone.

A :class:`~mapping.settings.Settings` passed instead of a workspace is read as before: its
``timezone``, else the server's clock.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import os
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from mapping.errors import InvalidInputError
from mapping.settings import Settings, get_settings

#: The environment variable naming the zone a new workspace records (and old ones use).
ZONE_ENV = "OUTREACH_MAP_TIMEZONE"
#: Files of the zone folder that load as zones but name no place.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
_EXAMPLES = "a name such as America/Lima, Africa/Nairobi or Asia/Bangkok"


class Zoned(Protocol):
    """Anything that names the programme's time zone: a workspace, or the settings."""

    @property
    def timezone(self) -> str:
        """The zone's name (e.g. ``America/Lima``); empty when none is recorded."""
        ...


def now(where: Zoned | None = None) -> dt.datetime:
    """Return the time now where the programme works, as an aware datetime.

    ``where`` is the workspace (or settings) whose zone to use; see the module docstring for
    which zone wins. With no zone anywhere, the server's local clock and zone.

    Raises
    ------
    InvalidInputError
        When the zone is not a time zone name.

    Examples
    --------
    >>> lima = Settings.from_env({"OUTREACH_MAP_TIMEZONE": "America/Lima"})
    >>> now(lima).utcoffset() == dt.timedelta(hours=-5)
    True
    """
    zone = zone_of(where)
    if zone is None:
        return dt.datetime.now().astimezone()
    return dt.datetime.now(zone)


def quarter_hour(where: Zoned | None = None) -> dt.datetime:
    """Return the time now where the programme works, down to the quarter hour, without zone.

    The key under which the peer educators' pages keep what changes with the hour (the
    services open now).
    """
    moment = now(where).replace(second=0, microsecond=0, tzinfo=None)
    return moment.replace(minute=moment.minute - moment.minute % 15)


def today(where: Zoned | None = None) -> dt.date:
    """Return the programme's date today (the day of :func:`now`).

    This is the day a visit may at most be dated, the "as of" of a running period and the day
    a release is asked for.
    """
    return now(where).date()


def utc_now() -> dt.datetime:
    """Return the moment now in UTC, as an aware datetime, for timestamps stored in UTC.

    The audit log, the privacy ledger, sessions and imports store UTC (most of them naive, by
    ``.replace(tzinfo=None)`` at the site), so that a change of the programme's zone never
    reorders what happened.
    """
    return dt.datetime.now(dt.UTC)


def zone_name(where: Zoned | None = None) -> str:
    """Return the name of the zone :func:`now` uses for ``where``; empty for the server's clock.

    Examples
    --------
    >>> zone_name(Settings.from_env({"OUTREACH_MAP_TIMEZONE": "Asia/Bangkok"}))
    'Asia/Bangkok'
    """
    name = where.timezone if where is not None else ""
    if not name and not isinstance(where, Settings):
        name = get_settings().timezone
    return name


def zone_of(where: Zoned | None = None) -> ZoneInfo | None:
    """Return the zone :func:`now` uses for ``where``; None for the server's clock.

    Raises
    ------
    InvalidInputError
        When the zone is not a time zone name.
    """
    name = zone_name(where)
    if not name:
        return None
    recorded = where is not None and not isinstance(where, Settings) and where.timezone
    what = f"the workspace's time zone {name!r}" if recorded else f"{ZONE_ENV}={name!r}"
    return ZoneInfo(check_zone(name, what=what))


def check_zone(name: str, *, what: str = "") -> str:
    """Return ``name`` if it names a time zone, else refuse it saying where it came from.

    ``what`` names the value in the message (default: ``--timezone 'NAME'``).

    Raises
    ------
    InvalidInputError
        When ``name`` is not a time zone name (``Nairobi``, ``UTC+3``, ``Mars/Olympus``).

    Examples
    --------
    >>> check_zone("Africa/Nairobi")
    'Africa/Nairobi'
    >>> check_zone("Nairobi")
    Traceback (most recent call last):
    ...
    mapping.errors.InvalidInputError: --timezone 'Nairobi' is not a time zone — use a name ...
    """
    if not _is_zone(name):
        raise InvalidInputError(
            f"{what or f'--timezone {name!r}'} is not a time zone — use {_EXAMPLES}"
            f"{_suggestion(name)} (`timedatectl list-timezones` lists them)"
        )
    return name


def _suggestion(name: str) -> str:
    """Return '; did you mean ...' for a city written without its region, else ''."""
    city = name.strip().replace(" ", "_").lower()
    matches = sorted(z for z in available_timezones() if z.lower().endswith("/" + city))
    return f"; did you mean {' or '.join(matches[:3])}?" if matches else ""


def default_zone() -> tuple[str, str]:
    """Return the zone a new workspace records when ``init`` is given none, and why.

    ``OUTREACH_MAP_TIMEZONE`` if set (refused if it is not a zone), else the server's zone
    name if it can be known (:func:`server_zone`), else ``UTC``.

    Raises
    ------
    InvalidInputError
        When ``OUTREACH_MAP_TIMEZONE`` is set and is not a time zone name.
    """
    from_env = get_settings().timezone
    if from_env:
        return check_zone(from_env, what=f"{ZONE_ENV}={from_env!r}"), f"from {ZONE_ENV}"
    server = server_zone()
    if server:
        return server, "the server's zone"
    return "UTC", "the server's zone is unknown"


def server_zone() -> str:
    """Return the name of the server's time zone, or '' when it cannot be known.

    In order: ``TZ`` when it is a zone name, the ``tzlocal`` package when installed,
    ``/etc/timezone``, and the target of the ``/etc/localtime`` link.
    """
    candidates: list[str] = [os.environ.get("TZ", "").lstrip(":")]
    if importlib.util.find_spec("tzlocal") is not None:
        try:
            candidates.append(str(importlib.import_module("tzlocal").get_localzone_name() or ""))
        except (LookupError, ValueError, OSError):  # a machine whose zone tzlocal cannot name
            candidates.append("")
    timezone_file = Path("/etc/timezone")  # Debian's; elsewhere the link below may say
    if timezone_file.is_file():
        candidates.append(timezone_file.read_text(encoding="utf-8").strip())
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    for name in candidates:
        if name and not name.startswith("/") and _is_zone(name):
            return name
    return ""


def _is_zone(name: str) -> bool:
    """Whether ``name`` is a zone of the tz database (not a file of its folder, like localtime)."""
    if name in _NOT_ZONES or name.startswith(("posix/", "right/")):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
