"""Period arithmetic, in one place: the quarter or month of a day, those before it, ended ones."""

from __future__ import annotations

import datetime as dt

import pytest

from mapping.periods import (
    finished_quarters,
    month_of,
    parse_period,
    periods_up_to,
    quarter_of,
)


@pytest.mark.parametrize(
    ("month", "quarter"),
    [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2), (6, 2), (7, 3), (8, 3), (9, 3), (10, 4), (12, 4)],
)
def test_the_quarter_and_month_of_a_day_hold_it(month: int, quarter: int) -> None:
    for day in (dt.date(2026, month, 1), dt.date(2026, month, 28)):
        assert quarter_of(day).label == f"2026-Q{quarter}"
        assert quarter_of(day).start <= day <= quarter_of(day).end
        assert month_of(day).label == f"2026-{month:02d}"
        assert month_of(day).start <= day <= month_of(day).end


def test_periods_up_to_cross_the_year_and_stop_at_the_first_day() -> None:
    labels = [m.label for m in periods_up_to(month_of(dt.date(2026, 2, 10)), count=4)]
    assert labels == ["2025-11", "2025-12", "2026-01", "2026-02"]
    since = dt.date(2025, 12, 31)  # the last day of 2025-Q4: that quarter is the oldest
    quarters = periods_up_to(quarter_of(dt.date(2026, 8, 1)), count=10, since=since)
    assert [q.label for q in quarters] == ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    assert periods_up_to(quarter_of(since), count=3, since=dt.date(2026, 5, 1)) == [
        quarter_of(since)
    ]


def test_a_period_has_ended_the_day_after_its_last() -> None:
    quarter = parse_period("2026-Q4")
    assert not quarter.has_ended(dt.date(2026, 12, 31))
    assert quarter.has_ended(dt.date(2027, 1, 1))
    # the quarter holding today is never finished; the one before it is, from its first day
    assert [
        q.label for q in finished_quarters(dt.date(2026, 1, 1), dt.date(2027, 1, 1), count=2)
    ] == [
        "2026-Q3",
        "2026-Q4",
    ]
    assert finished_quarters(dt.date(2026, 10, 1), dt.date(2026, 12, 31), count=2) == []


def test_the_pages_offer_this_and_the_previous_quarters_and_months() -> None:
    """The period choice of every page, across a new year (the labels the pages always had)."""
    from views.shared import period_choices

    assert period_choices(dt.date(2026, 1, 15)) == [
        "last-90-days",
        "2026-Q1",
        "2025-Q4",
        "2025-Q3",
        "2025-Q2",
        "2026-01",
        "2025-12",
        "2025-11",
        "2025-10",
        "2025-09",
        "2025-08",
    ]
