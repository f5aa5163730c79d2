"""Opening and working hours, and the settings that bucket visit times."""

from __future__ import annotations

import pytest

from mapping.errors import InvalidInputError
from mapping.hours import (
    Interval,
    check_hours,
    days_from_text,
    intervals_from_text,
    is_open_at_night,
)
from mapping.settings import Settings


@pytest.mark.parametrize(
    ("text", "intervals"),
    [
        ("Mo-Fr 08:00-17:00", [Interval(d, 480, 1020) for d in range(5)]),
        ("Sa 09:00-13:00; Su 10:00-12:00", [Interval(5, 540, 780), Interval(6, 600, 720)]),
        ("Lu-Mi 20:00-02:00", [Interval(d, 1200, 1560) for d in range(3)]),
        ("Su-Mo 10:00-11:00", [Interval(6, 600, 660), Interval(0, 600, 660)]),
        (
            "Mo,We 08:00-12:00,14:00-18:00",
            [
                Interval(0, 480, 720),
                Interval(2, 480, 720),
                Interval(0, 840, 1080),
                Interval(2, 840, 1080),
            ],
        ),
        ("24/7", [Interval(d, 0, 1440) for d in range(7)]),
    ],
)
def test_intervals(text: str, intervals: list[Interval]) -> None:
    assert sorted(intervals_from_text(text), key=repr) == sorted(intervals, key=repr)


@pytest.mark.parametrize(
    ("text", "night"),
    [
        ("Mo-Fr 08:00-17:00", False),
        ("Mo-Fr 08:00-22:30", True),
        ("Fr 20:00-02:00", True),
        ("05:00-09:00", True),
        ("06:00-22:00", False),
        ("24/7", True),
    ],
)
def test_open_at_night(text: str, night: bool) -> None:
    assert is_open_at_night(intervals_from_text(text)) is night


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Xx 08:00-17:00", "'xx' is not a day"),
        ("Mo-Fr 8-17", "is not a time range"),
        ("Mo 25:00-26:00", "is not a time of day"),
        ("Mo 08:61-09:00", "is not a time of day"),
        (" ; ", "are empty"),
    ],
)
def test_bad_hours_say_what_and_how(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        intervals_from_text(text)
    problem = check_hours(text)
    assert problem is not None and "Mo-Fr 08:00-17:00" in problem


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Lu-Vi", "mo,tu,we,th,fr"),
        ("sa; do", "sa,su"),
        ("Fr-Mo", "mo,fr,sa,su"),
        ("Mon-Wed", "mo,tu,we"),
        ("Miércoles, Sábado", "we,sa"),
        ("martes", "tu"),
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
