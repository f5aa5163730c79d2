"""The programme's clock: the one source of "now" and "today" for the library, app and CLI.

The programme works in one place, named by ``OUTREACH_MAP_TIMEZONE`` (e.g. ``America/Lima``);
unset, the server's own clock is the programme's. A server on UTC and a programme in Lima are on
different days after 19:00 in Lima: asking this module, never ``datetime`` directly, keeps
imports, coverage, gaps, planning, exports and the ledger on the programme's day.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mapping.errors import InvalidInputError
from mapping.settings import Settings, get_settings


def now(settings: Settings | None = None) -> dt.datetime:
    """Return the time now where the programme works, as an aware datetime.

    ``OUTREACH_MAP_TIMEZONE`` names the zone (read on every call, so a deployment's setting
    applies); unset, the server's local clock and zone.

    Raises
    ------
    InvalidInputError
        When ``OUTREACH_MAP_TIMEZONE`` is not a time zone name.

    Examples
    --------
    >>> lima = Settings.from_env({"OUTREACH_MAP_TIMEZONE": "America/Lima"})
    >>> now(lima).utcoffset() == dt.timedelta(hours=-5)
    True
    """
    settings = settings or get_settings()
    if not settings.timezone:
        return dt.datetime.now().astimezone()
    try:
        zone = ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(
            f"OUTREACH_MAP_TIMEZONE={settings.timezone!r} is not a time zone — use a name "
            "such as America/Lima or Africa/Nairobi"
        ) from exc
    return dt.datetime.now(zone)


def today(settings: Settings | None = None) -> dt.date:
    """Return the programme's date today (the day of :func:`now`).

    This is the day a visit may at most be dated, the "as of" of a running period and the day
    a release is asked for.
    """
    return now(settings).date()


def utc_now() -> dt.datetime:
    """Return the moment now in UTC, as an aware datetime, for timestamps stored in UTC.

    The audit log, the privacy ledger, sessions and imports store UTC (most of them naive, by
    ``.replace(tzinfo=None)`` at the site), so that a change of the programme's zone never
    reorders what happened.
    """
    return dt.datetime.now(dt.UTC)
