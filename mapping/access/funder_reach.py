"""What a funder may see of reach: people reached per district and quarter, with targets.

Reach is released per finished calendar quarter, per district (no cell), through the
differentially private releases of :mod:`mapping.access.disclosure` (measure ``people``, level
``district``): each quarter's release is made once, on the first view, stored in the
privacy-budget ledger, and shown again as stored. A district below the noisy threshold is
hidden, and looks the same as one with nobody. Totals, trends and percentages are worked out
from released figures only, never from raw counts, and shown with their arithmetic so that a
funder can redo it from the page. The rule, its parameters and what it does not protect against
are in docs/reach.md and docs/disclosure.md.

Longer than 600 lines: the release, the sums shown with their arithmetic, partial quarters and
the CSV/PDF a funder downloads are one chain over the same released figures; split, each part
would re-read what the others made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import polars as pl
import sqlalchemy as sa
from fpdf import FPDF

from mapping import clock
from mapping.access.disclosure import DISTRICT, release
from mapping.access.mechanism import DisclosureParameters
from mapping.analysis.coverage import NO_LOCATION, OUTSIDE_AREA, CoverageOptions, coverage_from_data
from mapping.analysis.coverage_data import load_coverage_data
from mapping.errors import InvalidInputError, PrivacyBudgetError
from mapping.fonts import add_fonts, printable
from mapping.periods import Period, finished_quarters, parse_period
from mapping.settings import Settings
from mapping.storage import store
from mapping.storage.audit import Actor
from mapping.storage.workspace import Workspace

#: Finished quarters the page offers at most: the latest one and those before it.
QUARTERS = 6
#: Targets from the size estimate are multiples of this.
ROUNDING_BASE = 5
#: Optional file in the workspace folder with agreed targets (``district_id,quarter,target``).
TARGETS_FILE = "targets.csv"
TARGET_COLUMNS = ("district_id", "quarter", "target")


@dataclass(frozen=True)
class ReachSettings(Settings):
    """The deployment settings plus the target share of the reach page (``OUTREACH_MAP_*``)."""

    #: Share of a district's estimated number of sex workers taken as its quarterly target.
    target_share: float = 0.8


def _round_to_base(values: pl.Expr) -> pl.Expr:
    """Round to the nearest multiple of :data:`ROUNDING_BASE`, halves up (12.5 gives 15)."""
    return ((values / ROUNDING_BASE + 0.5).floor() * ROUNDING_BASE).cast(pl.Int64)


def _percent(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """``part`` over ``whole`` in whole per cent, halves up as by hand (1 of 8 is 13 %).

    Integer arithmetic, so a half is a half: no floating-point rounding to even. Null where
    ``whole`` is not above 0 or ``part`` is null.
    """
    return (
        pl.when(whole > 0)
        .then((200 * part.cast(pl.Int64) + whole) // (2 * whole))
        .otherwise(None)
        .cast(pl.Int64)
    )


def count_text(value: int, t: Callable[..., str]) -> str:
    r"""Return a whole number of people with the page language's thousands separator.

    A comma reads as a decimal point in Spanish and French: ``reach.thousand`` is a thousand as
    each language writes it (``1,000``, ``1 000``), and what sits between its 1 and its 000
    separates thousands.

    Examples
    --------
    >>> from mapping.i18n import translator
    >>> count_text(2512, translator("en")), count_text(2512, translator("fr"))
    ('2,512', '2\u202f512')
    """
    return f"{int(value):,}".replace(",", t("reach.thousand")[1:-3])


def percent_text(value: int, t: Callable[..., str]) -> str:
    r"""Return a whole percentage the way the page language writes one (``115 %`` in French).

    Examples
    --------
    >>> from mapping.i18n import translator
    >>> percent_text(115, translator("en")), percent_text(115, translator("es"))
    ('115%', '115\xa0%')
    """
    return t("reach.percent_value", value=int(value))


@dataclass(frozen=True)
class ReachOptions:
    """The release parameters, the share of the estimate a target is, and quarters offered."""

    params: DisclosureParameters = field(default_factory=DisclosureParameters)
    target_share: float = ReachSettings.target_share
    quarters: int = QUARTERS

    def __post_init__(self) -> None:
        if not 0 < self.target_share <= 1:
            raise InvalidInputError(
                f"target share {self.target_share} is not between 0 and 1 — set "
                "OUTREACH_MAP_TARGET_SHARE to the share of the estimate to reach, e.g. 0.8"
            )
        if self.quarters < 1:
            raise InvalidInputError(f"{self.quarters} quarters: offer at least one")

    @classmethod
    def from_settings(cls, settings: ReachSettings | None = None) -> ReachOptions:
        """Return the options a deployment configured; a k under 5 is refused.

        ``OUTREACH_MAP_MIN_COUNT`` sets k and ``OUTREACH_MAP_TARGET_SHARE`` the target share.

        Examples
        --------
        >>> env = {"OUTREACH_MAP_MIN_COUNT": "4"}
        >>> ReachOptions.from_settings(cast(ReachSettings, ReachSettings.from_env(env)))
        Traceback (most recent call last):
        ...
        mapping.errors.InvalidInputError: minimum count k = 4 is below 5: ...
        """
        settings = settings or cast(ReachSettings, ReachSettings.from_env())
        return cls(
            params=DisclosureParameters.from_settings(settings),
            target_share=settings.target_share,
        )


@dataclass(frozen=True)
class ReachRelease:
    """Reach as it may leave the organisation: released figures only, nothing raw.

    ``figures`` has one row per finished quarter and district (every district of the area,
    whether it had visits or not), one ``_no_location`` row per quarter (phone, SMS and online
    contacts) and an ``_outside_area`` row where one is released. Columns: ``quarter``,
    ``district_id``, ``district``, ``reach`` (null: not released), ``target``,
    ``target_source`` (``estimate`` or ``targets.csv``) and ``percent`` (of the target, from the
    released figures). ``refused`` names the quarters whose release the privacy budget refused,
    with the reason (their figures are all null).
    """

    quarters: tuple[Period, ...]
    #: The day the release was asked for: the quarter holding it is not offered.
    today: dt.date
    #: k: no released figure rests on fewer people.
    min_count: int
    target_share: float
    figures: pl.DataFrame
    refused: tuple[tuple[str, str], ...] = ()
    #: Quarters the programme's visits cover only in part: the first visit falls after the
    #: quarter's first day (:func:`partial_quarters`). At most the first quarter offered.
    partial: tuple[str, ...] = ()

    def is_complete(self, quarter: str) -> bool:
        """Say whether ``quarter`` had ended on :attr:`today` (every offered quarter has)."""
        return parse_period(quarter).has_ended(self.today)

    def is_partial(self, quarter: str) -> bool:
        """Say whether the programme's visits cover only part of ``quarter`` (it started then)."""
        return quarter in self.partial

    def refusal(self, quarter: str) -> str | None:
        """Return why the privacy budget refused ``quarter``'s release, if it did."""
        return dict(self.refused).get(quarter)

    def totals(self) -> pl.DataFrame:
        """Return per quarter the sums of the released figures and of the targets.

        Columns, every one a sum or a count of what the table shows:

        - ``reach``: every released figure added up (hidden ones count nothing);
        - ``target``: the targets added up (null where no district has one);
        - ``reach_with_target``: the released figures of the districts that have a target;
        - ``reach_without_target``: the rest of ``reach`` (no location, districts without a
          target): ``reach - reach_with_target``;
        - ``with_target``: how many districts have a target, and ``hidden_with_target`` how
          many of them have no figure shown (they count 0 in the percentage);
        - ``percent``: ``reach_with_target`` over ``target`` in whole per cent, halves up —
          like for like, so the page can show it as ``reach_with_target ÷ target``.

        Nothing here is computed from a raw count: summing released figures spends no budget.
        """
        has_target = pl.col("target").is_not_null()
        return (
            self.figures.group_by("quarter", maintain_order=True)
            .agg(
                pl.col("reach").sum().alias("reach"),
                pl.col("target").sum().alias("target"),
                pl.col("reach").filter(has_target).sum().alias("reach_with_target"),
                has_target.sum().cast(pl.Int64).alias("with_target"),
                (has_target & pl.col("reach").is_null())
                .sum()
                .cast(pl.Int64)
                .alias("hidden_with_target"),
            )
            .with_columns(
                pl.when(pl.col("with_target") > 0).then(pl.col("target")).alias("target"),
                (pl.col("reach") - pl.col("reach_with_target")).alias("reach_without_target"),
                _percent(pl.col("reach_with_target"), pl.col("target")).alias("percent"),
            )
            .select(
                "quarter",
                "reach",
                "target",
                "percent",
                "reach_with_target",
                "reach_without_target",
                "with_target",
                "hidden_with_target",
            )
        )


