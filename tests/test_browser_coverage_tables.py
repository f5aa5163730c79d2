"""The coverage and hotspots pages at 1366 x 900 in Chromium: tables fit, figures read whole.

A table (st.dataframe) is drawn on a canvas, so its headers are not elements whose scrollWidth
could be read. The test records what the page draws instead (``fillText``: the text, where,
and its measured width; ``browser.table_problems``): a header is whole when its text ends
before the next column begins, or before the grid's right edge for the last one.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RECORD_TEXT,
    SCREENSHOTS,
    need_chromium,
    table_problems,
)

from mapping.i18n import translator

#: What a reader can see of the page (its text and every table's cells), outside the formula.
VISIBLE = """() => [document.querySelector('[data-testid="stMain"]').innerText,
  ...[...document.querySelectorAll('[data-testid="stDataFrame"] table td')]
    .map((cell) => cell.textContent)]"""
#: A fraction of a person in words: "136.2 unique contacts", "peer educators: 1.35".
FRACTION = re.compile(r"\d\.\d")


def _open(page: Any, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000
    )
    page.wait_for_timeout(1500)


def _assert_fits(page: Any, index: int, names: list[str], where: str) -> None:
    """The table's columns fit its box, and no header is cut."""
    problems = table_problems(page, index, where, names)
    assert not problems, "\n".join(problems)


# English here; Spanish and French (longer words) are measured on every page, these two included,
# by tests/test_browser_accessibility.py's pass in each language (CI's time is counted)
@pytest.mark.parametrize("language", ["en"])
def test_coverage_and_hotspots_tables_fit_at_1366(served_app: str, language: str) -> None:
    """Ranking, cells and findings: no sideways scrolling, no cut header."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    t = translator(language)
    ranking = [
        t("coverage.rank"),
        t("coverage.district"),
        t("coverage.gap_score"),
        t("coverage.reached_of"),
        t("coverage.coverage"),
    ]
    cells = [
        t(f"cells.{key}")
        for key in ("hotspot", "visits", "contacts", "new_contacts", "last_visit", "cell")
    ]
    findings = [t("hotspots.kind"), t("hotspots.hotspot"), t("coverage.district")]
    findings.append(t("hotspots.detail"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900})
            context.add_init_script(RECORD_TEXT)
            page = context.new_page()
            # Puente Piedra: more reached (130) than its low estimate (105), the capped case
            url = f"{served_app}/coverage?role=coordinator&lang={language}&district=PE-150125"
            _open(page, url)
            _assert_fits(page, 0, ranking, f"{language} ranking")
            _assert_fits(page, 1, cells, f"{language} cells")
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"coverage-ranking-{language}.png"))
            shown = page.evaluate(VISIBLE)
            text = "\n".join(shown)
            assert "00:00:00" not in text
            assert not FRACTION.findall(text), [
                line for line in text.splitlines() if FRACTION.search(line)
            ]
            assert t("coverage.of_estimate", reached="130", estimate="105–177") in text
            _open(page, f"{served_app}/hotspots?role=coordinator&lang={language}")
            _assert_fits(page, 0, findings, f"{language} findings")
            assert "00:00:00" not in "\n".join(page.evaluate(VISIBLE))
        finally:
            browser.close()
