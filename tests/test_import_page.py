"""The Import page, run headless (AppTest): preview, confirm, commit or cancel, in two languages."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from helpers import account_token, copy_workspace, counts
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest
from test_import_preview import CODES, CUSCO, POINTS, visits_file
from test_import_report import PLANTED, bad_visits

from mapping import clock
from mapping.ingest.batch import REPORT_COLUMNS
from mapping.ingest.uploads import prepare_upload
from mapping.storage.workspace import Workspace

APP = Path(__file__).resolve().parent.parent / "app.py"
PAGE = "views/import_data.py"


@pytest.fixture
def demo_copy(demo_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A private copy of the demo workspace, which the app opens."""
    workspace = copy_workspace(demo_workspace, tmp_path / "demo")
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(workspace.path))
    return workspace


def import_page(workspace: Workspace, *, language: str = "en", prepared: bool = False) -> AppTest:
    """Run the app on the Import page, with the demo visits file prepared if asked."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state["auth_token"] = account_token(workspace.path)
    at.query_params["lang"] = language
    at.run()
    at.switch_page(PAGE)
    if prepared:
        data, name = visits_file()
        at.session_state["import_prepared"] = prepare_upload(
            workspace, "visits", data, source_name=name
        )
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize(
    ("language", "title", "first_kind"), [("en", "Import", "Visits"), ("es", "Importar", "Visitas")]
)
def test_the_page_offers_the_three_kinds(
    language: str, title: str, first_kind: str, demo_copy: Workspace
) -> None:
    at = import_page(demo_copy, language=language)
    assert at.title[0].value == title
    kinds = at.radio(key="import_kind")
    assert len(kinds.options) == 3 and first_kind in kinds.options[0]
    assert not at.metric and not at.main.button


def test_preview_then_commit_says_what_changed(demo_copy: Workspace) -> None:
    before = counts(demo_copy)
    at = import_page(demo_copy, prepared=True)

    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics == {
        "Rows read": "5",
        "Would be accepted": "4",
        "Of which updates": "0",
        "Duplicates": "0",
        "Rejected": "1",
    }
    problems = at.dataframe[0].value
    assert list(problems.columns) == ["Row", "Field", "Value", "Problem", "How to fix it", "Cell"]
    assert problems.iloc[0].tolist()[:3] == [6, "location", "(redacted)"]
    assert counts(demo_copy) == before  # the preview stored nothing
    commit = at.button[0]
    assert commit.label == "Commit" and commit.disabled  # not before it is confirmed

    at.checkbox[0].check().run()
    at.button[0].click().run()

    assert not at.exception, at.exception
    message = at.success[0].value
    assert message.startswith("Imported visitas.csv as :material/directions_walk: Visits: 4 added")
    assert "1 rejected" in message and "-rejected.csv" not in message  # no server path
    (download,) = at.get("download_button")
    assert download.label == "Download the rejected rows (CSV)"
    assert counts(demo_copy)["visits"] == before["visits"] + 4
    assert "import_prepared" not in at.session_state
    assert at.radio(key="import_kind")  # back to choosing a file


def test_the_same_file_again_shows_only_duplicates(demo_copy: Workspace) -> None:
    at = import_page(demo_copy, prepared=True)
    at.checkbox[0].check().run()
    at.button[0].click().run()
    again = import_page(demo_copy, language="es", prepared=True)
    metrics = {metric.label: metric.value for metric in again.metric}
    assert (metrics["Se aceptarían"], metrics["Duplicadas"], metrics["Rechazadas"]) == (
        "0",
        "4",
        "1",
    )
    assert again.info[0].value.startswith("Nada en este archivo es nuevo")


def test_cancel_stores_nothing(demo_copy: Workspace) -> None:
    before = counts(demo_copy)
    at = import_page(demo_copy, prepared=True)
    at.button[1].click().run()
    assert not at.exception, at.exception
    assert at.info[0].value.startswith("Cancelled: nothing from visitas.csv was stored")
    assert counts(demo_copy) == before
    assert "import_prepared" not in at.session_state


def test_uploads_stay_in_memory_while_the_server_receives_them(demo_copy: Workspace) -> None:
    """Starlette would spool a file part over 1 MB to a temporary file; the page stops that."""
    import asyncio

    from starlette.formparsers import MultiPartParser
    from starlette.requests import Request

    import_page(demo_copy)
    assert MultiPartParser.spool_max_size >= 200 * 1024 * 1024

    content = b"fecha,latitud,longitud\n" + b"2026-02-01,-12.0463712,-77.0428137\n" * 90_000
    assert len(content) > 3 * 1024 * 1024
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="v.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + content + b"\r\n--xyz--\r\n"
    )

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def parse() -> bool:
        headers = [(b"content-type", b"multipart/form-data; boundary=xyz")]
        request = Request({"type": "http", "method": "POST", "headers": headers}, receive)
        form = await request.form()
        upload = form["file"]
        assert not isinstance(upload, str)
        rolled = bool(upload.file._rolled)  # type: ignore[attr-defined]
        assert await upload.read() == content
        await form.close()
        return rolled

    assert asyncio.run(parse()) is False


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What each download button of a run holds: its bytes, type and file name."""
    kept: list[dict[str, Any]] = []
    offer = MemoryMediaFileStorage.load_and_get_id

    def record(
        storage: MemoryMediaFileStorage,
        path_or_data: str | bytes,
        mimetype: str,
        kind: Any,
        filename: str | None = None,
    ) -> str:
        kept.append({"data": path_or_data, "mimetype": mimetype, "filename": filename})
        return offer(storage, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return kept


def upload(at: AppTest, data: bytes, name: str) -> None:
    """Choose a file in the page's uploader, as a person does, and run the page."""
    at.file_uploader[0].set_value((name, data, "text/csv")).run()
    assert not at.exception, at.exception


def test_rejected_rows_in_spanish_and_as_a_download(
    demo_copy: Workspace, downloads: list[dict[str, Any]]
) -> None:
    """Each planted problem reads in Spanish, and the download holds exactly those rows."""
    at = import_page(demo_copy, language="es")
    data, name = bad_visits()
    upload(at, data, name)

    shown = at.dataframe[0].value
    assert list(shown.columns) == ["Fila", "Campo", "Valor", "Problema", "Cómo corregirlo", "Celda"]
    by_row = {row["Fila"]: row for _, row in shown.iterrows()}
    assert by_row[3]["Problema"] == "no es una fecha que este importador entienda"
    assert by_row[3]["Cómo corregirlo"].startswith("escriba las fechas como AAAA-MM-DD")
    assert by_row[5]["Problema"] == "está fuera de todos los distritos del área"
    assert by_row[5]["Valor"] == "(oculto)"
    (download,) = at.get("download_button")
    assert download.label == "Descargar las filas rechazadas (CSV)"
    offered = downloads[-1]
    day = clock.today(demo_copy).isoformat()
    assert (offered["filename"], offered["mimetype"]) == (f"rejected-visits-{day}.csv", "text/csv")
    report = pl.read_csv(io.BytesIO(offered["data"]), infer_schema=False)
    assert report.columns == list(REPORT_COLUMNS)
    assert {(int(r), f) for r, f in report.select("row", "field").iter_rows()} >= {
        (row, field) for row, (field, _) in PLANTED.items()
    }
    assert {int(r) for r in report["row"]} == set(PLANTED)
    assert "no es una fecha que este importador entienda" in report["problem"].to_list()
    text = offered["data"].decode()
    assert not any(part in text for point in [*POINTS, CUSCO] for part in point)
    assert not any(code in text for code in CODES)

    # committed, the download is offered again beside the message; the server keeps its report
    at.checkbox(key=next(k for k in at.session_state if k.startswith("import_confirm"))).check()
    at.run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert "reports" not in at.success[0].value and "-rejected" not in at.success[0].value
    assert at.get("download_button")[0].label == "Descargar las filas rechazadas (CSV)"
    assert downloads[-1]["data"] == offered["data"]
    kept = sorted((demo_copy.path / "reports").glob("visits-*-rejected.csv"))[-1]  # the newest
    on_server = pl.read_csv(kept, infer_schema=False)
    assert (
        on_server.select("row", "field", "cell").rows()
        == report.select("row", "field", "cell").rows()
    )
    assert "is not a date this importer understands" in on_server["problem"].to_list()


def test_a_file_without_a_date_is_refused_in_spanish(demo_copy: Workspace) -> None:
    at = import_page(demo_copy, language="es")
    upload(at, b"educadora_par,latitud,longitud\nPE1,-12.0463712,-77.0428137\n", "sin.csv")
    assert at.error[0].value.startswith(
        "Este archivo no se puede importar: sin.csv no tiene columnas utilizables: no se "
        "encontró la fecha de la visita — nombre una columna date/fecha"
    )


def test_the_outside_box_applies_to_the_next_file_and_the_preview_says_which(
    demo_copy: Workspace,
) -> None:
    """The file is gone once read: the preview says how it was read; the box keeps its value."""
    at = import_page(demo_copy)
    data, name = visits_file()  # one visit in Cusco, outside the area
    at.checkbox(key="import_outside").check().run()
    upload(at, data, name)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert (metrics["Would be accepted"], metrics["Rejected"]) == ("5", "0")
    assert any(c.value.startswith("Locations outside every district are kept") for c in at.caption)

    at.button[1].click().run()  # cancel: the box still says how the last file was read
    assert at.checkbox(key="import_outside").value is True
    at.checkbox(key="import_outside").uncheck().run()
    upload(at, data, name)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert (metrics["Would be accepted"], metrics["Rejected"]) == ("4", "1")
    notes = [c.value for c in at.caption]
    assert any(n.startswith("Locations outside every district are rejected") for n in notes)
    assert "tick “Keep locations outside every district”" in at.dataframe[0].value.iloc[0, 4]
