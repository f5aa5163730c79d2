"""The ``outreach-map`` command line: its parser, the entry points, and ``demo`` and ``serve``.

Every other command group has its module, imported when its command runs:
:mod:`mapping.cli.ingest` (init, import), :mod:`mapping.cli.analysis` (summary, coverage, gaps,
suggest-sites), :mod:`mapping.cli.users`, :mod:`mapping.cli.store` (wipe, migrate, copy),
:mod:`mapping.cli.release` (export), :mod:`mapping.cli.plan` and :mod:`mapping.cli.config`.

Exit codes: 0 on success (also when some rows were rejected), 2 for unusable input or arguments,
3 when the store cannot be reached or used, 1 when a wipe could not destroy everything it tried to.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError

from mapping.cli.exits import EXIT_OK, EXIT_STORE, EXIT_UNUSABLE
from mapping.errors import MappingError
from mapping.storage.store import store_error

#: Network address the app listens on; 127.0.0.1 (this machine only) unless a deployment says.
ADDRESS_ENV = "OUTREACH_MAP_ADDRESS"
#: Streamlit settings ``serve`` and ``demo`` pass on the command line, where they win over any
#: other config file on the machine; ``.streamlit/config.toml`` holds the same values (a test
#: checks they agree) and docs/security.md says why each is set.
STREAMLIT_OPTIONS: dict[str, str] = {
    "server.headless": "true",
    "server.fileWatcherType": "none",
    "server.enableStaticServing": "true",
    "server.enableXsrfProtection": "true",
    "server.enableCORS": "true",
    "server.maxUploadSize": "200",
    "server.enableWebsocketCompression": "true",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "browser.gatherUsageStats": "false",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outreach-map",
        description="Privacy-first outreach mapping for sex worker-led HIV programmes.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    workspace_help = "workspace folder (default: $OUTREACH_MAP_WORKSPACE)"
    db_help = (
        "store URL, e.g. postgresql://outreach@db.internal/outreach (default: $OUTREACH_MAP_DB, "
        "else the SQLite file in the workspace); the password goes in PGPASSWORD or ~/.pgpass"
    )

    demo = sub.add_parser("demo", help="build the Lima demo workspace and start the app")
    demo.add_argument("--workspace", help="demo workspace folder (default: ./demo-workspace)")
    demo.add_argument("--no-serve", action="store_true", help="build it, do not start the app")
    demo.add_argument("--port", type=int, default=8501)
    demo.add_argument("--db", help=db_help)

    serve = sub.add_parser("serve", help="start the app on a workspace")
    serve.add_argument("--workspace", help=workspace_help)
    serve.add_argument("--port", type=int, default=8501)

    from mapping.cli.ingest import add_ingest_parsers

    add_ingest_parsers(sub, workspace_help, db_help)
    from mapping.cli.analysis import add_analysis_parsers

    add_analysis_parsers(sub, workspace_help)
    from mapping.cli.users import add_user_parser

    add_user_parser(sub)
    from mapping.cli.store import add_wipe_parser

    add_wipe_parser(sub)
    from mapping.cli.release import add_export_parser

    add_export_parser(sub, workspace_help)
    _add_store_parsers(sub, workspace_help)
    from mapping.cli.plan import add_plan_parser

    add_plan_parser(sub, workspace_help)
    from mapping.cli.config import add_config_parser

    add_config_parser(sub, workspace_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    The umask is set first, so that every file a command creates — the store, reports, and
    whatever the app started by ``serve`` writes — is readable by its owner only.
    """
    os.umask(0o077)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_UNUSABLE if exc.code not in (0, None) else EXIT_OK
    try:
        _note_zone(args)
        return int(_COMMANDS[args.command](args))
    except MappingError as exc:
        print(f"outreach-map: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except OperationalError as exc:
        # a server that is down, refuses the account, or a store that is locked: say so
        # plainly (the driver's first line names host and port, never a password or a value)
        print(
            f"outreach-map: error: the store could not be used: {store_error(exc)} — check "
            "that the database server is running and the database exists (create it first, "
            "docs/deploy.md), and that the URL, user and password (PGPASSWORD or ~/.pgpass) "
            "are right; a SQLite store may be held by another program. Nothing was changed.",
            file=sys.stderr,
        )
        return EXIT_STORE
    except DBAPIError as exc:
        # refused by the database (a missing right after `migrate`, a constraint): one line,
        # never the statement's values, which may hold cells
        print(
            f"outreach-map: error: the store refused the command: {store_error(exc)} — if the "
            "app's database role lacks a right, run deploy/grant-app.sql again "
            "(docs/deploy.md). Nothing was changed.",
            file=sys.stderr,
        )
        return EXIT_STORE
    except BrokenPipeError:
        # the reader stopped early (`| head`): not an error; keep Python from complaining
        # again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _note_zone(args: argparse.Namespace) -> None:
    """Say on stderr when OUTREACH_MAP_TIMEZONE is ignored for the workspace's own zone."""
    if args.command == "init" or not hasattr(args, "workspace"):
        return
    from mapping.cli.config import zone_note

    note = zone_note(args.workspace)
    if note:
        print(note, file=sys.stderr)


def _init(args: argparse.Namespace) -> int:
    from mapping.cli.ingest import init_command

    return init_command(args)


def _import(args: argparse.Namespace) -> int:
    from mapping.cli.ingest import import_command

    return import_command(args)


def _summary(args: argparse.Namespace) -> int:
    from mapping.cli.analysis import summary_command

    return summary_command(args)


def _demo(args: argparse.Namespace) -> int:
    from mapping.cli.demo import build_demo

    path = Path(
        args.workspace or os.environ.get("OUTREACH_MAP_WORKSPACE") or "demo-workspace"
    ).resolve()
    build_demo(path, echo=print, db_url=args.db)
    if args.no_serve:
        return EXIT_OK
    # the demo records America/Lima; one built before zones were recorded has none, and
    # "open now" on the peer educator's page should follow Lima's clock for it too
    os.environ.setdefault("OUTREACH_MAP_TIMEZONE", "America/Lima")
    return _run_app(path, args.port)


def _serve(args: argparse.Namespace) -> int:
    from mapping.storage.workspace import open_workspace, workspace_path

    workspace = open_workspace(workspace_path(args.workspace))
    return _run_app(workspace.path, args.port)


def _note_settings(path: Path) -> None:
    """Audit the access and disclosure settings that changed since the app last started."""
    from mapping.settings import get_settings
    from mapping.storage.audit import Actor, note_settings
    from mapping.storage.workspace import open_workspace, upgrade_store

    workspace = open_workspace(path)
    upgrade_store(workspace)
    with workspace.begin() as connection:
        for change in note_settings(connection, get_settings(), Actor.command_line()):
            print(f"setting changed since the last start: {change}", file=sys.stderr)


def _run_app(workspace: Path, port: int) -> int:
    _note_settings(workspace)
    app = Path(__file__).resolve().parents[2] / "server.py"
    if not app.exists():
        print(
            f"outreach-map: error: {app} is missing — run from a clone (pip install -e .)",
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    env = {**os.environ, "OUTREACH_MAP_WORKSPACE": str(workspace)}
    address = os.environ.get(ADDRESS_ENV, "127.0.0.1")
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port)]
    # A specific address (not 0.0.0.0) also stops Streamlit from asking an outside server
    # for this machine's public IP address when it starts.
    for option, value in {**STREAMLIT_OPTIONS, "server.address": address}.items():
        command += [f"--{option}", value]
    print(
        f"starting the app on http://{address}:{port} (workspace {workspace}); Ctrl+C stops it",
        flush=True,
    )
    # Become the Streamlit server rather than its parent, so that stopping this process (Ctrl+C,
    # SIGTERM from a service manager) stops the server and leaves nothing running.
    os.chdir(app.parent)
    os.execve(sys.executable, command, env)


