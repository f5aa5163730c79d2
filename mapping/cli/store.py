"""``outreach-map migrate``, ``copy`` and ``wipe``: a store's schema, moving a store, destroying it.

Migrate and copy take store URLs (``postgresql://USER@HOST:PORT/DATABASE``,
``sqlite:////path/outreach.db``) or a workspace. A password is never given on the command line,
where the process list shows it: libpq reads ``PGPASSWORD`` or ``~/.pgpass``, and
``OUTREACH_MAP_DB`` may hold a whole URL.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import sqlalchemy as sa

from mapping.cli.exits import EXIT_OK, EXIT_UNUSABLE
from mapping.errors import WorkspaceError
from mapping.storage.audit import Actor, record
from mapping.storage.copying import copy_store
from mapping.storage.store import (
    dispose_engines,
    head_revision,
    migrate,
    safe_url,
    schema_revision,
    shared_engine,
    store_url,
)
from mapping.storage.workspace import (
    DB_ENV,
    WORKSPACE_ENV,
    check_url_has_no_password,
    open_workspace,
    sqlite_file,
    workspace_path,
)


def add_store_parsers(sub: Any, workspace_help: str) -> None:
    """Add the ``migrate`` and ``copy`` commands to the command line."""
    upgrade = sub.add_parser(
        "migrate", help="bring a store to the newest schema (SQLite or PostgreSQL)"
    )
    upgrade.add_argument("--workspace", help=workspace_help)
    upgrade.add_argument(
        "--db",
        help=f"a store URL instead of a workspace's (default: the workspace's, or ${DB_ENV} "
        "when no workspace is given)",
    )
    copy = sub.add_parser(
        "copy", help="copy a whole store to an empty database and check every table matches"
    )
    copy.add_argument(
        "--from", dest="source", required=True, help="store URL or workspace folder to copy"
    )
    copy.add_argument("--to", dest="target", required=True, help="URL of an empty database")


def _url(value: str) -> str:
    """Return ``value`` if it is a store URL, else the URL of the workspace in that folder."""
    if "://" in value:
        check_url_has_no_password(value, "the command line")
        store_url(value)
        return value
    return open_workspace(workspace_path(value)).db_url


def migrate_command(args: argparse.Namespace) -> int:
    """Upgrade a store's schema; print the revision before and after."""
    if args.db:
        check_url_has_no_password(args.db, "--db")
        url = args.db
    elif not args.workspace and not os.environ.get(WORKSPACE_ENV):
        if not os.environ.get(DB_ENV):
            raise WorkspaceError(
                f"no store given — pass --workspace DIR or --db URL, or set {WORKSPACE_ENV} or "
                f"{DB_ENV}"
            )
        url = os.environ[DB_ENV]  # a server's store, with no workspace folder on this machine
    else:
        url = open_workspace(workspace_path(args.workspace)).db_url
    file = sqlite_file(url)
    if file is not None and not file.exists():
        raise WorkspaceError(f"{url}: there is no such file — check the path")
    # not through a workspace, whose check of the schema refuses a store behind it
    try:
        with shared_engine(url).connect() as connection:
            before = schema_revision(connection)
        if before is None:
            raise WorkspaceError(
                f"{safe_url(url)} holds no outreach-map store — migrate only upgrades one; "
                "create a workspace with `outreach-map init --db URL ...`"
            )
        migrate(shared_engine(url))
        head = head_revision()
        if before != head:
            with shared_engine(url).begin() as connection:
                detail = f"schema {before} to {head}"
                record(connection, Actor.command_line(), "store", detail)
    finally:
        # no connection of the owner's account, which migrate may run as, stays open
        dispose_engines(url)
    if before == head:
        print(f"{safe_url(url)}: already at the newest schema ({head})")
    else:
        print(f"{safe_url(url)}: schema {before} -> {head} (newest)")
    return 0


def copy_command(args: argparse.Namespace) -> int:
    """Copy a store to an empty database, then print what was compared table by table."""
    source, target = _url(args.source), _url(args.target)
    result = copy_store(source, target)
    width = max(len(check.table) for check in result.tables)
    print(f"copied {safe_url(source)} -> {safe_url(target)} (schema {result.revision})")
    print(f"{'table':<{width}}  {'rows':>10}  aggregates  digest")
    for check in result.tables:
        print(f"{check.table:<{width}}  {check.rows:>10,}  {check.aggregates:>10}  {check.digest}")
    total = sum(check.rows for check in result.tables)
    print(f"every table matches: {total:,} rows, counts, sums, least and greatest values, digests")
    with shared_engine(target).begin() as connection:
        record(
            connection,
            Actor.command_line(),
            "store",
            f"copied from {store_url(source).get_backend_name()}: {total} rows",
        )
    dispose_engines(target)
    if sa.engine.make_url(target).get_backend_name() != "sqlite":
        print(
            "next: point a copy of the workspace folder (with its key) at it — set url in its "
            "workspace.toml's [store] table, without a password; see docs/deploy.md",
            file=sys.stderr,
        )
    return 0


#: A wipe could not destroy everything it tried to (the exit code).
EXIT_WIPE_INCOMPLETE = 1


def add_wipe_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``wipe`` command to the command line."""
    wipe = sub.add_parser(
        "wipe", help="destroy the workspace's data and contact-code key (emergency)"
    )
    wipe.add_argument("--workspace", help="workspace folder (default: $OUTREACH_MAP_WORKSPACE)")
    wipe.add_argument("--yes", action="store_true", help="really destroy it; there is no undo")


def wipe_command(args: argparse.Namespace) -> int:
    """Destroy a workspace's data and key (or list what ``--yes`` would); return the exit code."""
    from mapping.storage.audit import Actor
    from mapping.storage.wipe import wipe_plan, wipe_workspace
    from mapping.storage.workspace import workspace_path

    path = workspace_path(args.workspace)
    if not args.yes:
        plan = wipe_plan(path)
        print(
            f"outreach-map: error: this would destroy, with no undo, in {path}:\n"
            + "".join(f"  {line}\n" for line in plan)
            + "add --yes to wipe it",
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    result = wipe_workspace(path, by=Actor.command_line().username)
    for line in result.destroyed:
        print(f"destroyed: {line}")
    for line in result.failures:
        print(f"FAILED: {line}", file=sys.stderr)
    for line in result.notes:
        print(f"note: {line}")
    state = "wiped" if result.complete else "partly wiped (see FAILED above)"
    print(
        f"{path} {state} in {result.seconds:.2f} s "
        f"({result.bytes_overwritten / 1e6:.1f} MB overwritten); "
        "see docs/security.md for what a wipe cannot reach"
    )
    return EXIT_OK if result.complete else EXIT_WIPE_INCOMPLETE
