"""Opening and working hours: a small, documented subset of OpenStreetMap's opening_hours syntax."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np

from mapping.errors import InvalidInputError
from mapping.settings import Settings
from mapping.vocab import normalise

DAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")
#: Day names, English and Spanish: a day is written as any start of one (Mo, Mon, Lu, sáb...).
_DAY_NAMES = {
    "monday": "mo",
    "tuesday": "tu",
    "wednesday": "we",
    "thursday": "th",
    "friday": "fr",
    "saturday": "sa",
    "sunday": "su",
    "lunes": "mo",
    "martes": "tu",
    "miercoles": "we",
    "jueves": "th",
    "viernes": "fr",
    "sabado": "sa",
    "domingo": "su",
}
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_HELP = 'write e.g. "Mo-Fr 08:00-17:00; Sa 09:00-13:00", "20:00-04:00" or "24/7" (Lu-Vi also works)'


@dataclass(frozen=True)
class Interval:
    """A weekly opening interval: a day (0 = Monday) and minutes from that day's midnight.

    ``end`` may pass 1440 for hours that run past midnight (``20:00-02:00``).
    """

    day: int
    start: int
    end: int


def _day(token: str, text: str) -> int:
    """Return the day (0 = Monday) a token names; ``weekend`` or ``mañana`` is not a day.

    Examples
    --------
    >>> _day("Mié", "Mié"), _day("sat", "sat"), _day("do", "do")
    (2, 5, 6)
    """
    word = normalise(token)
    if len(word) >= 2:
        for name, day in _DAY_NAMES.items():
            if name.startswith(word):
                return DAYS.index(day)
    raise InvalidInputError(f"opening hours {text!r}: {token!r} is not a day — {_HELP}")


def _days(spec: str, text: str) -> list[int]:
    days: list[int] = []
    for part in spec.split(","):
        bounds = [b for b in part.split("-") if b]
        if len(bounds) == 1:
            days.append(_day(bounds[0], text))
        elif len(bounds) == 2:
            first, last = _day(bounds[0], text), _day(bounds[1], text)
            days.extend((first + i) % 7 for i in range((last - first) % 7 + 1))
        else:
            raise InvalidInputError(
                f"opening hours {text!r}: {part!r} is not a day range — {_HELP}"
            )
    return days


def intervals_from_text(text: str) -> list[Interval]:
    """Parse opening hours into weekly intervals; raise with a fix for anything else.

    Examples
    --------
    >>> intervals_from_text("Sa 20:00-02:00")
    [Interval(day=5, start=1200, end=1560)]
    >>> len(intervals_from_text("24/7"))
    7
    """
    cleaned = text.strip().lower()
    if cleaned in ("24/7", "24h", "24 horas"):
        return [Interval(day, 0, 1440) for day in range(7)]
    intervals: list[Interval] = []
    for rule in (r.strip() for r in cleaned.split(";")):
        if not rule:
            continue
        parts = rule.split()
        times = parts[-1]
        days = _days("".join(parts[:-1]), text) if len(parts) > 1 else list(range(7))
        for span in times.split(","):
            match = _RANGE.match(span)
            if not match:
                raise InvalidInputError(
                    f"opening hours {text!r}: {span!r} is not a time range — {_HELP}"
                )
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
                raise InvalidInputError(
                    f"opening hours {text!r}: {span!r} is not a time of day — {_HELP}"
                )
            start, end = h1 * 60 + m1, h2 * 60 + m2
            if end <= start:
                end += 1440
            intervals.extend(Interval(day, start, end) for day in days)
    if not intervals:
        raise InvalidInputError(f"opening hours {text!r} are empty — {_HELP}")
    return intervals


def is_open_at_night(
    intervals: list[Interval],
    *,
    night_start: int = Settings.night_starts * 60,
    night_end: int = Settings.day_starts * 60,
) -> bool:
    """Return whether any interval overlaps the night, ``night_start`` to ``night_end``.

    Both are minutes after midnight; the night ends the next morning. By default it runs from
    ``Settings.night_starts`` to ``Settings.day_starts`` (22:00 to 06:00).
    """
    for interval in intervals:
        if interval.end > night_start and interval.start < night_end + 1440:
            return True
        if interval.start < night_end:
            return True
    return False


def check_hours(text: str) -> str | None:
    """Return ``None`` if ``text`` is valid opening hours, else the problem (never raises)."""
    try:
        intervals_from_text(text)
    except InvalidInputError as exc:
        return str(exc)
    return None


def days_from_text(text: str) -> str:
    """Return working days as canonical ``mo,tu,...`` text (English or Spanish input).

    Examples
    --------
    >>> days_from_text("Vi-Do")
    'fr,sa,su'
    """
    return ",".join(
        DAYS[d]
        for d in sorted(set(_days(text.strip().lower().replace(" ", "").replace(";", ","), text)))
    )


#: Minutes per slot of a weekly time mask, and slots per week.
SLOT_MINUTES = 15
WEEK_SLOTS = 7 * 24 * 60 // SLOT_MINUTES


def week_slot(moment: dt.datetime) -> int:
    """Return the week's 15-minute slot a moment falls in (Monday 00:00 is slot 0).

    Examples
    --------
    >>> week_slot(dt.datetime(2026, 11, 30, 0, 14)), week_slot(dt.datetime(2026, 12, 6, 23, 59))
    (0, 671)
    """
    return (moment.weekday() * 1440 + moment.hour * 60 + moment.minute) // SLOT_MINUTES


def weekly_mask(intervals: list[Interval]) -> np.ndarray:
    """Return a boolean mask of the week's 15-minute slots the intervals cover.

    Hours running past midnight on Sunday wrap to Monday morning.

    Examples
    --------
    >>> int(weekly_mask(intervals_from_text("Su 23:00-01:00")).sum()) * SLOT_MINUTES
    120
    """
    mask = np.zeros(WEEK_SLOTS, dtype=bool)
    for interval in intervals:
        first = (interval.day * 1440 + interval.start) // SLOT_MINUTES
        last = (interval.day * 1440 + interval.end + SLOT_MINUTES - 1) // SLOT_MINUTES
        mask[np.arange(first, last) % WEEK_SLOTS] = True
    return mask


def working_mask(days: str | None, hours: str | None) -> np.ndarray:
    """Return the weekly mask of a hotspot's working time from its stored days and hours.

    Missing hours mean the whole day and missing days every day: a hotspot whose hours are not
    known is treated as working at any time, so any open service can serve it.

    Examples
    --------
    >>> int(working_mask("fr,sa", "20:00-04:00").sum()) * SLOT_MINUTES // 60
    16
    """
    intervals = intervals_from_text(hours) if hours else intervals_from_text("00:00-24:00")
    if days:
        wanted = {DAYS.index(day) for day in days.split(",") if day in DAYS}
        intervals = [interval for interval in intervals if interval.day in wanted]
    return weekly_mask(intervals)


#: Day abbreviations by language, in the order of :data:`DAYS`.
DAY_NAMES: dict[str, tuple[str, ...]] = {
    "en": ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"),
    "es": ("Lu", "Ma", "Mi", "Ju", "Vi", "Sá", "Do"),
}


def hours_for_reading(text: str, language: str) -> str:
    """Return opening hours with the day names of ``language`` (other languages: as written).

    Examples
    --------
    >>> hours_for_reading("Mo-Fr 08:00-14:00; Sa 09:00-13:00", "es")
    'Lu-Vi 08:00-14:00; Sá 09:00-13:00'
    """
    names = DAY_NAMES.get(language)
    if names is None:
        return text
    english = DAY_NAMES["en"]
    return re.sub(r"\b(Mo|Tu|We|Th|Fr|Sa|Su)\b", lambda m: names[english.index(m.group(1))], text)


def opening_masks(texts: list[str | None]) -> np.ndarray:
    """Return one weekly mask per opening-hours text (rows), each distinct text parsed once.

    A service whose hours are unknown (``None``) is open at no time: nobody can be sent to it
    at a known hour.
    """
    cache: dict[str | None, np.ndarray] = {None: np.zeros(WEEK_SLOTS, dtype=bool)}
    for text in set(texts) - {None}:
        cache[text] = weekly_mask(intervals_from_text(text))  # type: ignore[arg-type]
    return np.array([cache[text] for text in texts], dtype=bool).reshape(len(texts), WEEK_SLOTS)
