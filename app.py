"""outreach-map: the overview page of a workspace (``outreach-map serve --workspace DIR``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st
from streamlit_folium import st_folium

from mapping.errors import WorkspaceError
from mapping.maps import (
    BASEMAP_ENV,
    OverviewLayers,
    basemap_from_env,
    overview_layers,
    overview_map,
)
from mapping.summary import workspace_summary
from mapping.workspace import WORKSPACE_ENV, Workspace, open_workspace, workspace_path

MAP_HEIGHT = 600

st.set_page_config(page_title="outreach-map", page_icon="🗺️", layout="wide")


def _store_stamp(workspace: Workspace) -> tuple[int, ...]:
    """Return what changes when the store is written to, so cached data is read again."""
    if not workspace.db_url.startswith("sqlite:///"):
        return ()
    database = Path(workspace.db_url.removeprefix("sqlite:///"))
    stamp: list[int] = []
    for path in (database, database.with_name(database.name + "-wal")):
        if path.exists():
            status = path.stat()
            stamp += [status.st_mtime_ns, status.st_size]
    return tuple(stamp)


@st.cache_data(show_spinner="Reading the workspace…", max_entries=8)
def load(path: str, stamp: tuple[int, ...]) -> tuple[dict[str, Any], OverviewLayers]:
    """Return the workspace's summary and map layers, cached per workspace path.

    ``stamp`` (see :func:`_store_stamp`) is part of the cache key only, so that an import made
    while the app runs shows on the next page load.
    """
    del stamp
    workspace = open_workspace(Path(path))
    return workspace_summary(workspace), overview_layers(workspace)


def open_or_explain() -> Workspace:
    """Return the workspace named by OUTREACH_MAP_WORKSPACE, or stop the page with the reason."""
    try:
        return open_workspace(workspace_path(None))
    except WorkspaceError as exc:
        st.title("outreach-map")
        st.error(f"Cannot open a workspace: {exc}")
        st.info(
            "Start the app with `outreach-map serve --workspace DIR` (or `outreach-map demo` "
            f"to try it on demo data), or set {WORKSPACE_ENV} to a workspace folder before "
            "`streamlit run app.py`."
        )
        st.stop()
        raise  # unreachable: st.stop() ends the run


workspace = open_or_explain()
facts, layers = load(str(workspace.path), _store_stamp(workspace))

st.markdown(  # less empty space above the title than Streamlit's default
    '<style>[data-testid="stMainBlockContainer"] { padding-top: 2.5rem !important; }</style>',
    unsafe_allow_html=True,
)
st.title("outreach-map")
period = (
    f" · visits {facts['first_visit']} to {facts['last_visit']}" if facts["first_visit"] else ""
)
st.caption(
    f"{facts['area']} · H3 cells at resolution {facts['resolution']}{period} · "
    f"workspace `{facts['workspace']}`"
)

columns = st.columns(6)
headline = (
    ("Districts", facts["districts"], None),
    ("Services", facts["services"], f"{facts['sensitive_services']:,} sensitive, shown as cells"),
    ("Hotspots", facts["hotspots"], None),
    ("Visits", facts["visits"], f"in {facts['visited_cells']:,} cells"),
    ("Visits without location", facts["visits_without_location"], "phone, SMS, online…"),
    ("Unique contacts", facts["unique_contacts"], None),
)
for column, (label, value, help_text) in zip(columns, headline, strict=True):
    column.metric(label, f"{value:,}", help=help_text)

basemap = basemap_from_env()
st_folium(
    overview_map(layers, basemap=basemap),
    height=MAP_HEIGHT,
    use_container_width=True,
    returned_objects=[],
    key="overview",
)
st.caption(
    "Visits and sensitive services are shown only as H3 cells; public services at their place. "
    + (
        "Basemap tiles come from their tile server, which sees the part of the map you view."
        if basemap
        else f"No basemap, so the map works offline (set {BASEMAP_ENV} to add one)."
    )
)
