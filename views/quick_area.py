"""My area, quick: the peer educator's page as one small HTML page, outside Streamlit's frontend.

On a cheap phone on a slow connection Streamlit's own scripts take about 5 s to load before any
page draws (docs/performance.md, "A phone on a slow network"). This page, at
``<base>/api/quick/area``, shows what My area shows — the team's cells by recency, tonight's
plan, the friendly services open now — as server-written HTML with the vendored Leaflet: about
100 kB, no websocket, no React.

It is a second way into the data, so it opens only the way the app reopens on a device:

- the device cookie of a shift begun with the password in the app (:mod:`views.web`, the
  ``api/device`` exchange), and
- the account's PIN, checked by :func:`mapping.access.locks.unlock`: the same count of tries,
  the same sign-out after the last wrong one, the same audit entries.

It keeps no session of its own: the page is the answer to the PIN, sent with ``no-store``; a
reload, "Lock now", or a few idle minutes (the app's own ``lock_idle_minutes``) bring back the
PIN form. Only a peer educator's account opens it, on the teams it is bound to. The demo
workspace opens it as the demo's peer educator without a PIN, as the app does with
``?role=peer``.
"""

from __future__ import annotations

import datetime as dt
import html
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import polars as pl
from branca.element import Element, Figure
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mapping import clock
from mapping.access.accounts import Account, check_session, find_account, is_demo
from mapping.access.locks import DEVICE_COOKIE, unlock
from mapping.analysis.coverage import CoverageOptions
from mapping.analysis.coverage_data import load_coverage_data
from mapping.analysis.peers import services_open_now, team_cells, team_peer_educator_ids
from mapping.errors import InvalidInputError, WorkspaceError
from mapping.hours import hours_for_reading
from mapping.i18n import DEFAULT_LANGUAGE, LANGUAGES, translator
from mapping.maps.base import basemap_for, district_layers, districts_near, layer_bounds
from mapping.maps.coverage import (
    cells_map,
    open_services_layer,
    open_services_legend,
    recency_legend,
    team_layer,
)
from mapping.maps.plan import stop_tip
from mapping.periods import parse_period
from mapping.planning.plans import RoutePlan, current_plans, for_peer_educators
from mapping.planning.runsheet import day_in_words
from mapping.settings import get_settings
from mapping.storage.store import data_stamp
from mapping.storage.workspace import Workspace, open_workspace, workspace_path

#: Where the page is served, below ``server.baseUrlPath``: two folders deep, so the maps'
#: relative addresses (``../../app/static``, ``../../api/basemap.pmtiles``) hold here too.
QUICK_ROUTE = "/api/quick/area"
#: The page's lock, served with the app's static files (relative to the page's address).
LOCK_SCRIPT = "../../app/static/om/quick.js"
#: Height of the map, in CSS pixels.
MAP_HEIGHT = 420
#: The answers hold programme data: never cached, never framed, never sent on as a referrer,
#: and the browser may load nothing from another server (``connect-src``: the basemap file).
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
#: The browser's own guard: scripts, styles, images and fetches from this server only.
POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:{tiles}; connect-src 'self'; worker-src 'self' blob:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: Pages kept in memory, per workspace state, team, quarter hour and language.
_CACHED_PAGES = 32


@dataclass(frozen=True)
class Entry:
    """Who the page is for, or why it is not shown: a notice and whether a PIN may open it."""

    account: Account | None
    #: The device cookie's token (its session is the one a PIN opens); "" on the demo.
    device: str = ""
    #: Why the page is not shown: a locale key under ``quick.`` or ``access.``.
    refusal: str = ""


def chosen_language(value: str | None) -> str:
    """Return ``value`` if the app has that language (``?lang=``), else the default one.

    Examples
    --------
    >>> chosen_language("es"), chosen_language("xx"), chosen_language(None)
    ('es', 'en', 'en')
    """
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def chosen_team(account: Account, asked: str | None) -> str:
    """Return the team asked for if the account is bound to it, else its first team ("" none)."""
    teams = sorted(account.teams)
    if asked in teams:
        return str(asked)
    return teams[0] if teams else ""


def stamp(workspace: Workspace) -> tuple[int, ...]:
    """Return what changes when the programme's data changes (the app pages' own stamp)."""
    with workspace.connect() as connection:
        return data_stamp(connection)


