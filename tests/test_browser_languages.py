"""The detector of English on a page in another language, on text made for it.

Every page in each language is checked in Chromium by tests/test_browser_accessibility.py,
which opens each page once per colour scheme and language and runs axe and this detector.
"""

from __future__ import annotations

from languages import english_on, english_pieces


def test_english_pieces_are_found_and_names_are_not() -> None:
    """The detector itself, on text made for it."""
    pieces = english_pieces("es")
    assert english_on(["Distritos ordenados por brecha"], pieces) == []
    assert english_on(["San Juan de Lurigancho", "PE01 · 88c2a", "Santa Rosa"], pieces) == []
    assert english_on(["Sesión de demo-coordinator (Coordinación)"], pieces) == []
    assert english_on(["Choose options"], pieces)
    assert english_on(["Mon 07 Dec 2026", "3 days ago"], pieces)
    french = english_pieces("fr")
    assert english_on(["Districts classés par lacune", "District", "Services"], french) == []
    assert english_on(["Choose an option", "Visits per cell"], french)
