"""A workspace: the folder holding the area configuration, the store and the contact-code key."""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mapping import clock
from mapping.cells import check_resolution
from mapping.errors import InvalidInputError, WorkspaceError
from mapping.storage.store import (
    dispose_engines,
    head_revision,
    known_revision,
    migrate,
    safe_url,
    same_store,
    schema_revision,
    shared_engine,
    store_url,
    write_lock,
)

CONFIG_NAME = "workspace.toml"
KEY_NAME = "secret.key"
DB_NAME = "outreach.db"
REPORTS_DIR = "reports"
WORKSPACE_ENV = "OUTREACH_MAP_WORKSPACE"
KEY_ENV = "OUTREACH_MAP_KEY"
DB_ENV = "OUTREACH_MAP_DB"
_MIN_KEY_LENGTH = 32
#: The table of ``workspace.toml`` that says a workspace was wiped (see
#:mod:`mapping.storage.wipe`).
WIPED_TABLE = "wiped"
#: Mode of every file the product writes into a workspace, and of its folders.
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


@dataclass(frozen=True)
class Workspace:
    """An opened workspace: where it is, its area name and storage resolution, its store URL.

    ``timezone`` is the programme's time zone recorded at ``init`` (:mod:`mapping.clock`);
    empty for a workspace made before zones were recorded.
    """

    path: Path
    name: str
    resolution: int
    db_url: str
    timezone: str = ""

    @property
    def reports_dir(self) -> Path:
        """Folder of rejection reports (no coordinates, no contact codes)."""
        return self.path / REPORTS_DIR

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """Open a connection to read the store, from the process's one pool for it.

        The connection goes back to the pool when the block ends. The first use of a store in
        a process checks that its schema is the newest this version knows
        (:func:`mapping.storage.store.shared_engine`).

        Raises
        ------
        WorkspaceError
            The store is at an older schema: ``outreach-map migrate`` brings it up.
        """
        with shared_engine(self.db_url, check=self._check_schema).connect() as connection:
            yield connection

    @contextmanager
    def begin(self, *, write: bool = False) -> Iterator[Connection]:
        """Open a transaction on the store: committed when the block ends, rolled back on error.

        Parameters
        ----------
        write
            Take the store's write lock first (:func:`mapping.storage.store.write_lock`), for
            a writer that reads what is stored and then writes what is new: imports, logged
            visits, registry edits, assignments, plans and privacy releases.

        Raises
        ------
        WorkspaceError
            The store is at an older schema, as for :meth:`connect`.
        """
        with shared_engine(self.db_url, check=self._check_schema).begin() as connection:
            if write:
                write_lock(connection)
            yield connection

    def _check_schema(self, connection: Connection) -> None:
        """Refuse a store behind this version's newest migration, saying how to upgrade it.

        An empty database (no revision) and a store a newer version made are let through as
        before: the first has nothing to read, and the second may still be readable.
        """
        revision = schema_revision(connection)
        head = head_revision()
        if revision is not None and revision != head and known_revision(revision):
            raise WorkspaceError(
                f"{safe_url(self.db_url)} is at schema {revision}, not {head} — run "
                f"`outreach-map migrate --workspace {self.path}`"
            )

    def key(self) -> bytes:
        """Return the secret key contact codes are hashed with.

        ``OUTREACH_MAP_KEY`` wins over the key file, so a deployment can keep the key off the
        disk that holds the data.
        """
        from_env = os.environ.get(KEY_ENV)
        if from_env:
            if len(from_env) < _MIN_KEY_LENGTH:
                raise WorkspaceError(
                    f"{KEY_ENV} is {len(from_env)} characters long — use at least "
                    f"{_MIN_KEY_LENGTH} random characters (e.g. `openssl rand -hex 32`)"
                )
            return from_env.encode()
        key_file = self.path / KEY_NAME
        try:
            return key_file.read_text(encoding="ascii").strip().encode()
        except FileNotFoundError as exc:
            raise WorkspaceError(
                f"no contact-code key: {key_file} is missing and {KEY_ENV} is not set — restore "
                "the key from your backup; without it new contacts cannot be matched to old ones"
            ) from exc


