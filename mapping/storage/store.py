"""The workspace store: table definitions (SQLAlchemy Core), migrations, and bulk writes.

The store never holds a coordinate of a person or venue, a name, or a raw contact code. Cells are
H3 indexes as 64-bit integers; categories are small integer codes from :mod:`mapping.vocab`;
contacts are keyed hashes. The only points stored are those of public, non-sensitive services,
which domain rules allow to be shown at their exact place.

Longer than 600 lines: the tables, the engines that open them (one per store and process, with
SQLite's pragmas and PostgreSQL's settings) and the bulk writes that fill them change together
whenever a column type or an engine does; a split into engines and tables is the next step if
either grows.
"""

from __future__ import annotations

import atexit
import functools
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from mapping.errors import WorkspaceError

metadata = sa.MetaData()

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
districts = sa.Table(
    "districts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("population", sa.Float, nullable=True),
    sa.Column("geometry", sa.LargeBinary, nullable=False),
)
area_cells = sa.Table(
    "area_cells",
    metadata,
    sa.Column("cell", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("district_id", sa.String(64), sa.ForeignKey("districts.id"), nullable=False),
)
imports = sa.Table(
    "imports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("source_name", sa.String(255), nullable=False),
    sa.Column("source_sha256", sa.String(64), nullable=False),
    sa.Column("imported_at", sa.DateTime, nullable=False),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("accepted", sa.Integer, nullable=False),
    sa.Column("duplicates", sa.Integer, nullable=False),
    sa.Column("rejected", sa.Integer, nullable=False),
    sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("report", sa.String(255), nullable=True),
    # rows set aside as no service of interest (a registry's [skip] rules), and the records
    # counted: accepted + duplicates + skipped + rejected (more than the rows when a facility
    # row gives one service per type)
    sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
    sa.Column("records", sa.Integer, nullable=False, server_default="0"),
)
services = sa.Table(
    "services",
    metadata,
    # the service's own id, as the app's editor and plans address it
    sa.Column("id", sa.String(64), primary_key=True),
    # its key: the facility (the id its registry gives) and the type, one service per pair
    sa.Column("facility_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("service_type", sa.SmallInteger, nullable=False),
    sa.Column("cell", sa.BigInteger, nullable=False),
    sa.Column("location", sa.LargeBinary, nullable=True),
    sa.Column("sensitive", sa.Boolean, nullable=False),
    sa.Column("friendly", sa.Boolean, nullable=True),
    sa.Column("free", sa.Boolean, nullable=True),
    sa.Column("anonymous_testing", sa.Boolean, nullable=True),
    sa.Column("serves_trans", sa.Boolean, nullable=True),
    sa.Column("serves_male", sa.Boolean, nullable=True),
    sa.Column("serves_migrants", sa.Boolean, nullable=True),
    sa.Column("opening_hours", sa.String(200), nullable=True),
    sa.Column("open_at_night", sa.Boolean, nullable=True),
    sa.Column("active_from", sa.Date, nullable=True),
    sa.Column("active_until", sa.Date, nullable=True),
    sa.Column("fingerprint", sa.BigInteger, nullable=False),
    sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=True),
    # The district holding the exact point, decided at import or capture before the point is
    # dropped (migration 0007); ``district_estimated`` marks rows stored before that, whose
    # district was taken from their cell's centre (docs/coverage.md).
    sa.Column("district_id", sa.String(64), nullable=True),
    sa.Column("district_estimated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("facility_id", "service_type", name="uq_services_facility_type"),
)
hotspots = sa.Table(
    "hotspots",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("cell", sa.BigInteger, nullable=False),
    sa.Column("typology", sa.SmallInteger, nullable=False),
    sa.Column("days", sa.String(64), nullable=True),
    sa.Column("hours", sa.String(64), nullable=True),
    sa.Column("size_min", sa.Integer, nullable=True),
    sa.Column("size_max", sa.Integer, nullable=True),
    sa.Column("last_validated", sa.Date, nullable=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("safety", sa.SmallInteger, nullable=True),
    sa.Column("fingerprint", sa.BigInteger, nullable=False),
    sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=True),
    # The district holding the exact point, decided at import or capture before the point is
    # dropped (migration 0007); ``district_estimated`` marks rows stored before that, whose
    # district was taken from their cell's centre (docs/coverage.md).
    sa.Column("district_id", sa.String(64), nullable=True),
    sa.Column("district_estimated", sa.Boolean, nullable=False, server_default=sa.false()),
)
peer_educators = sa.Table(
    "peer_educators",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("peer_educator", sa.String(64), nullable=False),
    sa.Column("team", sa.String(64), nullable=False),
    sa.UniqueConstraint("peer_educator", "team", name="uq_peer_educators_code"),
)
contacts = sa.Table(
    "contacts",
    metadata,
    # the first 8 bytes of the keyed hash, as a signed integer: the key visits refer to
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    # the whole keyed hash, to detect (astronomically unlikely) clashes of the 64-bit id
    sa.Column("code_hash", sa.LargeBinary(32), nullable=False),
)
#: What happened on a visit, each distinct combination stored once ("junk dimension"): a
#: visit row then holds seven integers, which makes a million-row import about twice as fast
#: as one wide row, and the few thousand distinct profiles cost nothing to join.
PROFILE_COLUMNS: tuple[str, ...] = (
    "time_of_day",
    "channel",
    "gender",
    "setting",
    "male_condoms",
    "female_condoms",
    "lubricant",
    "info_material",
    "harm_reduction_kits",
    "referrals",
    "hiv_test",
    "violence_type",
    "perpetrator",
)
visit_profiles = sa.Table(
    "visit_profiles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # a stable 64-bit fingerprint of the other columns, to find a profile again
    sa.Column("profile_key", sa.BigInteger, nullable=False, unique=True),
    sa.Column("time_of_day", sa.SmallInteger, nullable=True),
    sa.Column("channel", sa.SmallInteger, nullable=False),
    sa.Column("gender", sa.SmallInteger, nullable=True),
    sa.Column("setting", sa.SmallInteger, nullable=True),
    sa.Column("male_condoms", sa.Integer, nullable=False),
    sa.Column("female_condoms", sa.Integer, nullable=False),
    sa.Column("lubricant", sa.Integer, nullable=False),
    sa.Column("info_material", sa.Integer, nullable=False),
    sa.Column("harm_reduction_kits", sa.Integer, nullable=False),
    # bit i set means a referral to vocab.SERVICE_TYPES[i]
    sa.Column("referrals", sa.Integer, nullable=False),
    sa.Column("hiv_test", sa.SmallInteger, nullable=True),
    sa.Column("violence_type", sa.SmallInteger, nullable=True),
    sa.Column("perpetrator", sa.SmallInteger, nullable=True),
)
#: Column order of :data:`visits`, which bulk inserts follow.
VISIT_COLUMNS: tuple[str, ...] = (
    "fingerprint",
    "import_id",
    "visit_date",
    "cell",
    "peer_educator_id",
    "contact_id",
    "profile_id",
    # district_estimated is left to its default (false): a visit imported now has its district
    # from its point, or none
    "district_id",
)
visits = sa.Table(
    "visits",
    metadata,
    # The foreign keys below are declared, not enforced: SQLite does not, and PostgreSQL's
    # were dropped (migration 0004: a trigger per row made imports 13 times slower to write).
    # A stable 64-bit fingerprint of the visit (see visits.py); being the primary key makes
    # re-imports idempotent and keeps SQLite's table a single B-tree (no extra index to update).
    sa.Column("fingerprint", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=False),
    sa.Column("visit_date", sa.Date, nullable=False),
    sa.Column("cell", sa.BigInteger, nullable=True),
    sa.Column("peer_educator_id", sa.Integer, sa.ForeignKey("peer_educators.id"), nullable=False),
    sa.Column("contact_id", sa.BigInteger, sa.ForeignKey("contacts.id"), nullable=True),
    sa.Column("profile_id", sa.Integer, sa.ForeignKey("visit_profiles.id"), nullable=False),
    # The district holding the exact point, decided at import or capture before the point is
    # dropped (migration 0007); ``district_estimated`` marks rows stored before that, whose
    # district was taken from their cell's centre (docs/coverage.md).
    sa.Column("district_id", sa.String(64), nullable=True),
    sa.Column("district_estimated", sa.Boolean, nullable=False, server_default=sa.false()),
)

# --- access control (migration 0002): docs/privacy.md says who sees what -----------------------
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    # Argon2id (PHC string); null for an account that signs in only through single sign-on
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("role", sa.String(16), nullable=False),
    # team codes a peer educator's account is bound to, comma-separated
    sa.Column("teams", sa.String(1000), nullable=False, server_default=""),
    sa.Column("sso_email", sa.String(255), nullable=True, unique=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    # Argon2id of the PIN that unlocks a locked session on its device (migration 0009)
    sa.Column("pin_hash", sa.String(255), nullable=True),
)
#: A session lasts one shift (``shift_hours``) from the password; it locks when idle, and its
#: PIN opens it again on the device it was started on (docs/security.md).
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # SHA-256 of the session token: a copy of the store cannot be used to take over a session
    sa.Column("token_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_seen", sa.DateTime, nullable=False),
    sa.Column("ended_at", sa.DateTime, nullable=True),
    sa.Column("end_reason", sa.String(32), nullable=True),
    # --- migration 0009: the lock, the PIN's tries and the device ---
    sa.Column("locked_at", sa.DateTime, nullable=True),
    # wrong PINs in a row, counted in the transaction that checks the PIN
    sa.Column("pin_failures", sa.Integer, nullable=False, server_default="0"),
    # SHA-256 of the device cookie's token, and of the one-time ticket that sets the cookie
    sa.Column("device_hash", sa.LargeBinary(32), nullable=True),
    sa.Column("ticket_hash", sa.LargeBinary(32), nullable=True),
    sa.Column("ticket_expires", sa.DateTime, nullable=True),
    sa.Index("ix_sessions_device_hash", "device_hash", unique=True),
    sa.Index("ix_sessions_ticket_hash", "ticket_hash", unique=True),
)
sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Index("ix_sign_in_failures_username", "username", "at"),
)
#: Append-only (triggers refuse UPDATE and DELETE): who did what, when, at which resolution,
#: spending which privacy budget. Never a coordinate, a contact code or a finer cell than the
#: person was allowed to see (mapping.storage.audit checks each entry).
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("detail", sa.String(500), nullable=False, server_default=""),
    sa.Column("resolution", sa.SmallInteger, nullable=True),
    sa.Column("epsilon", sa.Float, nullable=True),
    sa.Column("delta", sa.Float, nullable=True),
)
#: The privacy-budget ledger: one row per differentially private release, with its parameters.
privacy_releases = sa.Table(
    "privacy_releases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # "2026-Q3" or "2026-07"
    sa.Column("period", sa.String(16), nullable=False),
    # the calendar quarter whose budget the release spends
    sa.Column("quarter", sa.String(8), nullable=False),
    # "district" or an H3 resolution ("6")
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("measure", sa.String(16), nullable=False),
    sa.Column("epsilon", sa.Float, nullable=False),
    sa.Column("delta", sa.Float, nullable=False),
    sa.Column("scale", sa.Float, nullable=False),
    sa.Column("threshold", sa.Integer, nullable=False),
    sa.Column("min_count", sa.Integer, nullable=False),
    sa.Column("max_groups", sa.Integer, nullable=False),
    sa.Column("max_contacts", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.UniqueConstraint("period", "level", "measure", name="uq_privacy_releases_what"),
    sa.Index("ix_privacy_releases_quarter", "quarter"),
)
#: The figures of each release, kept so that asking again returns the same answer.
released_figures = sa.Table(
    "released_figures",
    metadata,
    sa.Column("release_id", sa.Integer, sa.ForeignKey("privacy_releases.id"), primary_key=True),
    # a district id or an H3 cell (hex) at the release's resolution
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
)
#: The access and disclosure settings last in force, to audit each change (mapping.storage.audit).
settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
    sa.Column("changed_by", sa.String(64), nullable=False),
)

