"""Shared fixtures: one real Lima/Callao workspace built per session, copied for each test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pgserver
import pytest
from browser import serving
from helpers import DISTRICTS_SOURCE, copy_workspace, copy_workspace_to_server

from mapping.cli.demo import build_demo
from mapping.ingest.area import districts_from_file, init_area
from mapping.storage.store import dispose_engines
from mapping.storage.workspace import Workspace


@pytest.fixture(scope="session", autouse=True)
def _clean_environment() -> Iterator[None]:
    """No OUTREACH_MAP_* setting of the machine running the tests leaks into them."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("OUTREACH_MAP_"):
                patch.delenv(name)
        yield


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    """End every test with no pooled connection to any store.

    The process keeps one engine per store (:func:`mapping.storage.store.shared_engine`); a
    test's workspace is gone once it ends, and a PostgreSQL connection left in a pool would be
    closed by the garbage collector, which psycopg reports as a ResourceWarning.
    """
    yield
    dispose_engines()


@pytest.fixture(scope="session")
def districts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the real Lima/Callao district polygons."""
    target = tmp_path_factory.mktemp("districts") / DISTRICTS_SOURCE.name
    shutil.copyfile(DISTRICTS_SOURCE, target)
    return target


@pytest.fixture(scope="session")
def template_workspace(tmp_path_factory: pytest.TempPathFactory, districts_file: Path) -> Path:
    """A workspace for Lima/Callao at resolution 8, created once; tests get copies of it."""
    districts = districts_from_file(
        districts_file,
        id_column="district_id",
        name_column="district",
        population_column="pop2020_est",
    )
    path = tmp_path_factory.mktemp("template") / "lima"
    init_area(path, districts, name="Lima", resolution=8)
    return path


#: The store engines a module marked ``engines`` runs its workspace tests on.
ENGINES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each workspace test of a module marked ``engines`` on SQLite and on PostgreSQL."""
    if "store_engine" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "engines"
    ):
        metafunc.parametrize("store_engine", ENGINES, indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server for the session (its superuser URL); fails under CI if missing."""
    try:
        with pgserver.throwaway_server() as url:
            yield url
    except pgserver.ServerMissingError as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str, template_workspace: Path) -> Iterator[str]:
    """The empty Lima workspace's store as a PostgreSQL database, to copy for each test."""
    name = f"template_lima_{os.getpid()}"
    url = pgserver.create_database(postgres_server, name)
    from mapping.storage.copying import copy_store

    copy_store(f"sqlite:///{template_workspace / 'outreach.db'}", url)
    yield name
    pgserver.drop_database(postgres_server, name)


@pytest.fixture
def store_engine(request: pytest.FixtureRequest) -> str:
    """The engine of this test's workspace: SQLite unless the module is marked ``engines``."""
    return str(getattr(request, "param", "sqlite"))


_databases = iter(range(1, 1_000_000))


def _workspace(
    request: pytest.FixtureRequest, engine: str, template: Path, target: Path
) -> Workspace:
    if engine == "sqlite":
        return copy_workspace(template, target)
    server: str = request.getfixturevalue("postgres_server")
    name = f"test_{os.getpid()}_{next(_databases)}"
    url = pgserver.create_database(
        server, name, template=request.getfixturevalue("postgres_template")
    )
    request.addfinalizer(lambda: pgserver.drop_database(server, name))
    return copy_workspace_to_server(template, target, url)


@pytest.fixture
def store_url(request: pytest.FixtureRequest, store_engine: str) -> str | None:
    """A new, empty store for a workspace a test builds itself: None (its SQLite file) or a
    database on the test server (``engines`` tests on PostgreSQL), dropped afterwards."""
    if store_engine == "sqlite":
        return None
    server: str = request.getfixturevalue("postgres_server")
    name = f"test_{os.getpid()}_{next(_databases)}"
    request.addfinalizer(lambda: pgserver.drop_database(server, name))
    return pgserver.create_database(server, name)


@pytest.fixture
def workspace(
    request: pytest.FixtureRequest, store_engine: str, template_workspace: Path, tmp_path: Path
) -> Workspace:
    """A fresh, empty Lima workspace of this test's own (on PostgreSQL for ``engines`` tests)."""
    return _workspace(request, store_engine, template_workspace, tmp_path / "workspace")


@pytest.fixture
def postgres_workspace(
    request: pytest.FixtureRequest, template_workspace: Path, tmp_path: Path
) -> Workspace:
    """A fresh, empty Lima workspace whose store is a database on the test server."""
    return _workspace(request, "postgresql", template_workspace, tmp_path / "server-workspace")


@pytest.fixture
def other_workspace(
    request: pytest.FixtureRequest, store_engine: str, template_workspace: Path, tmp_path: Path
) -> Workspace:
    """A second workspace for the same area, with its own key."""
    copy = _workspace(request, store_engine, template_workspace, tmp_path / "other")
    (copy.path / "secret.key").write_text(os.urandom(32).hex() + "\n", encoding="ascii")
    return copy


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace (real Lima districts and facilities, synthetic visits), built once.

    Tests only read it.
    """
    path = tmp_path_factory.mktemp("demo") / "lima"
    build_demo(path)
    return path


@pytest.fixture
def served_app(demo_workspace: Path, tmp_path: Path) -> Iterator[str]:
    """The app on the demo workspace, on a free local port, always stopped afterwards.

    For tests that only read: the workspace is the session's shared demo.
    """
    with serving(demo_workspace, tmp_path / "streamlit.log") as url:
        yield url


@pytest.fixture
def served_copy(demo_workspace: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The app on a private copy of the demo workspace, for tests that change data."""
    copy = copy_workspace(demo_workspace, tmp_path / "demo-copy").path
    with serving(copy, tmp_path / "streamlit.log") as url:
        yield url, copy