def _quarter_hour(workspace: Workspace) -> dt.datetime:
    now = clock.now(workspace).replace(second=0, microsecond=0, tzinfo=None)
    return now.replace(minute=now.minute - now.minute % 15)


def entry(workspace: Workspace, request: Request) -> Entry:
    """Return who may open the page from this request: the demo's peer, a device's shift, none.

    A live or locked shift on this device (the device cookie) gives its account, whose PIN
    then opens the page; a shift without a PIN, an account of another role, or no shift at all
    gives the refusal to show instead.
    """
    with workspace.begin() as connection:
        if is_demo(connection):
            demo = find_account(connection, "demo-peer")
            return Entry(demo) if demo is not None else Entry(None, refusal="quick.sign_in_first")
        device = request.cookies.get(DEVICE_COOKIE, "")
        if not device:
            return Entry(None, refusal="quick.sign_in_first")
        check = check_session(connection, device, touch=False)
    holder = check.account or check.holder
    if holder is None:
        ended = check.reason if check.reason in ("idle", "expired", "ended") else ""
        return Entry(None, refusal=f"access.ended_{ended}" if ended else "quick.sign_in_first")
    if holder.role != "peer":
        return Entry(None, refusal="quick.not_peer")
    if not holder.has_pin:
        return Entry(None, refusal="quick.no_pin")
    return Entry(holder, device=device)


# --- the page ------------------------------------------------------------------------------

_STYLE = """
:root { color-scheme: light dark; --ink: #1f2328; --soft: #59636e; --line: #d0d7de;
  --ground: #ffffff; --accent: #0969da; --button: #1f2328; --button-ink: #ffffff; }
@media (prefers-color-scheme: dark) {
  :root { --ink: #e8eaed; --soft: #9aa0a6; --line: #3d444d; --ground: #0e1117;
    --accent: #8ab4f8; --button: #e8eaed; --button-ink: #0e1117; }
}
html, body { height: auto; margin: 0; background: var(--ground); color: var(--ink);
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.om-page { max-width: 46rem; margin: 0 auto; padding: 12px 16px 40px; }
.om-page h1 { font-size: 2rem; margin: 8px 0 12px; }
.om-page h2 { font-size: 1.3rem; margin: 28px 0 6px; }
.om-page h3 { font-size: 1.05rem; margin: 14px 0 2px; }
.om-soft { color: var(--soft); margin: 4px 0 12px; }
.om-bar { display: flex; gap: 8px; flex-wrap: wrap; margin: 0 0 12px; }
.om-button { display: inline-block; padding: 10px 14px; border-radius: 8px; font: inherit;
  border: 1px solid var(--line); color: var(--ink); background: transparent;
  text-decoration: none; cursor: pointer; }
.om-button.om-main { background: var(--button); color: var(--button-ink);
  border-color: var(--button); flex: 1 1 12rem; text-align: center; }
.om-teams a { margin-right: 10px; color: var(--accent); }
.om-teams b { margin-right: 10px; }
.om-page .folium-map { border-radius: 6px; }
.om-page ol { padding-left: 1.4rem; margin: 4px 0; }
.om-page li { margin: 4px 0; }
.om-notice { border-left: 4px solid var(--accent); padding: 8px 12px; margin: 12px 0; }
.om-page form label { display: block; margin: 12px 0 4px; font-weight: 600; }
.om-page input { font: inherit; font-size: 1.4rem; letter-spacing: 0.3em; padding: 8px 10px;
  width: 9em; border: 1px solid var(--line); border-radius: 8px; background: transparent;
  color: var(--ink); }
.om-page form .om-button { margin-top: 14px; }
"""


def _document(language: str, title: str, body: str, *, head: str = "") -> str:
    """Return a whole page: the language, the viewport of a phone, the styles, ``body``."""
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n{head}</head>\n"
        f'<body>\n<main class="om-page">\n{body}\n</main>\n</body>\n</html>\n'
    )


def _bold(text: str) -> str:
    """Escape a locale text and turn its ``**bold**`` into ``<strong>``."""
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def notice_page(language: str, key: str) -> str:
    """Return the page that says why My area is not shown, with a link to the app."""
    t = translator(language)
    settings = get_settings()
    message = t(key, minutes=f"{settings.lock_idle_minutes:g}", hours=f"{settings.shift_hours:g}")
    body = (
        f"<h1>{html.escape(t('peer.title'))}</h1>\n"
        f'<p class="om-notice">{_bold(message)}</p>\n'
        f'<p><a class="om-button om-main" href="../../?lang={language}">'
        f"{html.escape(t('quick.open_app'))}</a></p>"
    )
    return _document(language, t("peer.title"), body)


