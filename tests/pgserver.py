"""A real, throwaway PostgreSQL server for the tests and benchmarks.

It runs the server binaries of Debian's ``postgresql`` package (``.ci/run`` installs it) on a
free local port with a data directory of its own, deleted when it stops. Under root (as in CI)
the server runs as the ``postgres`` user the package creates, since PostgreSQL refuses to run
as root. ``TEST_POSTGRES_URL`` (a superuser URL such as
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) uses a server of your own instead;
``.ci/run`` starts one with ``python3 tests/pgserver.py start`` and sets it so.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

#: A superuser URL of a server to use instead of starting one.
URL_ENV = "TEST_POSTGRES_URL"
#: The data folder of a server started by ``pgserver.py start``, for ``pgserver.py stop``.
DATA_ENV = "TEST_POSTGRES_DATA"
DRIVER = "postgresql+psycopg"
INITDB_OPTIONS = ("-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions")


class ServerMissingError(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def bin_dir() -> Path:
    """Return the folder of the newest installed PostgreSQL server binaries."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise ServerMissingError(
        "PostgreSQL's server is not installed (no initdb): install Debian's postgresql package"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    """Run ``command`` as ``postgres`` when we are root (the server refuses to run as root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def start_server() -> tuple[str, Path]:
    """Start a throwaway server on a free local port; return its superuser URL and data folder.

    ``fsync`` is off: the data is thrown away, and the tests measure behaviour, not disks.
    """
    binaries = bin_dir()
    data = Path(tempfile.mkdtemp(prefix="outreach-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(data, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    log = data / "server.log"
    subprocess.run(
        _as_server_user([str(binaries / "initdb"), "-D", str(data / "db"), *INITDB_OPTIONS]),
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    start_options = ("-o", options, "-l", str(log), "-w", "-t", "60", "start")
    subprocess.run(
        _as_server_user([str(binaries / "pg_ctl"), "-D", str(data / "db"), *start_options]),
        check=True,
        capture_output=True,
    )
    return f"{DRIVER}://postgres@127.0.0.1:{port}/postgres", data


def stop_server(data: Path) -> None:
    """Stop the server whose data folder is ``data`` and delete the folder."""
    stop = [str(bin_dir() / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"]
    subprocess.run(
        _as_server_user(stop),
        check=False,
        capture_output=True,
    )
    shutil.rmtree(data, ignore_errors=True)


@contextmanager
def throwaway_server() -> Iterator[str]:
    """Yield the superuser URL of ``TEST_POSTGRES_URL``, or of a server started for the block."""
    given = os.environ.get(URL_ENV)
    if given:
        yield given
        return
    url, data = start_server()
    try:
        yield url
    finally:
        stop_server(data)


def database_url(server_url: str, name: str) -> str:
    """Return the URL of database ``name`` on the server of ``server_url``."""
    return sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def create_database(server_url: str, name: str, *, template: str | None = None) -> str:
    """Create database ``name`` (a copy of ``template`` if given); return its URL."""
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            copy = f" TEMPLATE {template}" if template else ""
            connection.execute(sa.text(f'CREATE DATABASE "{name}"{copy}'))
    finally:
        engine.dispose()
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name``, closing any connection still open to it."""
    from mapping.storage.store import dispose_engines

    # this process's pooled connections first: a connection the server drops under a pool is
    # closed later by the garbage collector, which psycopg reports as a ResourceWarning
    dispose_engines(database_url(server_url, name))
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def _command_line(argv: list[str]) -> int:
    """``python3 tests/pgserver.py start`` prints shell lines exporting the server's URL and
    folder (for ``eval``); ``stop`` stops the server they name and deletes its folder."""
    if argv == ["start"]:
        url, data = start_server()
        print(f"export {URL_ENV}={url} {DATA_ENV}={data}")
        return 0
    if argv == ["stop"] and os.environ.get(DATA_ENV):
        stop_server(Path(os.environ[DATA_ENV]))
        return 0
    print(f"usage: pgserver.py start | stop (with {DATA_ENV} set by start)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_command_line(sys.argv[1:]))
