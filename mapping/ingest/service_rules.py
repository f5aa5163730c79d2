"""Facility rows to services: a mapping file's ``[services]`` and ``[skip]`` rules, and the key.

A facility registry such as the Kenya Master Health Facility List has one row per facility
and says what it offers in columns of its own (yes/no flags, or a list of service names). The
``[services]`` rules of a mapping file turn each row into one service per type it offers;
``[skip]`` rules set aside the rows that are no service of interest (a dentist, a closed
facility), which are counted as *skipped*, never as rejected. Opening hours that are missing
or unreadable keep the facility, with hours unknown, and say so in one warning per value.
A service is stored under the key (facility id, type), so that a facility's second type (another
flag, another file) never changes its first. See docs/import-files.md.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mapping.errors import UnusableFileError
from mapping.hours import HOURS_HELP, check_hours, night_flags, osm_hours
from mapping.ingest.attribution import restated
from mapping.ingest.batch import Problems
from mapping.ingest.readers import ROW, ColumnMapping, RawTable
from mapping.ingest.values import as_bool, category_table, clean, normalised
from mapping.settings import get_settings
from mapping.storage import store
from mapping.vocab import SERVICE_TYPES, normalise

#: The column of the service types a row gives (a list), kept beside the row number.
TYPES = "__types"
#: How many row numbers a warning names before saying how many more there are.
SHOWN_ROWS = 10


@dataclass(frozen=True)
class SortedRows:
    """A registry's rows after the mapping's rules: those kept, and what the others were.

    ``table`` holds the rows kept (every other row was skipped); ``types``, with
    ``[services]`` rules, gives each kept row's service types (``__row``, ``__types``).
    """

    table: RawTable
    types: pl.DataFrame | None
    skipped: int
    warnings: tuple[str, ...]


def rows_named(rows: list[int]) -> str:
    """Return row numbers for a message: the first few, then how many more.

    Examples
    --------
    >>> rows_named([2]), rows_named(list(range(2, 15)))
    ('row 2', 'rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 3 more')
    """
    shown = ", ".join(str(row) for row in rows[:SHOWN_ROWS])
    more = f" and {len(rows) - SHOWN_ROWS} more" if len(rows) > SHOWN_ROWS else ""
    return f"row {shown}" if len(rows) == 1 else f"rows {shown}{more}"


def _header(frame: pl.DataFrame, name: str, section: str, source_name: str) -> str:
    """Return the file's header for a column a rule names (spelling and case may differ)."""
    headers = [h for h in frame.columns if not h.startswith("__")]
    for header in headers:
        if normalise(header) == normalise(name):
            return header
    raise UnusableFileError(
        f"{source_name}: the mapping file's {section} names column {name!r}, but there is no "
        f"such column — check its spelling; columns are: {', '.join(headers)}"
    )


def _words(words: tuple[str, ...]) -> str:
    """Return a regex matching any of ``words`` as whole words, in any case."""
    alternatives = "|".join(re.escape(word.strip()) for word in words)
    return rf"(?i)(?:^|[^\p{{L}}\p{{N}}])(?:{alternatives})(?:[^\p{{L}}\p{{N}}]|$)"


def rule_columns(table: RawTable, mapping: ColumnMapping) -> list[str]:
    """Return the file's headers the mapping's ``[services]`` and ``[skip]`` rules read."""
    named = [(c, f"[services] {kind}") for kind, r in mapping.services.items() for c in r.columns]
    named += [(c, "[skip] when") for c in mapping.skip_when]
    named += [(c, "[skip] unless") for c in mapping.skip_unless]
    return [_header(table.frame, c, section, table.source_name) for c, section in named]


