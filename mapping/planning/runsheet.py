"""Run sheets: a team's outreach plan as a CSV and a printable PDF to carry on the shift.

Each stop is named by the hotspot's code and typology (as the team knows it), its H3 cell id
and its district; the PDF draws the night's cells, numbered in order, over the district
outlines. Never a coordinate as text, never the internal integer cell, never a contact. A
referral service the registry marks sensitive is not named on paper: the sheet says to ask the
coordinator, who knows it.

A coordinator's sheet counts the standard kits to bring to each stop from its size estimate
and says how (the norm in the footer); a team's copy (:func:`mapping.planning.plans.
for_peer_educators`) holds nothing that follows from a size estimate: no people, no kits per
stop, and the same planned stay at every stop (docs/privacy.md). Every word is in the sheet's
language.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl
from fpdf import FPDF

from mapping.errors import InvalidInputError
from mapping.fonts import add_fonts, printable
from mapping.i18n import DEFAULT_LANGUAGE, catalogue, translator
from mapping.planning.plans import STOP_COLUMNS, RoutePlan
from mapping.planning.sheet_map import District, draw_map
from mapping.settings import get_settings

#: Hotspots listed under "Left out" on the PDF, highest priority first.
LEFT_OUT_SHOWN = 10
#: Stop columns a run sheet reads.
_NEEDED = tuple(c for c in STOP_COLUMNS if c != "done")
_FORMATS = ("csv", "pdf")
#: What a spreadsheet would run as a formula at the start of a cell.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class _Stop:
    """One stop as the sheet prints it: words and whole numbers only."""

    order: int
    hotspot: str
    cell: int
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
    #: The size estimate in words ("20–35"); empty on a team's copy.
    people: str
    #: Standard kits to bring; None on a team's copy.
    kits: int | None


def _check(plan: RoutePlan) -> None:
    missing = [name for name in _NEEDED if name not in plan.stops.columns]
    if missing:
        raise InvalidInputError(
            f"the plan of team {plan.team!r} lacks the stop columns {', '.join(missing)} — "
            "make run sheets from plans of mapping.planning.plans.plan_routes or stored_plans"
        )


def _vocab_label(t: Callable[..., str], table: str, value: str | None) -> str:
    if not value:
        return ""
    key = f"{table}.{value}"
    return t(key) if key in catalogue(DEFAULT_LANGUAGE) else value


def _referrals(t: Callable[..., str], referrals: list[dict[str, object]] | None) -> str:
    parts = [
        t(
            "runsheet.referral",
            service=_vocab_label(t, "service_types", str(referral["service_type"])),
            # a sensitive service has no name here: the coordinator says where it is
            name=referral["name"] or t("runsheet.ask_coordinator"),
            minutes=referral["minutes"],
        )
        for referral in referrals or []
    ]
    return "; ".join(parts)


def _people(t: Callable[..., str], row: dict[str, object]) -> str:
    """Return a stop's size estimate in words: the range, or the median it was counted as."""
    low, high, people = row["size_min"], row["size_max"], row["people"]
    if low is None and high is None:
        return "" if people is None else t("runsheet.people_median", people=people)
    if low is None or high is None or low == high:
        return str(high if low is None else low)
    return f"{low}–{high}"


def _stops(plan: RoutePlan, t: Callable[..., str]) -> list[_Stop]:
    _check(plan)
    stops = []
    for row in plan.stops.sort("seq").iter_rows(named=True):
        team = plan.for_team
        stops.append(
            _Stop(
                order=int(row["seq"]),
                hotspot=str(row["hotspot_id"] or ""),
                cell=int(row["cell"]),
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
                people="" if team else _people(t, row),
                kits=None if team or row["kits"] is None else int(row["kits"]),
            )
        )
    return stops


def day_in_words(day: dt.date, language: str = DEFAULT_LANGUAGE) -> str:
    """Return a night's date in words of ``language``, e.g. ``Sat 5 Dec 2026``.

    Examples
    --------
    >>> day_in_words(dt.date(2026, 12, 5), "es")
    'sáb 5 dic 2026'
    """
    t = translator(language)
    weekdays, months = t("runsheet.weekdays").split(), t("runsheet.months").split()
    return t(
        "runsheet.date",
        weekday=weekdays[day.weekday()],
        day=day.day,
        month=months[day.month - 1],
        year=day.year,
    )


def _travel_words(t: Callable[..., str], travel: str) -> str:
    """Return the plan's travel model in the sheet's language ("" for one it does not know).

    A plan stores its model as :meth:`mapping.travel.TravelModel.describe` wrote it, in English.
    """
    straight = re.fullmatch(r"straight line x (\S+) detour factor at (\S+) km/h", travel)
    if straight:
        return t("runsheet.travel_straight", detour=straight[1], speed=straight[2])
    network = re.fullmatch(r"street network (.+) at (\S+) km/h", travel)
    if network:
        return t("runsheet.travel_network", source=network[1], speed=network[2])
    return ""


