"""Fonts for the PDFs the library writes: DejaVu Sans from this machine, never downloaded."""

from __future__ import annotations

import sys
from pathlib import Path

from fpdf import FPDF

#: Where a font with accents and symbols may be (Debian's, or the one matplotlib ships).
_FONT_FOLDERS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path(sys.prefix) / "share/fonts/truetype/dejavu",
)
#: The family name a PDF uses when no DejaVu Sans is found (latin-1 only).
FALLBACK = "helvetica"
#: French letters and marks latin-1 lacks, as the fallback font can print them (DejaVu Sans
#: has them all): a typed service name such as "Cœur d’Or" keeps its letters, not "?".
_LATIN_1_FRENCH = str.maketrans(
    {"œ": "oe", "Œ": "OE", "’": "'", "‘": "'", "\u202f": "\u00a0", "Ÿ": "Y"}
)


def dejavu() -> tuple[Path, Path] | None:
    """Return DejaVu Sans and its bold face, from the system or matplotlib; None if neither."""
    folders = list(_FONT_FOLDERS)
    try:
        import matplotlib

        folders.append(Path(matplotlib.get_data_path()) / "fonts/ttf")
    except ImportError:
        pass
    for folder in folders:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            return regular, bold
    return None


def add_fonts(pdf: FPDF) -> str:
    """Register DejaVu Sans (regular and bold) with ``pdf`` and return the family to use.

    Returns :data:`FALLBACK` when the machine has no DejaVu Sans; write text through
    :func:`printable` then, since the built-in font knows latin-1 only.
    """
    fonts = dejavu()
    if fonts is None:
        return FALLBACK
    pdf.add_font("dejavu", fname=str(fonts[0]))
    pdf.add_font("dejavu", style="B", fname=str(fonts[1]))
    return "dejavu"


def printable(text: str, family: str) -> str:
    """Return ``text`` as the font ``family`` can print it (``?`` for what latin-1 lacks).

    The fallback font writes French ``œ`` as ``oe`` and ``’`` as ``'`` rather than ``?``.

    Examples
    --------
    >>> printable("20:45 — ñ", FALLBACK)
    '20:45 ? ñ'
    >>> printable("20:45 — ñ", "dejavu")
    '20:45 — ñ'
    >>> printable("Cœur d’Or", FALLBACK)
    "Coeur d'Or"
    """
    if family != FALLBACK:
        return text
    return text.translate(_LATIN_1_FRENCH).encode("latin-1", "replace").decode("latin-1")
