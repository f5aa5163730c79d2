"""What may be kept about people: keyed hashes of contact codes, and columns that are refused."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

import polars as pl

from mapping.vocab import normalise

#: Words that, found in a column name, mark a column that must never be stored.
FORBIDDEN_COLUMN_WORDS: dict[str, str] = {
    "name": "a name",
    "nombre": "a name",
    "nombres": "a name",
    "apellido": "a name",
    "apellidos": "a name",
    "surname": "a name",
    "alias": "a name",
    "phone": "a phone number",
    "telephone": "a phone number",
    "telefono": "a phone number",
    "celular": "a phone number",
    "movil": "a phone number",
    "mobile": "a phone number",
    "whatsapp": "a phone number",
    "address": "an address",
    "direccion": "an address",
    "domicilio": "an address",
    "email": "an e-mail address",
    "correo": "an e-mail address",
    "result": "an HIV result",
    "results": "an HIV result",
    "resultado": "an HIV result",
    "reactivo": "an HIV result",
    "reactive": "an HIV result",
    "serostatus": "an HIV result",
    "note": "free-text notes",
    "notes": "free-text notes",
    "nota": "free-text notes",
    "notas": "free-text notes",
    "comment": "free-text notes",
    "comments": "free-text notes",
    "comentario": "free-text notes",
    "comentarios": "free-text notes",
    "observacion": "free-text notes",
    "observaciones": "free-text notes",
    "remarks": "free-text notes",
    "photo": "a photo",
    "foto": "a photo",
    "dni": "an identity document number",
    "passport": "an identity document",
    "pasaporte": "an identity document",
}


def forbidden_reason(column: str) -> str | None:
    """Return why ``column`` must never be stored (e.g. ``"a phone number"``), or ``None``.

    Examples
    --------
    >>> forbidden_reason("Teléfono celular"), forbidden_reason("fecha")
    ('a phone number', None)
    """
    for word in normalise(column).split("_"):
        if word in FORBIDDEN_COLUMN_WORDS:
            return FORBIDDEN_COLUMN_WORDS[word]
    return None


#: Words of team and area codes ("Equipo Norte", "Brigada Sur"): never counted as name words.
PROGRAMME_WORDS = frozenset(
    {
        "equipo",
        "team",
        "brigada",
        "grupo",
        "group",
        "zona",
        "zone",
        "sector",
        "ruta",
        "route",
        "turno",
        "shift",
        "norte",
        "sur",
        "este",
        "oeste",
        "centro",
        "north",
        "south",
        "east",
        "west",
        "central",
        "centre",
        "center",
        "noche",
        "dia",
        "tarde",
        "manana",
        "night",
        "day",
        "evening",
        "calle",
        "street",
        "movil",
        "mobile",
        "pe",
        "peer",
        "par",
        "educadora",
        "educador",
        "promotora",
        "promotor",
        "outreach",
        "worker",
    }
)
#: Articles and prepositions inside names ("Rosa de la Cruz") and codes ("Equipo de la Noche").
_LINKING_WORDS = frozenset({"de", "del", "la", "las", "el", "los", "y", "da", "do", "dos", "das"})
#: A word of two or more letters (accents allowed), possibly joined by ``-`` or an apostrophe.
_NAME_WORD = re.compile(r"[^\W\d_]{2,}(?:['’-][^\W\d_]+)*")
#: An initial: one letter and a full stop (``Q.``).
_INITIAL = re.compile(r"[^\W\d_]\.")
#: What cuts a code into words besides blanks: brackets, commas, slashes, underscores, quotes,
#: and a dot followed by a letter (``rosa.quispe``; the dot of an initial stays with it).
_SEPARATORS = re.compile(r"[()\[\]{}<>,;:/\\|_*+=\"“”«»@#]+|\.(?=[^\W\d_])")
#: Cheap vectorised pre-filter: a word of two letters, or an initial (two make a candidate).
_MAYBE_NAME_WORD = r"\p{L}{2,}|\p{L}\."
#: Seven or more digits in one run, however written: ``+254 712 345 678``, ``(01) 456-7890``.
_PHONE_RUN = r"\+?\d(?:[\s\-./()]{0,3}\d){6,}"
#: Something, an ``@``, something: an e-mail address (or a user@host login).
_EMAIL = r"[^\s@]+@[^\s@]+"


def looks_like_name(code: str) -> bool:
    """Return whether a peer educator or team code looks like a person's name.

    The code is cut into words at blanks, brackets, commas, slashes, underscores and a dot
    between letters (``rosa.quispe``). It looks like a name when at least two of its words are
    made only of letters (a ``-`` or ``'`` inside, accents allowed) or are an initial
    (``Q.``), and are neither outreach words (:data:`PROGRAMME_WORDS`: equipo, team, brigada,
    norte...) nor articles (de, la...). Other words (``3``, ``T4``, ``-``, a single letter)
    neither make nor unmake a name: ``Rosa Quispe 2`` and ``Johann Wagner (not yet
    authenticated)`` are names; a single word cannot be told from a code and is accepted.

    Examples
    --------
    >>> [looks_like_name(c) for c in ("Rosa Quispe Mamani", "ROSA Q.", "Rosa de la Cruz")]
    [True, True, True]
    >>> [looks_like_name(c) for c in ("Rosa Quispe [PE]", "rosa.quispe", "Rosa Quispe 2")]
    [True, True, True]
    >>> [looks_like_name(c) for c in ("PE-T4-2", "T1", "EQUIPO 3", "PE 12", "Equipo Norte")]
    [False, False, False, False, False]
    >>> [looks_like_name(c) for c in ("NORTE", "Team A", "Equipo de la Noche", "ODK-user-7")]
    [False, False, False, False]
    """
    name_words = 0
    for word in _SEPARATORS.sub(lambda cut: ". " if cut[0] == "." else " ", code).split():
        if _INITIAL.fullmatch(word):
            name_words += 1
        elif _NAME_WORD.fullmatch(word.rstrip(".")):
            name_words += normalise(word.rstrip(".")) not in PROGRAMME_WORDS | _LINKING_WORDS
    return name_words >= 2


def names_among(codes: pl.Series) -> pl.Series:
    """Return, for each code, whether it :func:`looks_like_name` (null stays false).

    A vectorised pre-filter leaves only codes with two or more words of letters for the
    Python check; callers pass distinct values.
    """
    candidates = (codes.str.count_matches(_MAYBE_NAME_WORD) >= 2).fill_null(False)
    result = [False] * codes.len()
    for index in candidates.arg_true().to_list():
        result[index] = looks_like_name(codes[index])
    return pl.Series(codes.name, result, dtype=pl.Boolean)


def looks_like_phone(codes: pl.Expr, *, among_letters: bool = False) -> pl.Expr:
    """Return whether each code looks like a phone number.

    A phone number is seven or more digits and no letter (``+254 712 345 678``,
    ``(01) 456 7890``). With ``among_letters`` (peer educator and team codes), also seven or
    more digits in one run — blanks, dashes, dots, brackets or slashes between them, a ``+``
    before — beside letters (``Tel 0712-345-678``); not for contact codes, whose unique
    identifier codes may hold a date of birth beside letters (``MAJO19900312``).
    """
    bare = (codes.str.count_matches(r"\d") >= 7) & ~codes.str.contains(r"\p{L}")
    return bare | codes.str.contains(_PHONE_RUN) if among_letters else bare


def looks_like_email(codes: pl.Expr) -> pl.Expr:
    """Return whether each code holds an e-mail address (``something@something``).

    SurveyCTO's ``username`` (and often ODK Central's and Kobo's) is the enumerator's e-mail
    address.
    """
    return codes.str.contains(_EMAIL)


def code_problem(code: str) -> str | None:
    """Return why ``code`` cannot be a peer educator or team code, or None when it can.

    The checks of the importer (:func:`mapping.ingest.values.check_code`), for a code typed
    one at a time (an account's teams).

    Examples
    --------
    >>> [code_problem(c) for c in ("rosa@mail.org", "Tel 0712-345-678", "T1")]
    ['looks like an e-mail address', 'looks like a phone number', None]
    >>> code_problem("Rosa Quispe [PE]")
    "looks like a person's name"
    """
    frame = pl.DataFrame({"v": [code]}).select(
        looks_like_email(pl.col("v")).alias("email"),
        looks_like_phone(pl.col("v"), among_letters=True).alias("phone"),
    )
    if frame["email"][0]:
        return "looks like an e-mail address"
    if frame["phone"][0]:
        return "looks like a phone number"
    if looks_like_name(code):
        return "looks like a person's name"
    return None


#: Characters that print as nothing or change how text is shown: zero-width spaces and joiners,
#: the byte-order mark, word joiner, bidirectional controls, soft hyphen (all Unicode "format"
#: characters), private-use and unassigned code points, blank fillers and variation selectors.
INVISIBLE_PATTERN = (
    r"[\p{Cf}\p{Co}\p{Cn}\x{034F}\x{115F}\x{1160}\x{3164}\x{FFA0}\x{2800}\x{FE00}-\x{FE0F}]"
)


def first_invisible(text: str) -> str | None:
    """Return ``U+XXXX NAME`` of the first invisible character in ``text``, or ``None``.

    Examples
    --------
    >>> first_invisible("PE\u200b01"), first_invisible("PE01")
    ('U+200B ZERO WIDTH SPACE', None)
    """
    matched = pl.Series([text]).str.extract(f"({INVISIBLE_PATTERN})", 1)[0]
    if matched is None:
        return None
    return f"U+{ord(matched):04X} {unicodedata.name(matched, 'unnamed character')}"


def normalise_code(code: str) -> str:
    """Return the canonical spelling of a contact code: trimmed, upper case, no inner spaces.

    Examples
    --------
    >>> normalise_code(" ma-jo 85 ")
    'MA-JO85'
    """
    return "".join(code.split()).upper()


def hash_code(code: str, key: bytes) -> bytes:
    """Return the HMAC-SHA256 of the canonical contact code under the workspace key."""
    return hmac.digest(key, normalise_code(code).encode("utf-8"), "sha256")


def _hmacs(codes: list[str], key: bytes) -> list[bytes]:
    """HMAC-SHA256 of many messages under one key (RFC 2104, as :func:`hmac.digest`).

    The keyed inner and outer states are computed once and copied per message, which is
    about twice as fast as calling :func:`hmac.digest` per code.
    """
    block = 64
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    digests = []
    for code in codes:
        i = inner.copy()
        i.update(code.encode("utf-8"))
        o = outer.copy()
        o.update(i.digest())
        digests.append(o.digest())
    return digests


def hash_many(codes: list[str], key: bytes) -> list[bytes]:
    """Return :func:`hash_code` of each code, faster than calling it per code.

    The canonical spelling is computed vectorised; it is the same as :func:`normalise_code`
    (whitespace removed, upper case), which a test checks.
    """
    canonical = pl.Series(codes, dtype=pl.String).str.replace_all(r"\s+", "").str.to_uppercase()
    return _hmacs(canonical.to_list(), key)


def hash_codes(codes: pl.Series, key: bytes) -> pl.Series:
    """Return the keyed hash of each code (null stays null), hashing each distinct code once.

    Programmes see the same contacts again and again, so hashing distinct codes and joining
    back keeps this step far from the per-row cost.
    """
    unique = codes.drop_nulls().unique()
    table = pl.DataFrame(
        {"code": unique, "hash": pl.Series(hash_many(unique.to_list(), key), dtype=pl.Binary)}
    )
    joined = (
        codes.rename("code").to_frame().join(table, on="code", how="left", maintain_order="left")
    )
    return joined["hash"]
