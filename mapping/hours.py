"""Opening and working hours: OpenStreetMap ``opening_hours``, read by a maintained parser.

Hours are parsed by `opening-hours-py <https://pypi.org/project/opening-hours-py/>`_ (the
Rust ``opening-hours`` crate), so the whole OSM grammar works: several rules
(``Mo-Fr 08:00-18:00; Sa 08:00-13:00``), rules joined by commas
(``Mo-Fr 08:00-18:00, Sa 08:00-13:00``), split days (``Mo-Fr 08:00-12:00,13:00-17:00``),
``24/7``, ``off``, ``PH off``, hours past midnight (``Mo-Su 20:00-04:00``), months, weeks and
comments. Spanish, French and English day names (``Lu-Vi``, ``sáb``, ``Lu-Ve``, ``Monday``)
and ``24h`` are accepted and written the OSM way first, since coordinators type them.

Everything the analyses ask of hours is a weekly grid of 15-minute slots, built once per
distinct hours text and week (a registry holds a few dozen distinct texts for thousands of
services) and cached: no service is parsed row by row.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

import numpy as np
import opening_hours
from opening_hours import OpeningHours, State

from mapping import clock
from mapping.errors import InvalidInputError
from mapping.settings import Settings
from mapping.vocab import normalise

DAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")
#: Day names, English, Spanish and French: a day is written as any start of one (Mo, Lu, sáb,
#: ven...). A start shared by two languages names the same day in both (ma: martes, mardi).
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
    "lundi": "mo",
    "mardi": "tu",
    "mercredi": "we",
    "jeudi": "th",
    "vendredi": "fr",
    "samedi": "sa",
    "dimanche": "su",
}
#: Day words read in opening hours and the OSM day each means. Only whole words, and none that
#: is also an OSM word: "Mar" stays March (martes is "Ma" or "martes"), "Do" is domingo.
_HOURS_DAY_WORDS = {
    **{day: day for day in DAYS},
    **{name: day for name, day in _DAY_NAMES.items()},
    **{name[:3]: day for name, day in _DAY_NAMES.items() if name[:3] not in ("mar", "mie")},
    "tues": "tu",
    "thur": "th",
    "thurs": "th",
    "lu": "mo",
    "ma": "tu",
    "mi": "we",
    "mie": "we",
    "ju": "th",
    "vi": "fr",
    "do": "su",
    "me": "we",
    "je": "th",
    "ve": "fr",
    "di": "su",
}
_ALWAYS = ("24h", "24 h", "24hrs", "24 horas", "24 hours", "24/7/365")
_WORD = re.compile(r'"[^"]*"|[^\W\d_]+')
#: What every message about hours ends with: how to write them.
HOURS_HELP = "write OSM opening_hours, e.g. Mo-Fr 08:00-17:00"
_EXAMPLES = 'such as "Mo-Fr 08:00-18:00; Sa 08:00-13:00", "20:00-04:00", "24/7" or "off"'


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
    raise InvalidInputError(
        f"days {text!r}: {token!r} is not a day — write days like Mo-Fr or Th,Sa (Lu-Vi also works)"
    )


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
                f"days {text!r}: {part!r} is not a day range — write days like Mo-Fr or Th,Sa"
            )
    return days


def osm_hours(text: str) -> str:
    """Return opening hours written the OSM way; raise with the fix if they cannot be read.

    Spanish and English day names become OSM's (``Lu-Vi`` → ``Mo-Fr``) and ``24h`` becomes
    ``24/7``; everything else is kept as written, comments in quotes untouched.

    Examples
    --------
    >>> osm_hours("Lu-Vi 08:00-17:00; sáb 09:00-13:00")
    'Mo-Fr 08:00-17:00; Sa 09:00-13:00'
    >>> osm_hours("Mo-Fr 08:00-18:00, Sa 08:00-13:00")
    'Mo-Fr 08:00-18:00, Sa 08:00-13:00'
    >>> osm_hours("24 horas")
    '24/7'
    >>> osm_hours("Lu-Ve 08:00-17:00; sam 09:00-13:00")
    'Mo-Fr 08:00-17:00; Sa 09:00-13:00'
    """
    written = " ".join(text.split())
    if written.lower() in _ALWAYS:
        return "24/7"

    def day(match: re.Match[str]) -> str:
        word = match.group(0)
        found = None if word.startswith('"') else _HOURS_DAY_WORDS.get(normalise(word))
        return found.capitalize() if found else word

    osm = _WORD.sub(day, written)
    try:
        OpeningHours(osm)
    except (opening_hours.ParserError, SyntaxError, ValueError) as exc:  # type: ignore[attr-defined]
        raise InvalidInputError(
            f"opening hours {text[:80]!r} are not OpenStreetMap opening_hours — "
            f"{HOURS_HELP} ({_EXAMPLES}; Lu-Vi also works)"
        ) from exc
    return osm


@functools.lru_cache(maxsize=4096)
def check_hours(text: str) -> str | None:
    """Return ``None`` if ``text`` is valid opening hours, else the problem (never raises).

    Cached: a registry repeats a few hours texts over thousands of rows.
    """
    try:
        osm_hours(text)
    except InvalidInputError as exc:
        return str(exc)
    return None


def days_from_text(text: str) -> str:
    """Return working days as canonical ``mo,tu,...`` text (English, Spanish or French input).

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
_NO_SLOTS = np.zeros(WEEK_SLOTS, dtype=bool)
_NO_SLOTS.flags.writeable = False


