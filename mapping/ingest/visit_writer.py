"""Prepared visits written to the store: new contacts, peer educator and profile ids, fingerprints.

A visit's fingerprint (of what is stored about it, or of its form submission id) finds it again:
a visit imported twice is stored once, and a changed submission updates the stored visit.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from tqdm import tqdm

from mapping.errors import WorkspaceError
from mapping.ingest.batch import PreparedImport, existing_keys
from mapping.ingest.values import fingerprints
from mapping.settings import get_settings
from mapping.storage import store


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


def _store_contacts(connection: Connection, contacts: pl.DataFrame) -> None:
    """Store the contacts not seen before (``id``, ``code_hash``).

    The id is derived from the keyed hash, so no table of ids is needed in memory, and new
    contacts are appended in id order (sequential B-tree appends).
    """
    contacts = contacts.unique("id").sort("id")
    table = store.contacts
    stored: list[tuple[int, bytes]] = []
    if connection.execute(sa.select(table.c.id).limit(1)).first() is not None:
        for start in range(0, contacts.height, 20_000):
            chunk = contacts["id"].slice(start, 20_000).to_list()
            stored.extend(
                (int(row.id), bytes(row.code_hash))
                for row in connection.execute(
                    sa.select(table.c.id, table.c.code_hash).where(table.c.id.in_(chunk))
                )
            )
    known = pl.DataFrame(stored, schema=[("id", pl.Int64), ("stored", pl.Binary)], orient="row")
    clashes = contacts.join(known, on="id").filter(pl.col("code_hash") != pl.col("stored"))
    if clashes.height:
        raise WorkspaceError(
            f"{clashes.height} contact codes share a 64-bit id with a different code — this "
            "should never happen; report it, and re-import with a new workspace key"
        )
    store.insert_frame(connection, table, contacts.join(known, on="id", how="anti"))


def write_visits(
    connection: Connection, prepared: PreparedImport, import_id: int, *, progress: bool
) -> tuple[int, int, int]:
    """Write a prepared import's visits; return (stored, updated, duplicates).

    When the id column is a form submission id (``prepared.by_submission``) a visit is known
    by it alone: a stored one is updated when what is stored about it changed, else a
    duplicate.
    """
    valid = prepared.rows
    by_submission = prepared.by_submission
    if valid.height == 0:
        return 0, 0, 0
    who = valid.select("peer_educator", "team")
    peer_educators = _codes(connection, store.peer_educators, ["peer_educator", "team"], who)
    peer_educator_ids = who.join(
        peer_educators, on=["peer_educator", "team"], how="left", maintain_order="left"
    )["id"]
    if prepared.contacts is not None:
        _store_contacts(connection, prepared.contacts)
    profiles = valid.select(store.PROFILE_COLUMNS)
    profile_keys = fingerprints(_as_u64(profiles[c]) for c in store.PROFILE_COLUMNS)
    profile_ids = _profile_ids(connection, profiles, profile_keys)
    del profiles
    rows = valid.select(
        pl.lit(import_id, pl.Int64).alias("import_id"),
        pl.col("visit_date"),
        pl.col("cell").cast(pl.Int64),
        peer_educator_ids.alias("peer_educator_id"),
        pl.col("contact_id"),
        profile_ids.alias("profile_id"),
        pl.col("district_id").cast(pl.String),
        # a visit read from a file has its district from its point (or none); only one logged
        # in the app with a cell and no tapped point has it estimated from the cell's centre
        (
            pl.col("district_estimated") if "district_estimated" in valid.columns else pl.lit(False)
        ).alias("district_estimated"),
    )
    point_cells = valid["point_cell"].cast(pl.Int64)
    source = valid["source"].to_numpy() if "source" in valid.columns else None
    del valid
    content = _fingerprint(rows, profile_keys, source)
    if by_submission:
        assert source is not None, "a submission id needs an id column"
        keys = np.where(source != 0, _submission_fingerprints(source), content)
    else:
        keys = content
    rows = rows.with_columns(pl.Series("fingerprint", keys))
    seen = existing_keys(connection, store.visits.c.fingerprint, keys)
    first = rows.select(pl.col("fingerprint").is_first_distinct()).to_series().to_numpy()
    updated = 0
    if by_submission:
        # stored before submissions were keyed by their id alone, with the content: unchanged
        legacy = (keys != content) & existing_keys(connection, store.visits.c.fingerprint, content)
        changed = _changed(connection, rows.filter(pl.Series(seen & first)))
        updated = changed.height
        _update(connection, changed.with_columns(pl.lit(import_id, pl.Int64).alias("import_id")))
        seen |= legacy
    if _has_estimated(connection):
        by_content = keys == content
        updated += _restate_estimated(connection, rows.filter(pl.Series(seen & first & by_content)))
        moved = (
            ~seen & first & by_content & (point_cells != rows["cell"]).fill_null(False).to_numpy()
        )
        if moved.any():
            before = _fingerprint(
                rows.with_columns(point_cells.alias("cell")), profile_keys, source
            )
            found = _restate_moved(connection, rows.filter(pl.Series(moved)), before[moved])
            updated += int(found.sum())
            seen[np.flatnonzero(moved)[found]] = True
    keep = ~seen & first
    new = rows.filter(pl.Series(keep)).sort("fingerprint")
    duplicates = rows.height - new.height - updated
    del rows
    if connection.dialect.name == "sqlite":
        new = new.with_columns(pl.col("visit_date").cast(pl.String))
    estimated = bool(new["district_estimated"].any())
    # left to the column's default (false) unless some visit has an estimated district: one
    # column fewer to write for a million visits
    new = new.select(*store.VISIT_COLUMNS, *(["district_estimated"] if estimated else []))
    batch = get_settings().import_batch_rows
    with tqdm(total=new.height, unit="visits", disable=not progress, desc="storing") as bar:
        for offset in range(0, new.height, batch):
            chunk = new.slice(offset, batch)
            store.insert_frame(connection, store.visits, chunk)
            bar.update(chunk.height)
    return new.height, updated, duplicates


#: Stored columns of a visit that a re-imported submission may change.
_VISIT_VALUES = (
    "visit_date",
    "cell",
    "peer_educator_id",
    "contact_id",
    "profile_id",
    "district_id",
    "district_estimated",
)


def _has_estimated(connection: Connection) -> bool:
    """Whether any stored visit has a district estimated from its cell (stored before 0007)."""
    table = store.visits
    found = connection.execute(
        sa.select(sa.literal(1)).select_from(table).where(table.c.district_estimated).limit(1)
    )
    return found.first() is not None


def _estimated_among(connection: Connection, keys: list[int]) -> set[int]:
    """Return which of ``keys`` are stored visits whose district is estimated."""
    table = store.visits
    found: set[int] = set()
    for start in range(0, len(keys), 20_000):
        found.update(
            connection.execute(
                sa.select(table.c.fingerprint).where(
                    table.c.district_estimated,
                    table.c.fingerprint.in_(keys[start : start + 20_000]),
                )
            ).scalars()
        )
    return found


def _restate_estimated(connection: Connection, rows: pl.DataFrame) -> int:
    """Give stored visits found again by their content the district of their exact point.

    A visit stored before districts were taken from points (migration 0007) has its cell's
    centre's district, marked estimated; importing its file again brings its point back, so
    the district is corrected in place (the import counts it as updated). Returns how many.
    """
    if rows.height == 0:
        return 0
    estimated = _estimated_among(connection, rows["fingerprint"].to_list())
    fix = rows.filter(pl.col("fingerprint").is_in(list(estimated)))
    if fix.height:
        table = store.visits
        connection.execute(
            table.update()
            .where(table.c.fingerprint == sa.bindparam("key"))
            .values(
                import_id=sa.bindparam("new_import_id"),
                district_id=sa.bindparam("new_district_id"),
                district_estimated=False,
            ),
            [
                {"key": key, "new_import_id": import_id, "new_district_id": district}
                for key, import_id, district in fix.select(
                    "fingerprint", "import_id", "district_id"
                ).iter_rows()
            ],
        )
    return fix.height


def _restate_moved(connection: Connection, rows: pl.DataFrame, before: np.ndarray) -> np.ndarray:
    """Find visits stored, before the sliver rule, in their point's own cell; move them.

    ``rows`` are new-looking rows whose cell the sliver rule changed, ``before`` their
    fingerprints with the point's own cell (what a store before migration 0007 keyed them by).
    A stored visit found that way, with an estimated district, is the same visit: it is given
    the new cell, district and fingerprint (so the store keeps no trace of the sliver), and
    counted as updated. Returns which rows were found.
    """
    estimated = _estimated_among(connection, [int(k) for k in before.tolist()])
    found = np.isin(before, np.asarray(sorted(estimated), dtype=before.dtype))
    if found.any():
        table = store.visits
        fix = rows.filter(pl.Series(found)).with_columns(pl.Series("old", before[found]))
        connection.execute(
            table.update()
            .where(table.c.fingerprint == sa.bindparam("old_key"))
            .values(
                fingerprint=sa.bindparam("new_key"),
                cell=sa.bindparam("new_cell"),
                import_id=sa.bindparam("new_import_id"),
                district_id=sa.bindparam("new_district_id"),
                district_estimated=False,
            ),
            [
                {
                    "old_key": old,
                    "new_key": key,
                    "new_cell": cell,
                    "new_import_id": import_id,
                    "new_district_id": district,
                }
                for old, key, cell, import_id, district in fix.select(
                    "old", "fingerprint", "cell", "import_id", "district_id"
                ).iter_rows()
            ],
        )
    return found


def _changed(connection: Connection, rows: pl.DataFrame) -> pl.DataFrame:
    """Return the rows whose stored visit (same fingerprint) differs in what is stored."""
    if rows.height == 0:
        return rows
    table = store.visits
    stored: list[tuple[object, ...]] = []
    keys = rows["fingerprint"].to_list()
    for start in range(0, len(keys), 20_000):
        stored.extend(
            tuple(row)
            for row in connection.execute(
                sa.select(table.c.fingerprint, *(table.c[c] for c in _VISIT_VALUES)).where(
                    table.c.fingerprint.in_(keys[start : start + 20_000])
                )
            )
        )
    before = pl.DataFrame(
        stored,
        schema=[("fingerprint", pl.Int64), *((f"old_{c}", rows.schema[c]) for c in _VISIT_VALUES)],
        orient="row",
    )
    same = pl.all_horizontal(pl.col(c).eq_missing(pl.col(f"old_{c}")) for c in _VISIT_VALUES)
    return (
        rows.join(before, on="fingerprint", how="inner")
        .filter(~same)
        .select("fingerprint", *_VISIT_VALUES)
    )


def _update(connection: Connection, changed: pl.DataFrame) -> None:
    """Overwrite the stored visits of re-imported submissions that changed."""
    if changed.height == 0:
        return
    table = store.visits
    statement = (
        table.update()
        .where(table.c.fingerprint == sa.bindparam("key"))
        .values({c: sa.bindparam(f"new_{c}") for c in ("import_id", *_VISIT_VALUES)})
    )
    connection.execute(
        statement,
        [
            {"key" if k == "fingerprint" else f"new_{k}": v for k, v in row.items()}
            for row in changed.iter_rows(named=True)
        ],
    )


#: Marks a fingerprint made from a submission id alone, apart from content fingerprints.
_SUBMISSION_TAG = np.uint64(0x5355424D4953534E)


def _submission_fingerprints(source: np.ndarray) -> np.ndarray:
    """Fingerprint visits by their submission id alone (the hash of the id text)."""
    return fingerprints([np.full(len(source), _SUBMISSION_TAG), source])


def _as_u64(column: pl.Series) -> np.ndarray:
    """Return an integer column as uint64 for fingerprinting, null as all ones."""
    return column.cast(pl.Int64).fill_null(-1).cast(pl.UInt64, wrap_numerical=True).to_numpy()


def _profile_ids(connection: Connection, profiles: pl.DataFrame, keys: np.ndarray) -> pl.Series:
    """Return the id of each row's profile, storing the profiles not seen before."""
    table = store.visit_profiles
    keyed = profiles.with_columns(pl.Series("profile_key", keys))
    distinct = keyed.unique("profile_key", keep="first", maintain_order=True)
    known = pl.DataFrame(
        [tuple(row) for row in connection.execute(sa.select(table.c.id, table.c.profile_key))],
        schema=[("id", pl.Int64), ("profile_key", pl.Int64)],
        orient="row",
    )
    new = distinct.join(known, on="profile_key", how="anti")
    if new.height:
        next_id = (
            int(
                connection.execute(
                    sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))
                ).scalar_one()
            )
            + 1
        )
        new = new.with_columns(
            pl.int_range(next_id, next_id + new.height, dtype=pl.Int64).alias("id")
        )
        store.insert_frame(
            connection, table, new.select("id", "profile_key", *store.PROFILE_COLUMNS)
        )
        known = pl.concat([known, new.select("id", "profile_key")])
    return keyed.select("profile_key").join(
        known, on="profile_key", how="left", maintain_order="left"
    )["id"]


def _fingerprint(
    rows: pl.DataFrame, profile_keys: np.ndarray, source: np.ndarray | None
) -> np.ndarray:
    """Fingerprint each row from what is stored about it plus the hash of its source id, if any.

    Identical rows without a contact code or a source id can be two real, different contacts
    (two people reached at the same place on the same night); they are told apart by their
    order of appearance, so re-importing the file still adds nothing.
    """
    if source is None:
        source = np.zeros(rows.height, np.uint64)
    base = fingerprints(
        [
            _as_u64(rows["visit_date"].cast(pl.Int32)),
            _as_u64(rows["cell"]),
            _as_u64(rows["peer_educator_id"]),
            _as_u64(rows["contact_id"]),
            profile_keys.view(np.uint64),
            source,
        ]
    )
    anonymous = rows["contact_id"].is_null().to_numpy() & (source == 0)
    if not anonymous.any():
        return base
    occurrence = np.zeros(rows.height, dtype=np.uint64)
    subset = pl.DataFrame({"f": base[anonymous]})
    occurrence[anonymous] = subset.select(pl.int_range(pl.len()).over("f")).to_series().to_numpy()
    return np.where(occurrence > 0, fingerprints([base.view(np.uint64), occurrence]), base)
