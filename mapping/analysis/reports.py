"""Coverage results as text, CSV or JSON, and the trace of one district's figures to its inputs."""

from __future__ import annotations

import difflib
import io
import json
import math
import re
from collections.abc import Callable
from typing import Any

import polars as pl

from mapping.analysis.coverage import NO_LOCATION, OUTSIDE_AREA, CoverageReport
from mapping.errors import InvalidInputError
from mapping.i18n import DEFAULT_LANGUAGE, translator
from mapping.vocab import normalise
from mapping.wording import number, people_range, percent, percent_range

FORMATS = ("text", "csv", "json")


def _pct(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    return f"{100 * value:.0f} %"


def _number(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _percent(value: float) -> str:
    return f"{100 * value:.1f}" if 0 < value < 0.1 else f"{100 * value:.0f}"


def coverage_interval(low: float | None, high: float | None) -> str:
    """Return a coverage interval as words: ``"40-72 %"``, ``"at least 40 %"`` or ``"unknown"``.

    Examples
    --------
    >>> coverage_interval(0.405, 0.7225), coverage_interval(0.2, None)
    ('40-72 %', 'at least 20 %')
    >>> coverage_interval(0.004, 0.012), coverage_interval(0.0, 0.0)
    ('0.4-1.2 %', '0 %')
    """
    if low is None:
        return "unknown"
    if high is None:
        return f"at least {_percent(low)} %"
    if low == high:
        return f"{_percent(low)} %"
    return f"{_percent(low)}-{_percent(high)} %"


def find_district(districts: pl.DataFrame, text: str) -> dict[str, Any]:
    """Return the row of the district ``text`` names: its id or name, in any case or accents.

    Raises with the closest names when there is no such district.

    Examples
    --------
    >>> table = pl.DataFrame({"district_id": ["PE-150105"], "district": ["BREÑA"]})
    >>> find_district(table, " brena ")["district_id"]
    'PE-150105'
    """
    wanted = normalise(text)
    real = districts.filter(~pl.col("district_id").is_in([NO_LOCATION, OUTSIDE_AREA]))
    for row in real.iter_rows(named=True):
        if wanted in (normalise(row["district_id"]), normalise(row["district"])):
            return row
    names = {normalise(name): name for name in real["district"].to_list()}
    close = difflib.get_close_matches(wanted, list(names), n=3, cutoff=0.6)
    hint = (
        "did you mean " + " or ".join(repr(names[c]) for c in close) + "?"
        if close
        else "`outreach-map coverage --format csv` lists the ids and names"
    )
    raise InvalidInputError(f"district {text!r} is not in this workspace — {hint}")


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def coverage_text(report: CoverageReport) -> str:
    """Return the district ranking as a text table, with the rows no district holds below it."""
    t = report.totals
    options = report.options
    lines = [
        f"coverage {t['period']} ({t['start']} to {t['end']}): {t['visits']:,} visits, "
        f"{t['contacts']:,} unique contacts ({t['visits_without_location']:,} visits without "
        "location)",
        f"service access: friendly services of {', '.join(options.key_service_types)} open at "
        f"the hotspot's hours, within {options.reach_minutes:g} min ({t['travel']})",
    ]
    lines += [f"note: {note}" for note in coverage_notes(report)]
    lines.append("")
    rows = []
    extra = []
    for row in report.ranked().iter_rows(named=True):
        if row["rank"] is None:
            extra.append(row)
            continue
        rows.append(
            [
                str(row["rank"]),
                row["district"][:28],
                _number(row["contacts"]),
                f"{_number(row['estimate_min'])}-{_number(row['estimate_max'])}"
                if row["estimate_min"] is not None
                else "unknown",
                {"hotspots": "hotspots", "population prior": "prior"}.get(
                    row["estimate_source"], "none"
                ),
                coverage_interval(row["coverage_low"], row["coverage_high"]),
                f"{row['hotspots']}/{row['hotspots_visited_recently']}/{row['hotspots_overdue']}",
                _pct(row["access_key"]),
                _number(row["peer_educators"], 1),
                _number(row["gap_score"], 1) + (" *" if row["estimate_too_low"] else ""),
            ]
        )
    lines.append(
        _table(
            [
                "rank",
                "district",
                "reach",
                "estimate",
                "from",
                "coverage",
                "hotspots/recent/overdue",
                "key access",
                "peers",
                "gap",
            ],
            rows,
        )
    )
    for row in extra:
        lines.append(
            f"{row['district']}: {row['visits']:,.0f} visits, {row['contacts']:,.0f} unique "
            "contacts (counted in the totals, in no district)"
        )
    weights = " + ".join(f"{w:g} {name}" for name, w in options.gap_weights.items())
    lines += [
        "",
        "reach: unique contacts (each visit in the district of its exact point); estimate: sex "
        "workers (hotspot ranges, or a population prior); key access: mean share of hotspots "
        "served, over the key types; peers: peer educators, each by their share of visits here.",
        f"gap = 100 x ({weights}); districts with registered hotspots are ranked first, "
        "then those with only a population prior (docs/coverage.md). * more people reached "
        "than estimated: the estimate is too low (update hotspot sizes or map the district). "
        "`--explain DISTRICT` shows how a row was computed.",
    ]
    return "\n".join(lines)


def coverage_notes(report: CoverageReport, tr: Callable[..., str] | None = None) -> list[str]:
    """Return what a reader must know to read the figures right (empty periods, missing data).

    ``tr`` is a translation function (:func:`mapping.i18n.translator`); English by default.
    """
    tr = tr or translator(DEFAULT_LANGUAGE)
    t = report.totals
    notes = []
    if t["as_of"] != t["end"]:
        notes.append(tr("notes.not_ended", day=t["as_of"]))
    if t["first_visit"] is None:
        notes.append(tr("notes.no_visits_yet"))
    elif t["visits"] == 0:
        notes.append(tr("notes.no_visits_period", first=t["first_visit"], last=t["last_visit"]))
    if t["hotspots"] == 0:
        notes.append(tr("notes.no_hotspots"))
    if t["services_without_hours"]:
        notes.append(tr("notes.no_hours", count=t["services_without_hours"]))
    if t.get("visits_estimated"):
        notes.append(tr("notes.estimated", count=t["visits_estimated"]))
    return notes


def _unranked(report: CoverageReport) -> int:
    return int(report.districts["rank"].null_count())


def estimate_source_words(
    report: CoverageReport, row: dict[str, Any], tr: Callable[..., str] | None = None
) -> str:
    """Return where a district's estimate comes from, in words: its hotspots, or the population."""
    tr = tr or translator(DEFAULT_LANGUAGE)
    o = report.options
    if row["estimate_source"] == "hotspots":
        return tr("explain.source_hotspots", count=f"{row['hotspots_with_size']:g}")
    if row["estimate_source"] == "population prior":
        return tr(
            "explain.source_prior",
            population=_number(row["population"]),
            low=f"{o.prior_per_1000[0]:g}",
            high=f"{o.prior_per_1000[1]:g}",
        )
    return tr("explain.source_unknown")


def _coverage_line(row: dict[str, Any], contacts: str, tr: Callable[..., str]) -> str:
    """Return the coverage line: the division, its result, and why it is shown capped."""
    line = tr(
        "explain.coverage",
        contacts=contacts,
        high=number(row["estimate_max"]),
        low=number(row["estimate_min"]),
        interval=coverage_interval(row["coverage_low"], row["coverage_high"]),
    )
    if row["estimate_too_low"] or (row["coverage_high"] or 0) > 1:
        shown = (
            percent(1.0, tr)
            if row["estimate_too_low"]
            else percent_range(row["coverage_low"] or 0, 1.0, tr)
        )
        line += tr("explain.capped", shown=shown)
    return line + (tr("explain.too_low") if row["estimate_too_low"] else "")


def explain_district(
    report: CoverageReport, district: str, tr: Callable[..., str] | None = None
) -> str:
    """Return how each figure of one district's row was computed, with its inputs.

    ``district`` is a district id or name (any case, with or without accents); ``tr`` is a
    translation function (:func:`mapping.i18n.translator`), English by default.
    """
    tr = tr or translator(DEFAULT_LANGUAGE)
    r = find_district(report.districts, district)
    o = report.options
    known = r["estimate_min"] is not None
    # the middle of the estimate as its arithmetic, from the whole figures shown: no half people
    mid = f"(({number(r['estimate_min'])} + {number(r['estimate_max'])}) / 2)" if known else "-"
    unknown = tr("coverage.unknown")
    source = estimate_source_words(report, r, tr)
    contacts = number(r["contacts"])
    time = percent(r["peer_educators"], tr)  # 1.35 peer educators' time: "135 %" of one
    shares = ", ".join(
        f"{tr(f'service_types.{name}')} "
        + (_pct(r[f"access_{name}"]) if r[f"access_{name}"] is not None else unknown)
        + (
            " " + tr("explain.hours_unknown", share=_pct(r[f"hours_unknown_{name}"]))
            if r.get(f"hours_unknown_{name}")
            else ""
        )
        for name in o.key_service_types
    )
    workload = (
        tr(
            "explain.workload",
            range=people_range(r["workload_low"], r["workload_high"], tr),
            norm=o.workload_norm,
        )
        if r["workload_low"] is not None
        else tr("explain.workload_unknown")
    )
    terms = " + ".join(f"{w:g} x {tr(f'explain.term_{name}')}" for name, w in o.gap_weights.items())
    period = report.totals["period"]
    days = re.fullmatch(r"last-(\d+)-days", period)
    period = tr("coverage.last_days", days=int(days[1])) if days else period
    lines = [
        tr(
            "explain.head",
            district=r["district"],
            id=r["district_id"],
            period=period,
            rank=r["rank"],
            total=report.districts.height - _unranked(report),
        ),
        tr(
            "explain.reach",
            contacts=contacts,
            new=number(r["new_contacts"]),
            visits=number(r["visits"]),
        ),
        tr(
            "explain.estimate",
            range=people_range(
                r["estimate_min"],
                r["estimate_max"],
                tr,
                about=r["estimate_source"] == "population prior",
            ),
            source=source,
        )
        if known
        else tr("explain.estimate_unknown", source=source),
        _coverage_line(r, contacts, tr) if known else tr("explain.coverage_unknown"),
        tr(
            "explain.hotspots",
            count=r["hotspots"],
            recent=r["hotspots_visited_recently"],
            days=o.recent_days,
            overdue=r["hotspots_overdue"],
            weeks=o.overdue_weeks,
            candidates=r["candidate_cells"],
        ),
        tr("explain.access", minutes=f"{o.reach_minutes:g}", shares=shares),
        tr("explain.peers", time=time, seen=r["peer_educators_seen"]) + workload,
        tr("explain.gaps"),
        tr(
            "explain.gap_reach",
            contacts=contacts,
            mid=mid,
            value=_number(r["gap_reach"], 3),
        ),
        tr("explain.gap_outreach", value=_number(r["gap_outreach"], 3)),
        tr("explain.gap_access", value=_number(r["gap_access"], 3)),
        tr(
            "explain.gap_workload",
            fte=time,
            norm=o.workload_norm,
            mid=mid,
            value=_number(r["gap_workload"], 3),
        ),
        tr(
            "explain.score",
            terms=terms,
            value=_number(r["gap_score"], 1),
            known=_number(r["known_weight"], 2),
        ),
    ]
    if r["visits_estimated"] or r["hotspots_estimated"]:
        # figures resting on rows stored before districts were taken from exact points
        lines.insert(
            2,
            tr(
                "explain.estimated",
                visits=r["visits_estimated"],
                total=r["visits"],
                hotspots=r["hotspots_estimated"],
                total_hotspots=r["hotspots"],
            ),
        )
    return "\n".join(lines)


def frame_text(frame: pl.DataFrame) -> str:
    """Return any result table as aligned text columns."""
    if frame.height == 0:
        return "(nothing found)"
    rows = [["" if v is None else str(v) for v in row] for row in frame.iter_rows()]
    return _table(frame.columns, rows)


def render(frame: pl.DataFrame, fmt: str, *, meta: dict[str, Any] | None = None) -> str:
    """Return ``frame`` as CSV or as JSON (``{"meta": ..., "rows": [...]}``)."""
    if fmt == "csv":
        buffer = io.StringIO()
        frame.write_csv(buffer)
        return buffer.getvalue().rstrip("\n")
    if fmt == "json":
        return json.dumps(
            {"meta": meta or {}, "rows": frame.to_dicts()}, indent=2, default=str, allow_nan=False
        )
    raise InvalidInputError(f"format {fmt!r} is not one of: {', '.join(FORMATS)}")


def explain_frame(report: CoverageReport, district: str) -> pl.DataFrame:
    """Return the one row of the district table that :func:`explain_district` explains."""
    row = find_district(report.districts, district)
    return report.districts.filter(pl.col("district_id") == row["district_id"])
