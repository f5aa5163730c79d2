"""Files uploaded in the app: read from memory and prepared, for a preview before the commit.

The bytes of an uploaded file hold coordinates: they are read here without touching the disk
(:func:`mapping.ingest.readers.table_from_bytes`), and what comes back, a
:class:`~mapping.ingest.batch.PreparedImport`, holds cells and keyed hashes only.
"""

from __future__ import annotations

from mapping.errors import InvalidInputError
from mapping.ingest.batch import PreparedImport, file_digest
from mapping.ingest.readers import ColumnMapping, table_from_bytes
from mapping.ingest.registry_files import prepare_hotspots, prepare_services
from mapping.ingest.visits import prepare_visits
from mapping.storage.workspace import Workspace

#: What can be imported, in the order the app offers them.
IMPORT_KINDS: tuple[str, ...] = ("visits", "services", "hotspots")
#: File endings the app accepts (a Shapefile is several files, so it is left to the CLI).
UPLOAD_TYPES: tuple[str, ...] = (
    "csv",
    "txt",
    "tsv",
    "xlsx",
    "xlsm",
    "xls",
    "ods",
    "geojson",
    "json",
    "gpkg",
)


def prepare_upload(
    workspace: Workspace,
    kind: str,
    data: bytes,
    *,
    source_name: str,
    mapping: ColumnMapping | None = None,
    allow_outside: bool = False,
) -> PreparedImport:
    """Read an uploaded file's bytes and prepare it as ``kind`` (visits, services, hotspots).

    Stores nothing and writes nothing to disk. Raises
    :class:`~mapping.errors.UnusableFileError` for a file that cannot be used at all, and
    :class:`~mapping.errors.InvalidInputError` for an unknown kind.
    """
    if kind not in IMPORT_KINDS:
        raise InvalidInputError(
            f"cannot import {kind!r} — choose {', '.join(IMPORT_KINDS[:-1])} or {IMPORT_KINDS[-1]}"
        )
    prepare = {
        "visits": prepare_visits,
        "services": prepare_services,
        "hotspots": prepare_hotspots,
    }[kind]
    return prepare(
        workspace,
        table_from_bytes(data, source_name=source_name),
        mapping=mapping,
        allow_outside=allow_outside,
        source_sha256=file_digest(data),
    )
