"""Importing outreach visits: recognise, validate row by row, coarsen location to a cell, store.

Coordinates exist only inside :func:`mapping.ingest.locations.locate_rows`: they are parsed, turned
into a cell, checked against the area, and dropped before anything is written anywhere. The
checked visits are written by :func:`mapping.ingest.visit_writer.write_visits`.
"""

from __future__ import annotations

import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from mapping import clock
from mapping.errors import MissingColumnError
from mapping.ingest.batch import (
    ImportResult,
    PreparedImport,
    Problems,
    column_warnings,
    commit_prepared,
    import_file,
)
from mapping.ingest.columns import recognise_columns
from mapping.ingest.locations import locate_rows
from mapping.ingest.readers import (
    GEOMETRY_PROBLEM,
    ROW,
    ColumnMapping,
    RawTable,
    refuse_registry_rules,
)
from mapping.ingest.values import (
    as_number,
    bools_of,
    category_table,
    check_category,
    check_code,
    check_text,
    clean,
    datetimes_from_text,
    has_time,
    map_distinct,
    text_fingerprints,
    time_of_day_from_hour,
)
from mapping.ingest.visit_writer import write_visits
from mapping.privacy import hash_many
from mapping.settings import get_settings
from mapping.storage.workspace import Workspace
from mapping.vocab import (
    CHANNELS,
    GENDERS,
    HIV_TESTS,
    PERPETRATORS,
    SERVICE_TYPES,
    SETTINGS,
    SUPPLIES,
    TIMES_OF_DAY,
    VIOLENCE_TYPES,
    category_code_expr,
    normalise,
)

VISIT_FIELDS: tuple[str, ...] = (
    "id",
    "date",
    "time",
    "time_of_day",
    "timestamp",
    "latitude",
    "longitude",
    "location",
    "peer_educator",
    "team",
    "contact_code",
    "gender",
    "setting",
    "channel",
    *SUPPLIES,
    "referrals",
    "hiv_test",
    "violence_reported",
    "violence_type",
    "perpetrator",
)
_MAX_SUPPLIES = 10_000
#: A slashed, dotted or dashed date whose year has two digits (``15/09/26``).
_SHORT_YEAR = r"^\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2}(?:\s|T|$)"
_CATEGORIES = {
    "gender": GENDERS,
    "setting": SETTINGS,
    "channel": CHANNELS,
    "hiv_test": HIV_TESTS,
    "violence_type": VIOLENCE_TYPES,
    "perpetrator": PERPETRATORS,
    "time_of_day": TIMES_OF_DAY,
}


def visits_from_file(
    workspace: Workspace,
    path: Path,
    *,
    mapping: ColumnMapping | None = None,
    allow_outside: bool = False,
    progress: bool = False,
) -> ImportResult:
    """Import a visits file (CSV, XLSX, GeoJSON; ODK, Kobo and SurveyCTO exports) into the store.

    Exits nothing and prints nothing: returns the counts and the report path. Raises
    :class:`~mapping.errors.UnusableFileError` for a file that cannot be used at all, leaving the
    store unchanged.
    """
    return import_file(
        workspace,
        path,
        prepare_visits,
        mapping=mapping,
        allow_outside=allow_outside,
        progress=progress,
    )


def visits_from_table(
    workspace: Workspace,
    table: RawTable,
    *,
    mapping: ColumnMapping | None = None,
    allow_outside: bool = False,
    progress: bool = False,
    source_sha256: str = "",
) -> ImportResult:
    """Import visits already read as text columns (see :func:`visits_from_file`)."""
    prepared = prepare_visits(
        workspace, table, mapping=mapping, allow_outside=allow_outside, source_sha256=source_sha256
    )
    del table
    return commit_prepared(workspace, prepared, progress=progress)