def pin_page(language: str, account: Account, action: str, message: str = "") -> str:
    """Return the PIN form that opens the page for ``account`` (posted back to ``action``)."""
    t = translator(language)
    said = f'<p class="om-notice" role="alert">{_bold(message)}</p>\n' if message else ""
    body = (
        f"<h1>{html.escape(t('peer.title'))}</h1>\n"
        f"<p>{_bold(t('lock.account', user=account.username))}</p>\n"
        f'<p class="om-soft">{html.escape(t("quick.intro_pin"))}</p>\n{said}'
        f'<form method="post" action="{html.escape(action)}" autocomplete="off">\n'
        f'<label for="pin">{html.escape(t("lock.pin"))}</label>\n'
        '<input id="pin" name="pin" type="password" inputmode="numeric" '
        'autocomplete="off" required autofocus>\n'
        f'<br><button class="om-button om-main" type="submit">'
        f"{html.escape(t('lock.unlock'))}</button>\n</form>\n"
        f'<p><a href="../../?lang={language}">{html.escape(t("quick.open_app"))}</a></p>'
    )
    return _document(language, t("peer.title"), body)


def _plan_html(plan: RoutePlan, t: Callable[..., str], language: str) -> str:
    """Return a plan as a peer educator's copy shows it: heading, summary, the stops in order."""
    day = day_in_words(plan.day, language)
    try:
        plan = for_peer_educators(plan)
    except InvalidInputError:
        return f'<p class="om-notice">{_bold(t("plan.replan", day=day, team=plan.team))}</p>'
    back = f"{plan.back:%H:%M}" if plan.back else "-"
    stops = []
    for row in plan.stops.iter_rows(named=True):
        tip = stop_tip(t, row)
        where = f" · {row['district']}" if row["district"] else ""
        stops.append(f"<li>{html.escape(tip + where)}</li>")
    summary = t("plan.summary", start=plan.start_name, stops=plan.stops.height, back=back)
    return (
        f"<h3>{html.escape(t('plan.heading', team=plan.team, day=day, hours=plan.hours))}</h3>\n"
        f'<p class="om-soft">{html.escape(summary)}</p>\n<ol>{"".join(stops)}</ol>'
    )


def service_lines(
    services: pl.DataFrame, t: Callable[..., str], language: str
) -> list[tuple[str, str]]:
    """Return each friendly service type open now as My area says it: the type, then one line.

    The line is the service's name, how far it is and its hours; a sensitive service (no name
    in ``services``) gets "ask your coordinator where" and no distance, which would say where
    it is; a type with nothing open says so.
    """
    lines = []
    for row in services.iter_rows(named=True):
        kind = t(f"service_types.{row['service_type']}")
        if row["cell_id"] is None:
            lines.append((kind, t("peer.closed")))
            continue
        where = row["name"] or t("peer.ask")
        minutes = row["minutes"]
        away = (
            t("peer.far")
            if minutes is None
            else t("peer.here")
            if minutes == 0
            else t("peer.minutes", minutes=minutes)
        )
        hours = hours_for_reading(row["opening_hours"], language)
        parts = [where, away] if row["name"] else [where]
        lines.append((kind, " · ".join([*parts, t("peer.hours", hours=hours)])))
    return lines


def _services_html(services: pl.DataFrame, t: Callable[..., str], language: str) -> str:
    """Return the friendly services open now, as My area lists them."""
    return "\n".join(
        f"<h3>{html.escape(kind)}</h3><p class='om-soft'>{html.escape(line)}</p>"
        for kind, line in service_lines(services, t, language)
    )


def _query(**params: str) -> str:
    """Return query parameters as an HTML attribute holds them (``&`` escaped)."""
    return html.escape(urlencode(params))