#: Which peer educator covers each hotspot (mapping.planning.assignments); kept until a rebalance.
assignments = sa.Table(
    "assignments",
    metadata,
    sa.Column("hotspot_id", sa.String(64), sa.ForeignKey("hotspots.id"), primary_key=True),
    sa.Column("peer_educator_id", sa.Integer, sa.ForeignKey("peer_educators.id"), nullable=False),
    sa.Column("assigned_at", sa.DateTime, nullable=False),
    sa.Column("assigned_by", sa.String(64), nullable=False),
)
#: One route per team and night (mapping.planning.plans); planning the night again replaces it.
plans = sa.Table(
    "plans",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("team", sa.String(64), nullable=False),
    # the day the shift starts (a night shift ends the next morning)
    sa.Column("plan_date", sa.Date, nullable=False),
    sa.Column("start_service", sa.String(64), nullable=False),
    sa.Column("shift_start", sa.DateTime, nullable=False),
    sa.Column("shift_end", sa.DateTime, nullable=False),
    sa.Column("travel", sa.String(200), nullable=False),
    sa.Column("travel_minutes", sa.Float, nullable=False),
    sa.Column("back_at", sa.DateTime, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.UniqueConstraint("team", "plan_date", name="uq_plans_team_date"),
)
#: The stops of a plan in order: a hotspot (its cell) and when to arrive there.
plan_stops = sa.Table(
    "plan_stops",
    metadata,
    sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.id"), primary_key=True),
    sa.Column("seq", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("hotspot_id", sa.String(64), nullable=False),
    sa.Column("cell", sa.BigInteger, nullable=False),
    sa.Column("arrive", sa.DateTime, nullable=False),
    sa.Column("arrive_until", sa.DateTime, nullable=False),
    sa.Column("minutes_there", sa.SmallInteger, nullable=False),
    sa.Column("overdue", sa.Boolean, nullable=False),
    sa.Index("ix_plan_stops_hotspot", "hotspot_id"),
)

#: Views (created by the migrations, never by ``metadata.create_all``).
views = sa.MetaData()
#: One row per visit with its profile spelled out: what analyses should query.
visit_details = sa.Table(
    "visit_details",
    views,
    *(sa.Column(c.name, c.type) for c in visits.columns),
    *(sa.Column(name, visit_profiles.c[name].type) for name in PROFILE_COLUMNS),
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the app read while an import writes; temp_store=MEMORY keeps sort and index
    # scratch space off the disk; secure_delete overwrites deleted rows instead of leaving them.
    # Foreign keys are declared (PostgreSQL enforces them) but not enforced by SQLite: checking
    # them row by row makes a million-row import three times slower, and the importer itself
    # only writes ids it has just looked up or created in the same transaction.
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "temp_store=MEMORY",
        "secure_delete=ON",
        "busy_timeout=10000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


#: The Alembic migrations that build and upgrade the store's schema.
MIGRATIONS = Path(__file__).parent / "migrations"
#: The PostgreSQL driver used for a plain ``postgresql://`` URL (psycopg 3, its binary build).
POSTGRES_DRIVER = "psycopg"


def store_url(url: str) -> sa.engine.URL:
    """Parse a store URL; a plain ``postgresql://`` one gets the psycopg 3 driver.

    Examples
    --------
    >>> store_url("postgresql://outreach@db:5432/outreach").drivername
    'postgresql+psycopg'
    >>> store_url("sqlite:////srv/ws/outreach.db").drivername
    'sqlite'
    """
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise WorkspaceError(
            f"{url!r} is not a store URL — use postgresql://USER@HOST:PORT/DATABASE or "
            "sqlite:////path/to/outreach.db"
        ) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername=f"postgresql+{POSTGRES_DRIVER}")
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise WorkspaceError(
            f"{safe_url(url)}: {backend} is not supported — use PostgreSQL (postgresql://...) "
            "or the embedded SQLite store"
        )
    return parsed


def safe_url(url: str) -> str:
    """Return ``url`` with any password masked, for messages and logs.

    Examples
    --------
    >>> safe_url("postgresql://app:s3cret@db/outreach")
    'postgresql://app:***@db/outreach'
    """
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<not a URL>"


def same_store(first: str, second: str) -> bool:
    """Whether two URLs name the same store (same engine, host, port and database)."""
    a, b = store_url(first), store_url(second)
    return (a.get_backend_name(), a.host, a.port, a.database) == (
        b.get_backend_name(),
        b.host,
        b.port,
        b.database,
    )


def store_error(exc: sa.exc.DBAPIError) -> str:
    """Return the database's own first line of an error: no statement, values or detail.

    PostgreSQL's DETAIL and CONTEXT lines can quote a row's values (a cell, an id), and
    SQLAlchemy's message adds the statement: neither belongs on a terminal or in a log.
    """
    diagnostic = getattr(exc.orig, "diag", None)
    primary = getattr(diagnostic, "message_primary", None)
    text = primary or str(exc.orig).split("\n", 1)[0]
    return " ".join(text.split())


def data_stamp(connection: Connection) -> tuple[int, int]:
    """Return what changes when the programme's data changes: the import log's newest id, size.

    Every change of data (an import, a logged visit, an edit of a hotspot or a service) adds a
    row to the import log. Sign-ins, sessions and the audit log write to the store at every
    click: they must not empty the pages' caches, which a stamp of the database file would do.
    """
    newest, count = connection.execute(
        sa.select(sa.func.max(imports.c.id), sa.func.count()).select_from(imports)
    ).one()
    return (int(newest or 0), int(count))


def create_store_engine(url: str) -> Engine:
    """Return an engine for ``url`` with this product's connection settings applied.

    A PostgreSQL password comes from the URL only when the URL itself came from the
    environment (``OUTREACH_MAP_DB``); otherwise libpq reads ``PGPASSWORD`` or ``~/.pgpass``.
    """
    parsed = store_url(url)
    # hide_parameters: an error message never quotes a statement's values (cells, ids)
    if parsed.get_backend_name() == "postgresql":
        # pre-ping: an instance behind a proxy survives a database restart or failover
        engine = sa.create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    else:
        engine = sa.create_engine(parsed, hide_parameters=True)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def write_lock(connection: Connection) -> None:
    """Take the store's write lock until the caller's transaction ends.

    Imports, logged visits, registry edits and privacy releases each read what is stored,
    then write what is new, in one transaction: call this first in it (as
    ``Workspace.begin(write=True)`` does). On PostgreSQL it takes
    a transaction-scoped advisory lock, so two imports of overlapping files, or a visit logged
    during an import, never store a visit twice and never clash on a new id; a second writer
    waits for the first to commit, then sees what it wrote. On SQLite it starts the
    transaction with ``BEGIN IMMEDIATE`` (one writer at a time, ``busy_timeout`` to wait), so
    the reads are inside it too. Readers are never blocked, and see a write whole or not at all.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
    elif not connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        # Python's sqlite3 would only begin at the first write, leaving earlier reads outside
        connection.exec_driver_sql("BEGIN IMMEDIATE")


#: The advisory lock key of :func:`write_lock` (an arbitrary constant: "OUTREACH" in ASCII).
WRITE_LOCK_KEY = 0x4F55545245414348


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the store's schema up to the newest Alembic migration (or to ``revision``).

    Then closes this process's pooled connections to that store (:func:`dispose_engines`),
    ``engine``'s among them when it is the shared one: the next use opens new ones and checks
    the new schema again. Take the engine again with :func:`shared_engine` to go on using it.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    dispose_engines(engine.url.render_as_string(hide_password=False))


def schema_revision(connection: Connection) -> str | None:
    """Return the Alembic revision a store is at (None for an empty database)."""
    return MigrationContext.configure(connection).get_current_revision()


@functools.cache
def _scripts() -> ScriptDirectory:
    """Return the migrations folder, read once: it does not change while the process runs."""
    return ScriptDirectory(str(MIGRATIONS))


def head_revision() -> str:
    """Return the newest revision this version of outreach-map knows."""
    head = _scripts().get_current_head()
    assert head is not None, "the migrations folder has no revision"
    return head


def known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this version's migrations (not one of a newer version).

    Examples
    --------
    >>> known_revision("0001"), known_revision("9999")
    (True, False)
    """
    return any(script.revision == revision for script in _scripts().walk_revisions())


@dataclass
class _Shared:
    """An engine of the registry, and whether its store passed the caller's check."""

    engine: Engine
    checked: bool = False


#: This process's engines, one per store URL (see :func:`shared_engine`).
_engines: dict[str, _Shared] = {}
_engines_lock = threading.Lock()


def shared_engine(url: str, *, check: Callable[[Connection], None] | None = None) -> Engine:
    """Return this process's one engine (one pool of connections) for the store at ``url``.

    Every reader and writer of a store goes through the same engine, so connections are
    reused instead of each call opening (and, on PostgreSQL, authenticating) its own. Safe to
    call from any thread: Streamlit serves every session from one process. The engine lives
    until :func:`dispose_engines` (called at exit, before a wipe, after a migration and at the
    end of a copy).

    Parameters
    ----------
    url
        The store's URL; the registry is keyed by it exactly.
    check
        Run on a connection of its own the first time the engine is asked for with a check,
        and again at each later call until it has passed once (it raises to refuse the store).
        :meth:`mapping.storage.workspace.Workspace.connect` checks the schema revision this way.
    """
    with _engines_lock:
        shared = _engines.get(url)
        if shared is None:
            shared = _engines[url] = _Shared(create_store_engine(url))
    if check is not None and not shared.checked:
        # two threads may both check the first time: harmless, and no lock is held meanwhile
        with shared.engine.connect() as connection:
            check(connection)
        shared.checked = True
    return shared.engine


def dispose_engines(url: str | None = None) -> None:
    """Close the pooled connections of every shared engine (or only those on ``url``'s store).

    Needed wherever no connection of this process may stay open: before the files of a SQLite
    store are overwritten, after its schema changed, before a database is dropped or used as
    a template, and before another copy of SQLite (ConnectorX) opens the same file. Engines on
    the same store with other credentials are closed too. Connections in use by another
    thread are not closed: they are discarded when that thread returns them. Later calls of
    :func:`shared_engine` make a new engine, which checks the store again.

    A SQLite store's write-ahead log is emptied first (``PRAGMA wal_checkpoint(TRUNCATE)``):
    while the pool keeps a connection open, SQLite never does the checkpoint it does when the
    last connection closes, and another process (the app) may keep the store open.
    """
    with _engines_lock:
        gone = [
            (key, shared.engine)
            for key, shared in _engines.items()
            if url is None or same_store(key, url)
        ]
        for key, _ in gone:
            del _engines[key]
    for _, engine in gone:
        _empty_write_ahead_log(engine)
        engine.dispose()


def _empty_write_ahead_log(engine: Engine) -> None:
    """Checkpoint a SQLite store's write-ahead log into the file and truncate it, if idle.

    Only when the file still exists (connecting would create an empty one, in a wiped folder
    say), and without waiting: a reader or writer elsewhere leaves the log as it is, to be
    checkpointed by SQLite later.
    """
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or not Path(database).exists():
        return
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA busy_timeout=0")
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except sa.exc.DBAPIError:
        # a file a wipe overwrote but could not delete is no database any more: nothing to
        # checkpoint, and closing the connections matters more
        return


# a command leaves no connection behind: SQLite folds its log into the file as it closes, and a
# PostgreSQL server sees the connections end rather than drop
atexit.register(dispose_engines)


def insert_rows(
    connection: Connection, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert rows given as tuples in ``columns`` order, inside the caller's transaction."""
    placeholder = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([placeholder] * len(columns))})"
    )
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