def partial_quarters(quarters: Sequence[Period], first_visit: dt.date | None) -> tuple[str, ...]:
    """Return the quarters the programme's visits cover only in part: it started during them.

    A quarter is partial when the first visit on record falls inside it, after its first day:
    the figures of the days before the programme began are missing, so the quarter reads low
    for that reason alone. Only the label leaves this function, never the day: the page says
    "partial quarter", which tells no more than that the programme did not start on the
    quarter's first day.

    Examples
    --------
    >>> quarters = [parse_period(label) for label in ("2025-Q4", "2026-Q1")]
    >>> partial_quarters(quarters, dt.date(2025, 12, 8))
    ('2025-Q4',)
    >>> partial_quarters(quarters, dt.date(2025, 10, 1)), partial_quarters(quarters, None)
    ((), ())
    """
    if first_visit is None:
        return ()
    return tuple(q.label for q in quarters if q.start < first_visit <= q.end)


def _visit_days(workspace: Workspace, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """Return the first and last visit day up to ``today`` (``None`` without visits)."""
    with workspace.connect() as connection:
        day = store.visits.c.visit_date
        first, last = connection.execute(
            sa.select(sa.func.min(day), sa.func.max(day)).where(day <= today)
        ).one()
    return _as_day(first), _as_day(last)


def reach_stamp(workspace: Workspace) -> tuple[int, ...]:
    """Return what changes when the reach could change: imports, releases, the hotspot registry.

    Unlike the store file's own stamp, an entry of the audit log changes nothing here, so a page
    that records a refused release does not recompute (and record it again) on every rerun.
    """
    with workspace.connect() as connection:
        stamp: list[int] = []
        for column in (store.imports.c.id, store.privacy_releases.c.id):
            stamp += connection.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(column), 0))
            ).one()
        h = store.hotspots.c
        stamp += connection.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(h.fingerprint % 1000003), 0))
        ).one()
    return tuple(int(value) for value in stamp)


