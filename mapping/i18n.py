"""The app's words in each language: one TOML file per language in ``mapping/locales/``.

Adding a language is adding one file (``pt.toml``, say) with the same keys as ``en.toml`` and
its name in :data:`LANGUAGES`. A key missing from a language falls back to English, so a
half-translated file still works; the tests check that every language offered is complete.
Each language addresses the reader one way throughout: English neutrally, Spanish with
"usted", French with "vous" (tests/test_i18n.py checks the last two).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable
from pathlib import Path

from mapping.errors import InvalidInputError

LOCALES = Path(__file__).resolve().parent / "locales"
#: Languages the app offers, by code, each named in its own language.
LANGUAGES: dict[str, str] = {"en": "English", "es": "Español", "fr": "Français"}
DEFAULT_LANGUAGE = "en"


def _flatten(table: dict[str, object], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    """Return every key of ``language``'s file and its text (``section.key`` for nested tables)."""
    if language not in LANGUAGES:
        raise InvalidInputError(
            f"language {language!r} is not offered — choose one of {', '.join(LANGUAGES)}, or "
            f"add mapping/locales/{language}.toml and list it in mapping.i18n.LANGUAGES"
        )
    with (LOCALES / f"{language}.toml").open("rb") as handle:
        return _flatten(tomllib.load(handle))


def translator(language: str) -> Callable[..., str]:
    """Return ``t(key, **values)``: the key's text in ``language`` with ``{values}`` filled in.

    Examples
    --------
    >>> t = translator("es")
    >>> t("coverage.title")
    'Cobertura'
    >>> translator("en")("coverage.rank_of", rank=3, total=50)
    'rank 3 of 50'
    >>> translator("fr")("coverage.rank_of", rank=3, total=50)
    'rang 3 sur 50'
    """
    texts = catalogue(language)
    english = catalogue(DEFAULT_LANGUAGE)

    def t(key: str, **values: object) -> str:
        text = texts.get(key, english.get(key))
        if text is None:
            raise KeyError(f"no text for {key!r} in mapping/locales/{DEFAULT_LANGUAGE}.toml")
        return text.format(**values) if values else text

    return t