def workspace_path(arg: str | os.PathLike[str] | None) -> Path:
    """Return the workspace folder named by ``arg`` or, failing that, ``OUTREACH_MAP_WORKSPACE``."""
    if arg:
        return Path(arg).expanduser().resolve()
    from_env = os.environ.get(WORKSPACE_ENV)
    if from_env:
        return Path(from_env).expanduser().resolve()
    raise WorkspaceError(f"no workspace given — pass --workspace DIR or set {WORKSPACE_ENV}")


def _default_db_url(path: Path) -> str:
    return os.environ.get(DB_ENV) or f"sqlite:///{path / DB_NAME}"


def resolve_store_url(path: Path, written: str) -> str:
    """Return the URL of a workspace's store: the one ``workspace.toml`` names.

    ``OUTREACH_MAP_DB`` only gives the account and password to reach that same store.
    ``written`` is the ``[store] url`` of the folder (empty for its SQLite file). The
    environment may give another user or a password for the same database (an administrator
    runs ``migrate`` or ``wipe`` as the owner), never another store: a folder copied from a
    laptop must not open, or wipe, the server's store because the shell has the variable set.
    """
    own = written or f"sqlite:///{path / DB_NAME}"
    from_env = os.environ.get(DB_ENV)
    if not from_env:
        return own
    if not same_store(own, from_env):
        raise WorkspaceError(
            f"{DB_ENV} names the store {safe_url(from_env)}, but the workspace {path} keeps its "
            f"store at {safe_url(own)} — unset {DB_ENV} (`env -u {DB_ENV} outreach-map ...`) to "
            f"use this folder's store, or set it to that store's URL"
        )
    return from_env


def _without_password(url: str) -> str:
    """Return ``url`` as it may be written to ``workspace.toml``: with no password in it."""
    return store_url(url)._replace(password=None).render_as_string(hide_password=False)


def check_url_has_no_password(url: str, where: str) -> None:
    """Refuse a store URL holding a password where it would be written down or seen.

    A password belongs in the environment (``PGPASSWORD``, ``OUTREACH_MAP_DB``) or in the
    server account's ``~/.pgpass``, never in a file beside the data or on a command line,
    where other users can read it in the process list.
    """
    if store_url(url).password is not None:
        raise WorkspaceError(
            f"{where} holds a database password ({safe_url(url)}) — remove it from there and "
            f"give it in PGPASSWORD, in ~/.pgpass (mode 0600), or in {DB_ENV} with the whole URL"
        )


