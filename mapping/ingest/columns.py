"""Recognising columns: which header holds which field, in English, Spanish, ODK and Kobo shapes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from mapping.errors import UnusableFileError
from mapping.ingest.readers import GEOMETRY_PROBLEM, LAT, LNG, ColumnMapping
from mapping.privacy import forbidden_reason
from mapping.vocab import normalise

#: Accepted header spellings (normalised) for every field an import knows.
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "id": (
        "id",
        "visit_id",
        "id_visita",
        "key",
        "instanceid",
        "meta_instanceid",
        "uuid",
        "record_id",
        "submission_id",
        "hotspot_id",
        "id_hotspot",
        "service_id",
        "facility_id",
        "id_servicio",
        "codigo_establecimiento",
    ),
    "date": (
        "date",
        "fecha",
        "visit_date",
        "fecha_visita",
        "fecha_de_visita",
        "contact_date",
        "fecha_de_contacto",
        "fecha_contacto",
        "today",
        "dia_de_visita",
        "fecha_de_la_visita",
        "fecha_del_contacto",
    ),
    "time": ("time", "hora", "visit_time", "hora_visita", "hora_de_visita", "hora_de_contacto"),
    "time_of_day": (
        "time_of_day",
        "momento",
        "turno",
        "franja",
        "franja_horaria",
        "shift",
        "momento_del_dia",
        "horario_visita",
    ),
    "timestamp": (
        "timestamp",
        "datetime",
        "fecha_hora",
        "fecha_y_hora",
        "start",
        "starttime",
        "end",
        "endtime",
        "submissiondate",
        "submission_time",
    ),
    "latitude": ("latitude", "lat", "latitud", "y"),
    "longitude": ("longitude", "lon", "lng", "long", "longitud", "x"),
    "location": (
        "location",
        "gps",
        "geopoint",
        "ubicacion",
        "punto",
        "coordenadas",
        "coordinates",
        "geolocation",
        "point",
        "lugar_gps",
    ),
    "cell": ("cell", "h3", "h3_cell", "celda", "cell_id"),
    "peer_educator": (
        "peer_educator",
        "peer",
        "pe",
        "pe_code",
        "peer_code",
        "educador_par",
        "educadora_par",
        "educador",
        "educadora",
        "educador_a_par",
        "promotor",
        "promotora",
        "promotora_par",
        "outreach_worker",
        "worker",
        "codigo_educador",
        "codigo_promotora",
        "codigo_pe",
        "codigo_de_la_educadora_par",
        "codigo_del_educador_par",
        "codigo_de_educadora_par",
        "codigo_educadora_par",
        "codigo_educador_par",
        "codigo_de_la_educadora",
        "codigo_de_la_promotora",
    ),
    "team": (
        "team",
        "team_code",
        "equipo",
        "codigo_equipo",
        "brigada",
        "codigo_del_equipo",
        "codigo_de_equipo",
    ),
    "contact_code": (
        "contact_code",
        "uic",
        "unique_identifier_code",
        "contact_id",
        "client_code",
        "codigo",
        "codigo_unico",
        "cui",
        "codigo_contacto",
        "codigo_de_contacto",
        "beneficiary_code",
        "codigo_beneficiaria",
        "codigo_unico_de_identificacion",
        "codigo_unico_uic",
        "codigo_uic",
        "uic_code",
    ),
    "gender": ("gender", "gender_identity", "genero", "identidad_de_genero", "sexo", "sex"),
    "setting": (
        "setting",
        "lugar",
        "entorno",
        "tipo_de_lugar",
        "ambito",
        "place_type",
        "site_type",
        "tipo_lugar",
    ),
    "channel": (
        "channel",
        "modality",
        "modalidad",
        "contact_type",
        "tipo_de_contacto",
        "tipo_contacto",
        "medio",
        "canal",
        "contact_mode",
    ),
    "male_condoms": (
        "male_condoms",
        "condoms",
        "condones",
        "condones_masculinos",
        "preservativos",
        "condoms_male",
        "condones_entregados",
    ),
    "female_condoms": (
        "female_condoms",
        "condones_femeninos",
        "condoms_female",
        "condones_femenino",
    ),
    "lubricant": ("lubricant", "lubricants", "lube", "lubricante", "lubricantes"),
    "info_material": (
        "info_material",
        "iec",
        "material_informativo",
        "materiales",
        "leaflets",
        "folletos",
        "information_material",
    ),
    "harm_reduction_kits": (
        "harm_reduction_kits",
        "hr_kits",
        "kits",
        "kits_reduccion_danos",
        "kit_reduccion_de_danos",
        "kits_reduccion_de_danos",
    ),
    "referrals": (
        "referrals",
        "referral",
        "referred_to",
        "referido_a",
        "referencias",
        "referencia",
        "derivaciones",
        "derivacion",
        "derivado_a",
        "referida_a",
    ),
    "hiv_test": (
        "hiv_test",
        "prueba_vih",
        "prueba_de_vih",
        "tamizaje",
        "tamizaje_vih",
        "hiv_testing",
        "test_vih",
    ),
    "violence_reported": (
        "violence_reported",
        "violence",
        "violencia",
        "reporto_violencia",
        "violencia_reportada",
        "reported_violence",
    ),
    "violence_type": ("violence_type", "tipo_de_violencia", "tipo_violencia"),
    "perpetrator": (
        "perpetrator",
        "perpetrador",
        "agresor",
        "perpetrator_category",
        "tipo_de_agresor",
    ),
    # services
    "name": ("name", "nombre", "service_name", "nombre_servicio", "facility_name"),
    "service_type": (
        "service_type",
        "type",
        "tipo",
        "tipo_de_servicio",
        "classification",
        "clasificacion",
        "category",
        "categoria",
    ),
    "friendly": ("friendly", "amigable", "sensitised", "sensitized", "sensibilizado"),
    "free": ("free", "gratuito", "gratis", "free_of_charge"),
    "anonymous_testing": (
        "anonymous_testing",
        "anonymous",
        "anonimo",
        "prueba_anonima",
        "confidential_testing",
    ),
    "serves_trans": ("serves_trans", "atiende_trans", "trans_friendly"),
    "serves_male": ("serves_male", "atiende_hombres", "serves_men"),
    "serves_migrants": ("serves_migrants", "atiende_migrantes", "migrants_without_id"),
    "opening_hours": ("opening_hours", "hours", "horario", "horario_de_atencion", "horarios"),
    "active_from": ("active_from", "activo_desde", "desde", "start_date", "fecha_inicio"),
    "active_until": ("active_until", "activo_hasta", "hasta", "end_date", "fecha_fin"),
    "sensitive": ("sensitive", "sensible", "sensitivo", "confidencial"),
    # hotspots
    "typology": (
        "typology",
        "tipologia",
        "hotspot_type",
        "venue_type",
        "tipo_de_hotspot",
        "tipo_de_punto",
        "tipo",
    ),
    "days": ("days", "dias", "working_days", "dias_de_trabajo", "dias_de_atencion"),
    "size_min": (
        "size_min",
        "estimated_min",
        "est_min",
        "min",
        "minimo",
        "estimado_min",
        "tamano_min",
        "fsw_min",
    ),
    "size_max": (
        "size_max",
        "estimated_max",
        "est_max",
        "max",
        "maximo",
        "estimado_max",
        "tamano_max",
        "fsw_max",
    ),
    "last_validated": (
        "last_validated",
        "validated",
        "ultima_validacion",
        "validado",
        "fecha_validacion",
        "validation_date",
    ),
    "active": ("active", "activo", "activa", "is_active", "vigente"),
    "safety": ("safety", "seguridad", "safety_concern", "riesgo", "safety_note"),
}

#: Form metadata written by ODK, Kobo and SurveyCTO: not data, ignored without a warning each.
FORM_METADATA = frozenset(
    {
        "id",
        "uuid",
        "index",
        "parent_index",
        "parent_table_name",
        "submission_time",
        "validation_status",
        "status",
        "submitted_by",
        "version",
        "tags",
        "xform_id_string",
        "geolocation",
        "attachments",
        "duration",
        "deviceid",
        "subscriberid",
        "simserial",
        "phonenumber",
        "username",
        "submittername",
        "attachmentspresent",
        "attachmentsexpected",
        "reviewstate",
        "edits",
        "formversion",
        "instancename",
        "audit",
        "reviewcomment",
        "deviceid_1",
        "key",
        "instanceid",
        "submitterid",
        "submissiondate",
        "start",
        "end",
        "today",
    }
)
_GEO_PART = re.compile(r"^(?P<name>.*?)_?(?P<part>latitude|longitude|altitude|accuracy|precision)$")
_GEOPOINT_VALUE = re.compile(
    r"^\s*-?\d+(?:\.\d+)?\s+-?\d+(?:\.\d+)?(?:\s+-?\d+(?:\.\d+)?){0,2}\s*$"
)


@dataclass
class Recognised:
    """The outcome of recognising a file's columns."""

    fields: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _segments(header: str) -> list[str]:
    """Return the normalised header and its trailing group paths, longest first."""
    parts = [p for p in re.split(r"[/:]|(?<=[a-z0-9])-(?=[A-Za-z_])", header.strip()) if p]
    candidates = []
    for start in range(len(parts)):
        candidate = normalise("_".join(parts[start:]))
        if candidate and candidate not in candidates:
            candidates.append(candidate)
    return candidates