def _as_day(value: object) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _estimates(
    workspace: Workspace, quarter: Period, today: dt.date, options: CoverageOptions
) -> pl.DataFrame:
    """Return each district's size estimate (the registry as it is now), for targets only."""
    data = load_coverage_data(workspace, quarter, today=today)
    return coverage_from_data(data, options).districts.select(
        "district_id", "district", "estimate_source", "estimate_min", "estimate_max"
    )


def _estimate_targets(options: ReachOptions) -> pl.Expr:
    """Target from the size estimate: a share of its midpoint, rounded to 5.

    Only where the estimate comes from the programme's hotspot registry and its low end is at
    least k people: a population prior is an assumption, not a plan, and a smaller estimate
    would describe fewer than k people.
    """
    mid = (pl.col("estimate_min") + pl.col("estimate_max")) / 2
    target = _round_to_base(mid * options.target_share)
    usable = (pl.col("estimate_source") == "hotspots") & (
        pl.col("estimate_min") >= options.params.min_count
    )
    return pl.when(usable & (target > 0)).then(target).otherwise(None).cast(pl.Int64)


def targets_from_file(path: Path, districts: list[str]) -> pl.DataFrame:
    """Read agreed targets (``district_id,quarter,target``), checking every row.

    Every problem in the file is reported together, by row; a file with any problem is refused
    whole, so that a funder never sees half of what was agreed.

    Returns
    -------
    polars.DataFrame
        ``district_id``, ``quarter`` (``2026-Q3``) and ``target`` (whole number).
    """
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise InvalidInputError(f"{path.name}: cannot read it as CSV ({exc})") from exc
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    missing = [c for c in TARGET_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"{path.name}: no column {', '.join(missing)} — the header must be "
            f"{','.join(TARGET_COLUMNS)}"
        )
    quarter = (
        pl.col("quarter").str.strip_chars().str.to_uppercase().str.replace(r"^(\d{4})Q", "$1-Q")
    )
    checked = frame.select(
        (pl.int_range(pl.len()) + 2).alias("row"),
        pl.col("district_id").str.strip_chars(),
        quarter.alias("quarter"),
        pl.col("target").str.strip_chars().alias("text"),
    ).with_columns(pl.col("text").cast(pl.Int64, strict=False).alias("target"))
    problems = pl.concat(
        [
            checked.filter(~pl.col("district_id").is_in(districts)).select(
                "row",
                pl.format("district {} is not a district of this area", "district_id").alias(
                    "problem"
                ),
            ),
            checked.filter(
                ~pl.col("quarter").str.contains(r"^\d{4}-Q[1-4]$").fill_null(False)
            ).select(
                "row",
                pl.format("quarter {} is not a quarter — write 2026-Q3", "quarter").alias(
                    "problem"
                ),
            ),
            checked.filter(pl.col("target").is_null() | (pl.col("target") < 0)).select(
                "row",
                pl.format("target {} is not a whole number of people", "text").alias("problem"),
            ),
            checked.filter(pl.struct("district_id", "quarter").is_duplicated()).select(
                "row",
                pl.format("district {} has two targets for {}", "district_id", "quarter").alias(
                    "problem"
                ),
            ),
        ]
    ).sort("row")
    if problems.height:
        lines = [f"row {row}: {text}" for row, text in problems.iter_rows()]
        raise InvalidInputError(
            f"{path.name}: {problems.height} problem(s), no target used — fix them and reload:\n"
            + "\n".join(lines)
        )
    return checked.select("district_id", "quarter", "target")


