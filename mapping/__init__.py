"""outreach-map: privacy-first outreach mapping for sex worker-led HIV programmes.

The library under the app and the command line. It never imports Streamlit.
"""

from mapping.cells import cells_from_points, check_resolution, is_valid_cell
from mapping.errors import (
    InvalidInputError,
    MappingError,
    ResolutionError,
    UnusableFileError,
    WorkspaceError,
)
from mapping.ingest.area import districts_from_file, init_area
from mapping.ingest.batch import ImportResult, PreparedImport, commit_prepared, preview_prepared
from mapping.ingest.readers import ColumnMapping, mapping_from_file, table_from_bytes
from mapping.ingest.registry_files import (
    hotspots_from_file,
    prepare_hotspots,
    prepare_services,
    services_from_file,
)
from mapping.ingest.uploads import IMPORT_KINDS, prepare_upload
from mapping.ingest.visits import prepare_visits, visits_from_file, visits_from_table
from mapping.storage.workspace import Workspace, create_workspace, open_workspace

__all__ = [
    "IMPORT_KINDS",
    "ColumnMapping",
    "ImportResult",
    "InvalidInputError",
    "MappingError",
    "PreparedImport",
    "ResolutionError",
    "UnusableFileError",
    "Workspace",
    "WorkspaceError",
    "cells_from_points",
    "check_resolution",
    "commit_prepared",
    "create_workspace",
    "districts_from_file",
    "hotspots_from_file",
    "init_area",
    "is_valid_cell",
    "mapping_from_file",
    "open_workspace",
    "prepare_hotspots",
    "prepare_services",
    "prepare_upload",
    "prepare_visits",
    "preview_prepared",
    "services_from_file",
    "table_from_bytes",
    "visits_from_file",
    "visits_from_table",
]