def sqlite_file(url: str) -> Path | None:
    """Return the file of a SQLite store URL, or None for a server or in-memory store.

    Examples
    --------
    >>> sqlite_file("sqlite:////srv/ws/outreach.db")
    PosixPath('/srv/ws/outreach.db')
    >>> sqlite_file("postgresql://outreach@db/outreach") is None
    True
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, readable and writable by its owner only (0600)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(descriptor, PRIVATE_FILE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) if missing, and make it private to its owner (0700)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR)


def read_config(path: Path) -> dict[str, object]:
    """Return the parsed ``workspace.toml`` of ``path`` (empty if the folder has none)."""
    config_file = path / CONFIG_NAME
    if not config_file.exists():
        return {}
    return tomllib.loads(config_file.read_text(encoding="utf-8"))


def is_wiped(path: Path) -> bool:
    """Return whether ``path`` holds the marker of a workspace that was wiped."""
    try:
        return WIPED_TABLE in read_config(path)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


def _readable_by_others(file: Path) -> bool:
    return file.exists() and bool(file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def create_workspace(
    path: Path,
    *,
    name: str,
    resolution: int,
    db_url: str | None = None,
    timezone: str | None = None,
) -> Workspace:
    """Create the folder, its configuration, its key and an empty, migrated store.

    Everything is private to the owner: files 0600, the folder (when created here) and its
    ``reports`` folder 0700. A folder that was wiped may be used again. ``timezone`` is the
    programme's zone it records (default: :func:`mapping.clock.default_zone`).
    """
    check_resolution(resolution)
    timezone = clock.check_zone(timezone) if timezone else clock.default_zone()[0]
    # a wiped folder may be used again: its marker is all it holds
    if (path / CONFIG_NAME).exists() and not is_wiped(path):
        raise WorkspaceError(
            f"{path} is already a workspace — choose another folder, or delete this one first"
        )
    if db_url:
        check_url_has_no_password(db_url, "--db")
        url = resolve_store_url(path, db_url)
    else:
        url = _default_db_url(path)
    if sqlite_file(url) is None:
        # before anything is written here: a server that cannot be reached, or a database
        # that already holds a store (made with another key), leaves this folder untouched
        _check_empty_database(url)
    # the default SQLite file is not written down, so the folder can move; a server URL is,
    # without its password
    stored_url = "" if url == f"sqlite:///{path / DB_NAME}" else _without_password(url)
    created = not path.exists()
    if created:
        path.mkdir(mode=PRIVATE_DIR, parents=True)
    written: list[Path] = []
    try:
        make_private_dir(path / REPORTS_DIR)
        if not os.environ.get(KEY_ENV):
            key_file = path / KEY_NAME
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
            written.append(key_file)
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32) + "\n")
        config = (
            "# outreach-map workspace: the key sits beside this file (unless OUTREACH_MAP_KEY is\n"
            "# set), and so does the store unless [store] url names a database server.\n"
            "[area]\n"
            f"name = {_toml_string(name)}\n"
            f"resolution = {resolution}\n"
            '# the programme\'s time zone: its day decides "today" everywhere; change it with\n'
            "# `outreach-map config --timezone NAME`\n"
            f"timezone = {_toml_string(timezone)}\n"
            f'created = "{clock.today(_Zone(timezone)).isoformat()}"\n\n'
            "[store]\n"
            "# empty means the SQLite file outreach.db in this folder; OUTREACH_MAP_DB may give\n"
            "# the account and password for this same store; never put a password here\n"
            "# (PGPASSWORD or ~/.pgpass, see docs/deploy.md)\n"
            f"url = {_toml_string(stored_url)}\n"
        )
        written.append(path / CONFIG_NAME)
        write_private(path / CONFIG_NAME, config)
        workspace = Workspace(
            path=path, name=name, resolution=resolution, db_url=url, timezone=timezone
        )
        store_file = sqlite_file(url)
        if store_file is not None and not store_file.exists():
            # SQLite creates its -wal and -shm files with the main file's mode: 0600 from the start
            os.close(os.open(store_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
        migrate(shared_engine(url))
    except BaseException:
        # nothing half-made is left: a key without its store would split contacts in two
        dispose_engines(url)
        for file in written:
            file.unlink(missing_ok=True)
        if created:
            shutil.rmtree(path, ignore_errors=True)
        raise
    return workspace


def _check_empty_database(url: str) -> None:
    """Refuse a server database that already holds tables (connecting proves it answers)."""
    with shared_engine(url).connect() as connection:
        tables = sa.inspect(connection).get_table_names()
    if tables:
        raise WorkspaceError(
            f"{safe_url(url)} already holds tables ({', '.join(sorted(tables)[:5])}"
            f"{', ...' if len(tables) > 5 else ''}) — a new workspace needs a new, empty "
            "database; to use a store that exists, copy its workspace folder, with its key "
            "(docs/deploy.md)"
        )


_CREATE_HINT = (
    "create one with `outreach-map init --workspace DIR --districts FILE ...` or "
    "`outreach-map demo`"
)


def open_workspace(path: Path) -> Workspace:
    """Open an existing workspace, checking its key and store are readable only by their owner."""
    config_file = path / CONFIG_NAME
    if not config_file.exists():
        raise WorkspaceError(f"{path} is not a workspace (no {CONFIG_NAME}) — {_CREATE_HINT}")
    config: dict[str, Any] = tomllib.loads(config_file.read_text(encoding="utf-8"))
    wiped = config.get(WIPED_TABLE)
    if isinstance(wiped, dict):
        when = str(wiped.get("at", "?"))[:10]
        if not wiped.get("finished"):
            raise WorkspaceError(
                f"{path}: a wipe started on {when} did not finish — run "
                f"`outreach-map wipe --workspace {path} --yes` again"
            )
        raise WorkspaceError(
            f"{path} was wiped on {when} — nothing is left; create a new workspace with "
            "`outreach-map init --workspace DIR --districts FILE ...` or `outreach-map demo`"
        )
    key_file = path / KEY_NAME
    if _readable_by_others(key_file):
        raise WorkspaceError(f"{key_file} can be read by other users — run `chmod 600 {key_file}`")
    written = str(config.get("store", {}).get("url") or "")
    if written:
        check_url_has_no_password(written, str(config_file))
    url = resolve_store_url(path, written)
    store_file = sqlite_file(url)
    if store_file is not None:
        for file in (store_file, *(Path(f"{store_file}{end}") for end in ("-wal", "-shm"))):
            if _readable_by_others(file):
                raise WorkspaceError(
                    f"{file} (the store) can be read by other users — run `chmod 600 {file}`"
                )
    return Workspace(
        path=path,
        name=str(config["area"]["name"]),
        resolution=check_resolution(int(config["area"]["resolution"])),
        db_url=url,
        timezone=_recorded_zone(config_file, config["area"].get("timezone")),
    )


@dataclass(frozen=True)
class _Zone:
    """A zone name alone, to ask the clock for a day before the workspace exists."""

    timezone: str


def _recorded_zone(config_file: Path, value: object) -> str:
    """Return the ``[area] timezone`` of ``workspace.toml`` checked; '' when none is recorded."""
    if value is None:
        return ""
    try:
        return clock.check_zone(str(value), what=f"{config_file}: timezone {str(value)!r}")
    except InvalidInputError as exc:
        raise WorkspaceError(
            f"{exc} — or set it with `outreach-map config --workspace {config_file.parent} "
            "--timezone NAME`"
        ) from exc


def record_timezone(workspace: Workspace, timezone: str) -> Workspace:
    """Record ``timezone`` as the programme's zone in ``workspace.toml``; return the workspace.

    The line ``timezone = ...`` of the ``[area]`` table is replaced, or added under ``[area]``
    for a workspace made before zones were recorded; the rest of the file is kept as it is.

    Raises
    ------
    InvalidInputError
        When ``timezone`` is not a time zone name.
    """
    clock.check_zone(timezone)
    config_file = workspace.path / CONFIG_NAME
    lines = config_file.read_text(encoding="utf-8").splitlines(keepends=True)
    line = f"timezone = {_toml_string(timezone)}\n"
    table, at = "", None
    for number, text in enumerate(lines):
        stripped = text.strip()
        if stripped.startswith("["):
            table = stripped
            if table == "[area]":
                at = number + 1
        elif table == "[area]" and stripped.split("=", 1)[0].strip() == "timezone":
            lines[number] = line
            break
    else:
        if at is None:
            raise WorkspaceError(f"{config_file} has no [area] table — is it a workspace?")
        lines.insert(at, line)
    text = "".join(lines)
    if tomllib.loads(text).get("area", {}).get("timezone") != timezone:
        raise WorkspaceError(  # a hand-edited file the lines above misread
            f"{config_file}: the time zone could not be written — set `timezone = "
            f'"{timezone}"` in its [area] table by hand'
        )
    write_private(config_file, text)
    return replace(workspace, timezone=timezone)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def upgrade_store(workspace: Workspace) -> None:
    """Bring the workspace's store to the newest schema (a no-op when it is there already).

    Commands that start the app, manage accounts or release figures call it, so a workspace
    made by an earlier version gains the tables of accounts, sessions and the audit log.
    """
    migrate(shared_engine(workspace.db_url))
