"""My area, quick: the peer educator's page as one small HTML page, outside Streamlit's frontend.

On a cheap phone on a slow connection Streamlit's own scripts take about 5 s to load before any
page draws (docs/performance.md, "A phone on a slow network"). This page, at
``<base>/api/quick/area``, shows what My area shows — the team's cells by recency, tonight's
plan, the friendly services open now — as server-written HTML with the vendored Leaflet: about
60 kB, no websocket, no React.

It is a second way into the data, so it opens only the way the app reopens on a device:

- the device cookie of a shift begun with the password in the app (:mod:`views.web`, the
  ``api/device`` exchange), and
- the account's PIN, checked by :func:`mapping.access.locks.unlock`: the same count of tries,
  the same sign-out after the last wrong one, the same audit entries.

It keeps no session of its own: the page is the answer to the PIN, sent with ``no-store``; a
reload, "Lock now" (which locks the device's shift on the server too, ``api/quick/shift``), a
few idle minutes (the app's own ``lock_idle_minutes``) or the shift locked elsewhere bring back
the PIN form (``static/om/quick.js``). Only a peer educator's account opens it, on the teams
it is bound to. The demo workspace opens it as the demo's peer educator without a PIN, as the
app does with ``?role=peer``.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from urllib.parse import parse_qs, urlencode

import polars as pl
from branca.element import Element, Figure
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mapping import clock
from mapping.access.accounts import (
    Account,
    check_session,
    find_account,
    is_demo,
    lock_session,
)
from mapping.access.locks import DEVICE_COOKIE, MAX_PIN_DIGITS, MIN_PIN_DIGITS, unlock
from mapping.analysis.coverage import CoverageOptions
from mapping.analysis.peers import team_area, teams
from mapping.errors import InvalidInputError, WorkspaceError
from mapping.hours import hours_for_reading
from mapping.i18n import DEFAULT_LANGUAGE, LANGUAGES, translator
from mapping.maps.base import (
    basemap_for,
    basemap_origin,
    district_layers,
)
from mapping.maps.coverage import team_area_map
from mapping.maps.plan import stop_tip
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
    "img-src 'self' data: blob:{tiles}; connect-src 'self'{tiles}; worker-src 'self' blob:; "
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
    #: The demo workspace: its peer educator, no PIN (demo sessions never lock).
    demo: bool = False


def chosen_language(value: str | None) -> str:
    """Return ``value`` if the app has that language (``?lang=``), else the default one.

    Examples
    --------
    >>> chosen_language("es"), chosen_language("xx"), chosen_language(None)
    ('es', 'en', 'en')
    """
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def account_teams(workspace: Workspace, account: Account) -> list[str]:
    """Return the teams of the workspace the account is bound to, sorted (as My area offers)."""
    return [code for code in teams(workspace) if code in account.teams]


def chosen_team(codes: Sequence[str], asked: str | None) -> str:
    """Return the team asked for if it is one of ``codes``, else the first ("" for none)."""
    if asked in codes:
        return str(asked)
    return codes[0] if codes else ""


def entry(workspace: Workspace, request: Request) -> Entry:
    """Return who may open the page from this request: the demo's peer, a device's shift, none.

    A live or locked shift on this device (the device cookie) gives its account, whose PIN
    then opens the page; a shift without a PIN, an account of another role, or no shift at all
    gives the refusal to show instead.
    """
    with workspace.begin() as connection:
        if is_demo(connection):
            demo = find_account(connection, "demo-peer")
            if demo is None:
                return Entry(None, refusal="quick.sign_in_first")
            return Entry(demo, demo=True)
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


def _document(language: str, title: str, body: str) -> str:
    """Return a whole page: the language, the viewport of a phone, the styles, ``body``."""
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
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


def _teams_html(codes: Sequence[str], team: str, t: Callable[..., str], language: str) -> str:
    """Return the team choice: the team shown, and a link to each other team of the account."""
    if not codes:
        return f'<p class="om-notice">{html.escape(t("quick.no_team"))}</p>\n'
    links = [
        f"<b>{html.escape(code)}</b>"
        if code == team
        else f'<a href="?{_query(team=code, lang=language)}">{html.escape(code)}</a>'
        for code in codes
    ]
    return f'<p class="om-teams">{html.escape(t("peer.team"))}: {" ".join(links)}</p>\n'


def _lock_script(minutes: float) -> str:
    """Return the tag of the page's lock (``static/om/quick.js``), with the idle time it keeps.

    "Lock now", idle minutes, a return after them or from the back-forward cache bring back the
    PIN form; a hidden page is covered; a reload asks for the PIN instead of sending it again.
    """
    return f'<script src="{LOCK_SCRIPT}" data-idle-ms="{round(minutes * 60_000)}"></script>\n'


class _Pages:
    """The pages written once per team, kept in memory; one request writes each, others wait."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pages: OrderedDict[tuple[object, ...], Parts] = OrderedDict()
        self.lock = threading.Lock()
        self.writing: dict[tuple[object, ...], threading.Lock] = {}

    def get(self, key: tuple[object, ...], make: Callable[[], Parts]) -> Parts:
        """Return the page kept under ``key``, or write it with ``make`` (once) and keep it."""
        with self.lock:
            if key in self.pages:
                self.pages.move_to_end(key)
                return self.pages[key]
            writing = self.writing.setdefault(key, threading.Lock())
        with writing:
            with self.lock:
                if key in self.pages:
                    return self.pages[key]
            page = make()
            with self.lock:
                self.pages[key] = page
                self.writing.pop(key, None)
                while len(self.pages) > self.size:
                    self.pages.popitem(last=False)
        return page


