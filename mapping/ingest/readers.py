"""Reading input files into text columns: encoding and delimiter detection, CSV, XLSX, GeoJSON.

Everything is read as text so that validation, not the reader, decides what a value means and
every bad value can be reported with its row. Row numbers are those a spreadsheet shows: the
header is row 1, the first record row 2.
"""

from __future__ import annotations

import csv
import io
import tomllib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from charset_normalizer import from_bytes

from mapping.errors import UnusableFileError
from mapping.vocab import SERVICE_TYPES

ROW = "__row"
LAT = "__latitude"
LNG = "__longitude"
GEOMETRY_PROBLEM = "__geometry_problem"
_EXCEL = {".xlsx", ".xlsm", ".xls", ".ods"}
_VECTOR = {".geojson", ".json", ".gpkg", ".shp", ".fgb"}
_DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class ServiceRule:
    """When a facility row is a service of one type (a mapping file's ``[services]`` entry).

    The row is that type when any of ``columns`` says yes (yes/no, sí/no, true/false, 1/0),
    or, with ``contains``, when ``columns[0]`` lists one of those words or phrases (whole
    words, any case: ``"Service_names"`` holding ``"HTS, ART, Family planning"``).
    """

    columns: tuple[str, ...]
    contains: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnMapping:
    """A small mapping file: which column holds which field, extra spellings, reading options.

    The file is TOML::

        [columns]
        date = "Fecha de la visita"
        location = "gps_end"          # when a form has several geopoints

        [values.service_type]
        "CENTROS DE SALUD O CENTROS MEDICOS" = "hiv_testing"

        [options]
        date_order = "day_first"      # or "month_first", for dates like 03/04/2026

    A facility registry with one row per facility and a column per service says which
    columns make which service types, and which rows are no service of interest::

        [services]                    # the row is an hiv_testing service when HTS is yes
        hiv_testing = "HTS"
        hiv_treatment = ["ART", "CCC"]
        prep_pep = { column = "Service_names", contains = ["PrEP"] }

        [skip]
        unmapped = true               # rows of no service type are skipped, not rejected
        unless = { "Operation status" = ["Operational"] }
        when = { "Closed" = ["True"] }

    See docs/import-files.md.
    """

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    #: ``[services]``: service type → the rule that makes a row of that type.
    services: dict[str, ServiceRule] = field(default_factory=dict)
    #: ``[skip] unmapped``: a row whose type maps to nothing is skipped, not rejected.
    skip_unmapped: bool = False
    #: ``[skip] when``: column → values (any case) that make a row skipped.
    skip_when: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: ``[skip] unless``: column → the only values (any case) that keep a row.
    skip_unless: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def registry_only(self) -> bool:
        """Whether the mapping has ``[services]`` or ``[skip]``, for service registries only."""
        return bool(self.services or self.skip_unmapped or self.skip_when or self.skip_unless)


def refuse_registry_rules(mapping: ColumnMapping, kind: str, source_name: str) -> None:
    """Raise when a mapping with ``[services]`` or ``[skip]`` is used for ``kind`` other files."""
    if mapping.registry_only:
        raise UnusableFileError(
            f"{source_name}: the mapping file's [services] and [skip] rules apply to service "
            f"registries only, not to {kind} — import the file as services, or use a mapping "
            "file without them"
        )


_SECTIONS = ("columns", "values", "defaults", "options", "services", "skip")


def mapping_from_file(path: Path | None) -> ColumnMapping:
    """Read a mapping file (TOML); ``None`` gives the empty mapping."""
    if path is None:
        return ColumnMapping()
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UnusableFileError(f"mapping file {path} does not exist — check the path") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UnusableFileError(
            f"mapping file {path} is not valid TOML ({exc}) — see docs/import-files.md for the "
            "format"
        ) from exc
    unknown = set(data) - set(_SECTIONS)
    if unknown:
        raise UnusableFileError(
            f"mapping file {path} has unknown sections {sorted(unknown)} — "
            "use [columns], [values.FIELD], [defaults], [options], [services] and [skip]"
        )
    skip = data.get("skip", {})
    return ColumnMapping(
        columns={str(k): str(v) for k, v in data.get("columns", {}).items()},
        values={
            str(k): {str(a): str(b) for a, b in v.items()}
            for k, v in data.get("values", {}).items()
        },
        defaults={str(k): str(v) for k, v in data.get("defaults", {}).items()},
        options={str(k): str(v) for k, v in data.get("options", {}).items()},
        services=_service_rules(path, data.get("services", {})),
        skip_unmapped=_skip_unmapped(path, skip),
        skip_when=_skip_values(path, skip, "when"),
        skip_unless=_skip_values(path, skip, "unless"),
    )


