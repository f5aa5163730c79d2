"""The Import page, run headless (AppTest): preview, confirm, commit or cancel, in two languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import account_token, copy_workspace, counts
from streamlit.testing.v1 import AppTest
from test_import_preview import visits_file

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
    assert "1 rejected" in message and "visits-" in message and "-rejected.csv" in message
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