def week_slot(moment: dt.datetime) -> int:
    """Return the week's 15-minute slot a moment falls in (Monday 00:00 is slot 0).

    Examples
    --------
    >>> week_slot(dt.datetime(2026, 11, 30, 0, 14)), week_slot(dt.datetime(2026, 12, 6, 23, 59))
    (0, 671)
    """
    return (moment.weekday() * 1440 + moment.hour * 60 + moment.minute) // SLOT_MINUTES


def _monday(day: dt.date | None) -> dt.date:
    """Return the Monday of ``day``'s week (of today's, by the programme's clock, if None)."""
    day = day or clock.today()
    return day - dt.timedelta(days=day.weekday())


@functools.lru_cache(maxsize=4096)
def _week(text: str, monday: dt.date) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the slots of the week from ``monday`` that are open and those of unknown state.

    ``None`` when the text is not opening hours. Hours running past midnight into Monday
    come from the Sunday before, as the parser evaluates real dates; dated rules (months,
    ``PH``) are those of that week. Cached: the arrays are read-only.
    """
    try:
        hours = OpeningHours(osm_hours(text))
    except InvalidInputError:
        return None
    start = dt.datetime.combine(monday, dt.time())
    open_ = np.zeros(WEEK_SLOTS, dtype=bool)
    unknown = np.zeros(WEEK_SLOTS, dtype=bool)
    for begin, end, state, _comment in hours.intervals(start, start + dt.timedelta(days=7)):
        if state == State.CLOSED:
            continue
        first = int((begin - start).total_seconds()) // 60 // SLOT_MINUTES
        minutes = int(((end or start + dt.timedelta(days=7)) - start).total_seconds()) // 60
        last = min(-(-minutes // SLOT_MINUTES), WEEK_SLOTS)
        (open_ if state == State.OPEN else unknown)[first:last] = True
    open_.flags.writeable = False
    unknown.flags.writeable = False
    return open_, unknown


def is_known(text: str | None) -> bool:
    """Return whether ``text`` gives opening hours (not missing, and readable).

    Examples
    --------
    >>> is_known("Mo-Fr 08:00-17:00"), is_known(None), is_known("by appointment")
    (True, False, False)
    """
    return text is not None and check_hours(text) is None


def weekly_mask(text: str, *, week_of: dt.date | None = None) -> np.ndarray:
    """Return a boolean mask of the 15-minute slots of a week the hours say are open.

    ``week_of`` picks the week (default: this week, by the programme's clock), which matters
    only for dated rules such as ``Dec 25 off``. Raises
    :class:`~mapping.errors.InvalidInputError` for text that is not opening hours.

    Examples
    --------
    >>> int(weekly_mask("Su 23:00-01:00").sum()) * SLOT_MINUTES
    120
    >>> int(weekly_mask("Mo-Fr 08:00-18:00, Sa 08:00-13:00").sum()) * SLOT_MINUTES // 60
    55
    """
    found = _week(text, _monday(week_of))
    if found is None:
        osm_hours(text)  # raises with the fix
    assert found is not None
    return found[0]


def is_open_at_night(
    text: str,
    *,
    night_start: int = Settings.night_starts * 60,
    night_end: int = Settings.day_starts * 60,
) -> bool:
    """Return whether the hours are open for some part of the night, on any day of the week.

    Both bounds are minutes after midnight; the night ends the next morning. By default it
    runs from ``Settings.night_starts`` to ``Settings.day_starts`` (22:00 to 06:00).

    Examples
    --------
    >>> is_open_at_night("Mo-Su 20:00-04:00"), is_open_at_night("Mo-Fr 08:00-18:00")
    (True, False)
    """
    night = np.zeros(1440 // SLOT_MINUTES, dtype=bool)
    night[night_start // SLOT_MINUTES :] = True
    night[: -(-night_end // SLOT_MINUTES)] = True
    return bool((weekly_mask(text) & np.tile(night, 7)).any())


def night_flags(texts: list[str | None], *, night_start: int, night_end: int) -> list[bool | None]:
    """Return, per hours text, whether it is open at night; ``None`` where hours are unknown.

    Each distinct text is worked out once.
    """
    found: dict[str | None, bool | None] = {None: None}
    for text in set(texts) - {None}:
        assert text is not None
        found[text] = (
            is_open_at_night(text, night_start=night_start, night_end=night_end)
            if is_known(text)
            else None
        )
    return [found[text] for text in texts]


def working_mask(
    days: str | None, hours: str | None, *, week_of: dt.date | None = None
) -> np.ndarray:
    """Return the weekly mask of a hotspot's working time from its stored days and hours.

    Missing hours mean the whole day and missing days every day: a hotspot whose hours are not
    known is treated as working at any time, so any open service can serve it. Hours without
    days of their own (``20:00-04:00``) run on each working day, past midnight into the next;
    hours with their own days are kept on the working days only.

    Examples
    --------
    >>> int(working_mask("fr,sa", "20:00-04:00").sum()) * SLOT_MINUTES // 60
    16
    """
    wanted = [DAYS.index(day) for day in (days or "").split(",") if day in DAYS]
    text = osm_hours(hours) if hours else "00:00-24:00"
    if text == "24/7":
        text = "00:00-24:00"
    if not wanted:
        return weekly_mask(text, week_of=week_of)
    selector = ",".join(DAYS[day].capitalize() for day in sorted(wanted))
    if re.fullmatch(r"[\d:,\- +]+", text):
        return weekly_mask(f"{selector} {text}", week_of=week_of)
    on_days: np.ndarray = weekly_mask(text, week_of=week_of) & weekly_mask(
        f"{selector} 00:00-24:00", week_of=week_of
    )
    return on_days


#: Day abbreviations by language, in the order of :data:`DAYS`.
DAY_NAMES: dict[str, tuple[str, ...]] = {
    "en": ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"),
    "es": ("Lu", "Ma", "Mi", "Ju", "Vi", "Sá", "Do"),
    "fr": ("Lu", "Ma", "Me", "Je", "Ve", "Sa", "Di"),
}


def hours_for_reading(text: str, language: str) -> str:
    """Return opening hours for reading: day names of ``language``, ranges with an en dash.

    Day names of a language without them stay as written. A range reads with an en dash
    (``08:00–14:00``), as print has it; it also keeps a page's text from looking like an
    emoji code (``:00-14:``), which makes the browser fetch 46 kB of emoji to check.

    Examples
    --------
    >>> hours_for_reading("Mo-Fr 08:00-14:00; Sa 09:00-13:00", "es")
    'Lu–Vi 08:00–14:00; Sá 09:00–13:00'
    >>> hours_for_reading("Mo-Fr 08:00-14:00; Su off", "fr")
    'Lu–Ve 08:00–14:00; Di off'
    >>> hours_for_reading("24/7", "en")
    '24/7'
    """
    ranges = re.sub(r"(?<=[0-9A-Za-z])-(?=[0-9A-Z])", "–", text)
    names = DAY_NAMES.get(language)
    if names is None:
        return ranges
    english = DAY_NAMES["en"]
    return re.sub(r"\b(Mo|Tu|We|Th|Fr|Sa|Su)\b", lambda m: names[english.index(m.group(1))], ranges)


def opening_masks(texts: list[str | None], *, week_of: dt.date | None = None) -> np.ndarray:
    """Return one weekly mask per opening-hours text (rows), each distinct text parsed once.

    A service whose hours are unknown (``None``, or text that is not opening hours) is open
    at no time here: :func:`known_hours` says which those are, so that they are reported as
    "hours unknown" and never as closed.
    """
    monday = _monday(week_of)
    cache: dict[str | None, np.ndarray] = {None: _NO_SLOTS}
    for text in set(texts) - {None}:
        assert text is not None
        found = _week(text, monday)
        cache[text] = _NO_SLOTS if found is None else found[0]
    return np.array([cache[text] for text in texts], dtype=bool).reshape(len(texts), WEEK_SLOTS)


def known_hours(texts: list[str | None]) -> np.ndarray:
    """Return, per opening-hours text, whether the hours are known (given and readable)."""
    known = {text: is_known(text) for text in set(texts)}
    return np.array([known[text] for text in texts], dtype=bool)


def open_states(texts: list[str | None], moment: dt.datetime) -> list[str]:
    """Return, per opening-hours text, ``"open"``, ``"closed"`` or ``"unknown"`` at ``moment``.

    ``"unknown"`` is a service whose hours are missing or unreadable, or whose hours say
    ``unknown`` at that time: it may be open, so it is never counted as closed. Each distinct
    text is worked out once, for ``moment``'s own week (dated rules apply).

    Examples
    --------
    >>> open_states(["Mo-Fr 08:00-18:00", None], dt.datetime(2026, 12, 7, 9, 0))
    ['open', 'unknown']
    """
    monday = _monday(moment.date())
    slot = week_slot(moment)
    found: dict[str | None, str] = {None: "unknown"}
    for text in set(texts) - {None}:
        assert text is not None
        week = _week(text, monday)
        found[text] = (
            "unknown" if week is None or week[1][slot] else "open" if week[0][slot] else "closed"
        )
    return [found[text] for text in texts]
