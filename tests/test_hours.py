"""Opening and working hours, and the settings that bucket visit times."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from mapping import hours
from mapping.errors import InvalidInputError
from mapping.hours import (
    SLOT_MINUTES,
    WEEK_SLOTS,
    check_hours,
    days_from_text,
    is_open_at_night,
    known_hours,
    open_states,
    opening_masks,
    osm_hours,
    weekly_mask,
    working_mask,
)
from mapping.settings import Settings


def week(*spans: tuple[int, str, str]) -> np.ndarray:
    """Return the weekly mask of (day, "HH:MM", "HH:MM") spans, worked out by hand.

    A span ending at or before its start runs past midnight into the next day (Sunday's into
    Monday's morning of the same week, as every week is alike).
    """
    mask = np.zeros(WEEK_SLOTS, dtype=bool)
    for day, start, end in spans:
        first = day * 1440 + int(start[:2]) * 60 + int(start[3:])
        last = day * 1440 + int(end[:2]) * 60 + int(end[3:])
        if last <= first:
            last += 1440
        mask[np.arange(first // SLOT_MINUTES, last // SLOT_MINUTES) % WEEK_SLOTS] = True
    return mask


WEEKDAYS = range(5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # rules joined by a comma, as OpenStreetMap exports write them
        (
            "Mo-Fr 08:00-18:00, Sa 08:00-13:00",
            week(*((d, "08:00", "18:00") for d in WEEKDAYS), (5, "08:00", "13:00")),
        ),
        (
            "Mo-Fr 08:00-12:00,13:00-17:00",
            week(
                *((d, a, b) for d in WEEKDAYS for a, b in (("08:00", "12:00"), ("13:00", "17:00")))
            ),
        ),
        ("24/7", np.ones(WEEK_SLOTS, dtype=bool)),
        ("PH off", week()),
        ("off", week()),
        ("Mo-Fr 08:00-17:00; PH off", week(*((d, "08:00", "17:00") for d in WEEKDAYS))),
        ("Mo-Su 20:00-04:00", week(*((d, "20:00", "04:00") for d in range(7)))),
        ("Sa 09:00-13:00; Su 10:00-12:00", week((5, "09:00", "13:00"), (6, "10:00", "12:00"))),
        ("Su-Mo 10:00-11:00", week((6, "10:00", "11:00"), (0, "10:00", "11:00"))),
        # Spanish day names are written the OSM way first
        ("Lu-Vi 08:00-17:00", week(*((d, "08:00", "17:00") for d in WEEKDAYS))),
        ("Lu-Mi 20:00-02:00", week(*((d, "20:00", "02:00") for d in range(3)))),
        ("sáb 09:00-13:00", week((5, "09:00", "13:00"))),
        ("24 horas", np.ones(WEEK_SLOTS, dtype=bool)),
    ],
)
def test_weekly_masks_follow_the_osm_grammar(text: str, expected: np.ndarray) -> None:
    found = weekly_mask(text, week_of=dt.date(2026, 3, 4))
    assert np.array_equal(found, expected), np.flatnonzero(found != expected)[:8]


def test_dated_rules_use_the_week_asked_for() -> None:
    text = "Mo-Su 08:00-17:00; Dec 25 off"
    christmas = weekly_mask(text, week_of=dt.date(2026, 12, 23))  # Friday 25 December 2026
    assert np.array_equal(christmas, week(*((d, "08:00", "17:00") for d in (0, 1, 2, 3, 5, 6))))
    other = weekly_mask(text, week_of=dt.date(2026, 12, 9))
    assert np.array_equal(other, week(*((d, "08:00", "17:00") for d in range(7))))


@pytest.mark.parametrize(
    ("text", "osm"),
    [
        ("Lu-Vi 08:00-17:00; Sá 09:00-13:00", "Mo-Fr 08:00-17:00; Sa 09:00-13:00"),
        ("Ma 10:00-12:00", "Tu 10:00-12:00"),  # martes; "Mar" stays March
        ("Mar-Oct Do 10:00-12:00", "Mar-Oct Su 10:00-12:00"),
        ('Mo-Fr 08:00-17:00 "Lu: cita previa"', 'Mo-Fr 08:00-17:00 "Lu: cita previa"'),
        ("Mo-Fr 08:00-18:00, Sa 08:00-13:00", "Mo-Fr 08:00-18:00, Sa 08:00-13:00"),
        ("24h", "24/7"),
        ("Lu-Ve 08:00-17:00; sam 09:00-13:00", "Mo-Fr 08:00-17:00; Sa 09:00-13:00"),  # French
        ("Mer,Di 10:00-12:00", "We,Su 10:00-12:00"),
    ],
)
def test_hours_are_written_the_osm_way(text: str, osm: str) -> None:
    assert osm_hours(text) == osm


@pytest.mark.parametrize(
    ("text", "night"),
    [
        ("Mo-Fr 08:00-17:00", False),
        ("Mo-Fr 08:00-22:30", True),
        ("Fr 20:00-02:00", True),
        ("05:00-09:00", True),
        ("06:00-22:00", False),
        ("24/7", True),
        ("Mo-Su 20:00-04:00", True),
        ("off", False),
    ],
)
def test_open_at_night(text: str, night: bool) -> None:
    assert is_open_at_night(text) is night


@pytest.mark.parametrize(
    "text", ["Xx 08:00-17:00", "Mo-Fr 8-17", "Mo 25:00-26:00", "Mo 08:61-09:00", " ; ", "later"]
)
def test_bad_hours_say_what_and_how(text: str) -> None:
    message = (
        f"opening hours {text!r} are not OpenStreetMap opening_hours — write OSM "
        "opening_hours, e.g. Mo-Fr 08:00-17:00"
    )
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        osm_hours(text)
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        weekly_mask(text)
    assert (check_hours(text) or "").startswith(message)


def test_open_states_keep_unknown_hours_apart() -> None:
    texts = ["Mo-Su 20:00-04:00", "Mo-Fr 08:00-17:00", None, "by appointment", "Mo unknown"]
    monday_0200 = dt.datetime(2026, 12, 7, 2, 0)  # a Monday
    assert open_states(texts, monday_0200) == ["open", "closed", "unknown", "unknown", "unknown"]
    tuesday_0900 = dt.datetime(2026, 12, 8, 9, 0)
    assert open_states(texts, tuesday_0900) == ["closed", "open", "unknown", "unknown", "closed"]
    assert known_hours(texts).tolist() == [True, True, False, False, True]


def test_each_distinct_hours_text_is_read_once() -> None:
    """Thousands of services share a few hours texts: each is parsed once, not per row."""
    texts = ["Mo-Fr 08:00-17:00", "Mo-Su 19:00-01:00", None, "24/7"] * 2_500
    hours._week.cache_clear()
    masks = opening_masks(texts, week_of=dt.date(2026, 3, 4))
    assert hours._week.cache_info().misses == 3
    assert masks.shape == (10_000, WEEK_SLOTS)
    assert masks[2].sum() == 0 and masks[3].all()
    assert masks[1].sum() * SLOT_MINUTES == 7 * 6 * 60


def test_hotspot_days_keep_hours_past_midnight() -> None:
    assert np.array_equal(
        working_mask("fr,sa", "20:00-04:00", week_of=dt.date(2026, 3, 4)),
        week((4, "20:00", "04:00"), (5, "20:00", "04:00")),
    )
    # hours with days of their own are kept on the working days only
    assert np.array_equal(
        working_mask("mo,sa", "Mo-Fr 08:00-10:00", week_of=dt.date(2026, 3, 4)),
        week((0, "08:00", "10:00")),
    )
    assert working_mask(None, None).all()


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Lu-Vi", "mo,tu,we,th,fr"),
        ("sa; do", "sa,su"),
        ("Fr-Mo", "mo,fr,sa,su"),
        ("Mon-Wed", "mo,tu,we"),
        ("Miércoles, Sábado", "we,sa"),
        ("martes", "tu"),
        ("Ve-Di", "fr,sa,su"),
        ("mercredi, samedi", "we,sa"),
    ],
)
def test_days(text: str, days: str) -> None:
    assert days_from_text(text) == days


@pytest.mark.parametrize("text", ["weekends", "mañana", "noche", "x", "Mo-Tu-We"])
def test_words_that_are_not_days_are_refused(text: str) -> None:
    # "weekends" once read as Wednesday and "mañana" as Tuesday (martes)
    with pytest.raises(InvalidInputError, match="is not a day"):
        days_from_text(text)


def test_settings_from_environment() -> None:
    settings = Settings.from_env({"OUTREACH_MAP_NIGHT_STARTS": "23", "OTHER": "x"})
    assert (settings.night_starts, settings.evening_starts) == (23, 18)
    with pytest.raises(ValueError, match="OUTREACH_MAP_IMPORT_BATCH_ROWS='many' is not a whole"):
        Settings.from_env({"OUTREACH_MAP_IMPORT_BATCH_ROWS": "many"})
