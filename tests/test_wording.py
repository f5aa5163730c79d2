"""How figures are written for a person: whole people, percentages, dates, times, "N days ago"."""

from __future__ import annotations

import datetime as dt

import pytest

from mapping.i18n import translator
from mapping.wording import (
    Translate,
    date_in_words,
    days_ago,
    number,
    people,
    people_range,
    percent,
    percent_range,
    plural,
    time_in_words,
    when_in_words,
    whole,
)

EN, ES, FR = translator("en"), translator("es"), translator("fr")
NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("value", "expected"),
    # halves go to the even whole number (banker's rounding), the rest to the nearest
    [(136.2, 136), (28.6, 29), (582.4, 582), (0.5, 0), (1.5, 2), (2.5, 2), (1.35, 1), (7, 7)],
)
def test_people_are_whole_numbers_rounded_half_to_even(value: float, expected: int) -> None:
    assert whole(value) == expected
    assert isinstance(whole(value), int)


def test_a_count_shows_as_it_is_and_an_estimate_says_about() -> None:
    """The user's figures: 136.2 contacts, 28.6 new, 582.4 visits become whole people."""
    assert people(136, EN) == "136"
    assert people(136.2, EN) == "about 136"
    assert people(28.6, ES) == "unas 29"
    assert people(582.4, FR) == "environ 582"
    assert number(1355.5) == "1,356"  # the thousands separator every page uses
    assert people_range(105, 177, EN) == "105–177"
    assert people_range(451.8, 1355.4, EN) == "about 452–1,355"
    assert people_range(452, 1356, ES, about=True) == "unas 452–1,356"
    assert people_range(12.2, 11.8, EN) == "about 12"  # both ends round alike: one number


def test_percentages_are_whole_and_french_has_its_no_break_space() -> None:
    assert percent(0.45333, EN) == "45 %"
    assert percent(136 / 300, EN) == "45 %"
    assert percent(1.35, EN) == "135 %"  # 1.35 peer educators' time: 135 % of one
    assert percent(0.004, EN) == "0.4 %"  # a small share is not shown as none
    assert percent(0.0, EN) == "0 %"
    assert percent(0.5, FR) == f"50{NBSP}%"
    assert percent_range(130 / 177, 1.0, EN) == "73–100 %"
    assert percent_range(130 / 177, 1.0, FR) == f"73–100{NBSP}%"
    assert percent_range(0.5, 0.504, ES) == "50 %"


@pytest.mark.parametrize(
    ("t", "one", "two", "zero"),
    [
        (EN, "1 day ago", "2 days ago", "0 days ago"),
        (ES, "hace 1 día", "hace 2 días", "hace 0 días"),
        # French takes the singular for zero too
        (FR, "il y a 1 jour", "il y a 2 jours", "il y a 0 jour"),
    ],
)
def test_plural_forms_have_one_key_for_one_and_one_for_many(
    t: Translate, one: str, two: str, zero: str
) -> None:
    assert plural(t, "wording.days_ago", 1) == one
    assert plural(t, "wording.days_ago", 2) == two
    assert plural(t, "wording.days_ago", 0) == zero


def test_days_ago_in_three_languages() -> None:
    assert [days_ago(d, EN) for d in (0, 1, 2, 99)] == [
        "today",
        "1 day ago",
        "2 days ago",
        "99 days ago",
    ]
    assert [days_ago(d, ES) for d in (0, 1, 21)] == ["hoy", "hace 1 día", "hace 21 días"]
    french = ["aujourd’hui", "il y a 1 jour", "il y a 3 jours"]
    assert [days_ago(d, FR) for d in (0, 1, 3)] == french
    assert days_ago(None, EN) == ""


def test_dates_and_times_as_a_person_writes_them() -> None:
    """No "00:00:00": a date is "7 Dec 2026" in the page's language, a time "21:00"."""
    day = dt.date(2026, 12, 7)
    assert date_in_words(day, EN) == "7 Dec 2026"
    assert date_in_words(day, ES) == "7 dic 2026"
    assert date_in_words(day, FR) == "7 déc. 2026"
    assert date_in_words(dt.date(2026, 8, 30), ES) == "30 ago 2026"
    assert time_in_words(dt.time(21, 0)) == "21:00"
    assert time_in_words(dt.datetime(2026, 12, 7, 8, 5, 59)) == "08:05"
    assert when_in_words(dt.datetime(2026, 12, 7, 0, 0, 0), EN) == "7 Dec 2026"
    assert when_in_words(dt.datetime(2026, 12, 7, 21, 0), EN) == "7 Dec 2026, 21:00"
    assert when_in_words(dt.datetime(2026, 12, 7, 21, 0), FR) == "7 déc. 2026 à 21:00"
    assert when_in_words(None, EN) == ""