_PAGES = _Pages(_CACHED_PAGES)


class Slot(Enum):
    """What a page written once per team receives per request."""

    NOSCRIPT = "noscript"
    USER = "user"
    TEAMS = "teams"
    PLANS = "plans"
    SCRIPT = "script"


#: A page written once per team: text, and the slots filled in per request.
Parts = tuple[str | Slot, ...]


def area_page(
    workspace: Workspace, account: Account, codes: Sequence[str], team: str, language: str
) -> str:
    """Return My area for ``account``'s ``team`` in ``language``: the whole HTML page.

    The same figures as the app's My area: the team's cells of the last 90 days by how
    recently someone went there, the districts around them with their names, the friendly
    services open now, and the team's plans from last night to a week ahead as the team's
    copy shows them (nothing that follows from a size estimate). The map and services are
    written once per workspace state, team, quarter hour and language; the plans (which a
    coordinator may replace at any moment), the account's name and teams on every request.
    ``codes`` are the account's teams.
    """
    moment = clock.quarter_hour(workspace)
    with workspace.connect() as connection:
        key = (str(workspace.path), data_stamp(connection), team, moment, language)
    parts = _PAGES.get(key, lambda: _area_parts(workspace, team, language, moment))
    t = translator(language)
    minutes = get_settings().lock_idle_minutes
    again = f"?{_query(team=team, lang=language)}"
    fill = {
        # without scripts, the page still goes back to the PIN form after the idle time
        Slot.NOSCRIPT: (
            '<noscript><meta http-equiv="refresh" '
            f'content="{max(1, round(minutes * 60))}; url={again}"></noscript>'
        ),
        Slot.USER: html.escape(account.username),
        Slot.TEAMS: _teams_html(codes, team, t, language),
        Slot.PLANS: _plans_html(workspace, team, t, language, moment),
        Slot.SCRIPT: _lock_script(minutes),
    }
    return "".join(fill[part] if isinstance(part, Slot) else part for part in parts)


def _plans_html(
    workspace: Workspace, team: str, t: Callable[..., str], language: str, moment: dt.datetime
) -> str:
    """Return the team's plans, with a link to My area in the app (the route map, the sheets)."""
    plans = current_plans(workspace, team, moment.date())
    if not plans:
        return ""
    return "".join(_plan_html(plan, t, language) for plan in plans) + (
        f'<p><a href="../../?{_query(team=team, lang=language)}">'
        f"{html.escape(t('quick.full_page'))}</a></p>\n"
    )


#: The viewport of the page: folium's forbids zooming, which a reader may need.
_VIEWPORT = re.compile(r'<meta\s+name="viewport"[^>]*>')
VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'