def _teams_html(teams: Sequence[str], team: str, t: Callable[..., str], language: str) -> str:
    """Return the team choice: the team shown, and a link to each other team of the account."""
    if len(teams) < 2:
        return f'<p class="om-teams">{html.escape(t("peer.team"))}: <b>{html.escape(team)}</b></p>'
    links = [
        f"<b>{html.escape(code)}</b>"
        if code == team
        else f'<a href="?{_query(team=code, lang=language)}">{html.escape(code)}</a>'
        for code in teams
    ]
    return f'<p class="om-teams">{html.escape(t("peer.team"))}: {" ".join(links)}</p>'


def _lock_script(minutes: float) -> str:
    """Return the tag of the page's lock (``static/om/quick.js``), with the idle time it keeps.

    "Lock now", idle minutes, a return after them or from the back-forward cache bring back the
    PIN form; a hidden page is covered; a reload asks for the PIN instead of sending it again.
    """
    return f'<script src="{LOCK_SCRIPT}" data-idle-ms="{round(minutes * 60_000)}"></script>\n'


class _Pages:
    """The area part of the page (all but the lock), kept per workspace state, team, language."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pages: OrderedDict[tuple[object, ...], str] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[object, ...], make: Callable[[], str]) -> str:
        with self.lock:
            if key in self.pages:
                self.pages.move_to_end(key)
                return self.pages[key]
        page = make()
        with self.lock:
            self.pages[key] = page
            while len(self.pages) > self.size:
                self.pages.popitem(last=False)
        return page


_PAGES = _Pages(_CACHED_PAGES)


def area_page(workspace: Workspace, account: Account, team: str, language: str) -> str:
    """Return My area for ``account``'s ``team`` in ``language``: the whole HTML page.

    The same figures as the app's My area: the team's cells of the last 90 days by how
    recently someone went there, the districts around them with their names, the friendly
    services open now, and the team's plans from last night to a week ahead as the team's
    copy shows them (nothing that follows from a size estimate).
    """
    moment = _quarter_hour(workspace)
    key = (str(workspace.path), stamp(workspace), team, moment, language)
    page = _PAGES.get(key, lambda: _area_body(workspace, team, language, moment))
    t = translator(language)
    teams = _teams_html(sorted(account.teams), team, t, language)
    return (
        page.replace(_USER, html.escape(account.username), 1)
        .replace(_TEAMS, teams, 1)
        .replace(_SCRIPT, _lock_script(get_settings().lock_idle_minutes), 1)
    )


#: Where the page written once per team receives what differs per request.
_USER, _TEAMS, _SCRIPT = "<!--om-user-->", "<!--om-teams-->", "<!--om-script-->"


def _area_body(workspace: Workspace, team: str, language: str, moment: dt.datetime) -> str:
    """Write the page for a team (the account's name is filled in per request)."""
    t = translator(language)
    options = CoverageOptions.from_settings()
    data = load_coverage_data(workspace, parse_period(None, today=moment.date()))
    cells = team_cells(data, team_peer_educator_ids(workspace, team)) if team else None
    if cells is None:
        cells = team_cells(data, [])
    services = services_open_now(data, options, near=cells["cell"].to_list(), now=moment)
    with workspace.connect() as connection:
        outlines, labels = district_layers(connection)
    ours = team_layer(
        cells, t, recent_days=options.recent_days, overdue_days=options.overdue_weeks * 7
    )
    focus = layer_bounds(ours)
    near, names = districts_near(outlines, labels, focus)
    m = cells_map(
        near,
        names,
        [(t("peer.title"), ours), (t("peer.open_now"), open_services_layer(services, t))],
        recency_legend(t, options.recent_days, emerging=False, title=t("peer.legend_title"))
        + open_services_legend(t),
        language=language,
        basemap=basemap_for(workspace),
        focus=focus,
    )
    m.height = (MAP_HEIGHT, "px")
    figure = m.get_root()
    assert isinstance(figure, Figure)
    title = f"<title>{html.escape(t('peer.title'))}</title>\n<style>{_STYLE}</style>"
    figure.header.add_child(Element(title), name="om_page_style")
    rendered = figure.render()
    plans = current_plans(workspace, team, moment.date())
    top = (
        f'<main class="om-page">\n<h1>{html.escape(t("peer.title"))}</h1>\n'
        '<div class="om-bar">'
        f'<a class="om-button om-main" href="../../log_visit?{_query(team=team, lang=language)}">'
        f"{html.escape(t('log.title'))}</a>"
        '<button class="om-button" id="om-lock" type="button">'
        f"{html.escape(t('lock.now'))}</button>"
        "</div>\n"
        f'<p class="om-soft">{html.escape(t("quick.signed_in"))} {_USER}</p>\n'
        + _TEAMS
        + f'<p class="om-soft">{html.escape(t("peer.intro"))}</p>\n'
    )
    bottom = ""
    if cells.height == 0:
        bottom += f'<p class="om-notice">{html.escape(t("peer.no_cells"))}</p>\n'
    bottom += "".join(_plan_html(plan, t, language) for plan in plans)
    if plans:
        bottom += (
            f'<p><a href="../../?{_query(team=team, lang=language)}">'
            f"{html.escape(t('quick.full_page'))}</a></p>\n"
        )
    bottom += f"<h2>{html.escape(t('peer.open_now'))}</h2>\n"
    bottom += _services_html(services, t, language) + "\n</main>\n"
    start, marker, rest = rendered.partition("<body>")
    if not marker or "</body>" not in rest:
        raise RuntimeError("folium wrote a page without <body>: the quick page cannot be built")
    inside, _, end = rest.partition("</body>")
    page = start.replace("<html>", f'<html lang="{language}">', 1) + "<body>\n" + top + inside
    return page + bottom + _SCRIPT + "</body>" + end


# --- the route -----------------------------------------------------------------------------

#: The most a PIN form may send, in bytes.
MAX_FORM_BYTES = 2048


def _answer(page: str, workspace: Workspace | None, status: int = 200) -> Response:
    """Send a page with :data:`HEADERS` and a policy that lets only this server be asked."""
    tiles = ""
    if workspace is not None:
        basemap = basemap_for(workspace)
        parts = urlsplit(basemap[0]) if basemap else None
        if parts is not None and parts.scheme in ("http", "https") and parts.netloc:
            tiles = f" {parts.scheme}://{parts.netloc}"
    policy = POLICY.format(tiles=tiles)
    if tiles:
        policy = policy.replace("connect-src 'self'", f"connect-src 'self'{tiles}")
    headers = {**HEADERS, "Content-Security-Policy": policy}
    return HTMLResponse(page, status_code=status, headers=headers)


def _pin_sent(body: bytes) -> str:
    """Return the PIN of a posted form (``pin=…``), "" if none."""
    values = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=4)
    return values.get("pin", [""])[0]