def _location_candidates(frame: pl.DataFrame, headers: list[str]) -> dict[str, dict[str, str]]:
    """Group latitude/longitude pairs and geopoint text columns by the location they describe."""
    locations: dict[str, dict[str, str]] = {}
    for header in headers:
        full = normalise(header.replace("/", "_").replace("-", "_"))
        match = _GEO_PART.match(full)
        if match and match.group("part") in ("latitude", "longitude"):
            name = match.group("name")
            locations.setdefault(name, {})[match.group("part")] = header
            continue
        segments = _segments(header)
        if segments and segments[-1] in ("lat", "latitud", "y"):
            locations.setdefault("", {}).setdefault("latitude", header)
            continue
        if segments and segments[-1] in ("lon", "lng", "long", "longitud", "x"):
            locations.setdefault("", {}).setdefault("longitude", header)
            continue
        sample = frame[header].drop_nulls().head(200)
        sample = sample.filter(~sample.str.strip_chars().str.to_lowercase().is_in(["n/a", ""]))
        looks_like_points = sample.len() > 0 and bool(
            sample.str.contains(_GEOPOINT_VALUE.pattern).all()
        )
        named_like_point = bool(segments) and segments[-1] in FIELD_NAMES["location"]
        # a column named as another field ("referrals" holding "0 0") is that field, not a place
        named_otherwise = bool(segments) and any(
            segments[-1] in names for field, names in FIELD_NAMES.items() if field != "location"
        )
        if (looks_like_points and not named_otherwise) or (named_like_point and sample.len() == 0):
            locations.setdefault(full, {})["point"] = header
    # A Kobo geopoint ("gps") comes with its parts ("_gps_latitude"): one location, not two.
    for name in [n for n, parts in locations.items() if set(parts) == {"point"}]:
        for other, parts in locations.items():
            if other != name and other and (name.endswith(other) or other.endswith(name)):
                parts.setdefault("point", locations[name]["point"])
                del locations[name]
                break
    return {
        name: parts
        for name, parts in locations.items()
        if "point" in parts
        or {"latitude", "longitude"} <= set(parts)
        or parts.keys() & {"latitude", "longitude"}
    }


