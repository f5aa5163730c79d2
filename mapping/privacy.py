"""What may be kept about people: keyed hashes of contact codes, and columns that are refused."""

from __future__ import annotations

import hashlib
import hmac

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