def reach_release(
    workspace: Workspace,
    *,
    actor: Actor,
    options: ReachOptions | None = None,
    coverage_options: CoverageOptions | None = None,
    today: dt.date | None = None,
) -> ReachRelease:
    """Return the funder's reach: released figures per district and finished quarter, with targets.

    The quarters are the last :data:`QUARTERS` calendar quarters that ended before ``today``,
    none before the one holding the first visit (a quarter without visits in between is
    offered: a pause in outreach shows). Each quarter's figures are the differentially private
    release of people by district (:func:`mapping.access.disclosure.release`), made by ``actor`` on
    the first call and returned as stored afterwards; a quarter whose budget is spent is in
    :attr:`ReachRelease.refused`. Targets come from :data:`TARGETS_FILE` in the workspace folder
    where it names the district and quarter, else from the size estimate
    (:func:`_estimate_targets`). The quarter the programme started in, after its first day, is
    in :attr:`ReachRelease.partial` (:func:`partial_quarters`).
    """
    options = options or ReachOptions.from_settings()
    if today is None:
        today = clock.today(workspace)
    params = options.params
    first, _ = _visit_days(workspace, today)
    quarters = finished_quarters(first, today, count=options.quarters) if first else []
    if not quarters:
        return ReachRelease((), today, params.min_count, options.target_share, _empty_figures())
    estimates = _estimates(
        workspace, quarters[-1], today, coverage_options or CoverageOptions.from_settings()
    )
    districts = estimates.filter(~pl.col("district_id").str.starts_with("_"))
    frames, refused = [], []
    for quarter in quarters:
        try:
            made = release(
                workspace,
                quarter.label,
                DISTRICT,
                "people",
                actor=actor,
                today=today,
                params=params,
            )
            figures = made.figures
        except PrivacyBudgetError as exc:
            refused.append((quarter.label, str(exc)))
            figures = pl.DataFrame(schema={"key": pl.String, "value": pl.Int64})
        rows = pl.concat(
            [
                districts,
                pl.DataFrame({"district_id": [NO_LOCATION, OUTSIDE_AREA], "district": ["", ""]}),
            ],
            how="diagonal_relaxed",
        ).join(
            figures.rename({"key": "district_id", "value": "reach"}), on="district_id", how="left"
        )
        frames.append(rows.with_columns(pl.lit(quarter.label).alias("quarter")))
    released = pl.concat(frames, how="diagonal_relaxed").with_columns(
        _estimate_targets(options).alias("target"),
        pl.lit("estimate").alias("target_source"),
    )
    # the outside-area row shows only when released: its absence says nothing about 0 or 1-10
    released = released.filter(
        (pl.col("district_id") != OUTSIDE_AREA) | pl.col("reach").is_not_null()
    )
    path = workspace.path / TARGETS_FILE
    if path.exists():
        ids = released.filter(~pl.col("district_id").str.starts_with("_"))["district_id"]
        agreed = targets_from_file(path, ids.unique().to_list())
        released = (
            released.join(agreed, on=["district_id", "quarter"], how="left", suffix="_agreed")
            .with_columns(
                pl.coalesce("target_agreed", "target").alias("target"),
                pl.when(pl.col("target_agreed").is_not_null())
                .then(pl.lit(TARGETS_FILE))
                .otherwise(pl.lit("estimate"))
                .alias("target_source"),
            )
            .drop("target_agreed")
        )
    figures = released.with_columns(
        pl.when(pl.col("target").is_null())
        .then(None)
        .otherwise(pl.col("target_source"))
        .alias("target_source"),
        _percent(pl.col("reach"), pl.col("target")).alias("percent"),
        pl.col("district_id").str.starts_with("_").alias("__special"),
    )
    figures = figures.sort("quarter", "__special", "district", "district_id").select(
        *_FIGURE_COLUMNS
    )
    return ReachRelease(
        tuple(quarters),
        today,
        params.min_count,
        options.target_share,
        figures,
        tuple(refused),
        partial_quarters(quarters, first),
    )


