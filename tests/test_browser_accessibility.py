"""Every page of every role, in light and dark mode and in each language, checked in Chromium.

Three checks on each page as drawn: axe-core for accessibility, the English detector of
``tests/languages.py`` for text left in English on a page in another language, and that every
table (st.dataframe) fits its box at 1366 px, in each of the page's tabs: no sideways scrolling
and no header cut (``browser.tables_not_fitting``).

axe-core (``tests/vendor``, for this test only; the app never serves it) is injected into every
frame of the page — Streamlit's document, the maps' and the visit form's component frames
(same-origin, so axe reaches them) — and run from the top document with its default rules
(WCAG 2.0–2.2 A and AA, and its best practices). Any violation of impact "serious" or "critical"
fails the test, named with its rule, impact, the elements (selectors, through frames) and a short
piece of their HTML. docs/accessibility.md says what is checked and why.

One browser, one server, each page opened once per pass: each language but English once, the
passes alternating light and dark (Spanish light, French dark), so that every page is checked in
both schemes and in every language within two passes (CI's time is counted).
"""

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
    tables_not_fitting,
)
from languages import COLLECT, english_on, english_pieces

from mapping.i18n import DEFAULT_LANGUAGE, LANGUAGES

#: (colour scheme, language) of each pass: each language but English, alternating light and
#: dark, and at least one pass of each scheme.
PASSES = [
    (("light", "dark")[index % 2], code)
    for index, code in enumerate(code for code in LANGUAGES if code != DEFAULT_LANGUAGE)
]
if len(PASSES) < 2:
    PASSES.append(("dark", PASSES[0][1]))

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
MAP = 'iframe[title="streamlit_folium.st_folium"]'
FORM = 'iframe[title="views.components.visit_form.visit_form"]'
#: (role, page path, the frame of its map, if any) — every page of every role and the sign-in
#: page (no role), as in test_browser_pages.py.
PAGES: list[tuple[str, str, str | None]] = [
    ("", "", None),
    ("coordinator", "", MAP),
    ("coordinator", "coverage", MAP),
    ("coordinator", "hotspots", MAP),
    ("coordinator", "plan", None),
    ("coordinator", "services", MAP),
    ("coordinator", "sites", MAP),
    ("coordinator", "import_data", None),
    ("peer", "", MAP),
    ("peer", "log_visit", FORM),
    ("funder", "", MAP),
    ("admin", "", None),
]
#: The quick My area, outside Streamlit (the demo opens it as its peer educator without a PIN).
QUICK = "api/quick/area?role=peer"
#: Impacts that fail the test; "moderate" and "minor" are reported by axe but not failed on.
FAILING = {"serious", "critical"}
#: Elements of Streamlit's own frontend that the app cannot change, left out of the check:
#: none so far (docs/accessibility.md lists each with its reason).
EXCLUDE: list[str] = []
#: True once the script run has ended and the page has not changed for 1.5 s (a page's title
#: shows while the rest of it is still being drawn).
SETTLED = """() => {
  const count = document.querySelectorAll('*').length;
  const busy = document.querySelector('[data-testid="stStatusWidget"], [data-stale="true"]');
  if (busy || window.omCount !== count) {
    window.omCount = count;
    window.omSince = Date.now();
    return false;
  }
  return Date.now() - window.omSince > 1500;
}"""
#: Runs axe from the top document (it reaches the frames it was injected into); returns the
#: violations and whether any text was checked for contrast (a page drawn blank checks none).
RUN_AXE = """async (exclude) => {
  const context = exclude.length ? {include: [document], exclude: exclude} : document;
  const results = await axe.run(context, {resultTypes: ['violations']});
  return {
    checked: [...results.passes, ...results.violations].some((r) => r.id === 'color-contrast'),
    violations: results.violations.map((rule) => ({
      id: rule.id,
      impact: rule.impact,
      nodes: rule.nodes.map((n) => ({impact: n.impact, target: n.target, html: n.html})),
    })),
  };
}"""


def _open(page: Any, url: str, frame: str | None) -> None:
    """Open a page of the app and wait until it and its map (or visit form) are drawn."""
    page.goto(url, wait_until="domcontentloaded")
    page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=120_000)
    if frame:
        page.locator(frame).first.wait_for(timeout=120_000)
        content = page.frame_locator(frame).first
        content.locator(".leaflet-container").first.wait_for(timeout=120_000)
        content.locator(".om-legend").first.wait_for(timeout=120_000)
    page.wait_for_function(SETTLED, polling=250, timeout=120_000)


def _open_quick(page: Any, url: str) -> None:
    """Open the quick My area and wait for its map."""
    page.goto(url, wait_until="domcontentloaded")
    page.locator("main .leaflet-container").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1000)


def _violations(page: Any) -> list[str]:
    """Inject axe into every frame, run it from the top, and describe each failing element."""
    for frame in page.frames:
        frame.add_script_tag(path=str(AXE))
    results = page.evaluate(RUN_AXE, EXCLUDE)
    assert results["checked"], f"axe found no text to check on {page.url}: was it drawn?"
    found = []
    for rule in results["violations"]:
        for node in rule["nodes"]:
            impact = node["impact"] or rule["impact"]
            if impact not in FAILING:
                continue
            # a target in a frame is a list: the frame's selector, then the element's in it
            where = " >> ".join(
                " ".join(part) if isinstance(part, list) else part for part in node["target"]
            )
            snippet = " ".join(node["html"].split())[:160]
            found.append(f"{rule['id']} ({impact}): {where}\n      {snippet}")
    return found


@pytest.mark.browser
def test_every_page_passes_axe_and_is_in_its_language(served_app: str) -> None:
    """No serious or critical axe violation, no English text, no table too wide, in any pass."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    found: dict[str, list[str]] = {}
    english: dict[str, list[str]] = {}
    wide: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for scheme, language in PASSES:
                pieces = english_pieces(language)
                # bypass_csp: the quick page's policy allows no inline script, and axe is one
                context = browser.new_context(
                    viewport={"width": 1366, "height": 900},
                    color_scheme=scheme,
                    bypass_csp=True,
                    locale=language,
                )
                context.add_init_script(RECORD_TEXT)  # the tables' headers, as drawn
                page = context.new_page()
                pages = [
                    (f"{role or 'sign-in'}-{path or 'home'}", role, path, frame)
                    for role, path, frame in PAGES
                ]
                for name, role, path, frame in [*pages, ("quick", "", QUICK, None)]:
                    if name == "quick":
                        _open_quick(page, f"{served_app}/{QUICK}&lang={language}")
                    else:
                        query = f"?lang={language}" + (f"&role={role}" if role else "")
                        _open(page, f"{served_app}/{path}{query}", frame)
                    shot = SCREENSHOTS / f"axe-{scheme}-{language}-{name}.png"
                    page.screenshot(path=shot, full_page=True)
                    if violations := _violations(page):
                        found[f"{scheme} {language} {name}"] = violations
                    if text := english_on(page.evaluate(COLLECT), pieces):
                        english[f"{language} {name}"] = text
                    if name != "quick":  # last: it scrolls the page and chooses its tabs
                        wide += tables_not_fitting(page, f"{scheme} {language} {name}")
                context.close()
        finally:
            browser.close()
    assert not found, "\n".join(
        f"{name}:\n" + "\n".join(f"  {line}" for line in lines) for name, lines in found.items()
    )
    assert not english, "\n".join(f"{name}: {lines}" for name, lines in english.items())
    assert not wide, "\n".join(wide)