def recognise_columns(
    frame: pl.DataFrame, wanted: tuple[str, ...], mapping: ColumnMapping, *, source_name: str
) -> Recognised:
    """Decide which column holds each wanted field; name dropped and ignored columns.

    Columns that would hold names, phone numbers, addresses, HIV results or notes are dropped
    (never read further), and listed so the warning can name them.
    """
    result = Recognised()
    headers = [h for h in frame.columns if not h.startswith("__")]
    by_normal: dict[str, str] = {}
    for header in headers:
        by_normal.setdefault(normalise(header), header)
    for field_name, header in mapping.columns.items():
        if field_name == "location":
            continue
        if field_name not in FIELD_NAMES:
            raise UnusableFileError(
                f"mapping file names an unknown field {field_name!r} — known fields: "
                + ", ".join(sorted(FIELD_NAMES))
            )
        found = by_normal.get(normalise(header))
        if found is None:
            raise UnusableFileError(
                f"{source_name}: the mapping file says {field_name} is in column {header!r}, "
                f"but there is no such column — columns are: {', '.join(headers)}"
            )
        result.fields[field_name] = found
    usable = []
    for header in headers:
        if header in result.fields.values():
            continue
        if "name" in wanted and normalise(header) in FIELD_NAMES["name"]:
            usable.append(header)
            continue
        reason = forbidden_reason(header)
        if reason:
            result.dropped[header] = reason
        else:
            usable.append(header)
    location_fields = {"latitude", "longitude", "location"}
    if location_fields & set(wanted):
        _recognise_location(frame, usable, mapping, result, source_name)
    # when several columns could hold a field, the one with the most specific name wins (a
    # visit date over ODK's "today", the form's "start" over the server's "SubmissionDate");
    # between equally specific names, a whole header beats a name found on a group path
    options = _option_columns(headers)
    for header in sorted(usable, key=lambda h: _name_rank(h, wanted)):
        if header in result.fields.values():
            continue
        if header in options:
            # a Kobo select_multiple option ("Derivaciones/Prueba de VIH", holding 0/1) is part
            # of its parent column, never a field of its own
            continue
        for candidate in _segments(header):
            matches = [
                f
                for f in wanted
                if f not in location_fields
                and f not in result.fields
                and candidate in FIELD_NAMES.get(f, ())
            ]
            if matches:
                result.fields[matches[0]] = header
                break
        else:
            segments = _segments(header)
            if not (segments and segments[-1] in FORM_METADATA):
                result.ignored.append(header)
    if GEOMETRY_PROBLEM in frame.columns:
        result.fields.setdefault("latitude", LAT)
        result.fields.setdefault("longitude", LNG)
    return result


