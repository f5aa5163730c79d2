"""A workspace: the folder holding the area configuration, the store and the contact-code key."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from mapping.cells import check_resolution
from mapping.errors import WorkspaceError
from mapping.store import create_store_engine, migrate

CONFIG_NAME = "workspace.toml"
KEY_NAME = "secret.key"
DB_NAME = "outreach.db"
REPORTS_DIR = "reports"
WORKSPACE_ENV = "OUTREACH_MAP_WORKSPACE"
KEY_ENV = "OUTREACH_MAP_KEY"
DB_ENV = "OUTREACH_MAP_DB"
_MIN_KEY_LENGTH = 32


@dataclass(frozen=True)
class Workspace:
    """An opened workspace: where it is, its area name and storage resolution, its store URL."""

    path: Path
    name: str
    resolution: int
    db_url: str

    @property
    def reports_dir(self) -> Path:
        """Folder of rejection reports (no coordinates, no contact codes)."""
        return self.path / REPORTS_DIR

    def engine(self) -> Engine:
        """Return an engine on this workspace's store."""
        return create_store_engine(self.db_url)

    def key(self) -> bytes:
        """Return the secret key contact codes are hashed with.

        ``OUTREACH_MAP_KEY`` wins over the key file, so a deployment can keep the key off the
        disk that holds the data.
        """
        from_env = os.environ.get(KEY_ENV)
        if from_env:
            if len(from_env) < _MIN_KEY_LENGTH:
                raise WorkspaceError(
                    f"{KEY_ENV} is {len(from_env)} characters long — use at least "
                    f"{_MIN_KEY_LENGTH} random characters (e.g. `openssl rand -hex 32`)"
                )
            return from_env.encode()
        key_file = self.path / KEY_NAME
        try:
            return key_file.read_text(encoding="ascii").strip().encode()
        except FileNotFoundError as exc:
            raise WorkspaceError(
                f"no contact-code key: {key_file} is missing and {KEY_ENV} is not set — restore "
                "the key from your backup; without it new contacts cannot be matched to old ones"
            ) from exc


def workspace_path(arg: str | os.PathLike[str] | None) -> Path:
    """Return the workspace folder named by ``arg`` or, failing that, ``OUTREACH_MAP_WORKSPACE``."""
    if arg:
        return Path(arg).expanduser().resolve()
    from_env = os.environ.get(WORKSPACE_ENV)
    if from_env:
        return Path(from_env).expanduser().resolve()
    raise WorkspaceError(f"no workspace given — pass --workspace DIR or set {WORKSPACE_ENV}")


def _default_db_url(path: Path) -> str:
    return os.environ.get(DB_ENV) or f"sqlite:///{path / DB_NAME}"


def create_workspace(
    path: Path, *, name: str, resolution: int, db_url: str | None = None
) -> Workspace:
    """Create the folder, its configuration, its key (mode 0600) and an empty, migrated store."""
    check_resolution(resolution)
    if (path / CONFIG_NAME).exists():
        raise WorkspaceError(
            f"{path} is already a workspace — choose another folder, or delete this one first"
        )
    path.mkdir(parents=True, exist_ok=True)
    (path / REPORTS_DIR).mkdir(exist_ok=True)
    url = db_url or _default_db_url(path)
    stored_url = "" if url == f"sqlite:///{path / DB_NAME}" else url
    if not os.environ.get(KEY_ENV):
        key_file = path / KEY_NAME
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    config = (
        "# outreach-map workspace; the store and the key sit beside this file.\n"
        "[area]\n"
        f"name = {_toml_string(name)}\n"
        f"resolution = {resolution}\n"
        f'created = "{dt.date.today().isoformat()}"\n\n'
        "[store]\n"
        "# empty means the SQLite file outreach.db in this folder\n"
        f"url = {_toml_string(stored_url)}\n"
    )
    (path / CONFIG_NAME).write_text(config, encoding="utf-8")
    workspace = Workspace(path=path, name=name, resolution=resolution, db_url=url)
    engine = workspace.engine()
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return workspace


def open_workspace(path: Path) -> Workspace:
    """Open an existing workspace, checking its key file is readable only by its owner."""
    config_file = path / CONFIG_NAME
    if not config_file.exists():
        raise WorkspaceError(
            f"{path} is not a workspace (no {CONFIG_NAME}) — create one with "
            "`outreach-map init --workspace DIR --districts FILE ...` or `outreach-map demo`"
        )
    config = tomllib.loads(config_file.read_text(encoding="utf-8"))
    key_file = path / KEY_NAME
    if key_file.exists() and key_file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise WorkspaceError(f"{key_file} can be read by other users — run `chmod 600 {key_file}`")
    url = config.get("store", {}).get("url") or _default_db_url(path)
    return Workspace(
        path=path,
        name=str(config["area"]["name"]),
        resolution=check_resolution(int(config["area"]["resolution"])),
        db_url=url,
    )


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