_RULE_FORMS = (
    'a column name ("HTS"), a list of them (["ART", "CCC"]) or a column and the words it '
    'lists ({ column = "Service_names", contains = ["PrEP"] })'
)


def _texts(value: object) -> tuple[str, ...] | None:
    """Return a string or a list of strings as a tuple; ``None`` for anything else."""
    if isinstance(value, str) and value.strip():
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    return None


def _service_rules(path: Path, table: object) -> dict[str, ServiceRule]:
    """Read ``[services]``: each key a service type, each value a column rule."""
    if not isinstance(table, dict):
        raise UnusableFileError(
            f"mapping file {path}: [services] must be a table of service types — see "
            "docs/import-files.md"
        )
    rules = {}
    for kind, value in table.items():
        if kind not in SERVICE_TYPES:
            raise UnusableFileError(
                f"mapping file {path}: [services] {kind!r} is not a service type — use one "
                "of: " + ", ".join(SERVICE_TYPES)
            )
        if isinstance(value, dict):
            column, words = value.get("column"), _texts(value.get("contains"))
            if set(value) != {"column", "contains"} or not isinstance(column, str) or not words:
                raise UnusableFileError(
                    f"mapping file {path}: [services] {kind} = {value!r} is not a rule — "
                    f"give {_RULE_FORMS}"
                )
            rules[kind] = ServiceRule((column,), words)
            continue
        columns = _texts(value)
        if columns is None:
            raise UnusableFileError(
                f"mapping file {path}: [services] {kind} = {value!r} is not a rule — "
                f"give {_RULE_FORMS}"
            )
        rules[kind] = ServiceRule(columns)
    return rules


def _skip_unmapped(path: Path, skip: object) -> bool:
    """Read ``[skip]``'s keys and its ``unmapped`` switch."""
    if not isinstance(skip, dict):
        raise UnusableFileError(
            f"mapping file {path}: [skip] must be a table — e.g. unmapped = true"
        )
    unknown = set(skip) - {"unmapped", "when", "unless"}
    if unknown:
        raise UnusableFileError(
            f"mapping file {path}: [skip] has unknown keys {sorted(unknown)} — use unmapped, "
            "when and unless"
        )
    unmapped = skip.get("unmapped", False)
    if not isinstance(unmapped, bool):
        raise UnusableFileError(
            f"mapping file {path}: [skip] unmapped = {unmapped!r} — write true or false"
        )
    return unmapped


def _skip_values(path: Path, skip: dict[str, Any], key: str) -> dict[str, tuple[str, ...]]:
    """Read ``[skip] when`` or ``unless``: column → value or list of values."""
    table = skip.get(key, {})
    found = {}
    if isinstance(table, dict):
        for column, value in table.items():
            values = _texts(value)
            if values is None:
                break
            found[str(column)] = values
        else:
            return found
    raise UnusableFileError(
        f"mapping file {path}: [skip] {key} = {table!r} is not a table of columns and values "
        f'— write e.g. {key} = {{ "Operation status" = ["Operational"] }}'
    )


@dataclass
class RawTable:
    """A file read as text columns, with each record's row number in column ``__row``."""

    frame: pl.DataFrame
    source_name: str
    encoding: str = "utf-8"
    delimiter: str | None = None


def table_from_file(path: Path, *, data: bytes | None = None) -> RawTable:
    """Read CSV/TXT, XLSX/ODS, or a vector file (GeoJSON, GeoPackage, Shapefile) as text columns.

    ``data``, if given, is the file's content already read (to read a big file only once).
    """
    if not path.exists():
        raise UnusableFileError(f"{path} does not exist — check the path")
    if path.is_dir():
        raise UnusableFileError(f"{path} is a folder — give the file inside it")
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise UnusableFileError(f"{path} is empty — export the data again")
    if suffix in _EXCEL:
        return _table_from_excel(path, path.name)
    if suffix in _VECTOR:
        return _table_from_vector(path, path.name)
    return table_from_csv_bytes(data or path.read_bytes(), source_name=path.name)