def _name_rank(header: str, wanted: tuple[str, ...]) -> tuple[int, int]:
    """Return how specific the header's name is for its field (smaller is better).

    First the position of the name among its field's names, then 0 when the whole header is
    that name and 1 when it was found on a group path (``group/name``). Headers naming no
    field rank last, keeping their order in the file.
    """
    for depth, candidate in enumerate(_segments(header)):
        for field_name in wanted:
            names = FIELD_NAMES.get(field_name, ())
            if candidate in names:
                return names.index(candidate), min(depth, 1)
    return len(FIELD_NAMES), 1


def _option_columns(headers: list[str]) -> set[str]:
    """Return the headers that are options of a multiple choice column also in the file.

    KoboToolbox (and ODK with "split select multiples") writes a select_multiple question
    ``Derivaciones`` as that column plus one ``Derivaciones/Prueba de VIH`` column per option,
    holding 0 or 1. An option's own name must never be taken for a field.
    """
    present = {header.strip() for header in headers}
    options = set()
    for header in headers:
        for separator in ("/", ":"):
            parent, found, option = header.strip().rpartition(separator)
            if found and parent and option and parent in present:
                options.add(header)
    return options


def _recognise_location(
    frame: pl.DataFrame,
    usable: list[str],
    mapping: ColumnMapping,
    result: Recognised,
    source_name: str,
) -> None:
    candidates = _location_candidates(frame, [h for h in usable if h not in result.fields.values()])
    chosen = mapping.columns.get("location")
    if chosen is not None:
        key = normalise(chosen.replace("/", "_").replace("-", "_"))
        picked = {
            n: p
            for n, p in candidates.items()
            if n == key or n.endswith(key) or (key and key.endswith(n) and n)
        }
        if not picked:
            names = ", ".join(_describe(p) for p in candidates.values()) or "none"
            raise UnusableFileError(
                f"{source_name}: the mapping file says the location is {chosen!r}, but no such "
                f"geopoint was found — locations found: {names}"
            )
        candidates = dict(list(picked.items())[:1])
    if len(candidates) > 1:
        names = ", ".join(_describe(p) for p in candidates.values())
        raise UnusableFileError(
            f"{source_name} has {len(candidates)} locations ({names}) — say which one is where the "
            'visit happened with a mapping file line under [columns]: location = "NAME"'
        )
    for parts in candidates.values():
        if "latitude" in parts:
            result.fields["latitude"] = parts["latitude"]
        if "longitude" in parts:
            result.fields["longitude"] = parts["longitude"]
        if "point" in parts:
            result.fields["location"] = parts["point"]
    # the other parts of a geopoint (altitude, accuracy) are not needed and not kept
    for header in usable:
        full = normalise(header.replace("/", "_").replace("-", "_"))
        match = _GEO_PART.match(full)
        if match and match.group("part") in ("altitude", "accuracy", "precision"):
            result.fields.setdefault(f"__geo_{header}", header)


def _describe(parts: dict[str, str]) -> str:
    return parts.get("point") or "/".join(v for k, v in parts.items() if k != "point")
