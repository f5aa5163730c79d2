"""The controlled vocabularies of the domain, their stored codes and their English/Spanish synonyms.

Categories are stored as small integers: the code of a value is its position in its tuple plus
one (0 is never used, NULL means "not recorded"). Tuples only ever grow at the end so stored codes
keep their meaning.
"""

from __future__ import annotations

import re
import unicodedata

import polars as pl

SERVICE_TYPES: tuple[str, ...] = (
    "drop_in_centre",
    "hiv_testing",
    "sti_clinic",
    "hiv_treatment",
    "prep_pep",
    "harm_reduction",
    "legal_aid",
    "violence_response",
    "shelter",
    "economic_empowerment",
    "condom_outlet",
)
GENDERS: tuple[str, ...] = ("female", "male", "trans_woman", "trans_man", "non_binary")
SETTINGS: tuple[str, ...] = ("street", "venue", "home", "online")
CHANNELS: tuple[str, ...] = ("in_person", "phone", "sms", "online")
TIMES_OF_DAY: tuple[str, ...] = ("day", "evening", "night")
HIV_TESTS: tuple[str, ...] = ("none", "offered", "done")
VIOLENCE_TYPES: tuple[str, ...] = (
    "physical",
    "sexual",
    "emotional",
    "economic",
    "arrest_or_detention",
    "confiscation",
    "other",
)
PERPETRATORS: tuple[str, ...] = ("client", "police", "partner", "manager", "other")
HOTSPOT_TYPOLOGIES: tuple[str, ...] = (
    "street",
    "bar",
    "lodge",
    "brothel",
    "home_based",
    "highway",
    "hotel",
    "strip_club",
    "massage_parlour",
    "beauty_salon",
    "other",
)
SAFETY_CONCERNS: tuple[str, ...] = (
    "none",
    "police_harassment",
    "violence",
    "robbery",
    "raids",
    "other",
)
SUPPLIES: tuple[str, ...] = (
    "male_condoms",
    "female_condoms",
    "lubricant",
    "info_material",
    "harm_reduction_kits",
)