def table_from_bytes(data: bytes, *, source_name: str) -> RawTable:
    """Read a file's content, held in memory, as text columns; the name's ending says its kind.

    For files uploaded in the app: nothing is written to disk on the way (spreadsheets and
    GeoJSON/GeoPackage are parsed from memory). A Shapefile is several files, so it cannot come
    alone.
    """
    suffix = Path(source_name).suffix.lower()
    if not data:
        raise UnusableFileError(f"{source_name} is empty — export the data again")
    if suffix == ".shp":
        raise UnusableFileError(
            f"{source_name} is a Shapefile, which needs its .shx and .dbf files beside it — "
            "export the layer as GeoJSON or GeoPackage and upload that instead"
        )
    if suffix in _EXCEL:
        return _table_from_excel(data, source_name)
    if suffix in _VECTOR:
        return _table_from_vector(data, source_name)
    return table_from_csv_bytes(data, source_name=source_name)


def _decode(data: bytes, source_name: str) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise UnusableFileError(
                f"{source_name}: starts like UTF-16 but is not — save it as CSV UTF-8"
            ) from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    latin = _as_western(data)
    if latin is not None:
        return latin, "cp1252"
    if b"\x00" in data[:65536]:
        raise UnusableFileError(
            f"{source_name} is not a text file (it holds binary data) — export it as CSV UTF-8, "
            "or as .xlsx if it is a spreadsheet"
        )
    best = from_bytes(data[:1_000_000]).best()
    if best is None or best.encoding is None:
        raise UnusableFileError(
            f"{source_name}: its text encoding could not be recognised — save it as CSV UTF-8"
        )
    try:
        return data.decode(best.encoding), best.encoding
    except (UnicodeDecodeError, LookupError) as exc:
        raise UnusableFileError(
            f"{source_name}: it is not valid {best.encoding} text — save it as CSV UTF-8"
        ) from exc


_WESTERN_LETTERS = frozenset("áéíóúñüçàèìòùâêîôûãõäëïöÁÉÍÓÚÑÜÇÀÈÌÒÙÂÊÎÔÛÃÕÄËÏÖ¿¡ºª°€")


def _as_western(data: bytes) -> str | None:
    """Decode Windows-1252 / Latin-1 text (what Excel writes in Spanish, Portuguese, French).

    Accepted only when nearly all non-ASCII characters are accented Latin letters or Spanish
    punctuation; otherwise detection is left to charset-normalizer, whose guesses on short
    Spanish files are often wrong.
    """
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    sample = [ch for ch in text[:200_000] if ord(ch) > 127]
    if not sample:
        return text
    western = sum(ch in _WESTERN_LETTERS for ch in sample)
    return text if western >= 0.8 * len(sample) else None


def _sniff_delimiter(text: str) -> str:
    sample = text[:65536]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first_line = sample.split("\n", 1)[0]
        counts = {d: first_line.count(d) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def table_from_csv_bytes(data: bytes, *, source_name: str) -> RawTable:
    """Read delimited text (delimiter and encoding detected) as text columns."""
    head = data[:65536]
    if not head.strip():
        raise UnusableFileError(f"{source_name} is empty — export the data again")
    if not head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) and b"\x00" not in head:
        # Most files are UTF-8: let polars validate it while parsing instead of decoding the
        # whole file in Python first; anything else falls back to detection below.
        delimiter = _sniff_delimiter(head.decode("utf-8", errors="ignore"))
        try:
            return _finish(
                _parse_csv(data, delimiter, source_name),
                source_name,
                encoding="utf-8",
                delimiter=delimiter,
            )
        except _NotUtf8Error:
            pass
    text, encoding = _decode(data, source_name)
    if "\x00" in text:
        raise UnusableFileError(
            f"{source_name} is not a text file (it holds NUL characters) — export it as CSV UTF-8"
        )
    delimiter = _sniff_delimiter(text)
    frame = _parse_csv(text.encode("utf-8"), delimiter, source_name)
    return _finish(frame, source_name, encoding=encoding, delimiter=delimiter)


class _NotUtf8Error(Exception):
    """Raised inside this module when polars finds bytes that are not UTF-8."""


def _parse_csv(data: bytes, delimiter: str, source_name: str) -> pl.DataFrame:
    try:
        return pl.read_csv(
            io.BytesIO(data),
            separator=delimiter,
            infer_schema=False,
            quote_char='"',
            raise_if_empty=True,
        )
    except pl.exceptions.NoDataError as exc:
        raise UnusableFileError(f"{source_name} is empty — export the data again") from exc
    except pl.exceptions.ComputeError as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            raise _NotUtf8Error from exc
        first = str(exc).strip().splitlines()[0]
        raise UnusableFileError(
            f"{source_name} is not a well-formed CSV file ({first}) — check that every row has "
            "the same number of columns and quotes are closed"
        ) from exc


