"""File permissions, the hardened Streamlit settings, and HTML that never carries data."""

from __future__ import annotations

import ast
import os
import socket
import stat
import subprocess
import sys
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import ROOT, free_port, wait_until_healthy
from helpers import LIMA, write_csv

from mapping.cli.main import STREAMLIT_OPTIONS, main
from mapping.errors import WorkspaceError
from mapping.ingest.visits import visits_from_file
from mapping.storage.workspace import Workspace, open_workspace

CONFIG = ROOT / ".streamlit" / "config.toml"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- file permissions ---------------------------------------------------------------------------


def test_a_new_workspace_is_private_to_its_owner(workspace: Workspace, tmp_path: Path) -> None:
    path = workspace.path
    assert mode(path / "outreach.db") == 0o600
    assert mode(path / "secret.key") == 0o600
    assert mode(path / "workspace.toml") == 0o600
    assert mode(path / "reports") == 0o700

    source = write_csv(
        tmp_path / "v.csv",
        ("fecha", "educadora_par", "latitud", "longitud"),
        [["2026-03-14", "PE01", *LIMA], ["not a date", "PE01", *LIMA]],
    )
    with workspace.connect():  # an open connection keeps the -wal and -shm files
        result = visits_from_file(workspace, source)
        assert result.report is not None and result.rejected == 1
        assert mode(result.report) == 0o600
        for end in ("-wal", "-shm"):
            assert mode(path / f"outreach.db{end}") == 0o600


def test_a_workspace_created_under_a_permissive_umask_is_still_private(
    tmp_path: Path, districts_file: Path
) -> None:
    from mapping.ingest.area import districts_from_file, init_area

    previous = os.umask(0o022)
    try:
        districts = districts_from_file(
            districts_file, id_column="district_id", name_column="district"
        )
        workspace = init_area(tmp_path / "ws", districts, name="x", resolution=8)
    finally:
        os.umask(previous)
    assert mode(workspace.path) == 0o700
    assert mode(workspace.path / "outreach.db") == 0o600
    assert mode(workspace.path / "workspace.toml") == 0o600


@pytest.mark.parametrize("name", ["outreach.db", "outreach.db-wal", "secret.key"])
def test_open_refuses_a_store_or_key_others_can_read(workspace: Workspace, name: str) -> None:
    file = workspace.path / name
    file.touch()
    file.chmod(0o644)
    what = "" if name == "secret.key" else r" \(the store\)"
    with pytest.raises(
        WorkspaceError,
        match=rf"{file}{what} can be read by other users — run `chmod 600 {file}`",
    ):
        open_workspace(workspace.path)
    file.chmod(0o600)
    open_workspace(workspace.path)