#: Synonyms (already normalised with :func:`normalise`) for each vocabulary, English and Spanish.
SYNONYMS: dict[tuple[str, ...], dict[str, str]] = {
    SERVICE_TYPES: {
        "drop_in": "drop_in_centre",
        "drop_in_center": "drop_in_centre",
        "dic": "drop_in_centre",
        "centro_comunitario": "drop_in_centre",
        "centro_de_acogida": "drop_in_centre",
        "hiv_test": "hiv_testing",
        "testing": "hiv_testing",
        "prueba_vih": "hiv_testing",
        "tamizaje": "hiv_testing",
        "prueba": "hiv_testing",
        "vct": "hiv_testing",
        "hiv_testing_movil": "hiv_testing",
        "hiv_testing_mobile": "hiv_testing",
        "mobile_hiv_testing": "hiv_testing",
        "mobile_testing": "hiv_testing",
        "prueba_movil": "hiv_testing",
        "prueba_vih_movil": "hiv_testing",
        "prueba_de_vih_movil": "hiv_testing",
        "tamizaje_movil": "hiv_testing",
        "prueba_rapida": "hiv_testing",
        "sti": "sti_clinic",
        "its": "sti_clinic",
        "cerits": "sti_clinic",
        "uamp": "sti_clinic",
        "art": "hiv_treatment",
        "tar": "hiv_treatment",
        "targa": "hiv_treatment",
        "tratamiento": "hiv_treatment",
        "tratamiento_vih": "hiv_treatment",
        "prep": "prep_pep",
        "pep": "prep_pep",
        "prep_pep": "prep_pep",
        "reduccion_de_danos": "harm_reduction",
        "legal": "legal_aid",
        "paralegal": "legal_aid",
        "asesoria_legal": "legal_aid",
        "violence": "violence_response",
        "violencia": "violence_response",
        "gbv": "violence_response",
        "albergue": "shelter",
        "refugio": "shelter",
        "casa_refugio": "shelter",
        "empoderamiento_economico": "economic_empowerment",
        "condoms": "condom_outlet",
        "condones": "condom_outlet",
        "punto_de_condones": "condom_outlet",
    },
    GENDERS: {
        "f": "female",
        "woman": "female",
        "mujer": "female",
        "femenino": "female",
        "cis_woman": "female",
        "m": "male",
        "man": "male",
        "hombre": "male",
        "masculino": "male",
        "varon": "male",
        "cis_man": "male",
        "tw": "trans_woman",
        "transwoman": "trans_woman",
        "mujer_trans": "trans_woman",
        "trans_femenina": "trans_woman",
        "transfemenina": "trans_woman",
        "tm": "trans_man",
        "transman": "trans_man",
        "hombre_trans": "trans_man",
        "trans_masculino": "trans_man",
        "nonbinary": "non_binary",
        "nb": "non_binary",
        "no_binario": "non_binary",
        "no_binarie": "non_binary",
    },
    SETTINGS: {
        "calle": "street",
        "via_publica": "street",
        "bar": "venue",
        "local": "venue",
        "establecimiento": "venue",
        "club": "venue",
        "hotel": "venue",
        "casa": "home",
        "domicilio": "home",
        "hogar": "home",
        "en_linea": "online",
        "internet": "online",
        "virtual": "online",
        "redes_sociales": "online",
    },
    CHANNELS: {
        "face_to_face": "in_person",
        "in_person": "in_person",
        "presencial": "in_person",
        "cara_a_cara": "in_person",
        "field": "in_person",
        "campo": "in_person",
        "telefono": "phone",
        "llamada": "phone",
        "call": "phone",
        "mensaje": "sms",
        "text": "sms",
        "whatsapp": "online",
        "en_linea": "online",
        "internet": "online",
        "virtual": "online",
        "redes_sociales": "online",
    },
    TIMES_OF_DAY: {
        "morning": "day",
        "afternoon": "day",
        "manana": "day",
        "dia": "day",
        "tarde": "day",
        "daytime": "day",
        "atardecer": "evening",
        "anochecer": "evening",
        "noche": "night",
        "madrugada": "night",
        "late_night": "night",
        "nighttime": "night",
    },
    HIV_TESTS: {
        "no": "none",
        "not_offered": "none",
        "ninguna": "none",
        "ninguno": "none",
        "no_ofrecida": "none",
        "0": "none",
        "ofrecida": "offered",
        "ofrecido": "offered",
        "offered_not_done": "offered",
        "rechazada": "offered",
        "declined": "offered",
        "realizada": "done",
        "realizado": "done",
        "tested": "done",
        "yes": "done",
        "si": "done",
        "1": "done",
    },
    VIOLENCE_TYPES: {
        "fisica": "physical",
        "sexual": "sexual",
        "emocional": "emotional",
        "psicologica": "emotional",
        "verbal": "emotional",
        "economica": "economic",
        "robo": "economic",
        "extorsion": "economic",
        "arrest": "arrest_or_detention",
        "detention": "arrest_or_detention",
        "detencion": "arrest_or_detention",
        "detencion_arbitraria": "arrest_or_detention",
        "condom_confiscation": "confiscation",
        "decomiso": "confiscation",
        "decomiso_de_condones": "confiscation",
        "otra": "other",
        "otro": "other",
    },
    PERPETRATORS: {
        "cliente": "client",
        "policia": "police",
        "serenazgo": "police",
        "pareja": "partner",
        "gerente": "manager",
        "administrador": "manager",
        "duena": "manager",
        "dueno": "manager",
        "otro": "other",
        "otra": "other",
    },
    HOTSPOT_TYPOLOGIES: {
        "calle": "street",
        "discoteca": "bar",
        "cantina": "bar",
        "hostal": "lodge",
        "lodge": "lodge",
        "motel": "lodge",
        "prostibulo": "brothel",
        "burdel": "brothel",
        "casa": "home_based",
        "domicilio": "home_based",
        "home": "home_based",
        "carretera": "highway",
        "night_club": "strip_club",
        "nightclub": "strip_club",
        "club_nocturno": "strip_club",
        "masajes": "massage_parlour",
        "spa": "massage_parlour",
        "salon_de_belleza": "beauty_salon",
        "otro": "other",
    },
    SAFETY_CONCERNS: {
        "ninguno": "none",
        "police": "police_harassment",
        "acoso_policial": "police_harassment",
        "policia": "police_harassment",
        "policial": "police_harassment",
        "police_harassment": "police_harassment",
        "hostigamiento_policial": "police_harassment",
        "violencia": "violence",
        "robo": "robbery",
        "redadas": "raids",
        "operativos": "raids",
        "otro": "other",
    },
}

_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise(text: str) -> str:
    """Return ``text`` lower-cased, without accents, with every run of other characters as ``_``.

    Examples
    --------
    >>> normalise("  Mujer Trans ")
    'mujer_trans'
    >>> normalise("Reducción de daños")
    'reduccion_de_danos'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub("_", ascii_only.lower()).strip("_")


def lookup(vocabulary: tuple[str, ...]) -> dict[str, str]:
    """Return a map from every accepted spelling (normalised) to the canonical value."""
    table = {value: value for value in vocabulary}
    table.update(SYNONYMS.get(vocabulary, {}))
    return table


def code_of(vocabulary: tuple[str, ...], value: str) -> int:
    """Return the stored code of ``value`` in ``vocabulary`` (its position plus one).

    Examples
    --------
    >>> code_of(GENDERS, "trans_woman")
    3
    """
    return vocabulary.index(value) + 1


def value_of(vocabulary: tuple[str, ...], code: int | None) -> str | None:
    """Return the value a stored code stands for, or ``None`` for ``None``."""
    return None if code is None else vocabulary[code - 1]


def category_code_expr(column: str, vocabulary: tuple[str, ...]) -> pl.Expr:
    """Return the polars expression turning canonical values in ``column`` into stored codes."""
    codes = {value: index + 1 for index, value in enumerate(vocabulary)}
    return pl.col(column).replace_strict(codes, default=None, return_dtype=pl.Int16).alias(column)
