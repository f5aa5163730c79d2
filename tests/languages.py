"""Finding English on a page that should be in another language (tests of every page).

What a reader sees is collected from the real page as drawn — the page's text, its maps and
components (every frame), the cells of its tables and the words of placeholders, labels and
tooltips — then searched for the English catalogue's texts (each literal run of two or more
words, six characters or more, that the language's own text of the key does not hold) and for
words that are English only. Names and codes are data, not text: the demo's district, facility
and hotspot names are Spanish place names, and codes (PE01, cell ids, demo-coordinator) hold no
English words.
"""

from __future__ import annotations

import re
import string

from mapping.i18n import DEFAULT_LANGUAGE, catalogue

#: Words that are English and no word of Spanish or French (whole words, any case).
ENGLISH_ONLY = re.compile(
    # a whole word, not part of a name or code such as demo-coordinator
    r"(?<![\w-])(the|and|with|this|that|these|your|you|which|were|was|are|been|have|has|from|"
    r"choose|options|days ago|redacted|visits|hotspots|drag and drop|browse files|"
    r"per file|limit|open now|peer educators?|unique contacts|not mapped|"
    r"coverage|target|reached|none|yes|week|month|quarter|coordinator|funder|peer|password"
    r")(?![\w-])",
    re.IGNORECASE,
)
#: Streamlit's own controls, named by Streamlit's frontend in English for screen readers only
#: (nothing a sighted reader sees); the app cannot set them.
STREAMLIT_CHROME = re.compile(
    r"^(Main menu|Stop|Running\.\.\.|Open sidebar|Close sidebar|Collapse sidebar|Expand sidebar|"
    r"Deploy|Fullscreen|Close fullscreen|(Show|Hide) password( text)?|"
    r"Download as CSV|Search|Zoom in|Zoom out|Help for .*|Link to heading|Clear all|"
    r"Clear value|Open|Close|Increment value|Decrement value|"
    # the date field's parts and calendar button, and the uploader's hidden file input
    r"(month|day|year), .*|Choose date|file upload)$"
)
#: A file name or path (``docs/coverage.md``) is a name, not text.
PATHS = re.compile(r"\S+\.(md|pmtiles|csv|toml)\b|\S*/\S+")
COLLECT = """() => {
  const out = [];
  const walk = (doc) => {
    if (!doc || !doc.body) return;
    out.push(doc.body.innerText);
    // a table (st.dataframe) is drawn on a canvas; its cells are in a hidden table for readers
    for (const cell of doc.querySelectorAll('[data-testid="stDataFrame"] table :is(th, td)')) {
      out.push(cell.textContent);
    }
    for (const e of doc.querySelectorAll('[placeholder],[aria-label],[title],[alt]')) {
      for (const a of ['placeholder', 'aria-label', 'title', 'alt']) {
        const v = e.getAttribute(a);
        if (v) out.push(v);
      }
    }
    for (const f of doc.querySelectorAll('iframe')) {
      try { walk(f.contentDocument); } catch (error) { /* another origin: none here */ }
    }
  };
  walk(document);
  return out;
}"""


def english_pieces(language: str) -> dict[str, str]:
    """Each English literal run (two words or more, 6+ characters) the language's text lacks."""
    english, other = catalogue(DEFAULT_LANGUAGE), catalogue(language)
    pieces: dict[str, str] = {}
    for key, text in english.items():
        for literal, *_ in string.Formatter().parse(text):
            for piece in re.split(r"[(),.:;·×=?!*`“”\"\[\]]", literal):
                piece = piece.strip()
                words = re.search(r"[a-z]{3,}", piece)  # not a code: "Mo-Fr 08:00-17:00"
                if " " in piece and len(piece) >= 6 and words and piece not in other[key]:
                    pieces[piece] = key
    return pieces


def english_on(texts: list[str], pieces: dict[str, str]) -> list[str]:
    """Every English text among what a page showed: catalogue pieces and English-only words."""
    found = []
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            if not line or STREAMLIT_CHROME.match(line):
                continue
            hits = [piece for piece in pieces if piece in line]
            words = ENGLISH_ONLY.findall(PATHS.sub("", line))
            if hits or words:
                why = ", ".join([pieces[piece] for piece in hits] + words)
                found.append(f"{line[:100]!r} ({why})")
    return sorted(set(found))
