"""Emergency wipe: destroy a workspace's data and contact-code key, leaving a marker that says so.

What it does, in this order (docs/security.md says what it cannot reach):

1. ``workspace.toml`` is overwritten and replaced by a marker (when, by whom, not finished), so
   that nothing opens the workspace while the wipe runs or if it is interrupted.
2. A store on a database server (PostgreSQL) has every table and view of the product dropped in
   one transaction. A SQLite store is a file: see 3.
3. Every other file in the folder — the SQLite store with its ``-wal`` and ``-shm`` files, the
   key ``secret.key``, the rejection reports, ``targets.csv``, anything else — is overwritten
   with random bytes, flushed to the disk (fsync) and unlinked; then the folders are removed.
4. The marker is rewritten as finished, with what was destroyed and how long it took.

The audit log lives in the store and is destroyed with it: the marker is the record of the wipe.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mapping import clock
from mapping.errors import WorkspaceError
from mapping.storage.store import dispose_engines, metadata, shared_engine, views
from mapping.storage.workspace import (
    CONFIG_NAME,
    DB_NAME,
    KEY_ENV,
    WIPED_TABLE,
    read_config,
    resolve_store_url,
    sqlite_file,
    write_private,
)

#: PostgreSQL's SQLSTATE for "database does not exist" (invalid_catalog_name).
_NO_SUCH_DATABASE = "3D000"
#: Bytes written per call while overwriting: large enough to be fast, small enough for memory.
_CHUNK = 1 << 20
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass
class WipeResult:
    """What a wipe destroyed, how long it took, and what it could not do."""

    path: Path
    by: str
    at: dt.datetime
    #: One line per thing destroyed, e.g. ``"outreach.db (12.4 MB, overwritten)"``; no data.
    destroyed: list[str] = field(default_factory=list)
    #: What the operator must still do (a key kept outside the folder, an untested server store).
    notes: list[str] = field(default_factory=list)
    #: What failed; an empty list means everything the wipe can reach was destroyed.
    failures: list[str] = field(default_factory=list)
    bytes_overwritten: int = 0
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """Whether everything the wipe can reach was destroyed."""
        return not self.failures


def wipe_plan(path: Path) -> list[str]:
    """Return, one line each, what :func:`wipe_workspace` would destroy in ``path``."""
    _check_wipeable(path)
    config = read_config(path)
    url = _store_url(path, config)
    lines = []
    if sqlite_file(url) is None:
        lines.append(f"every table and view of the store at {_safe_url(url)}")
    files = sorted(_files(path))
    store = sqlite_file(url)
    if store is not None and not store.is_relative_to(path):
        files = [*(f for f in _sqlite_files(store) if f.exists()), *files]
    lines += [f"{_name(f, path)} ({_size(f.stat().st_size)})" for f in files]
    lines.append(f"{CONFIG_NAME} (replaced by a marker saying the workspace was wiped)")
    return lines


def wipe_workspace(path: Path, *, by: str) -> WipeResult:
    """Destroy the data and the contact-code key of the workspace at ``path``.

    Parameters
    ----------
    path
        The workspace folder. A folder whose wipe did not finish may be wiped again.
    by
        Who wipes (an account or ``cli:<user>``), recorded in the marker.

    Returns
    -------
    WipeResult
        What was destroyed, in how long; ``failures`` lists what could not be destroyed (the
        wipe goes on after a failure: in an emergency, destroying the rest matters more).

    Raises
    ------
    WorkspaceError
        ``path`` is not a workspace, or was already wiped.
    """
    started = time.perf_counter()
    _check_wipeable(path)
    config = read_config(path)
    url = _store_url(path, config)
    result = WipeResult(path=path, by=by, at=_previous_start(config) or _now())
    # first: nothing may open the workspace while (or after) its data is destroyed
    config_file = path / CONFIG_NAME
    result.bytes_overwritten += _overwrite(config_file)
    _write_marker(path, result, finished=False, url=url)

    # no connection of this process may outlive the store: a pooled SQLite connection would
    # write its pages back into a file being overwritten, or keep a deleted one alive
    dispose_engines(url)
    store = sqlite_file(url)
    if store is None:
        try:
            try:
                dropped = drop_store_schema(shared_engine(url))
            finally:
                dispose_engines(url)
            result.destroyed.append(
                f"store at {_safe_url(url)}: dropped {dropped} tables and views in one transaction"
            )
            result.notes.append(
                "the database server keeps its own write-ahead log and backups, which this "
                "wipe does not reach: ask its administrator to destroy them"
            )
        except sa.exc.OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == _NO_SUCH_DATABASE or re.search(
                r'database ".*" does not exist', str(exc.orig)
            ):
                # dropped already (the emergency steps of docs/deploy.md drop it first)
                result.destroyed.append(
                    f"store at {_safe_url(url)}: the database no longer exists (dropped before)"
                )
            else:
                result.failures.append(
                    f"store at {_safe_url(url)} NOT dropped: {type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:200]} — run the wipe again once the server "
                    "answers"
                )
        except (sa.exc.SQLAlchemyError, ImportError) as exc:  # ImportError: no driver
            result.failures.append(
                f"store at {_safe_url(url)} NOT dropped: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200]} — run the wipe again once the server answers"
            )
    elif not store.is_relative_to(path):
        for file in _sqlite_files(store):
            _destroy_file(file, path, result)

    # the store (with -wal and -shm) first, then the key, then everything else
    ordered = sorted(_files(path), key=lambda f: (_priority(f, path), str(f)))
    for file in ordered:
        _destroy_file(file, path, result)
    for folder in sorted(_folders(path), key=lambda f: len(f.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError as exc:
            result.failures.append(f"{_name(folder, path)}/ not removed: {exc.strerror}")
    _fsync_dir(path)

    if os.environ.get(KEY_ENV):
        result.notes.append(
            f"the contact-code key came from {KEY_ENV}: destroy it where it is kept "
            "(service file, password manager, secrets store) — the wipe cannot reach it"
        )
    result.seconds = time.perf_counter() - started
    _write_marker(path, result, finished=result.complete, url=url)
    return result


def drop_store_schema(engine: Engine) -> int:
    """Drop every table and view of the product's store, in one transaction; return how many.

    Engine-neutral (SQLAlchemy): views first, then the tables in dependency order (which drops
    their triggers), then Alembic's ``alembic_version`` and, on PostgreSQL, the audit log's
    trigger function.
    """
    with engine.begin() as connection:
        inspector = sa.inspect(connection)
        present_views = set(inspector.get_view_names())
        present_tables = set(inspector.get_table_names())
        preparer = connection.dialect.identifier_preparer
        dropped = 0
        for view in views.sorted_tables:
            if view.name in present_views:
                connection.execute(sa.text(f"DROP VIEW {preparer.quote(view.name)}"))
                dropped += 1
        tables = [t for t in metadata.sorted_tables if t.name in present_tables]
        metadata.drop_all(connection, tables=tables, checkfirst=False)
        dropped += len(tables)
        if "alembic_version" in present_tables:
            connection.execute(sa.text("DROP TABLE alembic_version"))
            dropped += 1
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("DROP FUNCTION IF EXISTS audit_log_append_only()"))
    return dropped


def _check_wipeable(path: Path) -> None:
    config_file = path / CONFIG_NAME
    if not config_file.exists():
        raise WorkspaceError(f"{path} is not a workspace (no {CONFIG_NAME}) — nothing to wipe")
    try:
        config = read_config(path)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WorkspaceError(
            f"{config_file} cannot be read ({exc}) — delete the folder's files by hand"
        ) from exc
    wiped = config.get(WIPED_TABLE)
    if isinstance(wiped, dict) and wiped.get("finished"):
        raise WorkspaceError(
            f"{path} was already wiped on {str(wiped.get('at', '?'))[:10]} — nothing is left"
        )


def _store_url(path: Path, config: dict[str, object]) -> str:
    """Return the store's URL as :func:`~mapping.storage.workspace.open_workspace` finds it.

    The one ``workspace.toml`` names (or the marker of an unfinished wipe), else the SQLite
    file; ``OUTREACH_MAP_DB`` may give the account and password for that same store (the
    owner's, whose right it is to drop the tables), never another store.
    """
    written = ""
    for table in ("store", WIPED_TABLE):
        section = config.get(table)
        if isinstance(section, dict) and section.get("url"):
            written = str(section["url"])
            break
    return resolve_store_url(path, written)


def _previous_start(config: dict[str, object]) -> dt.datetime | None:
    wiped = config.get(WIPED_TABLE)
    if isinstance(wiped, dict) and wiped.get("at"):
        return dt.datetime.fromisoformat(str(wiped["at"]))
    return None


def _now() -> dt.datetime:
    return clock.utc_now().replace(microsecond=0)


def _safe_url(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _sqlite_files(store: Path) -> list[Path]:
    return [store, *(Path(f"{store}{end}") for end in _SQLITE_SIDE_FILES)]


def _files(path: Path) -> Iterator[Path]:
    """Every file and symbolic link under ``path`` except the configuration; links not followed."""
    for root, dirs, names in os.walk(path, followlinks=False):
        for name in [*names, *(d for d in dirs if (Path(root) / d).is_symlink())]:
            file = Path(root) / name
            if file != path / CONFIG_NAME:
                yield file


def _folders(path: Path) -> Iterator[Path]:
    for root, dirs, _names in os.walk(path, followlinks=False):
        for name in dirs:
            folder = Path(root) / name
            if not folder.is_symlink():
                yield folder


def _priority(file: Path, path: Path) -> int:
    name = _name(file, path)
    if name == DB_NAME or any(name == DB_NAME + end for end in _SQLITE_SIDE_FILES):
        return 0
    if name == "secret.key":
        return 1
    return 2


def _name(file: Path, path: Path) -> str:
    return str(file.relative_to(path)) if file.is_relative_to(path) else str(file)


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def _destroy_file(file: Path, path: Path, result: WipeResult) -> None:
    name = _name(file, path)
    try:
        if file.is_symlink() or not stat.S_ISREG(file.lstat().st_mode):
            # a link's target may be outside the workspace: remove the link, never follow it
            file.unlink()
            result.destroyed.append(f"{name} (link or special file, removed)")
            return
        size = _overwrite(file)
        file.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:
        result.failures.append(f"{name} NOT destroyed: {exc.strerror or exc}")
        return
    result.bytes_overwritten += size
    result.destroyed.append(f"{name} ({_size(size)}, overwritten)")


def _overwrite(file: Path) -> int:
    """Overwrite a regular file's contents in place with random bytes and fsync; return its size.

    Random bytes rather than zeros: a filesystem that compresses or deduplicates may store a run
    of zeros without writing over the old blocks.
    """
    file.chmod(stat.S_IRUSR | stat.S_IWUSR)
    descriptor = os.open(file, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        size = os.fstat(descriptor).st_size
        done = 0
        while done < size:
            done += os.write(descriptor, os.urandom(min(_CHUNK, size - done)))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return size


def _fsync_dir(path: Path) -> None:
    """Make the unlinks durable: a crash right after the wipe must not bring the names back."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_marker(path: Path, result: WipeResult, *, finished: bool, url: str) -> None:
    def toml_list(items: list[str]) -> str:
        return "[\n" + "".join(f"  {_toml_string(item)},\n" for item in items) + "]"

    lines = [
        "# outreach-map: this workspace was wiped. None of its data is left in this folder.",
        "# Create a new workspace with `outreach-map init` or `outreach-map demo`.",
        f"[{WIPED_TABLE}]",
        f'at = "{result.at.isoformat()}"',
        f"by = {_toml_string(result.by)}",
        f"finished = {'true' if finished else 'false'}",
        f"seconds = {result.seconds:.2f}",
        f"bytes_overwritten = {result.bytes_overwritten}",
        f"destroyed = {toml_list(result.destroyed)}",
        f"failures = {toml_list(result.failures)}",
        f"notes = {toml_list(result.notes)}",
    ]
    if not finished and sqlite_file(url) is None:
        # kept only until the server store is dropped, so that the wipe can be run again
        # never a password in the marker (OUTREACH_MAP_DB may hold one)
        address = sa.engine.make_url(url)._replace(password=None)
        lines.append(f"url = {_toml_string(address.render_as_string(hide_password=False))}")
    temporary = path / f".{CONFIG_NAME}.wiping"
    write_private(temporary, "\n".join(lines) + "\n")
    descriptor = os.open(temporary, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path / CONFIG_NAME)
    _fsync_dir(path)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{escaped}"'
