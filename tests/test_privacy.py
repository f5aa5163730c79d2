"""No coordinate, raw contact code or key ever reaches a file of the workspace."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import counts, query, write_csv

from mapping.errors import WorkspaceError
from mapping.ingest.visits import visits_from_file
from mapping.privacy import forbidden_reason, hash_code, normalise_code
from mapping.storage.store import dispose_engines
from mapping.storage.workspace import Workspace, open_workspace

#: Every workspace test here runs on SQLite and on a real PostgreSQL server.
pytestmark = pytest.mark.engines

#: Distinctive points (6-7 decimals, unlike any district vertex), with what each row tests.
POINTS = [
    ("-12.0463712", "-77.0428137"),  # central Lima, accepted
    ("-12.1211386", "-77.0297149"),  # Miraflores, accepted
    ("-11.9876543", "-77.0612345"),  # San Martín de Porres, accepted
    ("-12.0723451", "-77.0165432"),  # La Victoria, phone contact: accepted without a cell
    ("-77.0534567", "-12.0577654"),  # swapped: rejected
    ("-13.5318765", "-71.9674321"),  # Cusco, outside the area: rejected
    ("-12.2004321", "-76.9123456"),  # accepted, but the row has a bad date: rejected
]
CODES = ["QXZMAJO8501", "WVKROSA7702", "ZZTOP-JUNE-66", "KLMNOP4321"]
HEADER = ("fecha", "educadora_par", "latitud", "longitud", "codigo_unico", "modalidad")


def _rows() -> list[list[str]]:
    rows = []
    for index, (lat, lng) in enumerate(POINTS):
        rows.append(
            [
                "2026-13-45" if index == 6 else f"2026-02-{index + 1:02d}",
                f"PE{index % 2}",
                lat,
                lng,
                CODES[index % len(CODES)],
                "llamada" if index == 3 else "presencial",
            ]
        )
    return rows


def _needles(workspace: Workspace) -> dict[str, bytes]:
    """Every way a coordinate, a raw contact code or the key could be written."""
    needles: dict[str, bytes] = {}
    for point in POINTS:
        for text in point:
            value = float(text)
            whole, decimals = text.lstrip("-").split(".")
            for places in range(3, len(decimals) + 1):
                shortened = f"{whole}.{decimals[:places]}"
                needles[f"text {shortened}"] = shortened.encode()
                needles[f"text -{shortened}"] = f"-{shortened}".encode()
                for fmt in ("<d", ">d", "<f", ">f"):  # SQLite writes REAL big-endian
                    rounded = round(value, places)
                    needles[f"{fmt} {rounded}"] = struct.pack(fmt, rounded)
            for fmt in ("<d", ">d", "<f", ">f"):
                needles[f"{fmt} {text}"] = struct.pack(fmt, value)
    for code in CODES:
        for spelling in (code, normalise_code(code), code.lower()):
            needles[f"code {spelling}"] = spelling.encode()
            needles[f"utf-16 code {spelling}"] = spelling.encode("utf-16-le")
    key = workspace.key()
    needles["key"] = key
    needles["key bytes"] = bytes.fromhex(key.decode())
    needles["key half"] = key[:32]
    return needles


def _files(workspace: Workspace) -> list[Path]:
    """Every file of the workspace except the key file (which holds the key, by design).

    On PostgreSQL also every file of the workspace's database on the server (after a
    checkpoint has written its pages): the test server runs on this machine.
    """
    files = [p for p in workspace.path.rglob("*") if p.is_file() and p.name != "secret.key"]
    if not workspace.db_url.startswith("postgresql"):
        return sorted(files)
    with workspace.connect() as connection:
        connection.execute(sa.text("CHECKPOINT"))
        data = Path(connection.execute(sa.text("SHOW data_directory")).scalar_one())
        oid = connection.execute(
            sa.text("SELECT oid FROM pg_database WHERE datname = current_database()")
        ).scalar_one()
    database = data / "base" / str(oid)
    assert database.is_dir(), f"the test server's files must be readable here: {database}"
    return sorted([*files, *(p for p in database.iterdir() if p.is_file())])


def _timestamps(workspace: Workspace) -> list[bytes]:
    """Import times are stored as text: ``...:12.046...`` is a time, not a latitude."""
    return [str(t).encode() for (t,) in query(workspace, "SELECT imported_at FROM imports")]


def _found(workspace: Workspace, needles: dict[str, bytes]) -> list[str]:
    benign = _timestamps(workspace)
    found = []
    for path in _files(workspace):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a server's transient file (pg_internal.init), gone meanwhile
            continue
        server_file = not path.is_relative_to(workspace.path)
        for label, needle in needles.items():
            # a 4-byte float matches by chance somewhere in megabytes of a server's pages
            if server_file and label[1:2] == "f":
                continue
            if needle in data and not any(needle in time for time in benign):
                found.append(
                    f"{label} in {path.name if server_file else path.relative_to(workspace.path)}"
                )
    return found


def test_no_coordinate_code_or_key_in_any_file(workspace: Workspace, tmp_path: Path) -> None:
    needles = _needles(workspace)
    assert _found(workspace, needles) == [], "the needles must be absent before the import"
    path = write_csv(tmp_path / "visitas.csv", HEADER, _rows())
    # hold a connection open so the import's write-ahead log stays on disk to be searched
    with workspace.connect() as connection:
        connection.execute(sa.text("SELECT count(*) FROM visits")).scalar_one()
        result = visits_from_file(workspace, path)
        assert (result.accepted, result.rejected) == (4, 3)
        if workspace.db_url.startswith("sqlite"):
            wal = workspace.path / "outreach.db-wal"
            assert wal.exists() and wal.stat().st_size > 0
        assert _found(workspace, needles) == []
        assert connection.execute(sa.text("SELECT count(*) FROM visits")).scalar_one() == 4
    # and once the log is folded into the store's file, as when the last connection closes
    dispose_engines()

    assert _found(workspace, needles) == []
    assert counts(workspace)["contacts"] == len(CODES)
    stored = {h for (h,) in query(workspace, "SELECT code_hash FROM contacts")}
    assert stored == {hash_code(c, workspace.key()) for c in CODES}
    assert query(workspace, "SELECT cell FROM visit_details WHERE channel = 2") == [(None,)]
    # the report names the problems of the three rejected rows, and nothing of their places
    report = result.report.read_text(encoding="utf-8")  # type: ignore[union-attr]
    assert report.count("(redacted)") == 2
    assert "2026-13-45" in report


def test_nothing_found_after_reimport_and_second_file(workspace: Workspace, tmp_path: Path) -> None:
    needles = _needles(workspace)
    path = write_csv(tmp_path / "visitas.csv", HEADER, _rows())
    visits_from_file(workspace, path)
    visits_from_file(workspace, path)
    again = write_csv(tmp_path / "visitas.txt", HEADER, _rows()[::-1], delimiter=";")
    assert visits_from_file(workspace, again).accepted == 0

    assert _found(workspace, needles) == []
    assert not list(workspace.path.glob("*-journal"))


def test_forbidden_reason_names_what_a_column_would_hold() -> None:
    assert forbidden_reason("Nombre y apellidos") == "a name"
    assert forbidden_reason("whatsapp_number") == "a phone number"
    assert forbidden_reason("Resultado VIH") == "an HIV result"
    assert forbidden_reason("Observaciones") == "free-text notes"
    assert forbidden_reason("DNI") == "an identity document number"
    assert forbidden_reason("fecha_visita") is None
    assert forbidden_reason("codigo_unico") is None


def test_key_file_is_private_and_required(workspace: Workspace, tmp_path: Path) -> None:
    key_file = workspace.path / "secret.key"
    assert key_file.stat().st_mode & 0o077 == 0
    assert len(workspace.key()) == 64
    key_file.chmod(0o644)
    with pytest.raises(WorkspaceError, match="chmod 600"):
        open_workspace(workspace.path)
    key_file.chmod(0o600)
    key_file.unlink()
    path = write_csv(tmp_path / "v.csv", HEADER, _rows()[:1])
    before = counts(workspace)
    with pytest.raises(WorkspaceError, match="no contact-code key"):
        visits_from_file(workspace, path)
    assert counts(workspace) == before


def test_key_from_the_environment_wins(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "v.csv", HEADER, _rows()[:1])
    monkeypatch.setenv("OUTREACH_MAP_KEY", "short")
    with pytest.raises(WorkspaceError, match="at least 32"):
        visits_from_file(workspace, path)
    key = "k" * 40
    monkeypatch.setenv("OUTREACH_MAP_KEY", key)
    visits_from_file(workspace, path)
    [(stored,)] = query(workspace, "SELECT code_hash FROM contacts")
    assert stored == hash_code(CODES[0], key.encode())
    assert stored != hash_code(CODES[0], (workspace.path / "secret.key").read_bytes().strip())


def test_names_among_agrees_with_looks_like_name() -> None:
    import polars as pl

    from mapping.privacy import looks_like_name, names_among

    codes = ["Rosa Quispe", "PE 12", None, "ROSA Q.", "EQUIPO NORTE", "Ana María", "T1", "José"]
    flags = names_among(pl.Series(codes, dtype=pl.String)).to_list()
    assert flags == [c is not None and looks_like_name(c) for c in codes]
    assert flags == [True, False, False, True, False, True, False, False]