#: Rows per multi-row INSERT: 50 x 7 values stays far below SQLite's 32,766 parameters.
_ROWS_PER_STATEMENT = 50


def insert_frame(connection: Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """Insert a whole DataFrame (columns named as in ``table``) inside the caller's transaction.

    On PostgreSQL the frame is written as CSV by polars and sent with ``COPY`` (see
    :func:`_copy_frame`). On SQLite it uses the driver's ``executemany`` of multi-row
    ``INSERT ... VALUES (...), (...)`` on the transaction's own connection, fed from one flat
    list built column by column: SQLAlchemy's per-row parameter processing, or one statement
    per row, would make a million-row import several times slower (see docs/performance.md).
    """
    if frame.height == 0:
        return
    if connection.dialect.name == "postgresql":
        _copy_frame(connection, table, frame)
        return
    width = frame.width
    flat: list[Any] = [None] * (frame.height * width)
    for index, name in enumerate(frame.columns):
        flat[index::width] = frame[name].to_list()
    placeholder = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    row = f"({', '.join([placeholder] * width)})"
    head = f"INSERT INTO {table.name} ({', '.join(frame.columns)}) VALUES "
    step = _ROWS_PER_STATEMENT * width
    whole = (len(flat) // step) * step
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if whole:
            cursor.executemany(
                head + ", ".join([row] * _ROWS_PER_STATEMENT),
                (flat[start : start + step] for start in range(0, whole, step)),
            )
        if whole < len(flat):
            cursor.execute(head + ", ".join([row] * ((len(flat) - whole) // width)), flat[whole:])
    finally:
        cursor.close()


#: How :func:`_copy_frame` writes a null (CSV's empty field would be ambiguous with "").
_COPY_NULL = r"\N"


def _copy_frame(connection: Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """Send a DataFrame to PostgreSQL with ``COPY ... FROM STDIN``, inside the transaction.

    polars writes the CSV text in one vectorised pass (binary columns in bytea's hex form):
    no Python object per value, several times faster than any ``INSERT`` on this engine.
    """
    text = frame.with_columns(
        (pl.lit("\\x") + pl.col(name).bin.encode("hex")).alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.Binary
    ).write_csv(include_header=False, null_value=_COPY_NULL)
    sql = (
        f"COPY {table.name} ({', '.join(frame.columns)}) FROM STDIN "
        f"(FORMAT csv, NULL '{_COPY_NULL}')"
    )
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(sql) as copy:
            copy.write(text)
    finally:
        cursor.close()
