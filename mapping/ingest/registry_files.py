"""The service and hotspot registries imported: checked, given cells and stored by key.

A registry file is read, its locations or cell ids turned into cells, and each record stored
with a fingerprint, so importing the same record again changes nothing. A hotspot's key is its
id; a service's key is its facility's id and its type, so that a second type of a facility
(another flag, another file) never changes the first (see docs/import-files.md).

Longer than 600 lines: the two registries share the reading, the cells and the storing by key;
each has only its own checks.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mapping import clock
from mapping.cells import is_valid_cell
from mapping.errors import InvalidInputError, MissingColumnError
from mapping.hours import check_hours, days_from_text
from mapping.ingest.attribution import area_districts, restated, with_given_cells
from mapping.ingest.batch import (
    ImportResult,
    PreparedImport,
    Problems,
    column_warnings,
    import_file,
)
from mapping.ingest.columns import Recognised, recognise_columns
from mapping.ingest.locations import locate_rows
from mapping.ingest.readers import (
    GEOMETRY_PROBLEM,
    ROW,
    ColumnMapping,
    RawTable,
    refuse_registry_rules,
)
from mapping.ingest.service_rules import (
    TYPES,
    hours_kept_unknown,
    rule_columns,
    service_points,
    sort_rows,
    write_services,
)
from mapping.ingest.values import (
    as_bool,
    as_datetime,
    as_number,
    check_category,
    check_text,
    clean,
    record_fingerprint,
)
from mapping.storage import store
from mapping.storage.workspace import Workspace
from mapping.vocab import HOTSPOT_TYPOLOGIES, SAFETY_CONCERNS, SERVICE_TYPES

SERVICE_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "service_type",
    "latitude",
    "longitude",
    "location",
    "cell",
    "friendly",
    "free",
    "anonymous_testing",
    "serves_trans",
    "serves_male",
    "serves_migrants",
    "opening_hours",
    "active_from",
    "active_until",
    "sensitive",
)
HOTSPOT_FIELDS: tuple[str, ...] = (
    "id",
    "cell",
    "latitude",
    "longitude",
    "location",
    "typology",
    "days",
    "opening_hours",
    "size_min",
    "size_max",
    "last_validated",
    "active",
    "safety",
)
#: Yes/no attributes of a service (null means not known).
SERVICE_FLAGS: tuple[str, ...] = (
    "friendly",
    "free",
    "anonymous_testing",
    "serves_trans",
    "serves_male",
    "serves_migrants",
)
_SERVICE_FLAGS = (*SERVICE_FLAGS, "sensitive")


def _cells_from_column(work: pl.DataFrame, problems: Problems, resolution: int) -> pl.DataFrame:
    """Validate a hex ``cell`` column: coarsen finer cells, reject invalid or coarser ones."""
    import h3

    texts = work["cell"].to_list()
    ints: list[int | None] = []
    for text in texts:
        if text is None or not is_valid_cell(text.lower()):
            ints.append(None)
            continue
        cell = text.lower()
        res = h3.get_resolution(cell)
        ints.append(
            int(h3.str_to_int(h3.cell_to_parent(cell, resolution) if res > resolution else cell))
            if res >= resolution
            else -res
        )
    series = pl.Series("__cell_int", ints, dtype=pl.Int64)
    work = work.with_columns(series)
    problems.add(
        work,
        pl.col("cell").is_not_null() & pl.col("__cell_int").is_null(),
        field_name="cell",
        value=pl.col("cell").str.slice(0, 40),
        problem="is not an H3 cell id",
        fix="give the 15-character H3 id, e.g. 888e62c01bfffff, or a latitude and longitude",
    )
    problems.add(
        work,
        pl.col("__cell_int") < 0,
        field_name="cell",
        value=pl.col("cell"),
        problem=f"is coarser than the workspace's resolution {resolution}",
        fix=f"give a cell at resolution {resolution} or finer (finer cells are coarsened)",
    )
    return work.with_columns(
        pl.when(pl.col("__cell_int") > 0)
        .then(pl.col("__cell_int"))
        .cast(pl.UInt64)
        .alias("__given_cell")
    ).drop("__cell_int")


def _prepare(
    workspace: Workspace,
    table: RawTable,
    recognised: Recognised,
    mapping: ColumnMapping,
    *,
    allow_outside: bool,
    problems: Problems | None = None,
    used: tuple[str, ...] = (),
) -> tuple[pl.DataFrame, Problems, tuple[str, ...], int]:
    """Clean the recognised columns, apply defaults, and turn locations or cell ids into cells.

    ``used`` are columns read by the mapping's rules: not warned about as ignored or dropped.
    """
    fields = {k: v for k, v in recognised.fields.items() if not k.startswith("__geo_")}
    warnings = column_warnings(
        {c: why for c, why in recognised.dropped.items() if c not in used},
        [c for c in recognised.ignored if c not in used],
    )
    frame = table.frame
    work = frame.select(
        pl.col(ROW),
        *(clean(header).alias(name) for name, header in fields.items()),
        *([pl.col(GEOMETRY_PROBLEM)] if GEOMETRY_PROBLEM in frame.columns else []),
    )
    for field_name, default in mapping.defaults.items():
        if field_name in work.columns:
            work = work.with_columns(pl.col(field_name).fill_null(default))
        else:
            work = work.with_columns(pl.lit(default).alias(field_name))
    problems = problems or Problems()
    if "cell" in work.columns:
        work = _cells_from_column(work, problems, workspace.resolution)
    else:
        work = work.with_columns(pl.lit(None, pl.UInt64).alias("__given_cell"))
    work = locate_rows(work, problems, workspace, allow_outside=allow_outside)
    work = with_given_cells(work, area_districts(workspace), "__given_cell")
    problems.add(
        work,
        pl.col("cell").is_null(),
        field_name="location",
        value=None,
        problem="is missing",
        fix="give a latitude and longitude, or an H3 cell id",
    )
    return work, problems, warnings, frame.height


def services_from_file(
    workspace: Workspace,
    path: Path,
    *,
    mapping: ColumnMapping | None = None,
    allow_outside: bool = False,
) -> ImportResult:
    """Import a service registry (CSV or GeoJSON); services are keyed by id and updated in place.

    A sensitive service (run from someone's home, an informal doctor) keeps only its cell;
    others keep their point, as public clinics may be shown where they are.
    """
    return import_file(
        workspace, path, prepare_services, mapping=mapping, allow_outside=allow_outside
    )


def prepare_services(
    workspace: Workspace,
    table: RawTable,
    *,
    mapping: ColumnMapping | None = None,
    allow_outside: bool = False,
    source_sha256: str = "",
) -> PreparedImport:
    """Check a service registry read as text columns and make it ready to store.

    Stores nothing. Locations become cells; only a service that is not sensitive keeps its
    point. With the mapping's ``[services]`` rules a row gives one service per type it
    offers; rows the ``[skip]`` rules set aside are counted as skipped. Hours that are
    missing or unreadable keep the service, with hours unknown and a warning. Raises
    :class:`~mapping.errors.UnusableFileError` without a service type column or rules.
    """
    mapping = mapping or ColumnMapping()
    source_name = table.source_name
    rows_read = table.frame.height
    recognised = recognise_columns(table.frame, SERVICE_FIELDS, mapping, source_name=source_name)
    if mapping.services:
        recognised.fields.pop("service_type", None)  # the rules give the types
    elif "service_type" not in recognised.fields:
        raise MissingColumnError(
            f"{source_name} has no service type column — name it type/tipo, or map it, or give "
            "[services] rules in the mapping file",
            code="no_service_type_column",
        )
    used = tuple(rule_columns(table, mapping))
    problems = Problems()
    rules = sort_rows(table, mapping, problems, type_header=recognised.fields.get("service_type"))
    table = rules.table
    point_source = service_points(table, recognised.fields)
    work, problems, warnings, _ = _prepare(
        workspace,
        table,
        recognised,
        mapping,
        allow_outside=allow_outside,
        problems=problems,
        used=used,
    )
    del table
    if rules.types is not None:
        work = work.join(rules.types, on=ROW, how="left")
    else:
        problems.add(
            work,
            pl.col("service_type").is_null(),
            field_name="service_type",
            value=None,
            problem="is empty",
            fix="give the service type: " + ", ".join(SERVICE_TYPES),
        )
        kinds = check_category(
            work, problems, "service_type", "service_type", SERVICE_TYPES, mapping
        )
        work = work.with_columns(pl.concat_list(kinds).list.drop_nulls().alias(TYPES))
    for flag in _SERVICE_FLAGS:
        if flag in work.columns:
            parsed = as_bool(pl.col(flag))
            problems.add(
                work,
                pl.col(flag).is_not_null() & parsed.is_null(),
                field_name=flag,
                value=pl.col(flag).str.slice(0, 40),
                problem="is not yes or no",
                code="not_yes_no",
                fix="write yes/no (sí/no)",
            )
            work = work.with_columns(parsed.alias(flag))
        else:
            work = work.with_columns(pl.lit(None, pl.Boolean).alias(flag))
    for name in ("active_from", "active_until"):
        if name in work.columns:
            parsed_date = as_datetime(pl.col(name)).dt.date()
            problems.add(
                work,
                pl.col(name).is_not_null() & parsed_date.is_null(),
                field_name=name,
                value=pl.col(name).str.slice(0, 40),
                problem="is not a date",
                code="not_iso_date",
                fix="write dates as YYYY-MM-DD",
            )
            work = work.with_columns(parsed_date.alias(name))
    if "id" in work.columns:
        check_text(work, problems, "id", "id")
    if "name" in work.columns:
        problems.add(
            work,
            pl.col("name").str.len_chars() > 200,
            field_name="name",
            value=pl.col("name").str.slice(0, 60),
            problem="is longer than 200 characters",
            fix="shorten the service name",
        )
    rejected = problems.rows()
    is_rejected = pl.col(ROW).cast(pl.Int64).is_in(rejected.implode())
    # a rejected row counts once per service it would have given (at least once)
    rejected_records = int(
        work.filter(is_rejected).select(pl.col(TYPES).list.len().clip(lower_bound=1).sum()).item()
        or 0
    )
    valid = work.filter(~is_rejected)
    valid, hour_warnings = hours_kept_unknown(valid)
    services = valid.explode(TYPES).filter(pl.col(TYPES).is_not_null())
    records = []
    for row in services.iter_rows(named=True):
        sensitive = bool(row.get("sensitive"))
        point = None if sensitive else point_source.get(row[ROW])
        kind = row[TYPES]
        record = {
            "name": row.get("name") or f"{kind} {row.get('id') or ''}".strip(),
            "service_type": SERVICE_TYPES.index(kind) + 1,
            "cell": int(row["cell"]),
            "location": shapely.to_wkb(point) if point is not None else None,
            "sensitive": sensitive,
            **{f: row.get(f) for f in SERVICE_FLAGS},
            "opening_hours": row["opening_hours"],
            "open_at_night": row["__night"],
            "active_from": row.get("active_from"),
            "active_until": row.get("active_until"),
            "district_id": row["district_id"],
            "district_estimated": bool(row["district_estimated"]),
        }
        records.append(record)
    return _registry(
        workspace,
        table_name="services",
        source_name=source_name,
        source_sha256=source_sha256,
        ids=services.get_column("id").to_list() if "id" in services.columns else None,
        records=records,
        problems=problems,
        warnings=(*warnings, *rules.warnings, *hour_warnings),
        rows_read=rows_read,
        skipped=rules.skipped,
        rejected_records=rejected_records,
    )


def hotspots_from_file(
    workspace: Workspace,
    path: Path,
    *,
    mapping: ColumnMapping | None = None,
    allow_outside: bool = False,
) -> ImportResult:
    """Import the hotspot registry (CSV): each hotspot is a cell, never a venue point."""
    return import_file(
        workspace, path, prepare_hotspots, mapping=mapping, allow_outside=allow_outside
    )


def prepare_hotspots(
    workspace: Workspace,
    table: RawTable,
    *,
    mapping: ColumnMapping | None = None,
    allow_outside: bool = False,
    source_sha256: str = "",
) -> PreparedImport:
    """Check a hotspot registry read as text columns and make it ready to store (as cells).

    Stores nothing. Raises :class:`~mapping.errors.UnusableFileError` without a typology
    column.
    """
    mapping = mapping or ColumnMapping()
    source_name = table.source_name
    refuse_registry_rules(mapping, "hotspots", source_name)
    recognised = recognise_columns(table.frame, HOTSPOT_FIELDS, mapping, source_name=source_name)
    work, problems, warnings, rows_read = _prepare(
        workspace, table, recognised, mapping, allow_outside=allow_outside
    )
    del table
    if "typology" not in work.columns:
        raise MissingColumnError(
            f"{source_name} has no typology column — name it typology/tipologia, or map it",
            code="no_typology_column",
        )
    problems.add(
        work,
        pl.col("typology").is_null(),
        field_name="typology",
        value=None,
        problem="is empty",
        fix="give the typology: " + ", ".join(HOTSPOT_TYPOLOGIES),
    )
    work = work.with_columns(
        check_category(work, problems, "typology", "typology", HOTSPOT_TYPOLOGIES, mapping).alias(
            "typology"
        ),
        *(
            [
                check_category(work, problems, "safety", "safety", SAFETY_CONCERNS, mapping).alias(
                    "safety"
                )
            ]
            if "safety" in work.columns
            else [pl.lit(None, pl.String).alias("safety")]
        ),
    )
    for name in ("size_min", "size_max"):
        if name in work.columns:
            number = as_number(pl.col(name))
            problems.add(
                work,
                pl.col(name).is_not_null()
                & (number.is_null() | (number < 0) | (number != number.floor())),
                field_name=name,
                value=pl.col(name).str.slice(0, 40),
                problem="is not a whole number",
                code="not_whole_number",
                fix="give the estimated number of sex workers as a whole number (0 or more)",
            )
            work = work.with_columns(number.cast(pl.Int64, strict=False).alias(name))
        else:
            work = work.with_columns(pl.lit(None, pl.Int64).alias(name))
    problems.add(
        work,
        pl.col("size_min") > pl.col("size_max"),
        field_name="size_min",
        value=pl.format("{}-{}", "size_min", "size_max"),
        problem="is larger than size_max",
        code="size_range",
        fix="give the range as minimum then maximum",
    )
    if "last_validated" in work.columns:
        parsed = as_datetime(pl.col("last_validated")).dt.date()
        problems.add(
            work,
            pl.col("last_validated").is_not_null() & parsed.is_null(),
            field_name="last_validated",
            value=pl.col("last_validated").str.slice(0, 40),
            problem="is not a date",
            code="not_iso_date",
            fix="write dates as YYYY-MM-DD",
        )
        problems.add(
            work,
            parsed > clock.today(workspace),
            field_name="last_validated",
            value=pl.col("last_validated").str.slice(0, 40),
            problem="is in the future",
            fix="check the year",
            code="future_validation",
        )
        work = work.with_columns(parsed.alias("last_validated"))
    if "active" in work.columns:
        active = as_bool(pl.col("active"))
        problems.add(
            work,
            pl.col("active").is_not_null() & active.is_null(),
            field_name="active",
            value=pl.col("active").str.slice(0, 40),
            problem="is not yes or no",
            code="not_yes_no",
            fix="write yes/no (sí/no)",
        )
        work = work.with_columns(active.fill_null(True).alias("active"))
    for name, check in (("opening_hours", check_hours), ("days", _check_days)):
        if name in work.columns:
            found = work[name].map_elements(check, return_dtype=pl.String, skip_nulls=True)
            work = work.with_columns(found.alias("__problem"))
            problems.add(
                work,
                pl.col("__problem").is_not_null(),
                field_name=name,
                value=pl.col(name).str.slice(0, 60),
                problem=pl.col("__problem"),
                fix="see docs/import-files.md for days and hours",
            )
    if "id" in work.columns:
        check_text(work, problems, "id", "id")
    rejected = problems.rows()
    valid = work.filter(~pl.col(ROW).cast(pl.Int64).is_in(rejected.implode()))
    records = [
        {
            "cell": int(row["cell"]),
            "typology": HOTSPOT_TYPOLOGIES.index(row["typology"]) + 1,
            "days": days_from_text(row["days"]) if row.get("days") else None,
            "hours": row.get("opening_hours"),
            "size_min": row.get("size_min"),
            "size_max": row.get("size_max"),
            "last_validated": row.get("last_validated"),
            "active": True if row.get("active") is None else bool(row["active"]),
            "safety": SAFETY_CONCERNS.index(row["safety"]) + 1 if row.get("safety") else None,
            "district_id": row["district_id"],
            "district_estimated": bool(row["district_estimated"]),
        }
        for row in valid.iter_rows(named=True)
    ]
    return _registry(
        workspace,
        table_name="hotspots",
        source_name=source_name,
        source_sha256=source_sha256,
        ids=valid.get_column("id").to_list() if "id" in valid.columns else None,
        records=records,
        problems=problems,
        warnings=warnings,
        rows_read=rows_read,
    )


def _check_days(text: str) -> str | None:
    try:
        days_from_text(text)
    except InvalidInputError as exc:
        return str(exc)
    return None


def _registry(
    workspace: Workspace,
    *,
    table_name: str,
    source_name: str,
    source_sha256: str,
    ids: list[str | None] | None,
    records: list[dict[str, object]],
    problems: Problems,
    warnings: tuple[str, ...],
    rows_read: int,
    skipped: int = 0,
    rejected_records: int | None = None,
) -> PreparedImport:
    """Give each record its fingerprint and key (the given id, else one made from the record).

    A hotspot's key is its ``id``. A service's key is its ``facility_id`` (the file's id)
    with its type; its stored ``id`` is given when it is written (:func:`_upsert`).
    """
    key = "facility_id" if table_name == "services" else "id"
    for index, record in enumerate(records):
        fingerprint = record_fingerprint(record)
        record["fingerprint"] = fingerprint
        given = ids[index] if ids else None
        record[key] = given or f"{table_name[0].upper()}{fingerprint & 0xFFFFFFFFFFFF:012x}"
    return PreparedImport(
        kind=table_name,
        source_name=source_name,
        source_sha256=source_sha256,
        rows_read=rows_read,
        # every record has the same keys; the whole list decides each column's type
        rows=pl.DataFrame(records, infer_schema_length=None),
        problems=problems,
        warnings=warnings,
        workspace_path=workspace.path.resolve(),
        resolution=workspace.resolution,
        write=_upsert,
        skipped=skipped,
        rejected_records=rejected_records,
    )


def _upsert(
    connection: Connection, prepared: PreparedImport, import_id: int, *, progress: bool
) -> tuple[int, int, int]:
    """Insert new records, update changed ones (same key), count unchanged ones as duplicates.

    Returns (new, updated, duplicates). A hotspot's key is its id; a service's is its
    facility and type (:func:`mapping.ingest.service_rules.write_services`). A registry holds
    thousands of rows, not millions: one statement a record keeps this simple.
    """
    del progress
    if prepared.kind == "services":
        return write_services(connection, prepared.rows.to_dicts(), import_id)
    table = store.hotspots
    c = table.c
    columns = (c.id, c.fingerprint, c.cell, c.district_id, c.district_estimated)
    existing = {row.id: row for row in connection.execute(sa.select(*columns))}
    new = duplicates = updated = 0
    seen: set[object] = set()
    for record in prepared.rows.to_dicts():
        stored = existing.get(record["id"])
        write = None if record["id"] in seen else restated(record, stored)
        if write is None:
            duplicates += 1
            continue
        seen.add(record["id"])
        write["import_id"] = import_id
        if stored is not None:
            connection.execute(table.update().where(c.id == stored.id).values(**write))
            updated += 1
        else:
            connection.execute(table.insert().values(**write))
            new += 1
    return new, updated, duplicates