def _area_parts(workspace: Workspace, team: str, language: str, moment: dt.datetime) -> Parts:
    """Write the page for a team, in parts around its :class:`Slot` s."""
    t = translator(language)
    options = CoverageOptions.from_settings()
    cells, services = team_area(workspace, team, moment)
    with workspace.connect() as connection:
        outlines, labels = district_layers(connection)
    m = team_area_map(
        outlines,
        labels,
        cells,
        services,
        t,
        recent_days=options.recent_days,
        overdue_days=options.overdue_weeks * 7,
        language=language,
        basemap=basemap_for(workspace),
    )
    m.height = (MAP_HEIGHT, "px")
    figure = m.get_root()
    assert isinstance(figure, Figure)
    title = f"<title>{html.escape(t('peer.title'))}</title>\n<style>{_STYLE}</style>"
    figure.header.add_child(Element(title), name="om_page_style")
    rendered = figure.render()
    head, closed, rest = rendered.partition("</head>")
    before, opened, rest = rest.partition("<body>")
    inside, ended, end = rest.partition("</body>")
    if not (closed and opened and ended):
        raise RuntimeError("folium wrote a page without <head> and <body>: cannot build it")
    head = _VIEWPORT.sub(VIEWPORT, head).replace("<html>", f'<html lang="{language}">', 1)
    log_visit = f"../../log_visit?{_query(team=team, lang=language)}"
    top = (
        f'<body>\n<main class="om-page">\n<h1>{html.escape(t("peer.title"))}</h1>\n'
        '<div class="om-bar">'
        f'<a class="om-button om-main" href="{log_visit}">{html.escape(t("log.title"))}</a>'
        '<button class="om-button" id="om-lock" type="button">'
        f"{html.escape(t('lock.now'))}</button>"
        "</div>\n"
        f'<p class="om-soft">{html.escape(t("quick.signed_in"))} '
    )
    intro = f'<p class="om-soft">{html.escape(t("peer.intro"))}</p>\n'
    empty = ""
    if cells.height == 0:
        empty = f'<p class="om-notice">{html.escape(t("peer.no_cells"))}</p>\n'
    services_html = (
        f"<h2>{html.escape(t('peer.open_now'))}</h2>\n"
        + _services_html(services, t, language)
        + "\n</main>\n"
    )
    return (
        head,
        Slot.NOSCRIPT,
        "</head>" + before + top,
        Slot.USER,
        "</p>\n",
        Slot.TEAMS,
        intro + inside + empty,
        Slot.PLANS,
        services_html,
        Slot.SCRIPT,
        "</body>" + end,
    )


# --- the route -----------------------------------------------------------------------------

#: The most a PIN form may send, in bytes.
MAX_FORM_BYTES = 2048
#: Where the page asks whether its shift is still open, and says "lock now" (relative: ``shift``).
SHIFT_ROUTE = "/api/quick/shift"


def _headers(workspace: Workspace | None) -> dict[str, str]:
    """Return :data:`HEADERS` and a policy that lets the browser ask only this server.

    A deployment's tile server (``OUTREACH_MAP_BASEMAP_URL``) is added where one is set.
    """
    basemap = basemap_for(workspace) if workspace is not None else None
    tiles = basemap_origin(basemap[0]) if basemap else ""
    extra = f" {tiles}" if tiles else ""
    return {**HEADERS, "Content-Security-Policy": POLICY.format(tiles=extra)}


def _answer(page: str, workspace: Workspace | None, status: int = 200) -> Response:
    """Send a page with :func:`_headers`."""
    return HTMLResponse(page, status_code=status, headers=_headers(workspace))


def _form(body: bytes) -> dict[str, str] | None:
    """Return the fields of a posted form (the first of each), or None if it is not one."""
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=4, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        return None
    return {name: values[0] for name, values in fields.items()}


async def _read_form(request: Request) -> dict[str, str] | str:
    """Read a posted form; return its fields, or the locale key of why it is refused.

    Refused before anything is counted: a form from another site (``Sec-Fetch-Site``), one
    over :data:`MAX_FORM_BYTES`, one that is not a form.
    """
    if request.headers.get("sec-fetch-site", "same-origin") != "same-origin":
        return "quick.other_site"
    try:
        declared = int(request.headers.get("content-length") or 0)
    except ValueError:
        return "quick.not_a_form"
    if declared > MAX_FORM_BYTES:
        return "quick.too_large"
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return "quick.too_large"
    fields = _form(body)
    return "quick.not_a_form" if fields is None else fields


#: The status of each refusal of a form.
_REFUSED = {"quick.other_site": 403, "quick.too_large": 413, "quick.not_a_form": 400}


def _open_workspace() -> Workspace | None:
    try:
        return open_workspace(workspace_path(None))
    except WorkspaceError:
        return None


