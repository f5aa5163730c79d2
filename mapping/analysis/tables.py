"""Coverage results as the pages' tables and sentences: whole people, names first, dates in words.

The pages show what :mod:`mapping.analysis.coverage` and :mod:`mapping.analysis.gaps` compute,
written for a person: counts of people whole (an estimate rounded, halves to even, and said with
"about"), every percentage next to the counts it comes from, coverage capped at 100 % with the
reason, dates as "7 Dec 2026" and "3 days ago" in the page's language, a district's or
hotspot's name before any id. docs/coverage.md ("How the pages write figures") says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from mapping.analysis.coverage import CoverageReport
from mapping.analysis.reports import estimate_source_words, find_district
from mapping.vocab import HOTSPOT_TYPOLOGIES, value_of
from mapping.wording import (
    date_in_words,
    days_ago,
    number,
    people,
    people_range,
    percent,
    percent_range,
    whole,
)

Translate = Callable[..., str]


def estimate_words(
    low: float | None, high: float | None, t: Translate, *, source: str = "hotspots"
) -> str:
    """Return a district's estimate of sex workers: "105–177", "about 452–1,356" or "unknown".

    An estimate from the population prior (``source="population prior"``) says "about": it is
    a rate times a population, rounded to whole people.

    Examples
    --------
    >>> from mapping.i18n import translator
    >>> en = translator("en")
    >>> estimate_words(105, 177, en), estimate_words(452, 1356, en, source="population prior")
    ('105–177', 'about 452–1,356')
    >>> estimate_words(None, None, en)
    'unknown'
    """
    if low is None or high is None:
        return t("coverage.unknown")
    return people_range(low, high, t, about=source == "population prior")


def coverage_shares(
    reached: int, low: float | None, high: float | None
) -> tuple[float, float, float] | None:
    """Return coverage as (low, high, uncapped high) from the whole figures the page shows.

    The estimate's ends are rounded to whole people first, so that the percentages are those of
    the figures on the page; coverage is ``reached ÷ estimate``, lowest with the estimate's top,
    and capped at 1: people reached are among the people there, so more reached than estimated
    means the estimate is too low, not that coverage passed 100 %. ``None`` without an estimate.

    Examples
    --------
    >>> coverage_shares(130, 105, 177)  # 130/177 = 73 %, 130/105 = 124 % capped at 100 %
    (0.7344632768361582, 1.0, 1.2380952380952381)
    >>> coverage_shares(0, 0, 0), coverage_shares(3, None, None)
    ((0.0, 0.0, 0.0), None)
    """
    if low is None or high is None:
        return None
    bottom, top = whole(low), whole(high)
    if reached == 0:
        return 0.0, 0.0, 0.0
    uncapped_low = reached / top if top else float("inf")
    uncapped_high = reached / bottom if bottom else float("inf")
    return min(1.0, uncapped_low), min(1.0, uncapped_high), uncapped_high


def coverage_words(reached: int, low: float | None, high: float | None, t: Translate) -> str:
    """Return coverage as the page shows it: "73–100 %", "45 %", "100 % (more than estimated)".

    Examples
    --------
    >>> from mapping.i18n import translator
    >>> en = translator("en")
    >>> coverage_words(136, 175, 300, en), coverage_words(130, 105, 177, en)
    ('45–78 %', '73–100 %')
    >>> coverage_words(344, 150, 277, en), coverage_words(0, 25, 33, en)
    ('100 % (more than estimated)', '0 %')
    """
    shares = coverage_shares(reached, low, high)
    if shares is None:
        return t("coverage.unknown")
    bottom, top, _ = shares
    if bottom >= 1.0:
        return t("coverage.capped_cell", value=percent(1.0, t))
    return percent_range(bottom, top, t)


def reached_of_words(
    reached: int, low: float | None, high: float | None, t: Translate, *, source: str = "hotspots"
) -> str:
    """Return "130 of 105–177": people reached, of the sex workers estimated.

    Examples
    --------
    >>> from mapping.i18n import translator
    >>> reached_of_words(0, 452, 1356, translator("es"), source="population prior")
    '0 de unas 452–1,356'
    """
    estimate = estimate_words(low, high, t, source=source)
    return t("coverage.of_estimate", reached=people(reached, t), estimate=estimate)


def ranking_table(
    report: CoverageReport, t: Translate, *, all_columns: bool = False
) -> pl.DataFrame:
    """Return the ranked districts as the coverage page shows them, with translated headers.

    By default the five columns that decide the ranking: rank, district, gap score, people
    reached of estimated, coverage. ``all_columns`` adds people reached and estimated apart,
    where the estimate comes from, hotspots, overdue hotspots, key access, the peer educators
    who worked there and their time. Every count of people is whole.
    """
    rows = report.ranked().filter(pl.col("rank").is_not_null())
    triples = list(zip(rows["contacts"], rows["estimate_min"], rows["estimate_max"], strict=True))
    sources = rows["estimate_source"].to_list()
    table: dict[str, Any] = {
        t("coverage.rank"): rows["rank"],
        t("coverage.district"): rows["district"],
        t("coverage.gap_score"): rows["gap_score"].round(0).cast(pl.Int64),
    }
    if not all_columns:
        table[t("coverage.reached_of")] = [
            reached_of_words(r, lo, hi, t, source=s)
            for (r, lo, hi), s in zip(triples, sources, strict=True)
        ]
    else:
        table[t("coverage.reached")] = rows["contacts"]
        table[t("coverage.estimated")] = [
            estimate_words(lo, hi, t, source=s)
            for (_, lo, hi), s in zip(triples, sources, strict=True)
        ]
    table[t("coverage.coverage")] = [coverage_words(r, lo, hi, t) for r, lo, hi in triples]
    if all_columns:
        words = {
            "hotspots": t("coverage.source_hotspots"),
            "population prior": t("coverage.source_prior"),
        }
        table[t("coverage.source")] = [words.get(s, t("coverage.unknown")) for s in sources]
        table[t("coverage.hotspots")] = rows["hotspots"]
        table[t("coverage.overdue")] = rows["hotspots_overdue"]
        table[t("coverage.access")] = [
            t("coverage.unknown") if share is None else percent(share, t)
            for share in rows["access_key"]
        ]
        table[t("coverage.peers")] = rows["peer_educators_seen"]
        table[t("coverage.peer_time")] = [percent(share, t) for share in rows["peer_educators"]]
    return pl.DataFrame(table)


def hotspot_names(report: CoverageReport, t: Translate) -> dict[str, str]:
    """Return each registered hotspot's name as the pages write it: its id and its typology.

    Hotspots have no name of their own (a venue's name is refused at import): the id the
    programme gave it and what kind of place it is are how coordinators know it.
    """
    names = {}
    for row in report.hotspots.select("id", "typology").iter_rows(named=True):
        kind = value_of(HOTSPOT_TYPOLOGIES, row["typology"])
        names[row["id"]] = f"{row['id']} · {t(f'typologies.{kind}')}" if kind else row["id"]
    return names


def district_cells_table(report: CoverageReport, district_id: str, t: Translate) -> pl.DataFrame:
    """Return one district's cells for the coverage page: hotspots first, the cell id last.

    The last visit is a date in words with how long ago it was ("30 Aug 2026 (99 days ago)").
    """
    names = hotspot_names(report, t)
    by_cell: dict[int, list[str]] = {}
    for row in report.hotspots.filter(pl.col("district_id") == district_id).iter_rows(named=True):
        by_cell.setdefault(row["cell"], []).append(names[row["id"]])
    cells = report.cells.filter(pl.col("district_id") == district_id).sort(
        ["hotspot", "visits"], descending=True
    )
    last = [
        "" if day is None else f"{date_in_words(day, t)} ({days_ago(ago, t)})"
        for day, ago in zip(cells["last_visit"], cells["days_since_last_visit"], strict=True)
    ]
    return pl.DataFrame(
        {
            t("cells.hotspot"): [", ".join(by_cell.get(c, [])) or "—" for c in cells["cell"]],
            t("cells.visits"): cells["visits"],
            t("cells.contacts"): cells["contacts"],
            t("cells.new_contacts"): cells["new_contacts"],
            t("cells.last_visit"): last,
            t("cells.cell"): cells["cell_id"],
        }
    )


def district_in_words(report: CoverageReport, district: str, t: Translate) -> list[str]:
    """Return one district's figures as sentences, each count whole and each share with its counts.

    ``district`` is an id or a name. The formula of each figure is
    :func:`mapping.analysis.reports.explain_district`'s; these sentences say what it means.
    """
    r = find_district(report.districts, district)
    o = report.options
    total = report.districts.height - int(report.districts["rank"].null_count())
    reached = number(r["contacts"])
    source = estimate_source_words(report, r, t)
    low, high, kind = r["estimate_min"], r["estimate_max"], r["estimate_source"]
    lines = [
        t(
            "coverage.say_head",
            district=r["district"],
            rank=r["rank"],
            total=total,
            score=whole(r["gap_score"]),
        ),
        t(
            "coverage.say_reach",
            reached=reached,
            new=number(r["new_contacts"]),
            visits=number(r["visits"]),
        ),
    ]
    shares = coverage_shares(r["contacts"], low, high)
    if shares is None:
        lines.append(t("coverage.say_estimate_unknown", source=source))
    else:
        estimate = estimate_words(low, high, t, source=kind)
        lines.append(t("coverage.say_estimate", estimate=estimate, source=source))
        interval = coverage_words(r["contacts"], low, high, t)
        lines.append(
            t("coverage.say_coverage", reached=reached, estimate=estimate, interval=interval)
        )
        bottom, _, uncapped = shares
        if bottom >= 1.0:
            lines.append(t("coverage.say_too_low", reached=reached, high=number(high)))
        elif uncapped > 1.0:
            lines.append(t("coverage.say_capped", reached=reached, low=number(low)))
    lines.append(
        t(
            "coverage.say_hotspots",
            count=r["hotspots"],
            recent=r["hotspots_visited_recently"],
            days=o.recent_days,
            overdue=r["hotspots_overdue"],
        )
    )
    lines.append(
        t("coverage.say_access_unknown")
        if r["access_key"] is None
        else t(
            "coverage.say_access",
            share=percent(r["access_key"], t),
            minutes=f"{o.reach_minutes:g}",
        )
    )
    if not r["peer_educators_seen"]:
        lines.append(t("coverage.say_no_peers"))
    else:
        peers = t(
            "coverage.say_peers",
            seen=r["peer_educators_seen"],
            time=percent(r["peer_educators"], t),
        )
        if r["workload_low"] is not None:
            workload = people_range(r["workload_low"], r["workload_high"], t)
            peers += " " + t("coverage.say_workload", workload=workload, norm=o.workload_norm)
        lines.append(peers)
    return lines


def _finding_detail(row: dict[str, Any], minutes: float, t: Translate) -> str:
    """Return what a finding means, with its figures, in the page's language."""
    kind, days = row["kind"], row["days_since_last_visit"]
    if kind == "overdue":
        return (
            t("hotspots.tip_never")
            if days is None
            else t("hotspots.tip_last", when=days_ago(days, t))
        )
    if kind == "uncovered":
        return t("details.uncovered", minutes=f"{minutes:g}")
    if kind == "emerging":
        z = "-" if row["z_score"] is None else f"{row['z_score']:.1f}"
        return t("details.emerging", z=z, visits=row["visits"], previous=row["previous_visits"])
    return t("details.fading", previous=row["previous_visits"], visits=row["visits"])


def findings_table(
    report: CoverageReport, findings: pl.DataFrame, t: Translate, *, all_columns: bool = False
) -> pl.DataFrame:
    """Return the hotspots page's "needs attention" table: what, hotspot, district, detail.

    ``findings`` is :func:`mapping.analysis.gaps.hotspot_gaps`'s frame. A hotspot is named by
    its id and typology; an emerging place, which is no registered hotspot, as a new place.
    ``all_columns`` adds the visits of the period and of the one before, the last visit and the
    cell id.
    """
    names = hotspot_names(report, t)
    kinds = {k: t(f"hotspots.kind_{k}") for k in ("overdue", "uncovered", "emerging", "fading")}
    minutes = report.options.reach_minutes
    rows = list(findings.iter_rows(named=True))
    table: dict[str, Any] = {
        t("hotspots.kind"): [kinds[row["kind"]] for row in rows],
        t("hotspots.hotspot"): [
            t("hotspots.new_place")
            if row["hotspot_id"] is None
            else names.get(row["hotspot_id"], row["hotspot_id"])
            for row in rows
        ],
        t("coverage.district"): [row["district"] for row in rows],
        t("hotspots.detail"): [_finding_detail(row, minutes, t) for row in rows],
    }
    if all_columns:
        table[t("hotspots.visits")] = [row["visits"] for row in rows]
        table[t("hotspots.previous")] = [row["previous_visits"] for row in rows]
        table[t("hotspots.last_visit")] = [
            t("hotspots.tip_never")
            if row["days_since_last_visit"] is None
            else days_ago(row["days_since_last_visit"], t)
            for row in rows
        ]
        table[t("hotspots.cell")] = [row["cell_id"] for row in rows]
    return pl.DataFrame(table, schema={name: None for name in table} if not rows else None)
