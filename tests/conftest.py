"""Shared fixtures: one real Lima/Callao workspace built per session, copied for each test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import serving
from helpers import DISTRICTS_SOURCE, copy_workspace

from mapping.area import districts_from_file, init_area
from mapping.demo import build_demo
from mapping.workspace import Workspace


@pytest.fixture(scope="session", autouse=True)
def _clean_environment() -> Iterator[None]:
    """No OUTREACH_MAP_* setting of the machine running the tests leaks into them."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("OUTREACH_MAP_"):
                patch.delenv(name)
        yield


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


@pytest.fixture
def workspace(template_workspace: Path, tmp_path: Path) -> Workspace:
    """A fresh, empty Lima workspace of this test's own."""
    return copy_workspace(template_workspace, tmp_path / "workspace")


@pytest.fixture
def other_workspace(template_workspace: Path, tmp_path: Path) -> Workspace:
    """A second workspace for the same area, with its own key."""
    copy = copy_workspace(template_workspace, tmp_path / "other")
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
