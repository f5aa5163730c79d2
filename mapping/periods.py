"""Reporting periods: calendar months, quarters and the last N days, and the periods before each.

The one place of period arithmetic: which quarter or month holds a day, the periods before
one, and whether a period has ended.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from mapping import clock
from mapping.errors import InvalidInputError
from mapping.settings import Settings

_QUARTER = re.compile(r"^(\d{4})-?[qQ]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_LAST = re.compile(r"^last-(\d{1,4})-days$")
_HELP = "write 2026-Q3 (a quarter), 2026-09 (a month) or last-90-days"
_FIRST_YEAR, _LAST_YEAR = 2000, 2100


@dataclass(frozen=True)
class Period:
    """A closed range of days ``start``..``end`` with the label it was asked for by."""

    start: dt.date
    end: dt.date
    label: str

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """Return the period of the same kind just before this one (for trends and fading).

        Examples
        --------
        >>> parse_period("2026-Q1").previous().label
        '2025-Q4'
        >>> parse_period("2026-03").previous().label
        '2026-02'
        """
        quarter = _QUARTER.match(self.label)
        if quarter:
            year, number = int(quarter[1]), int(quarter[2])
            return parse_period(f"{year - 1}-Q4" if number == 1 else f"{year}-Q{number - 1}")
        month = _MONTH.match(self.label)
        if month:
            year, number = int(month[1]), int(month[2])
            return parse_period(f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}")
        end = self.start - dt.timedelta(days=1)
        return Period(end - dt.timedelta(days=self.days - 1), end, f"previous {self.days} days")

    def has_ended(self, today: dt.date) -> bool:
        """Say whether the period had ended on ``today`` (its last day is before it).

        Examples
        --------
        >>> parse_period("2026-Q3").has_ended(dt.date(2026, 10, 1))
        True
        >>> parse_period("2026-Q3").has_ended(dt.date(2026, 9, 30))
        False
        """
        return self.end < today


def _month_end(year: int, month: int) -> dt.date:
    following = dt.date(year + 1, 1, 1) if month == 12 else dt.date(year, month + 1, 1)
    return following - dt.timedelta(days=1)


def parse_period(
    text: str | None,
    *,
    today: dt.date | None = None,
    default_days: int = Settings.default_period_days,
) -> Period:
    """Return the period ``text`` names; ``None`` means the last ``default_days`` days.

    The last N days end today (``today``, for tests), today included.

    Examples
    --------
    >>> parse_period("2026-Q3")
    Period(start=datetime.date(2026, 7, 1), end=datetime.date(2026, 9, 30), label='2026-Q3')
    >>> parse_period("last-7-days", today=dt.date(2026, 12, 1)).start
    datetime.date(2026, 11, 25)
    >>> parse_period("Q3")
    Traceback (most recent call last):
    ...
    mapping.errors.InvalidInputError: period 'Q3' is not a period — write 2026-Q3 ...
    """
    cleaned = (text or f"last-{default_days}-days").strip().lower()
    year_match = re.match(r"^(\d{4})", cleaned)
    if year_match and not _FIRST_YEAR <= int(year_match[1]) <= _LAST_YEAR:
        raise InvalidInputError(
            f"period {text!r}: the year {year_match[1]} is outside {_FIRST_YEAR}-{_LAST_YEAR} "
            f"— check the year ({_HELP})"
        )
    quarter = _QUARTER.match(cleaned)
    if quarter:
        year, number = int(quarter[1]), int(quarter[2])
        first = 3 * (number - 1) + 1
        return Period(dt.date(year, first, 1), _month_end(year, first + 2), f"{year}-Q{number}")
    month = _MONTH.match(cleaned)
    if month:
        year, number = int(month[1]), int(month[2])
        if not 1 <= number <= 12:
            raise InvalidInputError(f"period {text!r}: there is no month {number} — {_HELP}")
        return Period(dt.date(year, number, 1), _month_end(year, number), f"{year}-{number:02d}")
    last = _LAST.match(cleaned)
    if last:
        days = int(last[1])
        if days > 3660:
            raise InvalidInputError(f"period {text!r} is longer than ten years — {_HELP}")
        if days < 1:
            raise InvalidInputError(f"period {text!r} has no days — {_HELP}")
        # a caller with a workspace passes its day; with none, the clock's default zone
        end = today or clock.today()
        return Period(end - dt.timedelta(days=days - 1), end, f"last-{days}-days")
    raise InvalidInputError(f"period {text!r} is not a period — {_HELP}")


def quarter_of(day: dt.date) -> Period:
    """Return the calendar quarter holding ``day``.

    Examples
    --------
    >>> quarter_of(dt.date(2026, 12, 2)).label
    '2026-Q4'
    """
    return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")


def month_of(day: dt.date) -> Period:
    """Return the calendar month holding ``day``.

    Examples
    --------
    >>> month_of(dt.date(2026, 1, 31)).label
    '2026-01'
    """
    return parse_period(f"{day.year}-{day.month:02d}")


def periods_up_to(last: Period, *, count: int, since: dt.date | None = None) -> list[Period]:
    """Return up to ``count`` periods of ``last``'s kind, oldest first, ending with ``last``.

    With ``since``, none starts before the period holding that day (e.g. the first visit).

    Examples
    --------
    >>> [q.label for q in periods_up_to(quarter_of(dt.date(2026, 2, 1)), count=3)]
    ['2025-Q3', '2025-Q4', '2026-Q1']
    >>> last = quarter_of(dt.date(2026, 12, 2))
    >>> [q.label for q in periods_up_to(last, count=6, since=dt.date(2025, 12, 3))]
    ['2025-Q4', '2026-Q1', '2026-Q2', '2026-Q3', '2026-Q4']
    """
    periods = [last]
    while len(periods) < count and (since is None or periods[0].start > since):
        periods.insert(0, periods[0].previous())
    return periods


def finished_quarters(first: dt.date, today: dt.date, *, count: int) -> list[Period]:
    """Return up to ``count`` quarters that ended before ``today``, oldest first.

    None starts before the quarter of ``first`` (the first visit); the quarter holding
    ``today`` has not ended and is never among them.

    Examples
    --------
    >>> [q.label for q in finished_quarters(dt.date(2025, 12, 3), dt.date(2026, 12, 2), count=6)]
    ['2025-Q4', '2026-Q1', '2026-Q2', '2026-Q3']
    >>> finished_quarters(dt.date(2026, 11, 3), dt.date(2026, 12, 2), count=6)
    []
    """
    last = quarter_of(today).previous()
    if last.end < first:
        return []
    return periods_up_to(last, count=count, since=first)