def _finish(
    frame: pl.DataFrame, source_name: str, *, encoding: str, delimiter: str | None
) -> RawTable:
    if frame.width == 0 or frame.height == 0:
        raise UnusableFileError(f"{source_name} has a header but no rows — export the data again")
    frame = frame.with_columns(pl.all().cast(pl.String)).with_row_index(ROW, offset=2)
    return RawTable(frame=frame, source_name=source_name, encoding=encoding, delimiter=delimiter)


def _table_from_excel(source: Path | bytes, source_name: str) -> RawTable:
    try:
        frame = pl.read_excel(source, engine="calamine", infer_schema_length=0)
    except Exception as exc:
        raise UnusableFileError(
            f"{source_name} could not be read as a spreadsheet ({type(exc).__name__}) — "
            "open it and save it again as .xlsx, or export it as CSV UTF-8"
        ) from exc
    # a date cell reads as "2026-03-14 00:00:00": that midnight means "no time", not night;
    # a time cell reads as "1899-12-31 00:00:00" (Excel's day 0): that one is a real midnight
    frame = frame.with_columns(
        pl.when(pl.col(name).str.starts_with("1899-12-3"))
        .then(pl.col(name))
        .otherwise(_without_midnight(pl.col(name)))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )
    return _finish(frame, source_name, encoding="xlsx", delimiter=None)


def _without_midnight(texts: pl.Expr) -> pl.Expr:
    """Return ``2026-03-14`` for ``2026-03-14 00:00:00``: how a date without a time reads."""
    return texts.str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", "$1")


@contextmanager
def _in_memory_quietly() -> Iterator[None]:
    """Read bytes without GDAL's warning that its in-memory copy lacks a file ending.

    Bytes are read by GDAL from its in-memory file system (``/vsimem/``), never from a
    temporary file; that copy has no name ending, which GDAL remarks on for a GeoPackage.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*non conformant file extension", category=RuntimeWarning
        )
        yield


def _date_fields(source: Path | bytes) -> set[str]:
    """Return the properties of a vector file typed as dates (no time of day)."""
    import pyogrio

    try:
        with _in_memory_quietly():
            info = pyogrio.read_info(source)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError):
        return set()
    return {
        str(name)
        for name, dtype in zip(info["fields"], info["dtypes"], strict=True)
        if str(dtype) == "datetime64[D]"
    }


def _table_from_vector(source: Path | bytes, source_name: str) -> RawTable:
    import geopandas as gpd
    import numpy as np
    import pyogrio
    import shapely

    try:
        with _in_memory_quietly():
            gdf = gpd.read_file(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        raise UnusableFileError(
            f"{source_name} could not be read as a GeoJSON/GeoPackage/Shapefile ({exc}) — "
            "check the file, or export the data as CSV"
        ) from exc
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    geometry = gdf.geometry
    # a missing or empty geometry is a visit without location; a polygon or line is a problem
    present = (geometry.notna() & ~geometry.is_empty).to_numpy()
    is_point = present & (geometry.geom_type == "Point").to_numpy()
    points = np.where(is_point, geometry.to_numpy(), None)
    properties = gdf.drop(columns=gdf.geometry.name)
    frame = pl.from_pandas(properties.astype(object).where(properties.notna(), None).astype(str))
    frame = frame.with_columns(pl.all().replace("None", None))
    # a date-typed property reads as "2026-03-14 00:00:00": a date without a time, not night
    dates = _date_fields(source) & set(frame.columns)
    frame = frame.with_columns(_without_midnight(pl.col(name)) for name in dates)
    frame = frame.with_columns(
        pl.Series(LAT, shapely.get_y(points), dtype=pl.Float64).cast(pl.String),
        pl.Series(LNG, shapely.get_x(points), dtype=pl.Float64).cast(pl.String),
        pl.Series(
            GEOMETRY_PROBLEM,
            [
                str(kind) if there and not point else None
                for there, point, kind in zip(present, is_point, geometry.geom_type, strict=True)
            ],
            dtype=pl.String,
        ),
    )
    del gdf, geometry, points
    return _finish(frame, source_name, encoding="utf-8", delimiter=None)
