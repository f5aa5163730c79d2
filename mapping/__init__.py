"""outreach-map: privacy-first outreach mapping for sex worker-led HIV programmes.

The library under the app and the command line. It never imports Streamlit.
"""

from mapping.area import districts_from_file, hotspots_from_file, init_area, services_from_file
from mapping.cells import cells_from_points, check_resolution, is_valid_cell
from mapping.errors import (
    InvalidInputError,
    MappingError,
    ResolutionError,
    UnusableFileError,
    WorkspaceError,
)
from mapping.imports import ImportResult
from mapping.readers import ColumnMapping, mapping_from_file
from mapping.visits import visits_from_file, visits_from_table
from mapping.workspace import Workspace, create_workspace, open_workspace

__all__ = [
    "ColumnMapping",
    "ImportResult",
    "InvalidInputError",
    "MappingError",
    "ResolutionError",
    "UnusableFileError",
    "Workspace",
    "WorkspaceError",
    "cells_from_points",
    "check_resolution",
    "create_workspace",
    "districts_from_file",
    "hotspots_from_file",
    "init_area",
    "is_valid_cell",
    "mapping_from_file",
    "open_workspace",
    "services_from_file",
    "visits_from_file",
    "visits_from_table",
]
