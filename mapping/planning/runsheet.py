"""Run sheets: a team's outreach plan as a CSV and a printable PDF to carry on the shift.

A run sheet names places by their H3 cell id only: never a coordinate, never the internal
integer cell, never a contact. A referral service the registry marks sensitive is not named
on paper: the sheet says to ask the coordinator, who knows it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
from fpdf import FPDF

from mapping.errors import InvalidInputError
from mapping.fonts import add_fonts, printable
from mapping.i18n import DEFAULT_LANGUAGE, catalogue, translator
from mapping.planning.plans import STOP_COLUMNS, RoutePlan
from mapping.vocab import SUPPLIES

#: Hotspots listed under "Left out" on the PDF, highest priority first.
LEFT_OUT_SHOWN = 10
#: Stop columns a run sheet reads.
_NEEDED = tuple(c for c in STOP_COLUMNS if c not in ("hotspot_id", "cell", "done"))
_FORMATS = ("csv", "pdf")
#: What a spreadsheet would run as a formula at the start of a cell.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class _Stop:
    """One stop as the sheet prints it: words and whole numbers only."""

    order: int
    cell_id: str
    district: str
    typology: str
    peer_educator: str
    arrive: str
    arrive_by: str
    minutes: int
    overdue: bool
    missed: bool
    follow_up: bool
    referrals: str
    supplies: dict[str, int]


def _check(plan: RoutePlan) -> None:
    missing = [name for name in _NEEDED if name not in plan.stops.columns]
    if missing:
        raise InvalidInputError(
            f"the plan of team {plan.team!r} lacks the stop columns {', '.join(missing)} — "
            "make run sheets from plans of mapping.planning.plans.plan_routes or stored_plans"
        )


def _supply_label(t: Callable[..., str], name: str) -> str:
    """Return a supply's name: the visit form's words where it has them."""
    key = f"log.{name}" if f"log.{name}" in catalogue(DEFAULT_LANGUAGE) else f"runsheet.{name}"
    return t(key)


def _vocab_label(t: Callable[..., str], table: str, value: str | None) -> str:
    if not value:
        return ""
    key = f"{table}.{value}"
    return t(key) if key in catalogue(DEFAULT_LANGUAGE) else value


def _referrals(t: Callable[..., str], referrals: list[dict[str, Any]] | None) -> str:
    parts = [
        t(
            "runsheet.referral",
            service=_vocab_label(t, "service_types", referral["service_type"]),
            # a sensitive service has no name here: the coordinator says where it is
            name=referral["name"] or t("runsheet.ask_coordinator"),
            minutes=referral["minutes"],
        )
        for referral in referrals or []
    ]
    return "; ".join(parts)


def _stops(plan: RoutePlan, t: Callable[..., str]) -> list[_Stop]:
    _check(plan)
    stops = []
    for row in plan.stops.sort("seq").iter_rows(named=True):
        stops.append(
            _Stop(
                order=int(row["seq"]),
                cell_id=str(row["cell_id"]),
                district=row["district"] or "",
                typology=_vocab_label(t, "typologies", row["typology"]),
                peer_educator=row["peer_educator"] or "",
                arrive=f"{row['arrive']:%H:%M}",
                arrive_by=f"{row['arrive_until']:%H:%M}",
                minutes=int(row["minutes_there"]),
                overdue=bool(row["overdue"]),
                missed=bool(row["missed_before"]),
                follow_up=bool(row["follow_up"]),
                referrals=_referrals(t, row["referrals"]),
                supplies={name: int(row[f"supplies_{name}"] or 0) for name in SUPPLIES},
            )
        )
    return stops


def _date(t: Callable[..., str], day: dt.date) -> str:
    weekdays, months = t("runsheet.weekdays").split(), t("runsheet.months").split()
    return t(
        "runsheet.date",
        weekday=weekdays[day.weekday()],
        day=day.day,
        month=months[day.month - 1],
        year=day.year,
    )


def _safe_cell(value: object) -> str:
    """Return a CSV cell a spreadsheet shows as text, never runs as a formula."""
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def runsheet_csv(plan: RoutePlan, *, language: str = "en") -> bytes:
    """Return the plan's stops as CSV bytes (UTF-8, no byte-order mark), one row per stop.

    The plan's own details lead every row, so each row stands alone when a spreadsheet sorts
    or filters it: team, date (ISO), shift (``HH:MM-HH:MM``) and start (the service's name, or
    its id for a sensitive one). Then: order, cell (the H3 id, the only place reference),
    district, typology, peer educator, arrive and arrive by (``HH:MM``), minutes there,
    overdue, missed before and follow-up due (yes/no), referral services (``;``-separated, a
    sensitive one as "ask your coordinator") and one column per supply (whole numbers).
    Headers and words are in ``language``. A plan without stops gives the header row only.

    Parameters
    ----------
    plan
        A plan from :func:`mapping.planning.plans.plan_routes` or
        :func:`mapping.planning.plans.stored_plans`.
    language
        A code of :data:`mapping.i18n.LANGUAGES`.

    Returns
    -------
    bytes
        The CSV text, encoded as UTF-8.

    Raises
    ------
    InvalidInputError
        If ``language`` is not offered, or the plan's stops lack a column the sheet needs.
    """
    t = translator(language)
    stops = _stops(plan, t)
    yes_no = {True: t("runsheet.yes"), False: t("runsheet.no")}
    header = [
        t(f"runsheet.col_{name}")
        for name in (
            "team",
            "date",
            "shift",
            "start",
            "order",
            "cell",
            "district",
            "typology",
            "peer_educator",
            "arrive",
            "arrive_by",
            "minutes",
            "overdue",
            "missed",
            "follow_up",
            "referrals",
        )
    ] + [_supply_label(t, name) for name in SUPPLIES]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    lead = [plan.team, plan.day.isoformat(), plan.hours, plan.start_name]
    for stop in stops:
        values: list[object] = [
            *lead,
            stop.order,
            stop.cell_id,
            stop.district,
            stop.typology,
            stop.peer_educator,
            stop.arrive,
            stop.arrive_by,
            stop.minutes,
            yes_no[stop.overdue],
            yes_no[stop.missed],
            yes_no[stop.follow_up],
            stop.referrals,
            *(stop.supplies[name] for name in SUPPLIES),
        ]
        writer.writerow([_safe_cell(value) for value in values])
    return out.getvalue().encode("utf-8")


class _Sheet(FPDF):
    """An A4 page with the safety line at the foot of every page."""

    face = "helvetica"
    foot = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.face, style="B", size=8)
        self.cell(0, 5, printable(f"{self.foot}  {self.page_no()}/{{nb}}", self.face), align="C")


def _left_out(plan: RoutePlan) -> pl.DataFrame:
    frame = plan.left_out
    if not {"cell_id", "reason"} <= set(frame.columns):
        return pl.DataFrame(schema={"cell_id": pl.String, "reason": pl.String})
    if "priority" in frame.columns:
        frame = frame.sort("priority", descending=True, nulls_last=True)
    return frame.select("cell_id", "reason")


def runsheet_pdf(plan: RoutePlan, *, language: str = "en") -> bytes:
    """Return the plan as a printable A4 run sheet (PDF, landscape so a stop fits a row).

    The title gives the team, the night and the shift; then the start, the planned return and
    the travel model; a table of stops (order, cell id, district, typology, arrival window,
    minutes there, flags, supplies, referrals, long text wrapped); the
    :data:`LEFT_OUT_SHOWN` hotspots of highest priority left out, with the reason in words; and
    on every page the reminder to keep the sheet out of sight and destroy it after the shift.
    Fonts come from this machine (:mod:`mapping.fonts`); nothing is fetched.

    Parameters
    ----------
    plan
        A plan from :func:`mapping.planning.plans.plan_routes` or
        :func:`mapping.planning.plans.stored_plans`.
    language
        A code of :data:`mapping.i18n.LANGUAGES`.

    Returns
    -------
    bytes
        The PDF document.

    Raises
    ------
    InvalidInputError
        If ``language`` is not offered, or the plan's stops lack a column the sheet needs.
    """
    t = translator(language)
    stops = _stops(plan, t)
    title = t("runsheet.title", team=plan.team, date=_date(t, plan.day), hours=plan.hours)
    pdf = _Sheet(orientation="landscape", format="A4")
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_title(title)
    pdf.set_creator("outreach-map")
    family = pdf.face = add_fonts(pdf)
    pdf.foot = t("runsheet.safety")

    def text(value: object) -> str:
        return printable(str(value), family)

    def heading(words: str) -> None:
        pdf.ln(3)
        pdf.set_font(family, style="B", size=11)
        pdf.multi_cell(0, 6, text(words), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, size=8)

    pdf.add_page()
    pdf.set_font(family, style="B", size=14)
    pdf.multi_cell(0, 8, text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=9)
    back = f"{plan.back:%H:%M}" if plan.back else t("runsheet.back_unknown")
    for line in (
        t("runsheet.start", name=plan.start_name),
        t("runsheet.back", time=back),
        t("runsheet.travel", travel=plan.travel),
    ):
        pdf.multi_cell(0, 5, text(line), new_x="LMARGIN", new_y="NEXT")

    heading(t("runsheet.stops"))
    if not stops:
        pdf.multi_cell(0, 5, text(t("runsheet.no_stops")), new_x="LMARGIN", new_y="NEXT")
    else:
        columns = ("order", "cell", "district", "typology", "arrival", "minutes", "flags")
        header = [t(f"runsheet.col_{name}") for name in columns]
        header += [t("runsheet.col_supplies"), t("runsheet.col_referrals")]
        labels = {name: _supply_label(t, name) for name in SUPPLIES}
        with pdf.table(
            col_widths=(0.6, 1.6, 1.3, 1.1, 1.5, 0.8, 1.3, 1.9, 3.0),
            text_align=("RIGHT", "LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "LEFT", "LEFT", "LEFT"),
            line_height=4.2,
            first_row_as_headings=True,
        ) as table:
            table.row([text(name) for name in header])
            for stop in stops:
                flags = [
                    t(f"runsheet.flag_{name}")
                    for name, on in (
                        ("overdue", stop.overdue),
                        ("missed", stop.missed),
                        ("follow_up", stop.follow_up),
                    )
                    if on
                ]
                supplies = ", ".join(
                    f"{labels[name]} {amount}" for name, amount in stop.supplies.items() if amount
                )
                arrival = t("runsheet.arrival", arrive=stop.arrive, by=stop.arrive_by)
                values = (
                    stop.order,
                    stop.cell_id,
                    stop.district,
                    stop.typology,
                    arrival,
                    stop.minutes,
                    ", ".join(flags),
                    supplies,
                    stop.referrals,
                )
                table.row([text(value) for value in values])

    left = _left_out(plan)
    if left.height:
        heading(t("runsheet.left_out"))
        with pdf.table(
            col_widths=(1.0, 3.0),
            width=150,
            align="LEFT",
            line_height=4.2,
            first_row_as_headings=True,
        ) as table:
            table.row([text(t("runsheet.col_cell")), text(t("runsheet.col_reason"))])
            for cell_id, reason in left.head(LEFT_OUT_SHOWN).iter_rows():
                key = f"runsheet.reason_{reason}"
                words = t(key) if key in catalogue(DEFAULT_LANGUAGE) else str(reason)
                table.row([text(cell_id), text(words)])
        if left.height > LEFT_OUT_SHOWN:
            more = t("runsheet.left_out_more", count=left.height - LEFT_OUT_SHOWN)
            pdf.multi_cell(0, 5, text(more), new_x="LMARGIN", new_y="NEXT")

    pdf.ln(4)
    pdf.set_font(family, style="B", size=10)
    pdf.multi_cell(0, 6, text(t("runsheet.safety")), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def runsheet_filename(plan: RoutePlan, ext: str) -> str:
    """Return the file name of a plan's run sheet, ``plan-<team>-<YYYY-MM-DD>.<ext>``.

    Characters of the team name a file system may trip on become ``_``.

    Raises
    ------
    InvalidInputError
        If ``ext`` is not ``csv`` or ``pdf``.

    Examples
    --------
    >>> import datetime as dt
    >>> plan = RoutePlan("T1", dt.date(2026, 12, 5), dt.datetime(2026, 12, 5, 20),
    ...                  dt.datetime(2026, 12, 6, 2), "S1", "Centre", pl.DataFrame(),
    ...                  pl.DataFrame(), 0.0, None, "walking")
    >>> runsheet_filename(plan, "pdf")
    'plan-T1-2026-12-05.pdf'
    """
    suffix = ext.lower().lstrip(".")
    if suffix not in _FORMATS:
        raise InvalidInputError(
            f"extension {ext!r} is not a run sheet format — use one of {', '.join(_FORMATS)}"
        )
    team = re.sub(r"[^A-Za-z0-9_-]+", "_", plan.team).strip("_") or "team"
    return f"plan-{team}-{plan.day.isoformat()}.{suffix}"
