"""Deploying on PostgreSQL (docs/deploy.md): least-privilege roles, encrypted backups, a restore.

The scripts of ``deploy/`` run as the doc says, against a real throwaway server: roles and
database from ``create-database.sql``, the demo written by the owner role, the app role's
grants from ``grant-app.sql``, the app run through ``outreach-map-run`` with the key as a
systemd credential, a dump by ``outreach-map-backup``, a restore by ``outreach-map-restore``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pgserver
import pytest
import sqlalchemy as sa
from helpers import LIMA, MIRAFLORES, csv_text

from mapping.cli.demo import build_demo
from mapping.cli.main import STREAMLIT_OPTIONS, main
from mapping.storage.copying import compare_stores

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
CODE = "ZZ-BK01"


def _visits(path: Path, day: str, point: tuple[str, str]) -> Path:
    header = ("fecha", "educadora_par", "latitud", "longitud", "codigo_unico")
    path.write_text(csv_text(header, [[day, "PE-BK", *point, CODE]]), encoding="utf-8")
    return path


def _point_at(workspace: Path, url: str) -> None:
    """Point a workspace at a store, as the doc says: a URL without a password."""
    config = workspace / "workspace.toml"
    text = re.sub(r'(?m)^url = ".*"$', f'url = "{url}"', config.read_text(encoding="utf-8"))
    config.write_text(text, encoding="utf-8")


class Deployment:
    """The server, the client environment of deploy/'s scripts and the app's credentials."""

    def __init__(self, server: str, base: Path) -> None:
        self.server = server
        self.port = sa.engine.make_url(server).port
        self.base = base
        self.database = f"outreach_{os.getpid()}"
        self.workspace = base / "workspace"
        #: the contact-code key, kept apart from the workspace as on a server
        self.key = ""
        self.env = {
            **os.environ,
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": "postgres",
            "PG_BIN": str(pgserver.bin_dir()),
            "GNUPGHOME": str(base / "gnupg"),
            "PYTHONPATH": str(ROOT),
        }

    def url(self, role: str, database: str) -> str:
        return f"postgresql://{role}@127.0.0.1:{self.port}/{database}"

    def run(self, *command: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(part) for part in command],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done

    def psql(self, database: str, script: Path, **variables: str) -> None:
        options = [f"--variable={name}={value}" for name, value in variables.items()]
        self.run(
            pgserver.bin_dir() / "psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", database,
            *options, "-f", script,
        )  # fmt: skip

    def app(self, key: str, *argv: str | Path) -> subprocess.CompletedProcess[str]:
        """Run outreach-map as an instance does: through outreach-map-run, key as a credential."""
        credentials = self.base / f"credentials-{len(key)}-{key[:4]}"
        credentials.mkdir(mode=0o700, exist_ok=True)
        (credentials / "contact-key").write_text(key + "\n", encoding="ascii")
        return self.run(
            DEPLOY / "outreach-map-run", "-m", "mapping.cli.main", *argv,
            CREDENTIALS_DIRECTORY=str(credentials), OUTREACH_MAP_COMMAND=sys.executable,
        )  # fmt: skip

    def table_counts(self, database: str) -> dict[str, int]:
        engine = sa.create_engine(pgserver.database_url(self.server, database))
        try:
            with engine.connect() as connection:
                names = sa.inspect(connection).get_table_names()
                return {
                    name: connection.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one()
                    for name in names
                }
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def deployment(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """A store as docs/deploy.md sets it up, with the demo and one visit logged by the app role.

    The backup key pair is a throwaway gpg key without a passphrase.
    """
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed (Debian: apt-get install gpg)")
    deploy = Deployment(postgres_server, tmp_path_factory.mktemp("deploy"))
    home = deploy.base / "gnupg"
    home.mkdir(mode=0o700)
    deploy.run(
        "gpg", "--batch", "--passphrase", "", "--quick-gen-key",
        "outreach-map backup test <backup@example.invalid>", "default", "default", "never",
    )  # fmt: skip
    public = deploy.run("gpg", "--armor", "--export", "backup@example.invalid").stdout
    (deploy.base / "backup-public.asc").write_text(public, encoding="ascii")
    try:
        deploy.psql("postgres", DEPLOY / "create-database.sql", dbname=deploy.database)
        build_demo(deploy.workspace, db_url=deploy.url("outreach_owner", deploy.database))
        deploy.psql(deploy.database, DEPLOY / "grant-app.sql")
        _point_at(deploy.workspace, deploy.url("outreach_app", deploy.database))
        key_file = deploy.workspace / "secret.key"
        deploy.key = key_file.read_text(encoding="ascii").strip()
        key_file.unlink()
        visits = _visits(deploy.base / "first.csv", "2026-03-14", LIMA)
        done = deploy.app(deploy.key, "import", "visits", visits, "--workspace", deploy.workspace)
        assert "1 accepted" in done.stdout
        yield deploy
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)
        for name in (deploy.database, f"{deploy.database}_restored"):
            pgserver.drop_database(postgres_server, name)


def _coverage(workspace: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    """The coverage report of last month, as JSON (it needs no key)."""
    last_month = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    argv = ["coverage", "--workspace", str(workspace), "--period", last_month, "--format", "json"]
    assert main(argv) == 0
    report: dict[str, object] = json.loads(capsys.readouterr().out)
    return report


def test_app_role_adds_rows_but_cannot_rewrite_the_audit_log_or_the_schema(
    deployment: Deployment,
) -> None:
    engine = sa.create_engine(
        deployment.url("outreach_app", deployment.database).replace(
            "postgresql://", "postgresql+psycopg://"
        )
    )
    refused = (
        "UPDATE audit_log SET detail = 'nothing happened'",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "UPDATE alembic_version SET version_num = '0001'",
        "DROP TABLE visits",
        "CREATE TABLE notes (note text)",
        "CREATE TEMPORARY TABLE notes (note text)",
    )
    try:
        with engine.connect() as connection:
            for statement in refused:
                with pytest.raises(
                    sa.exc.ProgrammingError, match=r"permission denied|must be owner"
                ):
                    connection.execute(sa.text(statement))
                connection.rollback()
    finally:
        engine.dispose()
    # at the newest schema, migrate needs no DDL: an instance's start-up check passes
    done = deployment.app(deployment.key, "migrate", "--workspace", deployment.workspace)
    assert "already at the newest schema" in done.stdout


def test_backup_is_encrypted_and_restores_to_the_same_store(
    deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backups = tmp_path / "backups"
    done = deployment.run(
        DEPLOY / "outreach-map-backup",
        OUTREACH_MAP_BACKUP_DB=deployment.database,
        OUTREACH_MAP_BACKUP_DIR=str(backups),
        OUTREACH_MAP_BACKUP_PUBLIC_KEY=str(deployment.base / "backup-public.asc"),
    )
    dump = Path(done.stdout.splitlines()[-1])
    assert dump.parent == backups and dump.name.endswith(".dump.gpg")
    assert [path.name for path in backups.iterdir()] == [dump.name]
    assert (backups.stat().st_mode & 0o777, dump.stat().st_mode & 0o777) == (0o700, 0o600)
    assert not dump.read_bytes().startswith(b"PGDMP")  # never pg_dump's own, readable format

    restored = f"{deployment.database}_restored"
    done = deployment.run(DEPLOY / "outreach-map-restore", dump, restored)
    assert f"into database {restored}" in done.stdout

    assert deployment.table_counts(restored) == deployment.table_counts(deployment.database)
    source = sa.create_engine(pgserver.database_url(deployment.server, deployment.database))
    target = sa.create_engine(pgserver.database_url(deployment.server, restored))
    try:
        differ = [check.table for check in compare_stores(source, target) if not check.same]
    finally:
        source.dispose()
        target.dispose()
    assert differ == []

    copy = tmp_path / "workspace"
    shutil.copytree(deployment.workspace, copy)
    _point_at(copy, deployment.url("outreach_app", restored))
    report = _coverage(copy, capsys)
    assert report == _coverage(deployment.workspace, capsys)

    # with the key backed up apart, a contact logged after the restore is the same person ...
    later = _visits(tmp_path / "later.csv", "2026-03-20", MIRAFLORES)
    before = deployment.table_counts(restored)
    deployment.app(deployment.key, "import", "visits", later, "--workspace", copy)
    after = deployment.table_counts(restored)
    assert (after["visits"], after["contacts"]) == (before["visits"] + 1, before["contacts"])
    # ... and with another key (a lost key, or an instance given a different one), a stranger
    other = _visits(tmp_path / "other.csv", "2026-03-21", MIRAFLORES)
    deployment.app("f" * 64, "import", "visits", other, "--workspace", copy)
    assert deployment.table_counts(restored)["contacts"] == before["contacts"] + 1


def test_backup_refuses_to_write_an_unencrypted_dump(tmp_path: Path) -> None:
    done = subprocess.run(
        [DEPLOY / "outreach-map-backup"],
        env={**os.environ, "OUTREACH_MAP_BACKUP_DIR": str(tmp_path / "b")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "an unencrypted dump is never written" in done.stderr
    assert not (tmp_path / "b").exists()


def test_deploy_files_hold_what_the_doc_promises() -> None:
    unit = (DEPLOY / "outreach-map@.service").read_text(encoding="utf-8")
    for line in (
        "User=outreach", "UMask=0077", "NoNewPrivileges=yes", "ProtectSystem=strict",
        "PrivateTmp=yes", "ReadWritePaths=/srv/outreach-map/workspace",
        "Environment=OUTREACH_MAP_ADDRESS=127.0.0.1",
        "LoadCredential=contact-key:/etc/outreach-map/credentials/contact-key",
        "ExecStart=/opt/outreach-map/bin/outreach-map-run serve --port %i",
    ):  # fmt: skip
        assert f"\n{line}\n" in unit, line
    nginx = (DEPLOY / "nginx-outreach-map.conf").read_text(encoding="utf-8")
    upload_mb = STREAMLIT_OPTIONS["server.maxUploadSize"]
    for line in (
        "ip_hash;", "location /_stcore/stream {", "proxy_set_header Upgrade $http_upgrade;",
        f"client_max_body_size {upload_mb}m;", "add_header Strict-Transport-Security",
        "proxy_request_buffering off;", "proxy_max_temp_file_size 0;",
    ):  # fmt: skip
        assert line in nginx, line
    # no log line may hold a query string (?team=...)
    for variable in ("$request ", "$request_uri", "$args", "$query_string"):
        assert variable not in nginx.split("server {")[0], variable
    assert "listen 80" in nginx and "return 301 https://" in nginx
    doc = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for name in sorted(path.name for path in DEPLOY.iterdir()):
        assert f"deploy/{name}" in doc, name