async def quick_area(request: Request) -> Response:
    """Serve My area, quick (``GET`` the PIN form or the demo's page, ``POST`` the PIN).

    A form posted from another site, larger than :data:`MAX_FORM_BYTES` or not a form is
    refused before the PIN is counted, and so is a PIN that cannot be one (not 4 to 8 digits:
    every PIN set is). The device cookie is ``SameSite=Strict``: another site's form would not
    carry it anyway.
    """
    from starlette.concurrency import run_in_threadpool

    language = chosen_language(request.query_params.get("lang"))
    t = translator(language)
    workspace = await run_in_threadpool(_open_workspace)
    if workspace is None:
        return _answer(notice_page(language, "quick.no_workspace"), None, 503)
    who = await run_in_threadpool(entry, workspace, request)
    if who.account is None:
        status = 403 if who.refusal == "quick.not_peer" else 200
        return _answer(notice_page(language, who.refusal), workspace, status)
    account = who.account
    codes = await run_in_threadpool(account_teams, workspace, account)
    team = chosen_team(codes, request.query_params.get("team"))
    action = "?" + urlencode({"team": team, "lang": language})
    if who.demo:  # the demo workspace: its peer educator, no PIN
        page = await run_in_threadpool(area_page, workspace, account, codes, team, language)
        return _answer(page, workspace)
    if request.method != "POST":
        return _answer(pin_page(language, account, action), workspace)
    fields = await _read_form(request)
    if isinstance(fields, str):
        return _answer(notice_page(language, fields), workspace, _REFUSED[fields])
    pin = fields.get("pin", "")
    if not (pin.isascii() and pin.isdigit() and MIN_PIN_DIGITS <= len(pin) <= MAX_PIN_DIGITS):
        rule = t("lock.rule_length", count=len(pin), low=MIN_PIN_DIGITS, high=MAX_PIN_DIGITS)
        return _answer(pin_page(language, account, action, rule), workspace)
    opened = await run_in_threadpool(unlock, workspace, who.device, pin, why="PIN, quick My area")
    if opened.account is None:
        if opened.ended:
            return _answer(notice_page(language, "access.ended_pin"), workspace)
        message = t("lock.wrong", left=opened.tries_left)
        return _answer(pin_page(language, account, action, message), workspace)
    page = await run_in_threadpool(area_page, workspace, opened.account, codes, team, language)
    return _answer(page, workspace)


def _shift_state(workspace: Workspace, device: str, used: bool) -> bool:
    """Say whether the shift of ``device`` is open (live, unlocked); a use keeps it so."""
    with workspace.begin() as connection:
        return check_session(connection, device, touch=used).account is not None


def _lock_shift(workspace: Workspace, device: str, why: str) -> None:
    with workspace.begin() as connection:
        lock_session(connection, device, why)


async def quick_shift(request: Request) -> Response:
    """Answer whether the device's shift is open (``GET``: 204, or 409), or lock it (``POST``).

    The page asks every fifth of the idle time (30 s at most), saying whether it was used
    meanwhile (``?used=1``), which keeps the shift open as a tap in the app does; a 409 (the
    shift locked by "lock now" in the app, by idling, or over) sends it back to the PIN form.
    ``POST action=lock`` (or ``idle``) locks the shift for every page of the device, as
    "Lock now" in the app does. No answer holds any data. On the demo: always open, no lock.
    """
    from starlette.concurrency import run_in_threadpool

    empty = {**HEADERS, "Content-Security-Policy": "default-src 'none'"}
    workspace = await run_in_threadpool(_open_workspace)
    if workspace is None:
        return Response(status_code=503, headers=empty)
    who = await run_in_threadpool(entry, workspace, request)
    if who.demo:
        return Response(status_code=204, headers=empty)
    if who.account is None:
        return Response(status_code=409, headers=empty)
    if request.method != "POST":
        used = request.query_params.get("used") == "1"
        live = await run_in_threadpool(_shift_state, workspace, who.device, used)
        return Response(status_code=204 if live else 409, headers=empty)
    fields = await _read_form(request)
    if isinstance(fields, str):
        return Response(status_code=_REFUSED[fields], headers=empty)
    why = {"lock": "lock now", "idle": "idle"}.get(fields.get("action", ""))
    if why is None:
        return Response(status_code=400, headers=empty)
    await run_in_threadpool(_lock_shift, workspace, who.device, why)
    return Response(status_code=204, headers=empty)
