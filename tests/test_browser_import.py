"""The Import page in Chromium: upload, preview, confirm, commit; the places go nowhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RECORD_TEXT,
    SCREENSHOTS,
    need_chromium,
    outside_requests,
    tables_not_fitting,
)
from helpers import counts, query
from test_import_preview import CODES, CUSCO, POINTS, needles, visits_file

from mapping.storage.workspace import open_workspace

BROKEN = b"educadora_par,latitud,longitud\nPE1,-12.0463712,-77.0428137\n"


def open_import_page(page: Any, url: str) -> None:
    """Open the app as a coordinator and go to Import through the menu, as people do."""
    page.goto(f"{url}/?role=coordinator", wait_until="domcontentloaded")
    page.get_by_text("Unique contacts").first.wait_for(timeout=90_000)
    unfold = page.locator('[data-testid="stExpandSidebarButton"]')
    folded = unfold.is_visible()  # on a phone the menu is folded away
    if folded:
        unfold.click()
    page.locator('[data-testid="stSidebar"] a', has_text="Import").click()
    page.get_by_text("What does the file hold?").wait_for(timeout=90_000)
    if folded:  # on a phone the menu folds itself away once a page is chosen
        unfold.wait_for(timeout=30_000)


def upload(page: Any, name: str, data: bytes) -> None:
    # after a commit or a cancel the page draws a fresh upload box: wait for the old one to go
    page.wait_for_function(
        "() => document.querySelectorAll('input[type=\"file\"]').length === 1", timeout=60_000
    )
    page.locator('input[type="file"]').set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": data}
    )


def metrics(page: Any) -> dict[str, str]:
    """Wait for the whole preview (down to its buttons) and return its figures by label."""
    page.get_by_text("Would be accepted").wait_for(timeout=90_000)
    page.locator('[data-testid="stCheckbox"]', has_text="I have checked").wait_for(timeout=90_000)
    page.get_by_role("button", name="Cancel").wait_for(timeout=90_000)
    page.wait_for_timeout(1000)  # let the table draw before the picture
    found = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        found[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return found


def files_holding(folder: Path, looked_for: dict[str, bytes]) -> list[str]:
    """Every (needle, file) pair where a coordinate or code is found in the folder's files.

    In the SQLite store (and its -wal/-journal) the 4-byte float needles are not looked for:
    SQLite stores every REAL as an 8-byte double, and the only blobs written there (WKB) hold
    doubles, so a coordinate could be there only as text or a double, both looked for. A 4-byte
    pattern is met there by chance instead: the store holds megabytes of random bytes (keyed
    contact hashes, visit fingerprints and their indexes), and one run found ``>f -12.0463712``
    inside a fingerprint in the visits' primary-key index.
    """
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "secret.key"):
        data = path.read_bytes()
        sqlite = data.startswith(b"SQLite format 3\x00") or path.name.endswith(("-wal", "-journal"))
        found += [
            f"{label} in {path.name}"
            for label, n in looked_for.items()
            if n in data and not (sqlite and label.startswith(("<f ", ">f ")))
        ]
    return found


@pytest.mark.browser
def test_import_page_uploads_previews_and_commits_in_chromium(
    served_copy: tuple[str, Path], tmp_path: Path
) -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    url, folder = served_copy
    workspace = open_workspace(folder)
    before = counts(workspace)
    data, name = visits_file()
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 1000})
            context.add_init_script(RECORD_TEXT)  # the tables' headers, as drawn
            context.on("request", lambda request: requested.append(request.url))
            page = context.new_page()
            page.on("websocket", lambda socket: requested.append(socket.url))
            open_import_page(page, url)

            upload(page, "sin-fecha.csv", BROKEN)
            error = page.locator('[data-testid="stAlertContentError"]')
            error.wait_for(timeout=90_000)
            refused = error.inner_text()
            assert page.locator('[data-testid="stException"]').count() == 0

            upload(page, name, data)
            preview = metrics(page)
            uploaders = page.locator('input[type="file"]').count()
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "import.png"), full_page=True)
            wide = tables_not_fitting(page, "import preview")  # the rejected rows at 1366 px
            stored_during_preview = counts(workspace)

            commit = page.get_by_role("button", name="Commit")
            assert commit.is_disabled()
            page.locator('[data-testid="stCheckbox"]', has_text="I have checked").locator(
                "label"
            ).click()
            page.wait_for_function(
                "() => [...document.querySelectorAll('button')]"
                ".some(b => b.innerText.includes('Commit') && !b.disabled)",
                timeout=30_000,
            )
            commit.click()
            success = page.locator('[data-testid="stAlertContentSuccess"]')
            success.wait_for(timeout=90_000)
            changed = success.inner_text()

            phone = browser.new_context(viewport={"width": 390, "height": 844})
            phone.on("request", lambda request: requested.append(request.url))
            mobile = phone.new_page()
            mobile.on("websocket", lambda socket: requested.append(socket.url))
            open_import_page(mobile, url)
            upload(mobile, name, data)
            again = metrics(mobile)
            mobile.screenshot(path=str(SCREENSHOTS / "import-phone.png"), full_page=True)
        finally:
            browser.close()

    assert "This file cannot be imported" in refused and "no visit date was found" in refused
    assert preview == {
        "Rows read": "5",
        "Would be accepted": "4",
        "Of which updates": "0",
        "Duplicates": "0",
        "Rejected": "1",
    }
    assert not wide, "\n".join(wide)
    assert uploaders == 0  # the uploaded file is gone while the preview shows
    assert stored_during_preview == before
    assert changed.startswith("Imported visitas.csv as")
    assert "4 added, 0 updated, 0 duplicates skipped, 1 rejected" in changed
    assert (again["Would be accepted"], again["Duplicates"]) == ("0", "4")

    after = counts(workspace)
    assert after["visits"] == before["visits"] + 4
    assert after["imports"] == before["imports"] + 1
    assert query(workspace, "SELECT source_name, accepted, rejected FROM imports ORDER BY id")[
        -1
    ] == ("visitas.csv", 4, 1)
    looked_for = needles([*POINTS, CUSCO], [*CODES, "KLMNOP4321"])
    assert files_holding(folder, looked_for) == []
    assert files_holding(tmp_path, looked_for) == []  # the server's log included
    outside = outside_requests(requested)
    assert not outside, f"requests left the machine: {sorted(set(outside))}"