def prepare_visits(
    workspace: Workspace,
    table: RawTable,
    *,
    mapping: ColumnMapping | None = None,
    allow_outside: bool = False,
    source_sha256: str = "",
) -> PreparedImport:
    """Check visits read as text columns and make them ready to store, storing nothing.

    Locations become cells and contact codes keyed hashes here: the result holds neither a
    coordinate nor a raw code. Raises :class:`~mapping.errors.UnusableFileError` for a file
    without a date or without a peer educator or team column.
    """
    mapping = mapping or ColumnMapping()
    refuse_registry_rules(mapping, "visits", table.source_name)
    frame = table.frame
    recognised = recognise_columns(frame, VISIT_FIELDS, mapping, source_name=table.source_name)
    fields = {k: v for k, v in recognised.fields.items() if not k.startswith("__geo_")}
    seen = ", ".join(c for c in frame.columns if not c.startswith("__"))
    if not {"date", "timestamp"} & fields.keys():
        raise MissingColumnError(
            f"{table.source_name} has no usable columns: no visit date was found — name a column "
            f"date/fecha, or say which one it is in a mapping file; columns are: {seen}",
            code="no_date_column",
            columns=seen,
        )
    if not {"peer_educator", "team"} & fields.keys():
        raise MissingColumnError(
            f"{table.source_name} has no usable columns: no peer educator or team column was "
            "found — name one peer_educator/educadora_par or team/equipo, or say which one it is "
            f"in a mapping file; columns are: {seen}",
            code="no_peer_educator_column",
            columns=seen,
        )
    warnings = column_warnings(recognised.dropped, recognised.ignored)
    work = frame.select(
        pl.col(ROW),
        *(clean(header).alias(name) for name, header in fields.items()),
        *([pl.col(GEOMETRY_PROBLEM)] if GEOMETRY_PROBLEM in frame.columns else []),
    )
    rows_read = frame.height
    source_name = table.source_name
    del frame, table
    problems = Problems()
    with ThreadPoolExecutor(max_workers=1) as pool:
        # hashing codes is Python work that holds the GIL; validation is polars work that
        # releases it, so the two overlap on the second core
        contacts = (
            pool.submit(_contacts_of, work["contact_code"], workspace.key())
            if "contact_code" in work.columns
            else None
        )
        work = locate_rows(work, problems, workspace, allow_outside=allow_outside)
        work = _when(
            work,
            problems,
            mapping,
            submission_stamp=_is_submission(fields),
            today=clock.today(workspace),
        )
        work = _who_and_what(work, problems, mapping)
        by_code = contacts.result() if contacts is not None else None

    rejected_rows = problems.rows()
    by_submission = "id" in fields and _is_submission_id(fields["id"], work["id"])
    valid = work.filter(~pl.col(ROW).cast(pl.Int64).is_in(rejected_rows.implode()))
    del work
    rows, known = _storable(valid, by_code)
    return PreparedImport(
        kind="visits",
        source_name=source_name,
        source_sha256=source_sha256,
        rows_read=rows_read,
        rows=rows,
        problems=problems,
        warnings=warnings,
        workspace_path=workspace.path.resolve(),
        resolution=workspace.resolution,
        write=write_visits,
        contacts=known,
        by_submission=by_submission,
    )


