"""The translation layer: English and Spanish complete, placeholders kept, unknown keys refused."""

from __future__ import annotations

import string

import pytest

from mapping.errors import InvalidInputError
from mapping.i18n import LANGUAGES, catalogue, translator


def placeholders(text: str) -> set[str]:
    """The ``{names}`` a text fills in."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_every_key_with_the_same_placeholders() -> None:
    """Adding a language is adding one complete file."""
    english = catalogue("en")
    for language in LANGUAGES:
        texts = catalogue(language)
        assert set(texts) == set(english), language
        for key, text in english.items():
            assert placeholders(texts[key]) == placeholders(text), (language, key)
            assert texts[key].strip(), (language, key)


def test_spanish_is_spanish() -> None:
    """Not a copy of the English file."""
    english, spanish = catalogue("en"), catalogue("es")
    same = {key for key in english if english[key] == spanish[key]}
    # the same words in Spanish
    alike = {
        "app.name",
        "service_types.prep_pep",
        "registry.hotspot",
        "registry.no",
        "runsheet.no",
        "runsheet.date",
        "typologies.hotel",
        "lock.pin",
    }
    assert same <= alike, same


def test_translator_fills_values_and_refuses_what_it_does_not_know() -> None:
    """Values go into the text; an unknown key or language is an error with the fix."""
    assert translator("es")("coverage.rank_of", rank=2, total=50) == "puesto 2 de 50"
    with pytest.raises(KeyError, match=r"no text for 'coverage\.nothing'"):
        translator("en")("coverage.nothing")
    with pytest.raises(InvalidInputError, match=r"language 'fr' is not offered .* add mapping/"):
        translator("fr")
