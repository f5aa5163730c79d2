"""What every page needs: the workspace, the language, and cached reads of the store."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import polars as pl
import streamlit as st
from sqlalchemy.exc import OperationalError

from mapping.analysis.coverage import (
    CoverageOptions,
    CoverageReport,
    coverage,
    coverage_from_data,
    hotspot_access,
)
from mapping.analysis.coverage_data import load_coverage_data
from mapping.analysis.gaps import hotspot_gaps
from mapping.analysis.peers import team_area
from mapping.analysis.siting import suggest_sites
from mapping.errors import WorkspaceError
from mapping.i18n import DEFAULT_LANGUAGE, LANGUAGES, translator
from mapping.maps.base import GeoJSON, district_layers
from mapping.periods import month_of, parse_period, periods_up_to, quarter_of
from mapping.storage.audit import Actor
from mapping.storage.store import data_stamp, store_error
from mapping.storage.workspace import WORKSPACE_ENV, Workspace, open_workspace, workspace_path
from views.state import DEMO_ROLES, current_account

#: Where the query parameters to write at the end of the run wait (see :func:`write_url`).
_PENDING = "__url_pending"


def url_value(param: str) -> str | None:
    """Return a query parameter as the URL will hold it: a value noted in this run counts."""
    pending: dict[str, str] = st.session_state.get(_PENDING, {})
    return pending.get(param, st.query_params.get(param))


def remembered(state_key: str, param: str, options: Sequence[str], default: str) -> str:
    """Return a choice kept for the whole session, first taken from the URL (``?param=``).

    Session state is the memory, because Streamlit drops the query string when the sidebar
    switches pages; the choice is written back into the URL (for sharing and the back button),
    and a URL that changed by other means (a shared link, the back button) wins.
    """
    # a value noted for the URL in this run counts as the URL's (it is written at the end)
    asked = url_value(param)
    written = st.session_state.get(f"{state_key}__url")
    if asked in options and asked != written:
        # the URL changed by other means than this app (a shared link, the back button)
        st.session_state[state_key] = asked
    elif st.session_state.get(state_key) not in options:
        st.session_state[state_key] = default
    value = str(st.session_state[state_key])
    if asked != value:
        url_wants(param, value)
    st.session_state[f"{state_key}__url"] = value
    return value


def url_wants(param: str, value: str) -> None:
    """Note a query parameter to write; :func:`write_url` writes them all at once.

    Each write of ``st.query_params`` adds an entry to the browser's history, so the back button
    would step through every choice a page restored; one write per run adds one at most.
    """
    st.session_state.setdefault(_PENDING, {})[param] = value


#: The choices every page shares, carried in the links between pages.
CARRIED = {"language": "lang", "role": "role", "period": "period", "team": "team"}


def carried_params() -> dict[str, str]:
    """Return the shared choices made so far, as query parameters for a link to another page."""
    state = st.session_state
    return {param: str(state[key]) for key, param in CARRIED.items() if state.get(key) is not None}


def write_url() -> None:
    """Write the query parameters noted during this run, in one update (one history entry).

    The links between pages carry the shared choices (:func:`carried_params`), so a switch of
    page usually writes nothing more.
    """
    pending = st.session_state.pop(_PENDING, None) or {}
    if any(st.query_params.get(k) != v for k, v in pending.items()):
        st.query_params.update(pending)


def pick(
    label: str,
    options: Sequence[str],
    *,
    state_key: str,
    param: str,
    default: str,
    format_func: Callable[[str], str] = str,
    where: Any = st,
    help_text: str | None = None,
) -> str:
    """Draw a select box for a remembered choice; return the choice, kept in the URL too.

    The box has its own widget key, set from the remembered choice before it is drawn, and a
    callback copies the person's pick back: the pick always wins, and so does a click elsewhere
    (a district chosen on the map) that changed the remembered choice.
    """
    current = remembered(state_key, param, options, default)
    widget = f"{state_key}__box"
    st.session_state[widget] = current

    def keep() -> None:
        st.session_state[state_key] = st.session_state[widget]

    where.selectbox(
        label,
        options,
        key=widget,
        format_func=format_func,
        on_change=keep,
        help=help_text,
        placeholder=tr()("app.choose_one"),
    )
    chosen = str(st.session_state[state_key])
    if url_value(param) != chosen:
        url_wants(param, chosen)
    st.session_state[f"{state_key}__url"] = chosen
    return chosen


def language() -> str:
    """Return the language chosen in the sidebar (kept in the URL as ``?lang=es``)."""
    return remembered("language", "lang", list(LANGUAGES), DEFAULT_LANGUAGE)


def tr() -> Callable[..., str]:
    """Return the translation function of the chosen language."""
    return translator(language())


def language_picker() -> None:
    """Draw the language switch in the sidebar."""
    pick(
        tr()("app.language"),
        list(LANGUAGES),
        state_key="language",
        param="lang",
        default=DEFAULT_LANGUAGE,
        format_func=LANGUAGES.__getitem__,
        where=st.sidebar,
    )


def store_stamp(workspace: Workspace) -> tuple[int, ...]:
    """Return what changes when the programme's data changes, so cached data is read again.

    :func:`mapping.storage.store.data_stamp`: the import log, not the database file.
    """
    with workspace.connect() as connection:
        return data_stamp(connection)


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


def stop_if_refused(exc: WorkspaceError) -> NoReturn:
    """Stop the page saying why the store cannot be used (its schema is behind: migrate)."""
    st.title(tr()("app.name"))
    st.error(tr()("app.cannot_open", error=exc))
    st.stop()
    raise exc  # unreachable: st.stop() ends the run


def stop_if_unreachable(exc: OperationalError) -> NoReturn:
    """Stop the page saying the store cannot be reached (the server's first line, no values)."""
    st.title(tr()("app.name"))
    st.error(tr()("app.store_unreachable", error=store_error(exc)))
    st.stop()
    raise exc  # unreachable: st.stop() ends the run


def period_choices(today: dt.date) -> list[str]:
    """Return the last 90 days, this and the 3 previous quarters, this and the 5 previous months."""
    quarters = periods_up_to(quarter_of(today), count=4)
    months = periods_up_to(month_of(today), count=6)
    newest_first = [*reversed(quarters), *reversed(months)]
    return ["last-90-days", *(period.label for period in newest_first)]


@st.cache_data(show_spinner="…", max_entries=16)
def report_for(path: str, stamp: tuple[int, ...], period: str, today: str) -> CoverageReport:
    """Return the coverage report of one period, cached per workspace, store state and day."""
    del stamp
    day = dt.date.fromisoformat(today)
    return coverage(open_workspace(Path(path)), parse_period(period, today=day), today=day)


@st.cache_data(show_spinner="…", max_entries=8)
def outlines_for(path: str, stamp: tuple[int, ...]) -> tuple[GeoJSON, GeoJSON]:
    """Return the district outlines and label points, cached per workspace and store state."""
    del stamp
    with open_workspace(Path(path)).connect() as connection:
        return district_layers(connection)


def period_picker(t: Callable[..., str], today: dt.date) -> str:
    """Draw the period choice, the same on every page, and return it (``?period=`` too)."""
    choices = period_choices(today)
    return pick(
        t("coverage.period"),
        choices,
        state_key="period",
        param="period",
        default=choices[0],
        format_func=lambda p: t("coverage.last_days", days=90) if p == "last-90-days" else p,
    )


@st.cache_data(show_spinner="…", max_entries=16)
def findings_for(
    path: str, stamp: tuple[int, ...], period: str, today: str
) -> tuple[CoverageReport, pl.DataFrame]:
    """Return the report and the hotspot findings of one period, cached like the report."""
    del stamp
    day = dt.date.fromisoformat(today)
    data = load_coverage_data(
        open_workspace(Path(path)), parse_period(period, today=day), today=day
    )
    report = coverage_from_data(data, CoverageOptions.from_settings())
    return report, hotspot_gaps(report, data)


@st.cache_data(show_spinner="…", max_entries=32)
def sites_for(
    path: str, stamp: tuple[int, ...], period: str, today: str, service_type: str, count: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return suggested sites and the hotspots lacking the service, cached per choice."""
    del stamp
    day = dt.date.fromisoformat(today)
    data = load_coverage_data(
        open_workspace(Path(path)), parse_period(period, today=day), today=day
    )
    options = CoverageOptions.from_settings()
    uncovered = hotspot_access(data, options).filter(~pl.col(f"reach_{service_type}"))
    sites = suggest_sites(data, options, service_type=service_type, count=count)
    return sites, uncovered.select("id", "cell")


def role() -> str:
    """Return the signed-in account's role (app.py checks the session before any page runs)."""
    return current_account().role


def role_picker() -> None:
    """Draw the demo's role switch in the sidebar (only the demo workspace has one).

    Each role is a demo account without password; switching signs out of one and into the
    other, through real server-side sessions.
    """
    t = tr()
    pick(
        t("roles.label"),
        list(DEMO_ROLES),
        state_key="role",
        param="role",
        default=role(),
        format_func=lambda r: t(f"roles.{r}"),
        where=st.sidebar,
    )
    st.sidebar.caption(t("roles.demo_only"))


@st.cache_data(show_spinner="…", max_entries=16)
def team_area_for(
    path: str, stamp: tuple[int, ...], team: str, now: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return a team's cells and the services open now, cached per team and quarter hour."""
    del stamp
    return team_area(open_workspace(Path(path)), team, dt.datetime.fromisoformat(now))


def team_picker(t: Callable[..., str], codes: Sequence[str]) -> str:
    """Draw the team choice of the peer pages (``?team=``), the same on each; "" if none.

    A peer educator's account offers only the teams it is bound to: another team's cells are
    never drawn for them, whatever the address asks.
    """
    account = current_account()
    if account.role == "peer":
        codes = [code for code in codes if code in account.teams]
    if not codes:
        return ""
    return pick(t("peer.team"), list(codes), state_key="team", param="team", default=codes[0])


def keep_uploads_in_memory() -> None:
    """Make the web server keep every upload in memory while it receives it.

    Starlette, which serves Streamlit, writes a file part over 1 MB to a temporary file before
    Streamlit reads it into memory: for a file of visits, coordinates on disk. Its spool limit
    is raised to Streamlit's own upload limit, before any upload box is drawn.
    """
    try:
        from starlette.formparsers import MultiPartParser
    except ImportError:  # an older Streamlit, served by Tornado, keeps request bodies in memory
        return
    limit = (int(st.get_option("server.maxUploadSize")) + 1) * 1024 * 1024
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, limit)


def _import_analytics() -> None:
    """Import the spatial-statistics and optimisation libraries (seconds, the first time)."""
    import esda  # noqa: F401
    import libpysal.weights  # noqa: F401
    import pulp  # noqa: F401
    import spopt.locate  # noqa: F401


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Import the heavy analytics libraries in the background, once per server process.

    Importing esda, libpysal and spopt takes about 2.5 s on these machines; done while the first
    page draws, the Hotspots and Suggest sites pages do not pay it on their first visit.
    """
    thread = threading.Thread(target=_import_analytics, name="outreach-map-warm-up", daemon=True)
    thread.start()
    return thread


def current_actor() -> Actor:
    """Return who is signed in and in which role, for the audit log and the privacy ledger."""
    return current_account().actor


#: Writes the page's words into the file uploader (``WORDS``: a JSON list of the button's words
#: and the limit line), as its own text: words drawn by CSS alone are no name for a screen reader
#: or for axe, and no text for Ctrl+F (WCAG F87). One observer per browser tab writes them again
#: whenever Streamlit draws the uploader anew; the app has one uploader (Import). Its element
#: takes no room on the page.
UPLOADER_WORDS = """<style>
[data-testid="stElementContainer"]:has(#om-uploader-words) { display: none; }
</style>
<script id="om-uploader-words">
(function () {
  window.omUploaderWords = WORDS;
  var write = function () {
    var words = window.omUploaderWords;
    var zone = '[data-testid="stFileUploaderDropzone"] ';
    document.querySelectorAll(zone + 'button [data-testid="stMarkdownContainer"] p')
      .forEach(function (p) { if (p.textContent !== words[0]) { p.textContent = words[0]; } });
    document.querySelectorAll(zone + '[data-testid="stFileUploaderDropzoneInstructions"] span')
      .forEach(function (s) { if (s.textContent !== words[1]) { s.textContent = words[1]; } });
  };
  write();
  if (window.omWritesUploaderWords) { return; }
  window.omWritesUploaderWords = new MutationObserver(write);
  window.omWritesUploaderWords.observe(document.body, {childList: true, subtree: true});
})();
</script>"""


def uploader_words(types: Sequence[str]) -> None:
    """Put the page's language on the file uploader's own words, which Streamlit writes in English.

    Streamlit's uploader has no setting for its button ("Upload") or its limit line ("200MB per
    file • CSV, …"): a fixed script writes the language file's words in their place
    (``app.upload_browse``, ``app.upload_limit``), as text (:data:`UPLOADER_WORDS`).
    """
    t = tr()
    limit = t(
        "app.upload_limit",
        megabytes=int(st.get_option("server.maxUploadSize")),
        types=", ".join(kind.upper() for kind in types),
    )
    words = json.dumps([t("app.upload_browse"), limit]).replace("<", "\\u003c")
    st.html(UPLOADER_WORDS.replace("WORDS", words), unsafe_allow_javascript=True)


def fitting_table(
    frame: pl.DataFrame,
    shown: Sequence[str],
    *,
    key: str,
    column_config: dict[str, Any] | None = None,
    **options: Any,
) -> None:
    """Draw a table that fits a 1366 px screen: the columns ``shown``, a toggle for the rest.

    ``shown`` names columns of ``frame`` (in the page's language), in their order. The toggle,
    drawn only when ``frame`` has other columns, names them in its help; with it on, the table
    has every column and may scroll sideways (docs/accessibility.md, "Tables at 1366 px").
    ``options`` go to ``st.dataframe`` (``hide_index`` is always on).
    """
    t = tr()
    rest = [name for name in frame.columns if name not in shown]
    every = bool(rest) and st.toggle(
        t("app.all_columns"),
        key=key,
        help=t("app.all_columns_help", columns=", ".join(rest)),
    )
    st.dataframe(
        frame,
        hide_index=True,
        column_order=None if every else [name for name in shown if name in frame.columns],
        column_config=column_config,
        **options,
    )