def _coverage(args: argparse.Namespace) -> int:
    from mapping.cli.analysis import coverage_command

    return coverage_command(args)


def _gaps(args: argparse.Namespace) -> int:
    from mapping.cli.analysis import gaps_command

    return gaps_command(args)


def _suggest_sites(args: argparse.Namespace) -> int:
    from mapping.cli.analysis import suggest_sites_command

    return suggest_sites_command(args)


def _user(args: argparse.Namespace) -> int:
    from mapping.cli.users import user_command

    return user_command(args)


def _wipe(args: argparse.Namespace) -> int:
    from mapping.cli.store import wipe_command

    return wipe_command(args)


_COMMANDS = {
    "init": _init,
    "import": _import,
    "summary": _summary,
    "demo": _demo,
    "serve": _serve,
    "coverage": _coverage,
    "gaps": _gaps,
    "suggest-sites": _suggest_sites,
    "user": _user,
    "wipe": _wipe,
}


def _export(args: argparse.Namespace) -> int:
    from mapping.cli.release import export_command

    return export_command(args)


_COMMANDS["export"] = _export


def _add_store_parsers(sub: Any, workspace_help: str) -> None:
    from mapping.cli.store import add_store_parsers

    add_store_parsers(sub, workspace_help)


def _migrate(args: argparse.Namespace) -> int:
    from mapping.cli.store import migrate_command

    return migrate_command(args)


def _copy(args: argparse.Namespace) -> int:
    from mapping.cli.store import copy_command

    return copy_command(args)


def _plan(args: argparse.Namespace) -> int:
    from mapping.cli.plan import plan_command

    return plan_command(args)


_COMMANDS["plan"] = _plan


def _config(args: argparse.Namespace) -> int:
    from mapping.cli.config import config_command

    return config_command(args)


_COMMANDS["config"] = _config
_COMMANDS["migrate"] = _migrate
_COMMANDS["copy"] = _copy

#: Commands that read every visit and hold no other connection meanwhile: run as a program of
#: their own (one thread), they may read the visits through ConnectorX.
FAST_READ_COMMANDS = frozenset({"coverage", "gaps", "suggest-sites"})


def run() -> int:
    """Run ``outreach-map`` as a program (the console script): :func:`main` in its own process.

    Only a process that is the command itself turns on the fast read of visits
    (:func:`mapping.analysis.coverage_data.allow_arrow_reads`): the process holds no other
    connection to the store. :func:`main` called from other code (the tests, a notebook) keeps
    the safe path.
    """
    argv = sys.argv[1:]
    if argv and argv[0] in FAST_READ_COMMANDS:
        from mapping.analysis.coverage_data import allow_arrow_reads

        allow_arrow_reads()
    return main(argv)


if __name__ == "__main__":
    sys.exit(run())