_FIGURE_COLUMNS = {
    "quarter": pl.String,
    "district_id": pl.String,
    "district": pl.String,
    "reach": pl.Int64,
    "target": pl.Int64,
    "target_source": pl.String,
    "percent": pl.Int64,
}


def _empty_figures() -> pl.DataFrame:
    return pl.DataFrame(schema=_FIGURE_COLUMNS)


# --- what the page shows: the table, its CSV, the trend (the map is mapping.maps.reach) ---


def _place_name(t: Callable[..., str]) -> pl.Expr:
    return (
        pl.when(pl.col("district_id") == NO_LOCATION)
        .then(pl.lit(t("reach.no_location")))
        .when(pl.col("district_id") == OUTSIDE_AREA)
        .then(pl.lit(t("reach.outside_area")))
        .otherwise(pl.col("district"))
    )


def quarter_name(release: ReachRelease, quarter: str, t: Callable[..., str]) -> str:
    """Return the quarter's label, with "(partial quarter)" where the programme started in it."""
    return t("reach.quarter_partial", quarter=quarter) if release.is_partial(quarter) else quarter


def percent_arithmetic(release: ReachRelease, quarter: str, t: Callable[..., str]) -> str:
    """Return, in words and numbers, how the quarter's "% of target" is worked out.

    Every number in it is on the page already — a sum of the released figures in the table, or
    a count of its rows — so a funder can redo the sum: the reach of the districts with a
    target (the area's reach minus the rows without one), divided by their targets.

    Examples
    --------
    >>> from mapping.i18n import translator
    >>> figures = pl.DataFrame(
    ...     {
    ...         "quarter": ["2026-Q1"] * 4,
    ...         "district_id": ["a", "b", "c", "_no_location"],
    ...         "reach": [90, None, 80, 40],
    ...         "target": [60, 60, None, None],
    ...     }
    ... )
    >>> release = ReachRelease((), dt.date(2026, 7, 1), 11, 0.8, figures)
    >>> text = percent_arithmetic(release, "2026-Q1", translator("en"))
    >>> print(text)  # doctest: +NORMALIZE_WHITESPACE
    % of target: 90 ÷ 120 = 75%. 90 is the 210 reached minus 120 reached where there is no
    target (no location, districts without a target), and 120 is the sum of the targets of the
    2 districts that have one. Districts among them with no figure shown count 0: 1 of 2.
    """
    rows = release.totals().filter(pl.col("quarter") == quarter)
    if not rows.height or rows["percent"][0] is None:
        return t("reach.arithmetic_none", quarter=quarter)
    row = rows.row(0, named=True)
    text = t(
        "reach.arithmetic",
        percent=percent_text(row["percent"], t),
        reached=count_text(row["reach_with_target"], t),
        target=count_text(row["target"], t),
        total=count_text(row["reach"], t),
        other=count_text(row["reach_without_target"], t),
        districts=row["with_target"],
    )
    if row["hidden_with_target"]:
        text += " " + t(
            "reach.arithmetic_hidden",
            hidden=row["hidden_with_target"],
            districts=row["with_target"],
        )
    return text