async def quick_area(request: Request) -> Response:
    """Serve My area, quick (``GET`` the PIN form or the demo's page, ``POST`` the PIN).

    A form posted from another site is refused; so is one larger than :data:`MAX_FORM_BYTES`.
    The device cookie is ``SameSite=Strict``: another site's form would not carry it anyway.
    """
    from starlette.concurrency import run_in_threadpool

    language = chosen_language(request.query_params.get("lang"))
    t = translator(language)
    try:
        workspace = open_workspace(workspace_path(None))
    except WorkspaceError:
        return _answer(notice_page(language, "quick.no_workspace"), None, 503)
    who = await run_in_threadpool(entry, workspace, request)
    if who.account is None:
        status = 403 if who.refusal == "quick.not_peer" else 200
        return _answer(notice_page(language, who.refusal), workspace, status)
    account = who.account
    team = chosen_team(account, request.query_params.get("team"))
    action = "?" + urlencode({"team": team, "lang": language})
    if not who.device:  # the demo workspace: its peer educator, no PIN
        return _answer(
            await run_in_threadpool(area_page, workspace, account, team, language), workspace
        )
    if request.method != "POST":
        return _answer(pin_page(language, account, action), workspace)
    site = request.headers.get("sec-fetch-site", "same-origin")
    if site != "same-origin":
        return _answer(notice_page(language, "quick.other_site"), workspace, 403)
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return _answer(notice_page(language, "quick.too_large"), workspace, 413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return _answer(notice_page(language, "quick.too_large"), workspace, 413)
    opened = await run_in_threadpool(
        unlock, workspace, who.device, _pin_sent(body), why="PIN, quick My area"
    )
    if opened.account is None:
        if opened.ended:
            return _answer(notice_page(language, "access.ended_pin"), workspace)
        message = t("lock.wrong", left=opened.tries_left)
        return _answer(pin_page(language, account, action, message), workspace)
    page = await run_in_threadpool(area_page, workspace, opened.account, team, language)
    return _answer(page, workspace)
