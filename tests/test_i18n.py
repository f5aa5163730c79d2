"""The translation layer: every language complete and in its own words, one form of address each."""

from __future__ import annotations

import datetime as dt
import re
import string
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mapping.errors import InvalidInputError
from mapping.hours import hours_for_reading
from mapping.i18n import LANGUAGES, catalogue, translator
from mapping.planning.runsheet import day_in_words


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
        "plan.assign_key",
        "wording.percent",
        "wording.date",
        "wording.date_time",
        "wording.zero_is",
    }
    assert same <= alike, same


def test_translator_fills_values_and_refuses_what_it_does_not_know() -> None:
    """Values go into the text; an unknown key or language is an error with the fix."""
    assert translator("es")("coverage.rank_of", rank=2, total=50) == "puesto 2 de 50"
    with pytest.raises(KeyError, match=r"no text for 'coverage\.nothing'"):
        translator("en")("coverage.nothing")
    with pytest.raises(
        InvalidInputError, match=r"language 'xx' is not offered — choose one of en, es, fr, or add"
    ):
        translator("xx")


def test_french_is_french() -> None:
    """Not a copy of the English file: only words French writes the same way are alike."""
    english, french = catalogue("en"), catalogue("fr")
    same = {key for key in english if english[key] == french[key]}
    # the same words in French: District(s), Service(s), Pages, Type, Date, Action, site
    alike = {
        "app.name",
        "app.pages",
        "overview.districts",
        "overview.services",
        "coverage.district",
        "coverage.pick",
        "sites.district",
        "sites.site",
        "service_types.prep_pep",
        "import.kind_services",
        "services_page.title",
        "services_page.pick",
        "services_page.field_service_type",
        "services_page.legend_title",
        "services_page.legend_district",
        "reach.districts",
        "reach.col_district",
        "admin.log_action",
        "plan.col_district",
        "runsheet.date",
        "runsheet.col_date",
        "runsheet.col_district",
        "wording.date",
        "overview.layer_districts",
        "overview.legend_district",
        "audit_actions.import",
        "audit_actions.export",
    }
    assert same <= alike, same - alike


#: Words of the informal French "tu" alone: pronouns, possessives, verb forms.
FRENCH_TU = re.compile(r"\b(tu|te|toi|ton|ta|tes|peux|dois|veux|as|es)\b", re.IGNORECASE)
#: Informal French imperatives ("clique", "choisis": "cliquez", "choisissez" with "vous"), where
#: an order stands: at the start of a text, sentence or clause, followed by what to do.
FRENCH_TU_ORDER = re.compile(
    r"(?:^|[.:;!?—(]\s*)(clique|appuie|tape|écris|choisis|entre|touche|ouvre|garde|demande|"
    r"attends|utilise|vérifie|ajoute|regarde|donne|laisse|indique|coche|enregistre)\s+\w",
    re.IGNORECASE,
)
#: Words only the informal Spanish "tú" uses: pronouns, possessives, verb forms.
SPANISH_TU = re.compile(
    r"\b(tú|tu|tus|te|ti|contigo|puedes|tienes|quieres|debes|necesitas|eres|estás|sabes|"
    r"haz|pon|ten|pide)\b",
    re.IGNORECASE,
)
#: Informal Spanish imperatives. "usted elige" reads the same as "elige" (tú), so these count
#: only where an order stands: at the start of a text or of a sentence or clause.
SPANISH_TU_ORDER = re.compile(
    r"(?:^|[.:;!?¡¿—(]\s*)(elige|pulsa|escribe|marca|toca|usa|abre|guarda|añade|cambia|"
    r"revisa|descarga|selecciona|espera|vuelve|intenta|mira|busca|ingresa|introduce|borra|"
    r"elimina|activa|deja|confirma|define|edita|acerca|recuerda)\s+\w",
    re.IGNORECASE,
)


def test_french_says_vous() -> None:
    """One form of address in French: "vous", never "tu"."""
    french = catalogue("fr")
    informal = {
        key: text
        for key, text in french.items()
        if FRENCH_TU.search(text) or FRENCH_TU_ORDER.search(text)
    }
    assert not informal, informal
    assert FRENCH_TU_ORDER.search("Choisis un code PIN.") and FRENCH_TU.search("ton code PIN")
    assert not FRENCH_TU_ORDER.search("les arrêts choisis servent")  # a participle, not an order
    # the check has teeth: the catalogue speaks to its reader, as "vous"
    polite = re.compile(r"\b(vous|votre|vos)\b", re.IGNORECASE)
    assert sum(bool(polite.search(text)) for text in french.values()) > 40


def test_spanish_says_usted() -> None:
    """One form of address in Spanish: "usted" (elija, escriba, su), never "tú" (elige, tu)."""
    spanish = catalogue("es")
    informal = {
        key: text
        for key, text in spanish.items()
        if SPANISH_TU.search(text) or SPANISH_TU_ORDER.search(text)
    }
    assert not informal, informal
    assert SPANISH_TU_ORDER.search("Elige un PIN.") and SPANISH_TU.search("tu PIN")
    assert not SPANISH_TU_ORDER.search("si no elige ninguno")  # usted, not an order
    assert not SPANISH_TU_ORDER.search("cambia")  # a label: "moved", not an order


def test_french_typography_is_one_rule() -> None:
    """A no-break space (U+00A0, \\u00a0 in TOML) before : ; ! ? % and inside « », never a plain
    space nor none; icons (:material/name:), times (HH:MM) and OSM hours (17:00; Sa) aside."""
    bad = {}
    for key, text in catalogue("fr").items():
        prose = re.sub(r":material/[a-z0-9_]+:", "", text)
        prose = re.sub(r"\d;", "", prose)  # opening hours: Lu-Ve 08:00-17:00; Sa 09:00-13:00
        wrong = (
            re.search(r"[^\u00a0][;!?%]", prose)
            or re.search(r"[^\u00a0]:(?=\s|$)", prose)
            or re.search(r"«[^\u00a0]|[^\u00a0]»", prose)
        )
        if wrong:
            bad[key] = wrong.group(0)
    assert not bad, bad


def test_french_dates_and_days() -> None:
    """A run sheet's date and a service's hours read in French."""
    assert day_in_words(dt.date(2026, 12, 5), "fr") == "sam. 5 déc. 2026"
    assert day_in_words(dt.date(2027, 2, 1), "fr") == "lun. 1 févr. 2027"
    assert hours_for_reading("Mo-Fr 08:00-17:00; Sa,Su off", "fr") == "Lu–Ve 08:00–17:00; Sa,Di off"
    assert translator("fr")("days.su") == "dimanche"


def test_the_app_speaks_french(demo_workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """French is in the language box, and ?lang=fr draws a coordinator's and a peer's page."""
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(demo_workspace))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"))
    at.default_timeout = 120
    at.query_params["role"] = "coordinator"
    at.run()
    at.sidebar.selectbox(key="language__box").set_value("fr").run()
    assert not at.exception, at.exception
    assert "Langue" in [box.label for box in at.sidebar.selectbox]
    assert "Points chauds" in [metric.label for metric in at.metric]  # the Overview
    at.switch_page("views/coverage.py")
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Couverture"
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"))
    at.default_timeout = 120
    at.query_params["role"] = "peer"
    at.query_params["lang"] = "fr"
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Ma zone"
