"""``outreach-map user add|remove|reset|list|end-sessions``: local accounts, on the server.

Passwords are typed at a hidden prompt (twice) or read from standard input with
``--password-stdin`` (one line), never given as an argument: arguments show in the process list
and the shell's history.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from mapping.access.accounts import (
    ROLES,
    accounts_table,
    add_account,
    end_all_sessions,
    remove_account,
    reset_password,
)
from mapping.cli.formats import add_format_argument
from mapping.errors import InvalidInputError
from mapping.storage.audit import Actor
from mapping.storage.workspace import open_workspace, upgrade_store, workspace_path


def add_user_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``user`` command and its actions to the command line."""
    user = sub.add_parser("user", help="add, remove, reset or list accounts")
    actions = user.add_subparsers(dest="action", required=True)
    workspace_help = "workspace folder (default: $OUTREACH_MAP_WORKSPACE)"
    stdin_help = "read the password from standard input (one line) instead of a prompt"

    add = actions.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--teams", default="", help="a peer educator's teams, e.g. T1,T2")
    add.add_argument("--sso", metavar="EMAIL", help="sign in through single sign-on as EMAIL")
    add.add_argument("--password-stdin", action="store_true", help=stdin_help)
    add.add_argument("--workspace", help=workspace_help)

    remove = actions.add_parser("remove", help="delete an account and end its sessions")
    remove.add_argument("username")
    remove.add_argument("--workspace", help=workspace_help)

    reset = actions.add_parser("reset", help="set a new password and end the account's sessions")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true", help=stdin_help)
    reset.add_argument("--workspace", help=workspace_help)

    listing = actions.add_parser("list", help="list the accounts (never their passwords)")
    listing.add_argument("--workspace", help=workspace_help)
    add_format_argument(listing)

    end = actions.add_parser("end-sessions", help="sign everyone out at their next click")
    end.add_argument("--workspace", help=workspace_help)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("new password: ")
    if getpass.getpass("the same again: ") != first:
        raise InvalidInputError("the two passwords differ — nothing changed; try again")
    return first


def user_command(args: argparse.Namespace) -> int:
    """Run one ``user`` action; return the exit code."""
    workspace = open_workspace(workspace_path(args.workspace))
    upgrade_store(workspace)
    actor = Actor.command_line()
    if args.action == "list":
        with workspace.connect() as connection:
            table = accounts_table(connection)
        if args.format != "text":
            from mapping.analysis.reports import render

            # what the text lists, with the creation time; never a hash, nor a sign-on email
            print(render(table.drop("sso_email"), args.format))
            return 0
        if table.is_empty():
            print("no accounts yet — add one with `outreach-map user add NAME --role admin`")
        for row in table.iter_rows(named=True):
            teams = f" teams {row['teams']}" if row["teams"] else ""
            seen = row["last_seen"].strftime("%Y-%m-%d %H:%M") if row["last_seen"] else "never"
            name, how = row["username"], row["sign_in"]
            print(f"{name}\t{row['role']}{teams}\t{how}\tlast seen {seen}")
        return 0
    password = None
    sso_only = args.action == "add" and args.sso and not args.password_stdin
    if args.action in ("add", "reset") and not sso_only:
        password = _password(args.password_stdin)
    with workspace.begin() as connection:
        if args.action == "add":
            account = add_account(
                connection,
                args.username,
                args.role,
                by=actor,
                password=password,
                teams=args.teams.split(","),
                sso_email=args.sso,
            )
            print(f"added {account.username} ({account.role})")
        elif args.action == "remove":
            remove_account(connection, args.username, by=actor)
            print(f"removed {args.username.strip().lower()}; its sessions are ended")
        elif args.action == "reset":
            assert password is not None
            reset_password(connection, args.username, password, by=actor)
            print(f"new password set for {args.username.strip().lower()}; sessions ended")
        else:
            print(f"ended {end_all_sessions(connection, by=actor)} session(s)")
    return 0