def reach_table(release: ReachRelease, quarter: str, t: Callable[..., str]) -> pl.DataFrame:
    """Return the table the page shows for one quarter, with translated headers and notes.

    One row per district and the no-location row, then the sums: a row for the districts that
    have a target (their reach, their targets and the quarter's "% of target", so the
    percentage sits next to the two figures it divides) and a last row adding up every figure
    shown (no percentage: it would divide people with and without a target by the targets).
    Hidden figures are empty with the note "fewer than k"; a partial quarter says so in the
    notes of the sums. The CSV download is this table (:func:`reach_csv`), so it says exactly
    what the page says.
    """
    hidden = t("reach.hidden", k=release.min_count)
    rows = release.figures.filter(pl.col("quarter") == quarter).select(
        _place_name(t).alias("district"),
        "reach",
        "target",
        "percent",
        pl.when(pl.col("reach").is_null()).then(pl.lit(hidden)).otherwise(pl.lit("")).alias("note"),
    )
    total = release.totals().filter(pl.col("quarter") == quarter)
    partial = f"; {t('reach.partial_why')}" if release.is_partial(quarter) else ""
    sums = []
    if total.height and total["target"][0] is not None:
        sums.append(
            total.select(
                pl.lit(t("reach.subtotal")).alias("district"),
                pl.col("reach_with_target").alias("reach"),
                "target",
                "percent",
                pl.lit(t("reach.subtotal_note") + partial).alias("note"),
            )
        )
    if total.height:
        sums.append(
            total.select(
                pl.lit(t("reach.total")).alias("district"),
                "reach",
                "target",
                pl.lit(None, pl.Int64).alias("percent"),
                pl.lit(t("reach.total_note") + partial).alias("note"),
            )
        )
    rows = pl.concat([rows, *sums])
    return rows.select(
        pl.lit(quarter).alias(t("reach.col_quarter")),
        pl.col("district").alias(t("reach.col_district")),
        pl.col("reach").alias(t("reach.col_reach")),
        pl.col("target").alias(t("reach.col_target")),
        pl.col("percent").alias(t("reach.col_percent")),
        pl.col("note").alias(t("reach.col_note")),
    )


def reach_csv(table: pl.DataFrame) -> bytes:
    """Return the table as CSV bytes: UTF-8 with a byte-order mark, so spreadsheets read accents.

    Hidden figures are empty cells, as on the page.
    """
    return ("\ufeff" + table.write_csv()).encode("utf-8")


def reach_pdf(table: pl.DataFrame, *, title: str, notes: Sequence[str]) -> bytes:
    """Return the table as a one-document PDF report: a title, the notes, then the table.

    The table is the page's and the CSV's (:func:`reach_table`): released figures only, hidden
    ones empty. Fonts come from this machine (DejaVu Sans); nothing is fetched.
    """
    pdf = FPDF(orientation="landscape", format="A4")  # a row on one line, in any language
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_title(title)
    pdf.set_creator("outreach-map")
    family = add_fonts(pdf)

    def text(value: object) -> str:
        shown = "" if value is None else f"{value:,}" if isinstance(value, int) else str(value)
        return printable(shown, family)

    pdf.add_page()
    pdf.set_font(family, style="B", size=14)
    pdf.multi_cell(0, 8, text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(family, size=8.5)
    for note in notes:
        pdf.multi_cell(0, 4.5, text(note), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)
    pdf.ln(2)
    numeric = [dtype.is_numeric() for dtype in table.dtypes]
    # the district and the note take the room; the figures are short
    widths = [
        2.4 if column == 1 else 2.0 if column == table.width - 1 else 0.8
        for column in range(table.width)
    ]
    with pdf.table(
        col_widths=widths,
        text_align=["RIGHT" if number else "LEFT" for number in numeric],
        line_height=5,
        first_row_as_headings=True,
    ) as rows:
        rows.row([text(name) for name in table.columns])
        for values in table.iter_rows():
            rows.row([text(value) for value in values])
    return bytes(pdf.output())


def reach_trend(
    release: ReachRelease, t: Callable[..., str], *, district_id: str | None = None
) -> pl.DataFrame:
    """Return reach and target per quarter: the area's sums of released figures, or a district's.

    A hidden figure is null (a gap in the chart); nothing is filled in from raw counts. A
    partial quarter keeps its label here: :attr:`ReachRelease.partial` says which it is, for
    the chart to mark.
    """
    if district_id is None:
        rows = release.totals()
    else:
        rows = release.figures.filter(pl.col("district_id") == district_id)
    return rows.select(
        pl.col("quarter").alias(t("reach.col_quarter")),
        pl.col("reach").alias(t("reach.trend_reach")),
        pl.col("target").alias(t("reach.trend_target")),
    )
