"""PostgreSQL deployments: concurrent writers, moving a store between engines, migrate, wipe.

Everything here runs against the real throwaway server of ``postgres_server`` (tests/pgserver.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import h3
import numpy as np
import pytest
import sqlalchemy as sa
from helpers import DATA, copy_workspace_to_server, write_csv
from pgserver import create_database, drop_database

from mapping.cli.main import EXIT_STORE, main
from mapping.errors import WorkspaceError
from mapping.storage import store
from mapping.storage.copying import copy_store, head_revision
from mapping.storage.workspace import Workspace, open_workspace

ROOT = Path(__file__).resolve().parent.parent
#: A box in central Lima (inside the area) where the synthetic visits fall.
SOUTH, NORTH, WEST, EAST = -12.10, -12.03, -77.06, -76.99
IMPORTERS, LOGGERS = 4, 4
#: Rows per importer's file; each file shares half its rows with the next one.
ROWS_PER_FILE = 12_000
#: Each logger saves at least this many visits, and goes on until the importers are done.
VISITS_PER_LOGGER = 25


@pytest.fixture
def new_database(postgres_server: str) -> Iterator[Callable[[str], str]]:
    """Create empty databases on the test server (dropped afterwards); return their URLs."""
    made: list[str] = []

    def create(prefix: str) -> str:
        made.append(f"{prefix}_{time.monotonic_ns()}")
        return create_database(postgres_server, made[-1])

    yield create
    for name in made:
        drop_database(postgres_server, name)


def _visit_files(folder: Path) -> tuple[list[Path], int]:
    """Write the importers' overlapping files; return them and the number of distinct visits."""
    step = ROWS_PER_FILE // 2
    distinct = step * (IMPORTERS + 1)
    rng = np.random.default_rng(6)
    latitudes = rng.uniform(SOUTH, NORTH, distinct).round(6)
    longitudes = rng.uniform(WEST, EAST, distinct).round(6)
    days = rng.integers(1, 29, distinct)
    header = ("date", "peer_educator", "team", "latitude", "longitude", "contact_code", "condoms")
    rows = [
        (f"2026-08-{days[i]:02d}", f"PE{i % 7}", f"T{i % 3}", latitudes[i], longitudes[i],
         f"C-{i:06d}", i % 9)
        for i in range(distinct)
    ]  # fmt: skip
    files = [
        write_csv(folder / f"office-{k}.csv", header, rows[k * step : k * step + ROWS_PER_FILE])
        for k in range(IMPORTERS)
    ]
    return files, distinct


#: A logger: a peer educator saving visits one at a time in the app, as fast as it can, from
#: before the importers start until they have all finished, then a few more (argv: workspace,
#: logger, stop file); it prints how many it saved.
LOGGER = """
import datetime as dt, pathlib, sys
from mapping.ingest.capture import VisitEntry, cell_at, log_visit
from mapping.storage.workspace import open_workspace
workspace = open_workspace(pathlib.Path(sys.argv[1]))
stop = pathlib.Path(sys.argv[3])
cell = cell_at(workspace, -12.0464, -77.0428)
n = after = 0
while n < {least} or after < {after}:
    entry = VisitEntry(peer_educator="PE-L" + sys.argv[2], team="T9", cell=cell,
                       when=dt.datetime(2026, 8, 15, 21, 0), contact_code=f"L{{sys.argv[2]}}-{{n}}")
    seen_stop = stop.exists()
    assert log_visit(workspace, entry).accepted == 1
    n += 1
    after += seen_stop
print(n)
"""
#: A reader: whatever it sees, the visits stored equal the visits the committed imports added
#: (argv: workspace, stop file).
READER = """
import json, sys, time
import sqlalchemy as sa
from mapping.storage.workspace import open_workspace
workspace = open_workspace(__import__("pathlib").Path(sys.argv[1]))
seen, torn = [], []
with workspace.connect() as connection:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        visits, added, imports = connection.execute(sa.text(
            "SELECT (SELECT count(*) FROM visits), "
            "(SELECT coalesce(sum(accepted - updated), 0) FROM imports WHERE kind = 'visits'), "
            "(SELECT count(*) FROM imports)")).one()
        connection.commit()
        seen.append(visits)
        if visits != added:
            torn.append([visits, added])
        if __import__("pathlib").Path(sys.argv[2]).exists():
            break
        time.sleep(0.02)
print(json.dumps({"readings": len(seen), "distinct": len(set(seen)), "torn": torn}))
"""


