"""Emergency wipe: data and key overwritten and gone, a marker says so, the CLI asks first."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import copy_workspace

from mapping.cli.main import EXIT_OK, EXIT_UNUSABLE, main
from mapping.cli.store import EXIT_WIPE_INCOMPLETE
from mapping.errors import WorkspaceError
from mapping.ingest.area import districts_from_file, init_area
from mapping.storage.store import create_store_engine, metadata, shared_engine, views
from mapping.storage.wipe import drop_store_schema, wipe_plan, wipe_workspace
from mapping.storage.workspace import Workspace, is_wiped, open_workspace


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def demo_copy(demo_workspace: Path, tmp_path: Path) -> Workspace:
    """A private copy of the demo, with a targets file and a stray file in a sub-folder."""
    copy = copy_workspace(demo_workspace, tmp_path / "demo")
    (copy.path / "targets.csv").write_text("district_id,target\n150101,400\n", encoding="utf-8")
    (copy.path / "old" / "deep").mkdir(parents=True)
    (copy.path / "old" / "deep" / "visits-export.csv").write_text("x\n", encoding="utf-8")
    return copy


def test_wipe_command_destroys_everything_and_leaves_a_marker(
    demo_copy: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    path = demo_copy.path
    # descriptors opened before the wipe still reach the old inodes: what is on the disk now
    store = os.open(path / "outreach.db", os.O_RDONLY)
    key = os.open(path / "secret.key", os.O_RDONLY)
    old_key = (path / "secret.key").read_bytes()
    try:
        code, out, err = run(capsys, "wipe", "--workspace", path, "--yes")
        assert code == EXIT_OK, err
        store_size = os.fstat(store).st_size
        on_disk = os.pread(store, store_size, 0)
        key_on_disk = os.pread(key, 100, 0)
    finally:
        os.close(store)
        os.close(key)
    assert store_size > 1_000_000
    assert not on_disk.startswith(b"SQLite format 3")
    assert on_disk.count(b"\0") < store_size // 50  # random bytes, not the old pages
    assert len(key_on_disk) == len(old_key) and key_on_disk != old_key

    assert sorted(p.name for p in path.iterdir()) == ["workspace.toml"]
    assert re.search(r"destroyed: outreach\.db \(\d+\.\d MB, overwritten\)", out)
    assert "destroyed: secret.key (65 bytes, overwritten)" in out
    assert "destroyed: reports/services-00001-rejected.csv" in out
    assert "destroyed: targets.csv" in out
    assert "destroyed: old/deep/visits-export.csv" in out
    assert re.search(
        rf"{re.escape(str(path))} wiped in \d+\.\d\d s \(\d+\.\d MB overwritten\)", out
    )

    marker = tomllib.loads((path / "workspace.toml").read_text(encoding="utf-8"))["wiped"]
    assert marker["finished"] is True
    assert marker["by"].startswith("cli:")
    assert marker["failures"] == []
    assert "Lima" not in (path / "workspace.toml").read_text(encoding="utf-8")  # no area name
    assert (path / "workspace.toml").stat().st_mode & 0o777 == 0o600
    assert is_wiped(path)

    with pytest.raises(
        WorkspaceError,
        match=r"was wiped on \d{4}-\d\d-\d\d — nothing is left; create a new workspace with "
        r"`outreach-map init --workspace DIR --districts FILE \.\.\.` or `outreach-map demo`",
    ):
        open_workspace(path)
    code, _, err = run(capsys, "wipe", "--workspace", path, "--yes")
    assert code == EXIT_UNUSABLE
    assert re.search(r"was already wiped on \d{4}-\d\d-\d\d — nothing is left", err)


def test_wipe_without_yes_says_what_it_would_destroy_and_destroys_nothing(
    demo_copy: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p.name for p in demo_copy.path.rglob("*"))
    code, out, err = run(capsys, "wipe", "--workspace", demo_copy.path)
    assert code == EXIT_UNUSABLE
    assert out == ""
    assert err.startswith(
        f"outreach-map: error: this would destroy, with no undo, in {demo_copy.path}"
    )
    assert re.search(r"  outreach\.db \(\d+\.\d MB\)\n", err)
    assert "  secret.key (65 bytes)\n" in err
    assert "  targets.csv (" in err
    assert "  workspace.toml (replaced by a marker saying the workspace was wiped)\n" in err
    assert err.rstrip().endswith("add --yes to wipe it")
    assert sorted(p.name for p in demo_copy.path.rglob("*")) == before
    open_workspace(demo_copy.path)


def test_wipe_of_a_folder_that_is_no_workspace_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "wipe", "--workspace", tmp_path, "--yes")
    assert code == EXIT_UNUSABLE
    assert f"{tmp_path} is not a workspace (no workspace.toml) — nothing to wipe" in err
    (tmp_path / "workspace.toml").write_text("[area\n", encoding="utf-8")
    with pytest.raises(
        WorkspaceError, match=r"cannot be read .* delete the folder's files by hand"
    ):
        wipe_workspace(tmp_path, by="test")


def test_a_link_is_removed_and_never_followed(workspace: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not the workspace's\n", encoding="utf-8")
    (workspace.path / "link.txt").symlink_to(outside)
    (workspace.path / "linked-dir").symlink_to(tmp_path, target_is_directory=True)
    result = wipe_workspace(workspace.path, by="test")
    assert result.complete, result.failures
    assert "link.txt (link or special file, removed)" in result.destroyed
    assert outside.read_text(encoding="utf-8") == "not the workspace's\n"
    assert sorted(p.name for p in workspace.path.iterdir()) == ["workspace.toml"]


def test_a_key_kept_in_the_environment_is_left_to_the_operator(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTREACH_MAP_KEY", "k" * 40)
    result = wipe_workspace(workspace.path, by="test")
    assert any(
        note.startswith("the contact-code key came from OUTREACH_MAP_KEY: destroy it where it is")
        for note in result.notes
    )


@pytest.mark.engines
def test_drop_store_schema_leaves_no_table_or_view(workspace: Workspace) -> None:
    """The server-store path (PostgreSQL in production), run here on SQLite: engine-neutral."""
    with workspace.connect() as connection:
        assert "visit_details" in sa.inspect(connection).get_view_names()
    engine = shared_engine(workspace.db_url)
    assert drop_store_schema(engine) == len(metadata.tables) + len(views.tables) + 1
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert inspector.get_table_names() == []
        assert inspector.get_view_names() == []


def test_an_unreachable_server_store_fails_loudly_and_the_wipe_can_be_run_again(
    workspace: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = workspace.path / "workspace.toml"
    # workspace.toml names the server's store; the password comes from the environment
    url = "postgresql://outreach:s3cret@127.0.0.1:9/outreach"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'url = ""', 'url = "postgresql://outreach@127.0.0.1:9/outreach"'
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("OUTREACH_MAP_DB", url)
    code, out, err = run(capsys, "wipe", "--workspace", workspace.path, "--yes")
    assert code == EXIT_WIPE_INCOMPLETE
    assert re.search(
        r"FAILED: store at postgresql://outreach:\*\*\*@127\.0\.0\.1:9/outreach NOT dropped: .*"
        r" — run the wipe again once the server answers",
        err,
    )
    assert "s3cret" not in out + err
    assert "partly wiped (see FAILED above)" in out
    # the local files are gone all the same
    assert sorted(p.name for p in workspace.path.iterdir()) == ["workspace.toml"]
    with pytest.raises(
        WorkspaceError, match=r"a wipe started on .* did not finish — run `outreach"
    ):
        open_workspace(workspace.path)
    # the marker keeps the server's address until the store is dropped, never its password
    marker = tomllib.loads(config.read_text(encoding="utf-8"))["wiped"]
    assert marker["url"] == "postgresql://outreach@127.0.0.1:9/outreach"
    assert "s3cret" not in config.read_text(encoding="utf-8")

    # the server answers now (here: a SQLite file standing in for it)
    monkeypatch.delenv("OUTREACH_MAP_DB")
    stand_in = create_store_engine(f"sqlite:///{tmp_path / 'server.db'}")
    sa.Table("visits", sa.MetaData(), sa.Column("id", sa.Integer)).create(stand_in)
    stand_in.dispose()
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            marker["url"], f"sqlite:///{tmp_path / 'server.db'}"
        ),
        encoding="utf-8",
    )
    result = wipe_workspace(workspace.path, by="test")
    assert result.complete, result.failures
    assert not (tmp_path / "server.db").exists()
    assert "url" not in tomllib.loads(config.read_text(encoding="utf-8"))["wiped"]


def test_the_plan_names_the_store_and_the_marker(workspace: Workspace) -> None:
    plan = wipe_plan(workspace.path)
    assert plan[-1] == "workspace.toml (replaced by a marker saying the workspace was wiped)"
    assert any(line.startswith("outreach.db (") for line in plan)


def test_a_wiped_folder_can_hold_a_new_workspace(
    workspace: Workspace, districts_file: Path
) -> None:
    wipe_workspace(workspace.path, by="test")
    districts = districts_from_file(districts_file, id_column="district_id", name_column="district")
    init_area(workspace.path, districts, name="Lima again", resolution=8)
    assert open_workspace(workspace.path).name == "Lima again"
    assert not is_wiped(workspace.path)
