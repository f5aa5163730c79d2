"""What a funder may see of reach: people reached per district and quarter, with targets.

Reach is released per finished calendar quarter, per district (no cell), through the
differentially private releases of :mod:`mapping.access.disclosure` (measure ``people``, level
``district``): each quarter's release is made once, on the first view, stored in the
privacy-budget ledger, and shown again as stored. A district below the noisy threshold is
hidden, and looks the same as one with nobody. Totals and trends are sums of released figures,
never of raw counts. The rule, its parameters and what it does not protect against are in
docs/reach.md and docs/disclosure.md.
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

    def is_complete(self, quarter: str) -> bool:
        """Say whether ``quarter`` had ended on :attr:`today` (every offered quarter has)."""
        return parse_period(quarter).has_ended(self.today)

    def refusal(self, quarter: str) -> str | None:
        """Return why the privacy budget refused ``quarter``'s release, if it did."""
        return dict(self.refused).get(quarter)

    def totals(self) -> pl.DataFrame:
        """Return per quarter the sum of the released figures and of the targets.

        ``reach`` adds up every released figure (hidden ones count nothing); ``target`` adds up
        the targets; ``percent`` is the released reach of the districts with a target over the
        sum of their targets, like for like. Nothing here is computed from a raw count.
        """
        return (
            self.figures.group_by("quarter", maintain_order=True)
            .agg(
                pl.col("reach").sum().alias("reach"),
                pl.col("target").sum().alias("target"),
                pl.col("reach").filter(pl.col("target").is_not_null()).sum().alias("__reached"),
            )
            .with_columns(
                pl.when(pl.col("target") > 0)
                .then((100 * pl.col("__reached") / pl.col("target")).round(0))
                .cast(pl.Int64)
                .alias("percent")
            )
            .drop("__reached")
        )


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
    (:func:`_estimate_targets`).
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
        pl.when(pl.col("target") > 0)
        .then((100 * pl.col("reach") / pl.col("target")).round(0))
        .cast(pl.Int64)
        .alias("percent"),
        pl.col("district_id").str.starts_with("_").alias("__special"),
    )
    figures = figures.sort("quarter", "__special", "district", "district_id").select(
        *_FIGURE_COLUMNS
    )
    return ReachRelease(
        tuple(quarters), today, params.min_count, options.target_share, figures, tuple(refused)
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


def reach_table(release: ReachRelease, quarter: str, t: Callable[..., str]) -> pl.DataFrame:
    """Return the table the page shows for one quarter, with translated headers and notes.

    One row per district, the no-location row, and a last row adding up the figures shown.
    Hidden figures are empty with the note "fewer than k"; the CSV download is this table
    (:func:`reach_csv`), so it says exactly what the page says.
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
    if total.height:
        rows = pl.concat(
            [
                rows,
                total.select(
                    pl.lit(t("reach.total")).alias("district"),
                    "reach",
                    "target",
                    "percent",
                    pl.lit(t("reach.total_note")).alias("note"),
                ),
            ]
        )
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

    A hidden figure is null (a gap in the chart); nothing is filled in from raw counts.
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