#: An importer: the real command line in a process of its own.
IMPORT = (sys.executable, "-m", "mapping.cli.main", "import", "visits")


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def test_four_importers_and_four_loggers_at_once_store_each_visit_exactly_once(
    postgres_workspace: Workspace, tmp_path: Path
) -> None:
    workspace = postgres_workspace
    files, distinct = _visit_files(tmp_path)
    imported, written = tmp_path / "imported", tmp_path / "written"
    reader = _python(READER, str(workspace.path), str(written))
    loggers = [
        _python(
            LOGGER.format(least=VISITS_PER_LOGGER, after=3),
            str(workspace.path),
            str(n),
            str(imported),
        )
        for n in range(LOGGERS)
    ]
    # the importers start once every logger is saving visits
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with workspace.connect() as connection:
            saving = connection.execute(
                sa.select(sa.func.count(sa.distinct(store.imports.c.source_name)))
            ).scalar()
        if saving == LOGGERS:
            break
        time.sleep(0.2)
    importers = [
        subprocess.Popen(
            [*IMPORT, str(file), "--workspace", str(workspace.path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for file in files
    ]
    for process in importers:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    imported.touch()  # the loggers stop once all importers have finished
    logged = 0
    for process in loggers:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        logged += int(out)
    written.touch()
    out, err = reader.communicate(timeout=600)
    assert reader.returncode == 0, err
    readings = json.loads(out)

    with workspace.connect() as connection:
        imports = connection.execute(
            sa.select(
                store.imports.c.id,
                store.imports.c.source_name,
                store.imports.c.accepted,
                store.imports.c.duplicates,
                store.imports.c.rejected,
            ).order_by(store.imports.c.id)
        ).all()
        visits = connection.execute(sa.select(sa.func.count()).select_from(store.visits)).scalar()
        distinct_keys = connection.execute(
            sa.select(sa.func.count(sa.distinct(store.visits.c.fingerprint)))
        ).scalar()
        contacts = connection.execute(
            sa.select(sa.func.count()).select_from(store.contacts)
        ).scalar()
        peer_educators = connection.execute(
            sa.select(sa.func.count()).select_from(store.peer_educators)
        ).scalar()
    from_files = [row for row in imports if row.source_name.endswith(".csv")]
    from_app = [row for row in imports if row.source_name.startswith("app:")]
    # every row of every file is stored once or counted as a duplicate, never both, never lost
    assert len(from_files) == IMPORTERS and len(from_app) == logged
    assert sum(row.accepted for row in from_files) == distinct
    assert sum(row.duplicates for row in from_files) == IMPORTERS * ROWS_PER_FILE - distinct
    assert sum(row.rejected for row in imports) == 0
    assert all((row.accepted, row.duplicates) == (1, 0) for row in from_app)
    assert visits == distinct_keys == distinct + logged
    assert contacts == distinct + logged
    assert peer_educators == 21 + LOGGERS  # (PE0-PE6, T0-T2) pairs of i % 7, i % 3; one per logger
    # the loggers were saving before the first import and after the last, without a pause
    file_ids = [row.id for row in from_files]
    assert any(row.id < min(file_ids) for row in from_app)
    assert any(row.id > max(file_ids) for row in from_app)
    between = sum(min(file_ids) < row.id < max(file_ids) for row in from_app)
    # no reader ever saw a part of an import
    assert readings["torn"] == []
    assert readings["distinct"] >= 2, readings
    print(
        f"\n{IMPORTERS} importers ({IMPORTERS * ROWS_PER_FILE:,} rows, {distinct:,} distinct) "
        f"and {LOGGERS} loggers ({logged} visits, {between} between the first and last "
        f"import): {visits:,} visits stored; "
        f"{readings['readings']} reads, {readings['distinct']} states, none torn"
    )


def _coverage(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    capsys.readouterr()
    code = main(["coverage", "--workspace", str(path), "--period", "2026-Q3", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_a_round_trip_sqlite_postgres_sqlite_gives_identical_coverage(
    demo_workspace: Path,
    new_database: Callable[[str], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server_url = new_database("round_trip")
    assert main(["copy", "--from", str(demo_workspace), "--to", server_url]) == 0
    printed = capsys.readouterr().out
    assert "every table matches" in printed
    on_server = copy_workspace_to_server(demo_workspace, tmp_path / "on-server", server_url)
    back_url = f"sqlite:///{tmp_path / 'back.db'}"
    assert main(["copy", "--from", str(on_server.path), "--to", back_url]) == 0
    back = copy_workspace_to_server(demo_workspace, tmp_path / "back", back_url)

    for extra in ((), ("--format", "json"), ("--format", "csv", "--cells")):
        outputs = [
            _coverage(ws, capsys, *extra) for ws in (demo_workspace, on_server.path, back.path)
        ]
        assert outputs[0] == outputs[1] == outputs[2], extra
        assert len(outputs[0]) > 1000
    # the copy was audited on each target, not on the source
    with on_server.connect() as connection:
        entries = connection.execute(
            sa.select(store.audit_log.c.detail).where(store.audit_log.c.action == "store")
        ).all()
    assert [detail for (detail,) in entries] == [entries[0][0]]
    assert entries[0][0].startswith("copied from sqlite: ")


def test_the_app_runs_on_a_postgres_store(
    demo_workspace: Path,
    new_database: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streamlit.testing.v1 import AppTest

    url = new_database("app")
    copy_store(f"sqlite:///{demo_workspace / 'outreach.db'}", url)
    workspace = copy_workspace_to_server(demo_workspace, tmp_path / "app", url)
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(workspace.path))
    with workspace.connect() as connection:
        stored = connection.execute(sa.select(sa.func.count()).select_from(store.visits)).scalar()
    for role in ("coordinator", "funder"):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params["role"] = role
        at.run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        if role == "coordinator":
            metrics = {metric.label: metric.value for metric in at.metric}
            assert int(metrics["Visits"].replace(",", "")) == stored
    # the funder's page made its releases in the server's ledger
    with workspace.connect() as connection:
        releases = connection.execute(
            sa.select(sa.func.count()).select_from(store.privacy_releases)
        ).scalar()
    assert releases and releases > 0


def test_copy_refuses_a_target_that_holds_data_and_a_source_behind_the_schema(
    demo_workspace: Path, new_database: Callable[[str], str]
) -> None:
    url = new_database("busy")
    copy_store(f"sqlite:///{demo_workspace / 'outreach.db'}", url)
    with pytest.raises(WorkspaceError, match=r"already holds data \(tables .*visits.*\) — copy"):
        copy_store(f"sqlite:///{demo_workspace / 'outreach.db'}", url)
    with pytest.raises(WorkspaceError, match="name the same store"):
        copy_store(url, url.replace("postgresql+psycopg", "postgresql"))

    old = new_database("old")
    store.migrate(store.shared_engine(old), "0001")
    behind = rf"is at schema 0001, not {head_revision()} — run `outreach-map migrate"
    with pytest.raises(WorkspaceError, match=behind):
        copy_store(old, new_database("unused"))
    empty = new_database("empty")
    with pytest.raises(WorkspaceError, match="holds no outreach-map store — check --from"):
        copy_store(empty, new_database("unused"))


def test_migrate_upgrades_an_old_store_once(
    new_database: Callable[[str], str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = new_database("migrate")
    store.migrate(store.shared_engine(url), "0002")
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    assert main(["migrate", "--db", plain]) == 0
    assert capsys.readouterr().out.strip().endswith(f"schema 0002 -> {head_revision()} (newest)")
    assert main(["migrate", "--db", plain]) == 0
    assert f"already at the newest schema ({head_revision()})" in capsys.readouterr().out
    # on a server with no workspace folder, OUTREACH_MAP_DB names the store
    monkeypatch.setenv("OUTREACH_MAP_DB", plain)
    assert main(["migrate"]) == 0
    assert "127.0.0.1" in capsys.readouterr().out
    # the refusal of the audit log is an integrity error on this engine too (0003), and the
    # visits' foreign keys, a trigger per inserted row, are gone (0004); the others stay
    with store.shared_engine(url).connect() as connection:
        inspector = sa.inspect(connection)
        assert inspector.get_foreign_keys("visits") == []
        assert [k["referred_table"] for k in inspector.get_foreign_keys("sessions")] == ["users"]
    with (
        pytest.raises(sa.exc.IntegrityError, match="append-only"),
        store.shared_engine(url).begin() as c,
    ):
        c.execute(store.audit_log.delete())


def test_a_password_is_refused_on_the_command_line_and_in_workspace_toml(
    postgres_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "postgresql://outreach:s3cret@127.0.0.1/outreach"
    assert main(["migrate", "--db", secret]) == 2
    err = capsys.readouterr().err
    assert "--db holds a database password (postgresql://outreach:***@127.0.0.1/outreach)" in err
    assert "give it in PGPASSWORD, in ~/.pgpass (mode 0600), or in OUTREACH_MAP_DB" in err
    assert "s3cret" not in err
    assert main(["copy", "--from", secret, "--to", "sqlite:////tmp/never.db"]) == 2
    assert "the command line holds a database password" in capsys.readouterr().err
    config = postgres_workspace.path / "workspace.toml"
    text = config.read_text(encoding="utf-8")
    url = tomllib.loads(text)["store"]["url"]
    config.write_text(text.replace(url, secret), encoding="utf-8")
    with pytest.raises(WorkspaceError, match=r"workspace.toml holds a database password"):
        open_workspace(postgres_workspace.path)


def test_a_server_that_cannot_be_reached_is_named_without_a_traceback(
    postgres_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--db", "postgresql://outreach@127.0.0.1:9/outreach"]) == EXIT_STORE
    err = capsys.readouterr().err
    assert err.startswith("outreach-map: error: the store could not be used: connection failed")
    assert 'server at "127.0.0.1", port 9 failed' in err
    assert "check that the database server is running" in err and "Traceback" not in err
    unknown = sa.engine.make_url(postgres_server).set(username="nobody", database="postgres")
    plain = unknown.render_as_string(hide_password=False)
    assert main(["migrate", "--db", plain]) == EXIT_STORE
    assert 'role "nobody" does not exist' in capsys.readouterr().err


def test_a_password_from_the_environment_reaches_the_server(
    postgres_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OUTREACH_MAP_DB may hold the whole URL, password included, and wins over the file."""
    url = sa.engine.make_url(postgres_workspace.db_url)
    with postgres_workspace.begin() as connection:
        connection.execute(sa.text("CREATE ROLE app LOGIN PASSWORD 'not in any file'"))
        connection.execute(sa.text("GRANT SELECT ON ALL TABLES IN SCHEMA public TO app"))
    monkeypatch.setenv(
        "OUTREACH_MAP_DB",
        url.set(username="app", password="not in any file").render_as_string(hide_password=False),
    )
    workspace = open_workspace(postgres_workspace.path)
    assert "not in any file" not in (postgres_workspace.path / "workspace.toml").read_text()
    with workspace.connect() as connection:
        assert connection.execute(sa.text("SELECT current_user")).scalar() == "app"
        assert connection.execute(sa.select(sa.func.count()).select_from(store.districts)).scalar()
    with postgres_workspace.begin() as connection:
        connection.execute(sa.text("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM app"))
        connection.execute(sa.text("DROP ROLE app"))


def test_init_on_a_server_writes_the_url_without_a_password(
    new_database: Callable[[str], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = new_database("init")
    path = tmp_path / "lima"
    districts = DATA / "lima_callao_districts_simplified.geojson"
    columns = ("--district-id", "district_id", "--district-name", "district")
    code = main(
        ["init", "--workspace", str(path), "--db", url, "--districts", str(districts), *columns]
    )
    assert code == 0, capsys.readouterr().err
    assert tomllib.loads((path / "workspace.toml").read_text())["store"]["url"] == url
    assert not (path / "outreach.db").exists()
    workspace = open_workspace(path)
    with workspace.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(store.districts)).scalar()
    # a URL with a password, from the environment: used, and written down without it
    second = sa.engine.make_url(new_database("init_env"))
    monkeypatch.setenv(
        "OUTREACH_MAP_DB", second.set(password="s3cret").render_as_string(hide_password=False)
    )
    other = tmp_path / "other"
    code = main(["init", "--workspace", str(other), "--districts", str(districts), *columns])
    assert code == 0, capsys.readouterr().err
    written = (other / "workspace.toml").read_text()
    assert "s3cret" not in written
    assert tomllib.loads(written)["store"]["url"] == second.render_as_string(hide_password=False)


def test_the_wipe_drops_every_table_on_the_server(
    postgres_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["wipe", "--workspace", str(postgres_workspace.path), "--yes"])
    assert code == 0, capsys.readouterr().err
    with store.shared_engine(postgres_workspace.db_url).connect() as connection:
        inspector = sa.inspect(connection)
        assert inspector.get_table_names() == []
        assert inspector.get_view_names() == []
        functions = connection.execute(
            sa.text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_log_append_only'")
        ).scalar()
    assert functions == 0
    assert [p.name for p in postgres_workspace.path.iterdir()] == ["workspace.toml"]


def test_a_store_named_by_the_environment_never_replaces_the_folders_own(
    workspace: Workspace,
    postgres_workspace: Workspace,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A laptop's SQLite workspace, wiped on a server whose shell names the server's store."""
    monkeypatch.setenv("OUTREACH_MAP_DB", postgres_workspace.db_url)
    for words in (["wipe", "--yes"], ["summary"], ["migrate"]):
        assert main([*words, "--workspace", str(workspace.path)]) == 2
        err = capsys.readouterr().err
        assert "OUTREACH_MAP_DB names the store postgresql+psycopg://postgres@127.0.0.1" in err
        assert "keeps its store at sqlite:///" in err and "unset OUTREACH_MAP_DB" in err
    assert (workspace.path / "outreach.db").stat().st_size > 0
    with postgres_workspace.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(store.districts)).scalar()


def test_init_leaves_nothing_when_the_database_is_not_empty_or_not_there(
    postgres_workspace: Workspace,
    new_database: Callable[[str], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    districts = DATA / "lima_callao_districts_simplified.geojson"
    columns = ("--district-id", "district_id", "--district-name", "district")
    init = ["init", "--districts", str(districts), *columns]
    taken = postgres_workspace.db_url
    assert main([*init, "--workspace", str(tmp_path / "a"), "--db", taken]) == 2
    err = capsys.readouterr().err
    assert "already holds tables (alembic_version, area_cells, assignments, audit_log" in err
    assert "a new workspace needs a new, empty database" in err
    missing = sa.engine.make_url(new_database("gone")).set(database="never_created")
    plain = missing.render_as_string(hide_password=False)
    assert main([*init, "--workspace", str(tmp_path / "b"), "--db", plain]) == EXIT_STORE
    err = capsys.readouterr().err
    assert 'database "never_created" does not exist' in err and "create it first" in err
    assert main([*init, "--workspace", str(tmp_path / "c"), "--db", secret_url()]) == 2
    assert not [p.name for p in tmp_path.iterdir() if p.name in ("a", "b", "c")]


def secret_url() -> str:
    """A store URL with a password in it."""
    return "postgresql://outreach:s3cret@127.0.0.1/outreach"


def test_a_refused_statement_is_one_line_without_its_values(
    postgres_workspace: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A role without the right to write hotspots (grants not run again after a migrate)."""
    with postgres_workspace.begin() as connection:
        connection.execute(sa.text("CREATE ROLE reader LOGIN"))
        connection.execute(
            sa.text("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO reader")
        )
        connection.execute(sa.text("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO reader"))
        connection.execute(sa.text("REVOKE INSERT ON hotspots FROM reader"))
    url = sa.engine.make_url(postgres_workspace.db_url).set(username="reader")
    monkeypatch.setenv("OUTREACH_MAP_DB", url.render_as_string(hide_password=False))
    cell = h3.latlng_to_cell(-12.0464, -77.0428, 8)
    hotspots = write_csv(
        tmp_path / "hotspots.csv",
        ("id", "cell", "typology", "size_min", "size_max"),
        [("HS-1", cell, "street", 10, 20)],
    )
    try:
        code = main(
            ["import", "hotspots", str(hotspots), "--workspace", str(postgres_workspace.path)]
        )
        err = capsys.readouterr().err
    finally:
        with postgres_workspace.begin() as connection:
            connection.execute(sa.text("DROP OWNED BY reader"))
            connection.execute(sa.text("DROP ROLE reader"))
    assert code == EXIT_STORE
    assert err.startswith(
        "outreach-map: error: the store refused the command: permission denied for table hotspots"
    )
    assert "run deploy/grant-app.sql again" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert cell not in err and str(int(cell, 16)) not in err and "HS-1" not in err


def test_a_wipe_after_the_database_was_dropped_finishes(
    postgres_workspace: Workspace, postgres_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/deploy.md's emergency steps drop the database first, then wipe the folder."""
    database = sa.engine.make_url(postgres_workspace.db_url).database
    assert database is not None
    drop_database(postgres_server, database)
    assert main(["wipe", "--workspace", str(postgres_workspace.path), "--yes"]) == 0
    out = capsys.readouterr().out
    assert "the database no longer exists (dropped before)" in out
    assert tomllib.loads((postgres_workspace.path / "workspace.toml").read_text())["wiped"][
        "finished"
    ]


def test_copy_and_migrate_name_what_is_wrong_and_create_nothing(
    new_database: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = "postgresql://postgres@127.0.0.1:9/outreach"
    assert main(["copy", "--from", nowhere, "--to", new_database("to")]) == 2
    assert "--from store postgresql://postgres@127.0.0.1:9/outreach cannot be reached" in (
        capsys.readouterr().err
    )
    missing = tmp_path / "nosuch.db"
    assert main(["copy", "--from", f"sqlite:///{missing}", "--to", new_database("to")]) == 2
    assert "there is no such file — check the path" in capsys.readouterr().err
    assert main(["migrate", "--db", f"sqlite:///{missing}"]) == 2
    assert not missing.exists()
    assert main(["migrate", "--db", new_database("empty")]) == 2
    assert "holds no outreach-map store — migrate only upgrades one" in capsys.readouterr().err
    assert main(["migrate"]) == 2
    assert "no store given — pass --workspace DIR or --db URL" in capsys.readouterr().err


def test_the_app_says_when_its_server_cannot_be_reached(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    config = workspace.path / "workspace.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'url = ""', 'url = "postgresql://outreach@127.0.0.1:9/outreach"'
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(workspace.path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    [message] = [error.value for error in at.error]
    assert message.startswith("The store of this workspace cannot be reached: connection failed")
    assert "port 9 failed" in message and "Nothing was changed" in message
    assert not at.text_input  # no sign-in form, no page