def sort_rows(
    table: RawTable, mapping: ColumnMapping, problems: Problems, *, type_header: str | None
) -> SortedRows:
    """Apply the mapping's ``[skip]`` and ``[services]`` rules to a service registry.

    Returns the rows kept and each one's service types (with ``[services]``), how many rows
    were skipped and one warning per reason for skipping. A flag that is not yes or no is a
    problem of its row; with ``[services]``, a row that no rule makes a service is skipped
    under ``[skip] unmapped = true`` and rejected otherwise. ``type_header`` is the column of
    service types, used without ``[services]`` to skip types that map to nothing.
    """
    frame, source = table.frame, table.source_name
    reasons: list[pl.Expr] = []
    for name, values in mapping.skip_when.items():
        header = _header(frame, name, "[skip] when", source)
        wanted = [normalise(value) for value in values]
        reasons.append(
            pl.when(normalised(clean(header)).is_in(wanted)).then(
                pl.format(f"{header!r} is {{}}", clean(header))
            )
        )
    for name, values in mapping.skip_unless.items():
        header = _header(frame, name, "[skip] unless", source)
        wanted = [normalise(value) for value in values]
        reasons.append(
            pl.when(~normalised(clean(header)).is_in(wanted).fill_null(False)).then(
                pl.format(
                    f"{header!r} is {{}}, not {' or '.join(map(repr, values))}",
                    clean(header).fill_null("empty"),
                )
            )
        )
    invalid: list[tuple[str, pl.Expr]] = []
    types: pl.Expr | None = None
    bad_flag: pl.Expr = pl.lit(False)
    if mapping.services:
        offered: list[pl.Expr] = []
        for kind, rule in mapping.services.items():
            headers = [_header(frame, c, f"[services] {kind}", source) for c in rule.columns]
            if rule.contains:
                says_yes = clean(headers[0]).str.contains(_words(rule.contains)).fill_null(False)
            else:
                says_yes = pl.lit(False)
                for header in headers:
                    parsed = as_bool(clean(header))
                    invalid.append((header, clean(header).is_not_null() & parsed.is_null()))
                    says_yes = says_yes | parsed.fill_null(False)
            offered.append(pl.when(says_yes).then(pl.lit(kind)))
        types = pl.concat_list(offered).list.drop_nulls()
        if invalid:
            bad_flag = pl.any_horizontal(*(mask for _, mask in invalid))
        if mapping.skip_unmapped:
            rule_names = ", ".join(
                dict.fromkeys(c for rule in mapping.services.values() for c in rule.columns)
            )
            reasons.append(
                pl.when((types.list.len() == 0) & ~bad_flag).then(
                    pl.lit(f"no column of [services] ({rule_names}) says it offers a service")
                )
            )
    elif mapping.skip_unmapped and type_header is not None:
        table_of = category_table(SERVICE_TYPES, "service_type", mapping)
        raw = frame.select(clean(type_header).unique()).to_series().to_list()
        unmapped = [
            value for value in raw if value is not None and normalise(value) not in table_of
        ]
        reasons.append(
            pl.when(clean(type_header).is_null())
            .then(pl.lit(f"{type_header!r} is empty"))
            .when(clean(type_header).is_in(unmapped))
            .then(pl.format(f"{type_header!r} {{}} maps to no service type", clean(type_header)))
        )
    marked = frame.with_columns(
        (pl.coalesce(reasons) if reasons else pl.lit(None, pl.String)).alias("__skip"),
        *([types.alias(TYPES)] if types is not None else []),
    )
    skipped = marked.filter(pl.col("__skip").is_not_null())
    kept = marked.filter(pl.col("__skip").is_null())
    for header, mask in invalid:
        problems.add(
            kept,
            mask,
            field_name=header,
            value=clean(header).str.slice(0, 40),
            problem="is not yes or no",
            fix="write yes or no (true/false and 1/0 work too) in the columns of [services]",
        )
    if types is not None and not mapping.skip_unmapped:
        problems.add(
            kept,
            (pl.col(TYPES).list.len() == 0) & ~bad_flag,
            field_name="service_type",
            value=None,
            problem="is none: no column of [services] says this facility offers a service",
            fix="check the row, or add [skip] unmapped = true to the mapping file to skip such "
            "rows",
        )
    warnings = tuple(
        f"skipped {group.height} {'row' if group.height == 1 else 'rows'}, not a service of "
        f"interest ({rows_named(group[ROW].to_list())}): {reason}"
        for (reason,), group in skipped.group_by("__skip", maintain_order=True)
    )
    return SortedRows(
        table=RawTable(
            frame=kept.drop("__skip", *([TYPES] if types is not None else [])),
            source_name=source,
            encoding=table.encoding,
            delimiter=table.delimiter,
        ),
        types=kept.select(ROW, TYPES) if types is not None else None,
        skipped=skipped.height,
        warnings=warnings,
    )


