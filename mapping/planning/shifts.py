"""A team's shift: its hours read, the nights that may be planned, and when a visit fits in it."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from mapping.errors import InvalidInputError
from mapping.hours import SLOT_MINUTES, WEEK_SLOTS

_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


def parse_shift(day: dt.date, hours: str) -> tuple[dt.datetime, dt.datetime]:
    """Return the start and end of a shift on ``day`` given as ``"HH:MM-HH:MM"``.

    An end at or before the start is the next morning (a night shift).

    Examples
    --------
    >>> start, end = parse_shift(dt.date(2026, 11, 28), "20:00-02:00")
    >>> start.isoformat(), end.isoformat()
    ('2026-11-28T20:00:00', '2026-11-29T02:00:00')
    """
    match = _HOURS.match(hours or "")
    if not match:
        raise InvalidInputError(
            f"hours {hours!r} are not a shift — write the start and end as HH:MM-HH:MM, "
            "e.g. 20:00-02:00 for a night that ends at 2 in the morning"
        )
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or (h1 == 24 and m1) or (h2 == 24 and m2):
        raise InvalidInputError(
            f"hours {hours!r}: {h1:02d}:{m1:02d} or {h2:02d}:{m2:02d} is not a time of day — "
            "use 00:00 to 24:00"
        )
    start = dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=h1, minutes=m1)
    end = dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=h2, minutes=m2)
    if end == start:
        raise InvalidInputError(
            f"hours {hours!r} start and end at the same time — give the end of the shift, "
            "e.g. 20:00-02:00"
        )
    if end < start:
        end += dt.timedelta(days=1)
    if end - start > dt.timedelta(hours=MAX_SHIFT_HOURS):
        raise InvalidInputError(
            f"hours {hours!r} make a shift of {(end - start).total_seconds() / 3600:g} hours, "
            f"longer than {MAX_SHIFT_HOURS} — check the hours; plan a long day as two shifts"
        )
    return start, end


#: Longest shift planned, in hours: a longer one is almost always a typo in the hours.
MAX_SHIFT_HOURS = 16
#: How far ahead a night may be planned, in days: the hotspot map goes stale.
MAX_DAYS_AHEAD = 31


def check_day(day: dt.date, today: dt.date) -> None:
    """Refuse a night already past or too far ahead (yesterday's may still be running)."""
    if day < today - dt.timedelta(days=1):
        raise InvalidInputError(
            f"{day} has passed (today is {today}) — plan tonight or a night to come"
        )
    if day > today + dt.timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidInputError(
            f"{day} is more than {MAX_DAYS_AHEAD} days ahead — hotspots move and the map goes "
            "stale: plan at most a month ahead"
        )


def shift_windows(
    mask: np.ndarray, shift_start: dt.datetime, horizon: int, stay: int
) -> list[tuple[int, int]]:
    """Return when a visit of ``stay`` minutes may start, in minutes from the shift's start.

    ``mask`` is a hotspot's weekly working mask (:func:`mapping.hours.working_mask`): the
    whole visit must fall inside working time and inside the shift.

    Examples
    --------
    >>> from mapping.hours import working_mask
    >>> friday_night = working_mask("fr", "22:00-23:00")
    >>> shift_windows(friday_night, dt.datetime(2026, 11, 27, 20, 0), 360, 30)
    [(120, 150)]
    """
    week_minute = shift_start.weekday() * 1440 + shift_start.hour * 60 + shift_start.minute
    minutes = (week_minute + np.arange(horizon)) % (WEEK_SLOTS * SLOT_MINUTES)
    working = mask[minutes // SLOT_MINUTES].astype(np.int64)
    if stay <= 0 or stay > horizon:
        return []
    # a visit may start at t when every minute t .. t+stay-1 is working time
    total = np.concatenate([[0], np.cumsum(working)])
    starts = np.arange(horizon - stay + 1)
    fits = (total[starts + stay] - total[starts]) == stay
    windows: list[tuple[int, int]] = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], fits.astype(np.int8), [0]])))
    for begin, end in zip(edges[::2], edges[1::2], strict=True):
        windows.append((int(begin), int(end) - 1))
    return windows
