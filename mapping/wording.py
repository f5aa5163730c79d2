"""Figures as a person reads them: whole people, percentages, dates, times and "3 days ago".

Every function takes the page's translation function ``t`` (:func:`mapping.i18n.translator`), so
the words and the date follow the page's language. People are whole: a count that is an
estimate (a population prior, a share of a peer educator's time turned into people) is rounded
to the nearest whole person, halves to the even one (Python's ``round``), and said with "about".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

Translate = Callable[..., str]


def whole(value: float) -> int:
    """Return ``value`` rounded to a whole number, halves to the even one.

    Examples
    --------
    >>> whole(136.2), whole(28.6), whole(2.5), whole(3.5)
    (136, 29, 2, 4)
    """
    return round(value)


def number(value: float) -> str:
    """Return a whole number with a thousands separator, as every page of the app writes it.

    Examples
    --------
    >>> number(1356), number(1355.5), number(28.6)
    ('1,356', '1,356', '29')
    """
    return f"{whole(value):,}"


def people(value: float, t: Translate) -> str:
    """Return a count of people as a whole number, "about N" when ``value`` was not whole.

    A count of visits or unique contacts is whole and shown as it is; an estimate (a prior
    from the population, people per peer educator) is rounded, halves to even, and says so.

    Examples
    --------
    >>> from mapping.i18n import translator
    >>> people(136, translator("en")), people(136.2, translator("en"))
    ('136', 'about 136')
    >>> people(1355.5, translator("es"))
    'unas 1,356'
    """
    if float(value).is_integer():
        return number(value)
    return t("wording.about", value=number(value))


def people_range(low: float, high: float, t: Translate, *, about: bool = False) -> str:
    """Return an estimated range of people, "about" once before it when either end was rounded.

    ``about`` says "about" even when both ends are whole: they were rounded before (a prior
    from the population is rounded to whole people where it is computed).

    Examples
    --------
    >>> from mapping.i18n import translator
    >>> en = translator("en")
    >>> people_range(105, 177, en), people_range(451.8, 1355.4, en), people_range(12, 12, en)
    ('105–177', 'about 452–1,355', '12')
    >>> people_range(452, 1356, en, about=True)
    'about 452–1,356'
    """
    span = number(low) if whole(low) == whole(high) else f"{number(low)}–{number(high)}"
    if float(low).is_integer() and float(high).is_integer() and not about:
        return span
    return t("wording.about", value=span)


def _percent_digits(share: float) -> str:
    value = 100 * share
    return f"{value:.1f}" if 0 < value < 1 else str(whole(value))


def percent(value: float, t: Translate) -> str:
    """Return a share (0.45) as a whole percentage in the page's language ("45 %").

    Below 1 % (but above 0) one decimal is kept, so that a small share does not read as none.

    Examples
    --------
    >>> from mapping.i18n import translator
    >>> percent(0.4535, translator("en")), percent(0.004, translator("en"))
    ('45 %', '0.4 %')
    >>> percent(1.35, translator("fr")) == "135\u00a0%"
    True
    """
    return t("wording.percent", value=_percent_digits(value))


def percent_range(low: float, high: float, t: Translate) -> str:
    """Return two shares as one range of percentages, "45–78 %" ("45 %" when they round alike).

    Examples
    --------
    >>> from mapping.i18n import translator
    >>> percent_range(0.4533, 0.7771, translator("en")), percent_range(0.5, 0.501, translator("en"))
    ('45–78 %', '50 %')
    """
    bottom, top = _percent_digits(low), _percent_digits(high)
    return t("wording.percent", value=bottom if bottom == top else f"{bottom}–{top}")


def plural(t: Translate, key: str, count: int, **values: object) -> str:
    """Return the text of ``key_one`` for one (and, in French, for zero), else of ``key_many``.

    Each language says in ``wording.zero_is`` whether zero takes the singular ("0 jour") or the
    plural ("0 days"); ``count`` is passed to the text as ``{count}``.

    Examples
    --------
    >>> from mapping.i18n import translator
    >>> en = translator("en")
    >>> plural(en, "wording.days_ago", 1), plural(en, "wording.days_ago", 2)
    ('1 day ago', '2 days ago')
    """
    one = count == 1 or (count == 0 and t("wording.zero_is") == "one")
    return t(f"{key}_{'one' if one else 'many'}", count=count, **values)


def days_ago(days: int | None, t: Translate) -> str:
    """Return how long ago something was, in days: "today", "1 day ago", "3 days ago".

    ``None`` (never) gives an empty text: the caller says "never" in its own words.

    Examples
    --------
    >>> from mapping.i18n import translator
    >>> [days_ago(d, translator("es")) for d in (0, 1, 3)]
    ['hoy', 'hace 1 día', 'hace 3 días']
    """
    if days is None:
        return ""
    if days == 0:
        return t("wording.today")
    return plural(t, "wording.days_ago", days)


def date_in_words(day: dt.date, t: Translate) -> str:
    """Return a date as a person writes it, in the page's language: "7 Dec 2026".

    The month names are the run sheet's (``runsheet.months``), so a date reads the same on the
    pages and on the printed plan.

    Examples
    --------
    >>> from mapping.i18n import translator
    >>> date_in_words(dt.date(2026, 12, 7), translator("en"))
    '7 Dec 2026'
    >>> date_in_words(dt.datetime(2026, 8, 30, 0, 0), translator("fr"))
    '30 août 2026'
    """
    months = t("runsheet.months").split()
    return t("wording.date", day=day.day, month=months[day.month - 1], year=day.year)


def time_in_words(moment: dt.time | dt.datetime) -> str:
    """Return a time of day as people write it in all three languages: "21:00", no seconds.

    Examples
    --------
    >>> time_in_words(dt.time(21, 0)), time_in_words(dt.datetime(2026, 12, 7, 8, 5, 59))
    ('21:00', '08:05')
    """
    return f"{moment.hour:02d}:{moment.minute:02d}"


def when_in_words(moment: dt.date | dt.datetime | None, t: Translate) -> str:
    """Return a date, or a date and its time when it has one: "7 Dec 2026, 21:00".

    A datetime at exactly midnight is a date stored as a datetime, and is shown as the date.

    Examples
    --------
    >>> from mapping.i18n import translator
    >>> en = translator("en")
    >>> when_in_words(dt.datetime(2026, 12, 7, 21, 0), en), when_in_words(dt.date(2026, 12, 7), en)
    ('7 Dec 2026, 21:00', '7 Dec 2026')
    >>> when_in_words(dt.datetime(2026, 12, 7), en), when_in_words(None, en)
    ('7 Dec 2026', '')
    """
    if moment is None:
        return ""
    day = date_in_words(moment, t)
    if isinstance(moment, dt.datetime) and (moment.hour, moment.minute) != (0, 0):
        return t("wording.date_time", date=day, time=time_in_words(moment))
    return day


def is_whole(value: float | None) -> bool:
    """Return whether ``value`` is a whole number (``None`` and NaN are not).

    Examples
    --------
    >>> is_whole(3.0), is_whole(1.35), is_whole(None)
    (True, False, False)
    """
    return value is not None and not math.isnan(value) and float(value).is_integer()