def _kit_contents() -> dict[str, int]:
    settings = get_settings()
    return {
        "condoms": settings.kit_male_condoms,
        "lubricant": settings.kit_lubricant,
        "female": settings.kit_female_condoms,
    }


def _per_person() -> str:
    return f"{get_settings().kits_per_person:g}"


def _safe_cell(value: object) -> str:
    """Return a CSV cell a spreadsheet shows as text, never runs as a formula."""
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def runsheet_csv(plan: RoutePlan, *, language: str = "en") -> bytes:
    """Return the plan's stops as CSV bytes (UTF-8, no byte-order mark), one row per stop.

    The plan's own details lead every row, so each row stands alone when a spreadsheet sorts
    or filters it: team, date (ISO), shift (``HH:MM-HH:MM``) and start (the service's name, or
    its id for a sensitive one). Then: order, hotspot (its code), typology, cell (the H3 id),
    district, peer educator, arrive and arrive by (``HH:MM``), minutes there, overdue, missed
    before and follow-up due (yes/no), referral services (``;``-separated, a sensitive one as
    "ask your coordinator"); on a coordinator's sheet the estimated people and the kits to
    bring, on a team's copy the kits as "1 per person" (the norm, the same for every stop).
    Headers and words are in ``language``. A plan without stops gives the header row only.

    Parameters
    ----------
    plan
        A plan from :func:`mapping.planning.plans.plan_routes` or
        :func:`mapping.planning.plans.stored_plans` (or a team's copy of one).
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
    names = [
        "team",
        "date",
        "shift",
        "start",
        "order",
        "hotspot",
        "typology",
        "cell",
        "district",
        "peer_educator",
        "arrive",
        "arrive_by",
        "minutes",
        "overdue",
        "missed",
        "follow_up",
        "referrals",
    ]
    names += ["kits"] if plan.for_team else ["people", "kits"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([t(f"runsheet.col_{name}") for name in names])
    lead = [plan.team, plan.day.isoformat(), plan.hours, plan.start_name]
    per_person = t("runsheet.kits_per_person", per=_per_person())
    for stop in stops:
        values: list[object] = [
            *lead,
            stop.order,
            stop.hotspot,
            stop.typology,
            stop.cell_id,
            stop.district,
            stop.peer_educator,
            stop.arrive,
            stop.arrive_by,
            stop.minutes,
            yes_no[stop.overdue],
            yes_no[stop.missed],
            yes_no[stop.follow_up],
            stop.referrals,
        ]
        if plan.for_team:
            values.append(per_person)
        else:
            values += [stop.people, "" if stop.kits is None else stop.kits]
        writer.writerow([_safe_cell(value) for value in values])
    return out.getvalue().encode("utf-8")


class _Sheet(FPDF):
    """An A4 page with the safety line (and a coordinator's norm) at the foot of every page."""

    face = "helvetica"
    foot = ""
    norm = ""

    def footer(self) -> None:
        self.set_y(-15 if self.norm else -12)
        if self.norm:
            self.set_font(self.face, size=6.5)
            self.cell(0, 3.5, printable(self.norm, self.face), align="C")
            self.ln(3.5)
        self.set_font(self.face, style="B", size=8)
        self.cell(0, 5, printable(f"{self.foot}  {self.page_no()}/{{nb}}", self.face), align="C")


def _left_out(plan: RoutePlan) -> pl.DataFrame:
    frame = plan.left_out
    if not {"cell_id", "reason"} <= set(frame.columns):
        return pl.DataFrame(schema={"cell_id": pl.String, "reason": pl.String})
    if "priority" in frame.columns:
        frame = frame.sort("priority", descending=True, nulls_last=True)
    return frame.select("cell_id", "reason")


def runsheet_pdf(
    plan: RoutePlan, *, language: str = "en", districts: Sequence[District] = ()
) -> bytes:
    """Return the plan as a printable A4 run sheet (PDF, landscape so a stop fits a row).

    Page one: the team, the night and the shift; the start, the planned return, the stay at
    each stop, the travel model and the supplies (a coordinator's sheet: the night's kits;
    a team's copy: one standard kit per person met, packed by the coordinator); then a table
    of stops (order, hotspot code and typology, cell id, district, arrival window, minutes
    there, flags, referrals; on a coordinator's sheet also the estimated people and the kits
    to bring). Then a map of the night: the stops' cells, numbered in order and joined by a
    dashed line, over ``districts`` (:func:`mapping.planning.sheet_map.map_districts`), with a
    scale bar and north arrow. Then the :data:`LEFT_OUT_SHOWN` hotspots of highest priority
    left out, with the reason in words (not on a team's copy). On every page the reminder to
    keep the sheet out of sight and destroy it after the shift, and on a coordinator's sheet
    the kit norm. Fonts come from this machine (:mod:`mapping.fonts`); nothing is fetched.

    Parameters
    ----------
    plan
        A plan from :func:`mapping.planning.plans.plan_routes` or
        :func:`mapping.planning.plans.stored_plans` (or a team's copy of one).
    language
        A code of :data:`mapping.i18n.LANGUAGES`.
    districts
        The district outlines to draw under the stops (name, lon/lat geometry).

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
    kit = _kit_contents()
    title = t(
        "runsheet.title", team=plan.team, date=day_in_words(plan.day, language), hours=plan.hours
    )
    pdf = _Sheet(orientation="landscape", format="A4")
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_title(title)
    pdf.set_creator("outreach-map")
    family = pdf.face = add_fonts(pdf)
    pdf.foot = t("runsheet.safety")
    if not plan.for_team:
        pdf.norm = t("runsheet.norm", per=_per_person(), **kit)

    def text(value: object) -> str:
        return printable(str(value), family)

    def line(words: str, *, bold: bool = False, size: float = 9) -> None:
        pdf.set_font(family, style="B" if bold else "", size=size)
        pdf.multi_cell(0, 5, text(words), new_x="LMARGIN", new_y="NEXT")

    def heading(words: str) -> None:
        pdf.ln(3)
        line(words, bold=True, size=11)
        pdf.set_font(family, size=8)

    pdf.add_page()
    line(title, bold=True, size=14)
    if not plan.for_team:
        line(t("runsheet.coordinator_copy"), bold=True)
    back = f"{plan.back:%H:%M}" if plan.back else t("runsheet.back_unknown")
    lines = [t("runsheet.start", name=plan.start_name), t("runsheet.back", time=back)]
    stays = {stop.minutes for stop in stops}
    if len(stays) == 1:
        lines.append(t("runsheet.stay", minutes=stays.pop()))
    lines.append(_travel_words(t, plan.travel))
    if plan.for_team:
        lines.append(t("runsheet.supplies_team", per=_per_person(), **kit))
    else:
        kits = sum(stop.kits or 0 for stop in stops)
        lines.append(
            t(
                "runsheet.supplies_coordinator",
                kits=kits,
                condoms=kits * kit["condoms"],
                lubricant=kits * kit["lubricant"],
                female=kits * kit["female"],
            )
        )
    for words in lines:
        if words:
            line(words)

    heading(t("runsheet.stops"))
    if not stops:
        line(t("runsheet.no_stops"))
    else:
        columns = ["order", "hotspot", "cell", "district", "arrival", "stay", "flags"]
        widths = [0.65, 1.4, 1.45, 1.3, 1.4, 0.6, 1.2]
        if not plan.for_team:
            columns += ["people", "kits"]
            widths += [0.9, 0.6]
        columns.append("referrals")
        widths.append(2.6 if plan.for_team else 2.4)
        numeric = {"order", "stay", "kits"}
        with pdf.table(
            col_widths=tuple(widths),
            text_align=tuple("RIGHT" if name in numeric else "LEFT" for name in columns),
            line_height=4.2,
            first_row_as_headings=True,
        ) as table:
            table.row([text(t(f"runsheet.col_{name}")) for name in columns])
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
                cells = {
                    "order": stop.order,
                    "hotspot": f"{stop.hotspot} ({stop.typology})"
                    if stop.typology
                    else stop.hotspot,
                    "cell": stop.cell_id,
                    "district": stop.district,
                    "arrival": t("runsheet.arrival", arrive=stop.arrive, by=stop.arrive_by),
                    "stay": stop.minutes,
                    "flags": ", ".join(flags),
                    "people": stop.people,
                    "kits": "" if stop.kits is None else stop.kits,
                    "referrals": stop.referrals,
                }
                table.row([text(cells[name]) for name in columns])

        pdf.add_page()
        line(t("runsheet.map"), bold=True, size=11)
        line(t("runsheet.map_note"), size=8)
        top = pdf.get_y() + 1
        # down to the foot, less room for the closing safety line (no page of its own)
        box = (pdf.l_margin, top, pdf.epw, pdf.h - 34 - top)
        draw_map(pdf, [(stop.order, stop.cell) for stop in stops], districts, box, family)
        pdf.set_y(top + box[3])

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
            line(t("runsheet.left_out_more", count=left.height - LEFT_OUT_SHOWN))

    pdf.ln(4)
    line(t("runsheet.safety"), bold=True, size=10)
    return bytes(pdf.output())


def runsheet_filename(plan: RoutePlan, ext: str) -> str:
    """Return the file name of a plan's run sheet, ``plan-<team>-<YYYY-MM-DD>.<ext>``.

    A team's copy is ``plan-<team>-<YYYY-MM-DD>-team.<ext>``. Characters of the team name a
    file system may trip on become ``_``.

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
    copy = "-team" if plan.for_team else ""
    return f"plan-{team}-{plan.day.isoformat()}{copy}.{suffix}"
