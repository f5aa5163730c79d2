"""What every page needs: the workspace, the language, and cached reads of the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from mapping.errors import WorkspaceError
from mapping.i18n import DEFAULT_LANGUAGE, LANGUAGES, translator
from mapping.workspace import WORKSPACE_ENV, Workspace, open_workspace, workspace_path


def language() -> str:
    """Return the language chosen in the sidebar (kept in the URL as ``?lang=es``)."""
    chosen = st.query_params.get("lang", DEFAULT_LANGUAGE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def tr() -> Callable[..., str]:
    """Return the translation function of the chosen language."""
    return translator(language())


def language_picker() -> None:
    """Draw the language switch in the sidebar; the choice goes into the URL."""
    codes = list(LANGUAGES)
    current = language()
    # the URL wins over the widget's remembered value (a shared link, the browser's back button)
    st.session_state["language"] = current
    chosen = st.sidebar.selectbox(
        tr()("app.language"),
        codes,
        format_func=LANGUAGES.__getitem__,
        key="language",
    )
    if chosen != current:
        st.query_params["lang"] = chosen
        st.rerun()


def store_stamp(workspace: Workspace) -> tuple[int, ...]:
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


def open_or_explain() -> Workspace:
    """Return the workspace named by OUTREACH_MAP_WORKSPACE, or stop the page with the reason."""
    t = tr()
    try:
        return open_workspace(workspace_path(None))
    except WorkspaceError as exc:
        st.title(t("app.name"))
        st.error(t("app.cannot_open", error=exc))
        st.info(t("app.how_to_start", env=WORKSPACE_ENV))
        st.stop()
        raise  # unreachable: st.stop() ends the run