def _storable(
    valid: pl.DataFrame, by_code: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Return the valid rows as they will be stored, and the keyed hashes of their contacts.

    Only what is stored is kept, named column by column: the date, the cell and district, the
    point's own cell (to find a visit stored before the sliver rule; never stored), the peer
    educator and team codes, the contact's id (not its code), the profile's category codes and
    counts, and a hash of the source id. Contacts only seen in rejected rows are left out.
    """
    columns = valid.columns
    contact_id: pl.Expr = pl.lit(None, pl.Int64)
    known = None
    if "contact_code" in columns:
        assert by_code is not None, "contacts are hashed whenever there is a code column"
        contact_id = pl.col("contact_code").replace_strict(
            by_code["code"], by_code["id"], default=None, return_dtype=pl.Int64
        )
    profiles = (
        category_code_expr("time_of_day", TIMES_OF_DAY),
        category_code_expr("channel", CHANNELS),
        *(
            category_code_expr(n, v) if n in columns else pl.lit(None, pl.Int16).alias(n)
            for n, v in (("gender", GENDERS), ("setting", SETTINGS), ("hiv_test", HIV_TESTS))
        ),
        *(pl.col(s) for s in SUPPLIES),
        pl.col("referrals"),
        category_code_expr("violence_type", VIOLENCE_TYPES),
        category_code_expr("perpetrator", PERPETRATORS)
        if "perpetrator" in columns
        else pl.lit(None, pl.Int16).alias("perpetrator"),
    )
    rows = valid.select(
        pl.col("visit_date"),
        pl.col("cell"),
        pl.col("district_id"),
        pl.col("point_cell"),
        (pl.col("peer_educator") if "peer_educator" in columns else pl.lit(None, pl.String))
        .fill_null("")
        .alias("peer_educator"),
        (pl.col("team") if "team" in columns else pl.lit(None, pl.String))
        .fill_null("")
        .alias("team"),
        contact_id.alias("contact_id"),
        *profiles,
    )
    if "id" in columns:
        rows = rows.with_columns(pl.Series("source", text_fingerprints(valid["id"])))
    if by_code is not None:
        used = rows["contact_id"].drop_nulls().unique().implode()
        known = by_code.filter(pl.col("id").is_in(used)).select("id", "code_hash")
    return rows, known


def _counts(texts: pl.Series) -> pl.Series:
    """Return whole numbers 0..10,000 written plainly (``3``, ``3.0``); null for anything else.

    ``1e3`` and ``1.000`` (a thousand, or one?) are not plain counts.
    """
    frame = texts.rename("t").to_frame()
    number = as_number(pl.col("t"))
    plain = pl.col("t").str.contains(r"^\d+(?:[.,]0{1,2})?$")
    whole = plain & (number >= 0) & (number == number.floor()) & (number <= _MAX_SUPPLIES)
    return frame.select(pl.when(whole).then(number).cast(pl.Int64)).to_series()


def _hours(times: pl.Series) -> pl.Series:
    """Return the hour (0-23) of times like ``21:30``, ``9:05 pm`` or ``21:30:00``; else null.

    A time written with a date (``1899-12-31 20:30:00``, how a spreadsheet's time cell reads,
    or ``2026-03-14T20:30``) gives the hour of its time part.
    """
    frame = times.rename("t").to_frame()
    hour = (
        pl.col("t")
        .str.extract(r"^\s*(?:\d{4}-\d{1,2}-\d{1,2}[ T])?(\d{1,2}):\d{2}", 1)
        .cast(pl.Int32, strict=False)
    )
    pm = pl.col("t").str.to_lowercase().str.contains(r"p\.?\s*m")
    hour = pl.when(pm & (hour < 12)).then(hour + 12).otherwise(hour)
    return frame.select(pl.when(hour <= 23).then(hour)).to_series()


def _is_submission(fields: dict[str, str]) -> bool:
    """Whether the timestamp column is when the form reached the server (Kobo/ODK, in UTC)."""
    header = fields.get("timestamp", "")
    return normalise(header).endswith(("submission_time", "submissiondate"))


def _when(
    work: pl.DataFrame,
    problems: Problems,
    mapping: ColumnMapping,
    *,
    submission_stamp: bool,
    today: dt.date,
) -> pl.DataFrame:
    """Reduce date, time and timestamp columns to a date and a day/evening/night bucket.

    The hour comes from, in order: a time column, the date column's own time, or the
    timestamp (the form's ``start``) when it falls on the visit date. A submission time is
    when the form reached the server, often in UTC: its hour is never used.
    """
    day_first = mapping.options.get("date_order", "day_first") != "month_first"
    columns = work.columns
    date_text = pl.coalesce(*(pl.col(c) for c in ("date", "timestamp") if c in columns))
    texts = work.select(date_text).to_series()
    short_year = pl.lit(map_distinct(texts, lambda t: t.str.contains(_SHORT_YEAR)))
    parsed_series = map_distinct(texts, lambda t: datetimes_from_text(t, day_first=day_first))
    with_time = map_distinct(
        texts, lambda t: t.to_frame().select(has_time(pl.col(t.name))).to_series()
    )
    parsed = pl.lit(parsed_series)
    own_time: pl.Expr = pl.lit(with_time)
    if submission_stamp:
        # the date came from the submission time wherever the date column is empty
        own_time = own_time & pl.col("date").is_not_null() if "date" in columns else pl.lit(False)
    hour_from_stamp: pl.Expr = pl.when(own_time).then(parsed.dt.hour())
    if "date" in columns and "timestamp" in columns and not submission_stamp:
        stamps = work["timestamp"]
        stamp = pl.lit(map_distinct(stamps, lambda t: datetimes_from_text(t, day_first=day_first)))
        stamp_timed = pl.lit(
            map_distinct(
                stamps, lambda t: t.to_frame().select(has_time(pl.col(t.name))).to_series()
            )
        )
        same_day = stamp_timed & (stamp.dt.date() == parsed.dt.date())
        hour_from_stamp = pl.coalesce(hour_from_stamp, pl.when(same_day).then(stamp.dt.hour()))
    if "time" in columns:
        time_hour = pl.lit(map_distinct(work["time"], _hours))
        problems.add(
            work,
            pl.col("time").is_not_null() & time_hour.is_null(),
            field_name="time",
            value=pl.col("time").str.slice(0, 40),
            problem="is not a time of day",
            code="not_time",
            fix="write the time as HH:MM, e.g. 21:30",
        )
        hour = pl.coalesce(time_hour, hour_from_stamp)
    else:
        hour = hour_from_stamp
    bucket = time_of_day_from_hour(hour)
    if "time_of_day" in columns:
        explicit = check_category(
            work, problems, "time_of_day", "time_of_day", TIMES_OF_DAY, mapping
        )
        bucket = pl.coalesce(explicit, bucket)
    settings = get_settings()
    earliest = dt.date(settings.earliest_year, 1, 1)
    work = work.with_columns(
        pl.when(~short_year).then(parsed.dt.date()).alias("visit_date"),
        bucket.alias("time_of_day"),
    )
    source = "date" if "date" in columns else "timestamp"
    problems.add(
        work,
        date_text.is_null(),
        field_name=source,
        value=None,
        problem="is empty",
        fix="every visit needs the date it happened",
        code="date_empty",
    )
    problems.add(
        work,
        short_year,
        field_name=source,
        value=date_text.str.slice(0, 40),
        problem="has a two-digit year",
        code="two_digit_year",
        fix="write the year with 4 digits (15/09/2026, not 15/09/26)",
    )
    problems.add(
        work,
        date_text.is_not_null() & pl.col("visit_date").is_null() & ~short_year,
        field_name=source,
        value=date_text.str.slice(0, 40),
        problem="is not a date this importer understands",
        code="not_date",
        fix="write dates as YYYY-MM-DD (e.g. 2026-09-08) or DD/MM/YYYY",
    )
    problems.add(
        work,
        pl.col("visit_date") > today,
        field_name=source,
        value=date_text.str.slice(0, 40),
        problem="is in the future",
        fix="check the year and the day/month order",
        code="future_date",
    )
    problems.add(
        work,
        pl.col("visit_date") < earliest,
        field_name=source,
        value=date_text.str.slice(0, 40),
        problem=f"is before {earliest.year}",
        code="too_early",
        values={"year": earliest.year},
        fix="check the year",
    )
    return work.drop([c for c in ("date", "timestamp", "time") if c in columns])


def _who_and_what(work: pl.DataFrame, problems: Problems, mapping: ColumnMapping) -> pl.DataFrame:
    """Check codes, categories, supplies, referrals, test and violence fields."""
    columns = work.columns
    for name in ("peer_educator", "team"):
        if name in columns:
            check_code(work, problems, name, name, names=True, phones_among_letters=True)
    if "id" in columns:
        check_text(work, problems, "id", "id")
    who = [pl.col(c) for c in ("peer_educator", "team") if c in columns]
    problems.add(
        work,
        pl.all_horizontal(*(c.is_null() for c in who)),
        field_name="peer_educator",
        value=None,
        problem="is empty (and so is the team)",
        code="no_peer_educator",
        fix="say which peer educator or team made the visit",
    )
    if "contact_code" in columns:
        check_code(work, problems, "contact_code", "contact_code", redact=True, names=True)
    updates: list[pl.Expr] = []
    for name, vocabulary in _CATEGORIES.items():
        if name in columns and name != "time_of_day":
            updates.append(
                check_category(
                    work, problems, name, name, vocabulary, mapping, redact=name == "hiv_test"
                ).alias(name)
            )
    for supply in SUPPLIES:
        if supply not in columns:
            updates.append(pl.lit(0, pl.Int64).alias(supply))
            continue
        counts = map_distinct(work[supply], _counts)
        problems.add(
            work,
            pl.col(supply).is_not_null() & pl.lit(counts).is_null(),
            field_name=supply,
            value=pl.col(supply).str.slice(0, 40),
            problem="is not a whole number of items",
            code="not_count",
            values={"most": _MAX_SUPPLIES},
            fix=f"write how many were given, from 0 to {_MAX_SUPPLIES}; leave empty for none",
        )
        updates.append(pl.lit(counts.fill_null(0)).alias(supply))
    if "violence_reported" in columns:
        reported = bools_of(work, "violence_reported")
        problems.add(
            work,
            pl.col("violence_reported").is_not_null() & reported.is_null(),
            field_name="violence_reported",
            value=pl.col("violence_reported").str.slice(0, 40),
            problem="is not yes or no",
            code="not_yes_no",
            fix="write yes/no (sí/no)",
        )
        work = work.with_columns(reported.alias("violence_reported"))
    work = work.with_columns(updates)
    work = work.with_columns(_referral_bits(work, problems, mapping))
    violence: pl.Expr = (
        pl.col("violence_type") if "violence_type" in work.columns else pl.lit(None, pl.String)
    )
    if "violence_reported" in work.columns:
        violence = (
            pl.when(pl.col("violence_reported") & violence.is_null())
            .then(pl.lit("other"))
            .otherwise(violence)
        )
    work = work.with_columns(violence.alias("violence_type"))
    channel: pl.Expr = pl.col("channel") if "channel" in work.columns else pl.lit(None, pl.String)
    # phone, SMS and online contacts have no location: whatever the form recorded is dropped
    remote = channel.is_in(["phone", "sms", "online"])
    work = work.with_columns(
        channel.fill_null("in_person").alias("channel"),
        *(
            pl.when(remote).then(None).otherwise(pl.col(name)).alias(name)
            for name in ("cell", "point_cell", "district_id")
        ),
    )
    return work


def _referral_bits(work: pl.DataFrame, problems: Problems, mapping: ColumnMapping) -> pl.Expr:
    if "referrals" not in work.columns:
        return pl.lit(0, pl.Int64).alias("referrals")
    table = category_table(SERVICE_TYPES, "referrals", mapping)
    bits: dict[str, int] = {}
    unknown: dict[str, str] = {}
    for raw in work["referrals"].drop_nulls().unique().to_list():
        separator = r"\s*[,;|]\s*" if re.search(r"[,;|]", raw) else r"\s+"
        # one service type written in words ("prueba móvil") is not a list of two
        whole = normalise(raw) in table
        split = re.split(separator, raw.strip())
        items = [raw] if whole else [item for item in split if item.strip()]
        values = [table.get(normalise(item)) for item in items]
        bits[raw] = sum({1 << SERVICE_TYPES.index(v) for v in values if v is not None})
        bad = [item for item, value in zip(items, values, strict=True) if value is None]
        if bad:
            unknown[raw] = ", ".join(bad)[:80]
    if unknown:
        problems.add(
            work,
            pl.col("referrals").is_in(list(unknown)),
            field_name="referrals",
            value=pl.col("referrals").replace_strict(unknown, default=None, return_dtype=pl.String),
            problem="is not a known service type",
            fix="use one of: "
            + ", ".join(SERVICE_TYPES)
            + " (or add the spelling to the mapping file)",
        )
    return (
        pl.col("referrals")
        .replace_strict(bits, default=0, return_dtype=pl.Int64)
        .fill_null(0)
        .alias("referrals")
    )


def _contacts_of(codes: pl.Series, key: bytes) -> pl.DataFrame:
    """Return each distinct code with its keyed hash and its id (the hash's first 8 bytes)."""
    raw = codes.drop_nulls().unique()
    hashes = hash_many(raw.to_list(), key)
    ids = pl.Series([int.from_bytes(h[:8], "little", signed=True) for h in hashes], dtype=pl.Int64)
    return pl.DataFrame({"code": raw, "id": ids, "code_hash": pl.Series(hashes, dtype=pl.Binary)})


#: Headers of form submission ids (ODK/SurveyCTO KEY and instanceID, Kobo _uuid and _id).
_SUBMISSION_ID_HEADERS = frozenset(
    {"key", "instanceid", "meta_instanceid", "uuid", "_uuid", "_id", "submission_id"}
)
_UUID = r"^(?:uuid:)?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"


def _is_submission_id(header: str, ids: pl.Series) -> bool:
    """Whether the id column identifies a form submission everywhere, not just in this file.

    True for the ids ODK, KoboToolbox and SurveyCTO write (``KEY``, ``meta-instanceID``,
    ``_uuid``, ``_id``) and for any id column holding only UUIDs. A programme's own ``id`` or
    ``visit_id`` may restart at 1 in every monthly file, so it is not trusted alone.
    """
    raw = header.strip().lower().replace("/", "_").replace("-", "_")
    if raw in _SUBMISSION_ID_HEADERS or normalise(header) in _SUBMISSION_ID_HEADERS - {"id"}:
        return True
    present = ids.drop_nulls()
    return present.len() > 0 and bool(present.str.contains(_UUID).all())