def test_every_command_runs_under_a_private_umask(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = os.umask(0o022)
    try:
        assert main(["summary", "--workspace", str(workspace.path)]) == 0
        assert os.umask(0o022) == 0o077
    finally:
        os.umask(previous)
    capsys.readouterr()


# --- Streamlit settings -------------------------------------------------------------------------


def shipped_config() -> dict[str, object]:
    """The shipped config.toml, flattened to ``section.option`` names."""
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    return {
        f"{section}.{name}": value
        for section, options in config.items()
        for name, value in options.items()
        if not isinstance(value, dict)
    }


def test_the_shipped_config_is_hardened() -> None:
    import streamlit.config

    config = shipped_config()
    assert config["server.enableXsrfProtection"] is True
    # Streamlit's enableCORS switches CORS *protection*: false would allow every origin
    assert config["server.enableCORS"] is True
    assert config["server.maxUploadSize"] == 200
    assert config["client.showErrorDetails"] == "none"
    assert config["server.fileWatcherType"] == "none"
    assert config["server.address"] == "127.0.0.1"
    assert config["server.enableStaticServing"] is True
    assert config["server.headless"] is True
    assert config["browser.gatherUsageStats"] is False
    assert "server.corsAllowedOrigins" not in config
    # every option exists in the installed Streamlit, and showErrorDetails takes "none"
    options = streamlit.config.get_config_options()
    assert set(config) <= set(options)
    assert '"none"' in (options["client.showErrorDetails"].description or "")


def test_serve_passes_the_same_settings_as_the_shipped_config() -> None:
    config = shipped_config()
    for option, value in STREAMLIT_OPTIONS.items():
        assert option in config, f"{option} is passed by `serve` but missing from {CONFIG}"
        assert str(config[option]).lower() == value, option
    for option in config:
        if option.startswith(("server.", "client.", "browser.")) and option != "server.address":
            assert option in STREAMLIT_OPTIONS, f"{option} is in {CONFIG} but not passed by serve"


def _html_calls(tree: ast.Module) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        unsafe = any(
            k.arg == "unsafe_allow_html"
            and not (isinstance(k.value, ast.Constant) and k.value.value is False)
            for k in node.keywords
        )
        is_html = isinstance(node.func, ast.Attribute) and node.func.attr == "html"
        if unsafe or is_html:
            yield node


#: HTML made from a module's constant with values filled in that are not data, each with why.
FILLED_CONSTANTS = {
    ("views/shared.py", "UPLOADER_WORDS"): "the language file's two words, as JSON with < escaped",
    ("views/hotspot_editor.py", "_SCROLL"): "a constant anchor and a click counter (an int)",
}


def _filled_constant(body: ast.expr) -> str | None:
    """The constant's name in ``CONSTANT % (...)`` or ``CONSTANT.replace(...)``, else None."""
    if isinstance(body, ast.BinOp) and isinstance(body.op, ast.Mod):
        body = body.left
    elif isinstance(body, ast.Call) and isinstance(body.func, ast.Attribute):
        if body.func.attr != "replace":
            return None
        body = body.func.value
    else:
        return None
    return body.id if isinstance(body, ast.Name) else None


def _module_constants(tree: ast.Module) -> set[str]:
    """Names bound once at module level to a string constant (or a join of constants)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if isinstance(node.value.value, str):
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def python_files() -> list[Path]:
    return [
        ROOT / "app.py",
        ROOT / "server.py",
        *sorted((ROOT / "views").glob("*.py")),
        *sorted((ROOT / "mapping").rglob("*.py")),
    ]


def test_html_is_only_ever_a_constant_string() -> None:
    """``unsafe_allow_html=True`` and ``st.html`` get fixed text, never data."""
    seen = 0
    for file in python_files():
        tree = ast.parse(file.read_text(encoding="utf-8"))
        constants = _module_constants(tree)
        for call in _html_calls(tree):
            seen += 1
            where = f"{file.relative_to(ROOT)}:{call.lineno}"
            assert len(call.args) == 1, f"{where}: give the HTML as the one argument"
            [body] = call.args
            fixed = (
                (isinstance(body, ast.Constant) and isinstance(body.value, str))
                or (isinstance(body, ast.Name) and body.id in constants)
                or (str(file.relative_to(ROOT)), _filled_constant(body)) in FILLED_CONSTANTS
            )
            assert fixed, f"{where}: HTML must be a string constant, not {ast.unparse(body)}"
    assert seen >= 1  # app.py's style sheet: the check really looks


def test_the_html_check_catches_data() -> None:
    bad = ast.parse(
        "import streamlit as st\nname = input()\nst.markdown(name, unsafe_allow_html=True)"
    )
    [call] = _html_calls(bad)
    assert isinstance(call.args[0], ast.Name)
    assert call.args[0].id not in _module_constants(bad)


# --- the real server ----------------------------------------------------------------------------


@pytest.fixture
def server(demo_workspace: Path, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """``outreach-map serve`` on the demo, started under a permissive umask; (url, pid)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_MAP_")}
    log = tmp_path / "streamlit.log"
    command = [
        sys.executable,
        "-m",
        "mapping.cli.main",
        "serve",
        "--workspace",
        str(demo_workspace),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
            umask=0o022,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(process, url, log)
            yield url, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def _status(request: urllib.request.Request) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def _websocket_answer(url: str, origin: str) -> str:
    """The first line of the server's answer to a WebSocket handshake from ``origin``."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(
            (
                "GET /_stcore/stream HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode("ascii")
        )
        return raw.recv(200).decode("latin-1").split("\r\n")[0]


def test_the_running_server_refuses_other_sites(server: tuple[str, int]) -> None:
    url, pid = server
    # the server (which `serve` became) creates its files privately
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    assert "Umask:\t0077" in status

    evil = "http://evil.example"
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="v.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nfecha\n2026-02-01\n\r\n--xyz--\r\n"
    )
    upload = urllib.request.Request(
        f"{url}/_stcore/upload_file/some-session/some-file",
        data=body,
        method="PUT",
        headers={"Origin": evil, "Content-Type": "multipart/form-data; boundary=xyz"},
    )
    code, headers, text = _status(upload)
    assert (code, text) == (403, "XSRF token missing or invalid")
    assert headers.get("Access-Control-Allow-Origin") in (None, url)

    code, headers, _ = _status(
        urllib.request.Request(f"{url}/_stcore/health", headers={"Origin": evil})
    )
    assert code == 200
    assert "Access-Control-Allow-Origin" not in headers

    # a WebSocket from another site's page is refused (CORS protection on); the app's own works
    assert _websocket_answer(url, url).startswith("HTTP/1.1 101")
    refused = _websocket_answer(url, evil)
    assert not refused.startswith("HTTP/1.1 101"), refused