def hours_kept_unknown(work: pl.DataFrame) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Write readable opening hours the OSM way; keep the rest of the rows with hours unknown.

    Returns the rows with ``opening_hours`` in OSM form (``Lu-Vi`` → ``Mo-Fr``) or null and
    ``__night`` (open at night; null when unknown), and one warning per unreadable value and
    one for missing hours, each naming the rows. Each distinct text is read once.
    """
    fix = f"kept with hours unknown — {HOURS_HELP}"
    if "opening_hours" not in work.columns:
        work = work.with_columns(pl.lit(None, pl.String).alias("opening_hours"))
    texts = work.select(pl.col("opening_hours").unique()).to_series().to_list()
    readable = {
        text: osm_hours(text) for text in texts if text is not None and not check_hours(text)
    }
    warnings = []
    missing = work.filter(pl.col("opening_hours").is_null())[ROW].to_list()
    if missing:
        warnings.append(
            f"{rows_named(sorted(missing))}: opening_hours is missing — {fix} (or give "
            "[defaults] opening_hours in the mapping file)"
        )
    for text in sorted(t for t in texts if t is not None and t not in readable):
        rows = sorted(work.filter(pl.col("opening_hours") == text)[ROW].to_list())
        warnings.append(
            f"{rows_named(rows)}: opening_hours {text[:60]!r} is not OpenStreetMap "
            f"opening_hours — {fix}"
        )
    hours = pl.col("opening_hours").replace_strict(readable, default=None, return_dtype=pl.String)
    work = work.with_columns(hours.alias("opening_hours"))
    settings = get_settings()
    night = night_flags(
        work["opening_hours"].to_list(),
        night_start=settings.night_starts * 60,
        night_end=settings.day_starts * 60,
    )
    return work.with_columns(pl.Series("__night", night, dtype=pl.Boolean)), tuple(warnings)


def service_points(table: RawTable, recognised: dict[str, str]) -> dict[int, shapely.Point]:
    """Return a service file's points (public clinics keep theirs) keyed by row number."""
    if "latitude" not in recognised or "longitude" not in recognised:
        return {}
    lat = (
        table.frame[recognised["latitude"]]
        .str.replace(",", ".")
        .cast(pl.Float64, strict=False)
        .to_numpy()
    )
    lng = (
        table.frame[recognised["longitude"]]
        .str.replace(",", ".")
        .cast(pl.Float64, strict=False)
        .to_numpy()
    )
    rows = table.frame[ROW].to_list()
    return {
        r: shapely.Point(round(x, 6), round(y, 6))
        for r, y, x in zip(rows, lat, lng, strict=True)
        if np.isfinite(y) and np.isfinite(x)
    }


def service_id(facility_id: str, service_type: int, taken: set[str]) -> str:
    """Return the id a new service of a facility is stored under: unique among ``taken``.

    The first service of a facility takes the facility's id, so a registry with one type per
    facility keeps the ids it gives; a further type takes ``<facility id>:<type>``. Ids stay
    as given once stored: the app's editor and plans address a service by its id.

    Examples
    --------
    >>> service_id("17001", 1, set()), service_id("17001", 4, {"17001"})
    ('17001', '17001:hiv_treatment')
    """
    kind = SERVICE_TYPES[service_type - 1]
    limit = int(getattr(store.services.c.id.type, "length", None) or 64)
    candidates = [facility_id, f"{facility_id}:{kind}"]
    for candidate in candidates:
        if len(candidate) <= limit and candidate not in taken:
            return candidate
    digest = hashlib.sha256(f"{facility_id}\n{kind}".encode()).hexdigest()[:8]
    base = f"{facility_id[: limit - len(kind) - len(digest) - 2]}~{digest}:{kind}"
    found, number = base, 1
    while found in taken:
        number += 1
        found = f"{base[: limit - len(str(number)) - 1]}#{number}"
    return found


def write_services(
    connection: Connection, records: list[dict[str, Any]], import_id: int
) -> tuple[int, int, int]:
    """Store service records by their key (facility id, type); return (new, updated, duplicates).

    A record whose key is stored with the same fingerprint is a duplicate (unless it brings the
    exact district of a service stored with an estimated one: then only that is updated); with
    another one it updates that service (its id stays); a new key is a new service, under
    :func:`service_id`. The same key twice in one file counts the second as a duplicate.
    """
    table = store.services
    c = table.c
    existing: dict[tuple[str, int], Any] = {}
    taken: set[str] = set()
    columns = (c.id, c.facility_id, c.service_type, c.fingerprint, c.cell)
    for row in connection.execute(sa.select(*columns, c.district_id, c.district_estimated)):
        existing[(row.facility_id, row.service_type)] = row
        taken.add(row.id)
    new = duplicates = updated = 0
    seen: set[tuple[str, int]] = set()
    for record in records:
        key = (record["facility_id"], record["service_type"])
        stored = existing.get(key)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        if (write := restated(record, stored)) is None:
            duplicates += 1
            continue
        record = write
        record["import_id"] = import_id
        if stored is not None:
            connection.execute(table.update().where(c.id == stored.id).values(**record))
            updated += 1
            continue
        record["id"] = service_id(record["facility_id"], record["service_type"], taken)
        taken.add(record["id"])
        connection.execute(table.insert().values(**record))
        new += 1
    return new, updated, duplicates
