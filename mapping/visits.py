"""Importing outreach visits: recognise, validate row by row, coarsen location to a cell, store.

Coordinates exist only inside :func:`mapping.locations.locate_rows`: they are parsed, turned into a cell, checked
against the area, and dropped before anything is written anywhere.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from tqdm import tqdm

from mapping import store
from mapping.columns import recognise_columns
from mapping.errors import UnusableFileError
from mapping.imports import (
    REDACTED,
    ImportResult,
    Problems,
    as_bool,
    as_number,
    check_category,
    check_text,
    clean,
    datetimes_from_text,
    existing_keys,
    file_digest,
    fingerprints,
    finish_import,
    has_time,
    normalised,
    record_import,
    report_path,
    text_fingerprints,
    time_of_day_from_hour,
    write_report,
)
from mapping.locations import locate_rows
from mapping.privacy import hash_codes
from mapping.readers import GEOMETRY_PROBLEM, ROW, ColumnMapping, RawTable, table_from_file
from mapping.settings import get_settings
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
)
from mapping.workspace import Workspace

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
    table = table_from_file(path)
    return visits_from_table(
        workspace,
        table,
        mapping=mapping,
        allow_outside=allow_outside,
        progress=progress,
        source_sha256=file_digest(path.read_bytes()),
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
    mapping = mapping or ColumnMapping()
    frame = table.frame
    recognised = recognise_columns(frame, VISIT_FIELDS, mapping, source_name=table.source_name)
    fields = {k: v for k, v in recognised.fields.items() if not k.startswith("__geo_")}
    if not {"date", "timestamp"} & fields.keys():
        raise UnusableFileError(
            f"{table.source_name} has no usable columns: no visit date was found — name a column "
            "date/fecha, or say which one it is in a mapping file; columns are: "
            + ", ".join(c for c in frame.columns if not c.startswith("__"))
        )
    if not {"peer_educator", "team"} & fields.keys():
        raise UnusableFileError(
            f"{table.source_name} has no usable columns: no peer educator or team column was "
            "found — name one peer_educator/educadora_par or team/equipo, or map it"
        )
    warnings: list[str] = []
    if recognised.dropped:
        warnings.append(
            "dropped columns that must never be stored: "
            + ", ".join(f"{c!r} ({why})" for c, why in recognised.dropped.items())
        )
    if recognised.ignored:
        warnings.append(
            "ignored unrecognised columns: " + ", ".join(repr(c) for c in recognised.ignored)
        )

    work = frame.select(
        pl.col(ROW),
        *(clean(header).alias(name) for name, header in fields.items()),
        *([pl.col(GEOMETRY_PROBLEM)] if GEOMETRY_PROBLEM in frame.columns else []),
    )
    rows_read = frame.height
    source_name = table.source_name
    del frame, table
    problems = Problems()
    work = locate_rows(work, problems, workspace, allow_outside=allow_outside)
    work = _when(work, problems, mapping)
    work = _who_and_what(work, problems, mapping)

    rejected_rows = problems.rows()
    valid = work.filter(~pl.col(ROW).cast(pl.Int64).is_in(rejected_rows.implode()))
    del work
    engine = workspace.engine()
    try:
        with engine.begin() as connection:
            import_id = record_import(
                connection, kind="visits", source_name=source_name, source_sha256=source_sha256
            )
            stored, duplicates = _store(connection, valid, workspace, import_id, progress=progress)
            result = ImportResult(
                kind="visits",
                rows_read=rows_read,
                accepted=stored,
                duplicates=duplicates,
                rejected=rejected_rows.len(),
                warnings=warnings,
            )
            result.report = report_path(workspace.reports_dir, "visits", import_id)
            finish_import(connection, import_id, result)
    finally:
        engine.dispose()
    write_report(problems, result.report)
    return result


def _when(work: pl.DataFrame, problems: Problems, mapping: ColumnMapping) -> pl.DataFrame:
    """Reduce date, time and timestamp columns to a date and a day/evening/night bucket."""
    day_first = mapping.options.get("date_order", "day_first") != "month_first"
    columns = work.columns
    date_text = pl.coalesce(*(pl.col(c) for c in ("date", "timestamp") if c in columns))
    parsed = pl.lit(datetimes_from_text(work.select(date_text).to_series(), day_first=day_first))
    stamp_has_time = has_time(date_text)
    hour_from_stamp = pl.when(stamp_has_time).then(parsed.dt.hour())
    if "time" in columns:
        time_parsed = (
            pl.col("time").str.extract(r"^(\d{1,2}):\d{2}", 1).cast(pl.Int32, strict=False)
        )
        pm = pl.col("time").str.to_lowercase().str.contains(r"p\.?\s*m")
        time_hour = pl.when(pm & (time_parsed < 12)).then(time_parsed + 12).otherwise(time_parsed)
        problems.add(
            work,
            pl.col("time").is_not_null() & (time_hour.is_null() | (time_hour > 23)),
            field_name="time",
            value=pl.col("time").str.slice(0, 40),
            problem="is not a time of day",
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
    today = dt.date.today()
    earliest = dt.date(settings.earliest_year, 1, 1)
    work = work.with_columns(parsed.dt.date().alias("visit_date"), bucket.alias("time_of_day"))
    source = "date" if "date" in columns else "timestamp"
    problems.add(
        work,
        date_text.is_null(),
        field_name=source,
        value=None,
        problem="is empty",
        fix="every visit needs the date it happened",
    )
    problems.add(
        work,
        date_text.is_not_null() & pl.col("visit_date").is_null(),
        field_name=source,
        value=date_text.str.slice(0, 40),
        problem="is not a date this importer understands",
        fix="write dates as YYYY-MM-DD (e.g. 2026-09-08) or DD/MM/YYYY",
    )
    problems.add(
        work,
        pl.col("visit_date") > today,
        field_name=source,
        value=date_text.str.slice(0, 40),
        problem="is in the future",
        fix="check the year and the day/month order",
    )
    problems.add(
        work,
        pl.col("visit_date") < earliest,
        field_name=source,
        value=date_text.str.slice(0, 40),
        problem=f"is before {earliest.year}",
        fix="check the year",
    )
    return work.drop([c for c in ("date", "timestamp", "time") if c in columns])


def _who_and_what(work: pl.DataFrame, problems: Problems, mapping: ColumnMapping) -> pl.DataFrame:
    """Check codes, categories, supplies, referrals, test and violence fields."""
    columns = work.columns
    for name in ("peer_educator", "team", "id"):
        if name in columns:
            check_text(work, problems, name, name)
    who = [pl.col(c) for c in ("peer_educator", "team") if c in columns]
    problems.add(
        work,
        pl.all_horizontal(*(c.is_null() for c in who)),
        field_name="peer_educator",
        value=None,
        problem="is empty (and so is the team)",
        fix="say which peer educator or team made the visit",
    )
    if "contact_code" in columns:
        check_text(work, problems, "contact_code", "contact_code", redact=True)
        code = pl.col("contact_code")
        digits = code.str.count_matches(r"\d")
        problems.add(
            work,
            (digits >= 7) & ~code.str.contains(r"[A-Za-z]"),
            field_name="contact_code",
            value=REDACTED,
            problem="looks like a phone number",
            fix="use the programme's unique identifier code, never a phone number",
        )
    updates: list[pl.Expr] = []
    for name, vocabulary in _CATEGORIES.items():
        if name in columns and name != "time_of_day":
            updates.append(
                check_category(work, problems, name, name, vocabulary, mapping).alias(name)
            )
    for supply in SUPPLIES:
        if supply not in columns:
            updates.append(pl.lit(0, pl.Int64).alias(supply))
            continue
        number = as_number(pl.col(supply))
        bad = pl.col(supply).is_not_null() & (
            number.is_null() | (number < 0) | (number != number.floor()) | (number > _MAX_SUPPLIES)
        )
        problems.add(
            work,
            bad,
            field_name=supply,
            value=pl.col(supply).str.slice(0, 40),
            problem="is not a whole number of items",
            fix=f"write how many were given, from 0 to {_MAX_SUPPLIES}; leave empty for none",
        )
        updates.append(
            pl.when(bad).then(0).otherwise(number.fill_null(0)).cast(pl.Int64).alias(supply)
        )
    if "violence_reported" in columns:
        reported = as_bool(pl.col("violence_reported"))
        problems.add(
            work,
            pl.col("violence_reported").is_not_null() & reported.is_null(),
            field_name="violence_reported",
            value=pl.col("violence_reported").str.slice(0, 40),
            problem="is not yes or no",
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
    work = work.with_columns(
        channel.fill_null("in_person").alias("channel"),
        pl.when(channel.is_in(["phone", "sms", "online"]))
        .then(None)
        .otherwise(pl.col("cell"))
        .alias("cell"),
    )
    return work


def _referral_bits(work: pl.DataFrame, problems: Problems, mapping: ColumnMapping) -> pl.Expr:
    if "referrals" not in work.columns:
        return pl.lit(0, pl.Int64).alias("referrals")
    from mapping.imports import category_table

    table = category_table(SERVICE_TYPES, "referrals", mapping)
    bits = {value: 1 << i for i, value in enumerate(SERVICE_TYPES)}
    text = pl.col("referrals")
    split = (
        pl.when(text.str.contains(r"[,;|]"))
        .then(text.str.replace_all(r"\s*[,;|]\s*", "|"))
        .otherwise(text.str.replace_all(r"\s+", "|"))
        .str.split("|")
    )
    items = (
        work.select(pl.col(ROW), split.alias("item"))
        .explode("item")
        .filter(pl.col("item").is_not_null() & (pl.col("item").str.strip_chars() != ""))
        .with_columns(
            normalised(pl.col("item"))
            .replace_strict(table, default=None, return_dtype=pl.String)
            .alias("value")
        )
    )
    problems.add(
        items,
        pl.col("value").is_null(),
        field_name="referrals",
        value=pl.col("item").str.slice(0, 40),
        problem="is not a known service type",
        fix="use one of: "
        + ", ".join(SERVICE_TYPES)
        + " (or add the spelling to the mapping file)",
    )
    sums = (
        items.filter(pl.col("value").is_not_null())
        .unique([ROW, "value"])
        .group_by(ROW)
        .agg(pl.col("value").replace_strict(bits, return_dtype=pl.Int64).sum().alias("bits"))
    )
    lookup = work.select(ROW).join(sums, on=ROW, how="left", maintain_order="left")["bits"]
    return pl.lit(lookup.fill_null(0).alias("referrals"))


def _codes(
    connection: Connection, table: sa.Table, key_columns: list[str], values: pl.DataFrame
) -> pl.DataFrame:
    """Insert the distinct ``values`` missing from ``table`` and return them with their ids."""
    distinct = values.unique(maintain_order=True)
    existing = pl.DataFrame(
        [
            tuple(r)
            for r in connection.execute(sa.select(table.c.id, *(table.c[k] for k in key_columns)))
        ],
        schema=[("id", pl.Int64), *((k, distinct.schema[k]) for k in key_columns)],
        orient="row",
    )
    missing = distinct.join(existing, on=key_columns, how="anti")
    if missing.height:
        store.insert_rows(connection, table, key_columns, missing.iter_rows())
        existing = pl.DataFrame(
            [
                tuple(r)
                for r in connection.execute(
                    sa.select(table.c.id, *(table.c[k] for k in key_columns))
                )
            ],
            schema=[("id", pl.Int64), *((k, distinct.schema[k]) for k in key_columns)],
            orient="row",
        )
    return existing


def _contact_ids(connection: Connection, hashes: pl.Series) -> pl.Series:
    """Return the stored id of each contact hash, creating ids for new contacts.

    Known hashes are looked up in batches through the unique index; new ones get the next
    ids and are inserted in hash order, which keeps SQLite's index appends sequential.
    """
    distinct = hashes.drop_nulls().unique().sort()
    known: list[tuple[int, bytes]] = []
    table = store.contacts
    has_any = connection.execute(sa.select(table.c.id).limit(1)).first() is not None
    values = distinct.to_list()
    for start in range(0, len(values) if has_any else 0, 20_000):
        chunk = values[start : start + 20_000]
        known.extend(
            connection.execute(
                sa.select(table.c.id, table.c.code_hash).where(table.c.code_hash.in_(chunk))
            ).tuples()
        )
    found = pl.DataFrame(known, schema=[("id", pl.Int64), ("code_hash", pl.Binary)], orient="row")
    new = distinct.to_frame("code_hash").join(found, on="code_hash", how="anti")
    next_id = int(connection.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()) + 1
    new = new.with_columns(pl.int_range(next_id, next_id + new.height, dtype=pl.Int64).alias("id"))
    store.insert_rows(connection, table, ["id", "code_hash"], new.select("id", "code_hash").iter_rows())
    ids = pl.concat([found, new.select("id", "code_hash")])
    return hashes.alias("code_hash").to_frame().join(ids, on="code_hash", how="left", maintain_order="left")["id"]


def _store(
    connection: Connection,
    valid: pl.DataFrame,
    workspace: Workspace,
    import_id: int,
    *,
    progress: bool,
) -> tuple[int, int]:
    """Write the valid rows; return (stored, duplicates)."""
    if valid.height == 0:
        return 0, 0
    columns = valid.columns
    who = valid.select(
        (pl.col("peer_educator") if "peer_educator" in columns else pl.lit(None, pl.String))
        .fill_null("")
        .alias("peer_educator"),
        (pl.col("team") if "team" in columns else pl.lit(None, pl.String))
        .fill_null("")
        .alias("team"),
    )
    workers = _codes(connection, store.workers, ["peer_educator", "team"], who)
    worker_ids = who.join(workers, on=["peer_educator", "team"], how="left", maintain_order="left")[
        "id"
    ]
    if "contact_code" in columns:
        hashes = hash_codes(valid["contact_code"], workspace.key())
        contact_ids = _contact_ids(connection, hashes)
        del hashes
    else:
        contact_ids = pl.Series("id", [None] * valid.height, dtype=pl.Int64)
    rows = valid.select(
        pl.lit(import_id, pl.Int64).alias("import_id"),
        pl.col("visit_date"),
        category_code_expr("time_of_day", TIMES_OF_DAY),
        pl.col("cell").cast(pl.Int64),
        category_code_expr("channel", CHANNELS),
        worker_ids.alias("worker_id"),
        contact_ids.alias("contact_id"),
        *(
            category_code_expr(n, v) if n in columns else pl.lit(None, pl.Int16).alias(n)
            for n, v in (("gender", GENDERS), ("setting", SETTINGS))
        ),
        *(pl.col(s) for s in SUPPLIES),
        pl.col("referrals"),
        category_code_expr("hiv_test", HIV_TESTS)
        if "hiv_test" in columns
        else pl.lit(None, pl.Int16).alias("hiv_test"),
        category_code_expr("violence_type", VIOLENCE_TYPES),
        category_code_expr("perpetrator", PERPETRATORS)
        if "perpetrator" in columns
        else pl.lit(None, pl.Int16).alias("perpetrator"),
    )
    source_ids = valid["id"] if "id" in columns else None
    rows = rows.with_columns(pl.Series("fingerprint", _fingerprint(rows, source_ids)))
    del valid
    seen = existing_keys(connection, store.visits.c.fingerprint, rows["fingerprint"].to_numpy())
    first = rows.select(pl.col("fingerprint").is_first_distinct()).to_series().to_numpy()
    keep = ~seen & first
    new = rows.filter(pl.Series(keep)).sort("fingerprint")
    duplicates = rows.height - new.height
    del rows
    if connection.dialect.name == "sqlite":
        new = new.with_columns(pl.col("visit_date").cast(pl.String))
    new = new.select(store.VISIT_COLUMNS)
    batch = get_settings().import_batch_rows
    with tqdm(total=new.height, unit="visits", disable=not progress, desc="storing") as bar:
        for offset in range(0, new.height, batch):
            chunk = new.slice(offset, batch)
            store.insert_rows(connection, store.visits, store.VISIT_COLUMNS, chunk.iter_rows())
            bar.update(chunk.height)
    return new.height, duplicates


def _fingerprint(rows: pl.DataFrame, source_ids: pl.Series | None) -> np.ndarray:
    """Fingerprint each row from what is stored about it plus its source id, if any.

    Identical rows without a contact code or a source id can be two real, different contacts
    (two people reached at the same place on the same night); they are told apart by their
    order of appearance, so re-importing the file still adds nothing.
    """
    content = rows.drop("import_id").with_columns(
        pl.col("visit_date").cast(pl.Int32).cast(pl.Int64)
    )
    arrays = [
        content[c].cast(pl.Int64).fill_null(-1).cast(pl.UInt64, wrap_numerical=True).to_numpy()
        for c in content.columns
    ]
    source = (
        text_fingerprints(source_ids)
        if source_ids is not None
        else np.zeros(rows.height, np.uint64)
    )
    base = fingerprints([*arrays, source])
    anonymous = (rows["contact_id"].is_null() & pl.Series(source == 0)).to_numpy()
    occurrence = (
        pl.DataFrame({"f": base}).select(pl.int_range(pl.len()).over("f")).to_series().to_numpy()
    )
    occurrence = np.where(anonymous, occurrence, 0).astype(np.uint64)
    return fingerprints([base.view(np.uint64), occurrence])
