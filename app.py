"""outreach-map, the app (``outreach-map serve --workspace DIR``): the router of its pages."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import OperationalError

from mapping.access.accounts import Account
from mapping.errors import WorkspaceError
from mapping.storage.audit import acting_as
from views.access import demo_store, log_view, sign_in_form, sign_out_button, signed_in
from views.lock import (
    change_pin_form,
    lock_bar,
    lock_form,
    pin_setup_form,
    remember_this_device,
    session_used,
)
from views.shared import (
    carried_params,
    keep_uploads_in_memory,
    language_picker,
    open_or_explain,
    role_picker,
    stop_if_refused,
    stop_if_unreachable,
    tr,
    warm_up,
    write_url,
)
from views.state import LOCKED, PIN_OFFER

#: Less empty space above the title; on a phone, controls at least 44 px high (WCAG 2.5.5).
STYLE = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem !important; }
[data-testid="stMain"] [data-testid="stPageLink"] a {
  border: 1px solid rgba(128, 128, 128, 0.4); border-radius: 0.5rem; justify-content: center;
}
/* Captions (WCAG 2.2 AA, docs/accessibility.md): Streamlit draws them at 60 % opacity, 3.9:1 on
   the light theme's white where 4.5:1 is needed; text at 75 % of the text colour is 6.1:1 there
   (5.9:1 on the sidebar) and still softer than body text, in either theme, and leaves a link in
   a caption its own colour. Inline code in a caption takes the caption's colour (the theme's
   green code text is 3:1 on a caption's background). */
[data-testid="stCaptionContainer"] {
  opacity: 1; color: color-mix(in srgb, currentColor 75%, transparent);
}
[data-testid="stCaptionContainer"] code { color: inherit; }
/* My area's link to its quick page: a thumb's target */
[data-testid="stMain"] a[href^="api/quick/area"] {
  display: inline-flex; align-items: center; gap: 0.3rem; min-height: 44px;
}
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] { padding-top: 1.5rem !important; }
  .stButton button, .stFormSubmitButton button, .stDownloadButton button,
  [data-testid="stButtonGroup"] button, [data-testid="stPageLink"] a,
  [data-testid="stNumberInputStepDown"], [data-testid="stNumberInputStepUp"],
  .stTextInput input, .stNumberInput input, .stSelectbox input, .stSelectbox button,
  .stMultiSelect input, [data-baseweb="select"] > div {
    min-height: 44px;
  }
  [data-testid="stNumberInputStepDown"], [data-testid="stNumberInputStepUp"] { min-width: 44px; }
  [data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapseButton"] button {
    min-width: 44px; min-height: 44px;
  }
}
</style>"""

#: On a phone (narrower than Streamlit's 768 px breakpoint) the open sidebar covers most of the
#: screen: once a page is chosen in it, close it, as Streamlit's own page menu does. Our page
#: links (they carry the session's choices) do not, so this closes it the way a person would,
#: with the sidebar's own close button. Fixed text, no data; it runs once per browser tab.
CLOSE_SIDEBAR_ON_PHONE = """<script>
(function () {
  if (window.omClosesSidebar) { return; }
  window.omClosesSidebar = true;
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(
      '[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]');
    if (!link || window.innerWidth >= 768) { return; }
    var close = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (close) { close.click(); }
  });
})();
</script>"""

st.set_page_config(page_title="outreach-map", page_icon="🗺️", layout="wide")
keep_uploads_in_memory()  # before any upload box: an upload must never touch the disk
warm_up()  # the analytics libraries load in the background while the first page draws
st.html(STYLE)  # fixed text, no data (st.html: no 57 kB HTML-in-Markdown parser to load)
t = tr()
workspace = open_or_explain()
try:
    account = signed_in(workspace)
except OperationalError as exc:  # the first use of the store: a server down, a refused account
    stop_if_unreachable(exc)
except WorkspaceError as exc:  # or a store behind the newest schema (`outreach-map migrate`)
    stop_if_refused(exc)
locked: tuple[str, Account] | None = st.session_state.get(LOCKED)
if account is None and locked is None:
    # nothing but the sign-in form is reachable without a live session

    def sign_in_page() -> None:
        """Draw the sign-in form: the only page without a session."""
        sign_in_form(workspace, t)

    st.navigation(
        [st.Page(sign_in_page, title=t("access.sign_in"), url_path="sign_in")], position="hidden"
    ).run()
    language_picker()
    write_url()
    st.stop()

#: Each role's pages, with the name the audit log records a view under.
PAGES = {
    "coordinator": [
        (
            "overview",
            st.Page(
                "views/overview.py", title=t("overview.title"), icon=":material/map:", default=True
            ),
        ),
        (
            "coverage",
            st.Page("views/coverage.py", title=t("coverage.title"), icon=":material/insights:"),
        ),
        (
            "hotspots",
            st.Page("views/hotspots.py", title=t("hotspots.title"), icon=":material/location_on:"),
        ),
        (
            "plan",
            st.Page("views/plan.py", title=t("plan.title"), icon=":material/route:"),
        ),
        (
            "services",
            st.Page("views/services.py", title=t("services_page.title"), icon=":material/healing:"),
        ),
        (
            "sites",
            st.Page("views/sites.py", title=t("sites.title"), icon=":material/add_location_alt:"),
        ),
        (
            "import",
            st.Page("views/import_data.py", title=t("import.title"), icon=":material/upload_file:"),
        ),
    ],
    "peer": [
        (
            "my_area",
            st.Page(
                "views/my_area.py", title=t("peer.title"), icon=":material/near_me:", default=True
            ),
        ),
        (
            "log_visit",
            st.Page("views/log_visit.py", title=t("log.title"), icon=":material/add_circle:"),
        ),
    ],
    "funder": [
        (
            "reach",
            st.Page(
                "views/reach.py", title=t("reach.title"), icon=":material/groups:", default=True
            ),
        ),
    ],
    "admin": [
        (
            "admin",
            st.Page(
                "views/admin.py",
                title=t("admin.title"),
                icon=":material/admin_panel_settings:",
                default=True,
            ),
        ),
    ],
}
#: The finest cells each role's pages show (None: districts only), for the audit log.
RESOLUTION = {"coordinator": workspace.resolution, "peer": workspace.resolution}
# a locked session keeps its pages' addresses (the page the peer was on comes back after the
# PIN) but draws none of them: only the PIN form, the account's name and "sign out"
if account is not None:
    locked_token, holder = "", account
else:
    assert locked is not None  # without either, the sign-in form has stopped the run
    locked_token, holder = locked
pages = dict(PAGES[holder.role])
page = st.navigation(list(pages.values()), position="hidden")
if account is None:
    lock_form(workspace, locked_token, holder, t)
    language_picker()
    st.stop()
remember_this_device()  # right after sign-in: the page fetches this device's cookie
if st.session_state.get(PIN_OFFER) and not account.has_pin:
    pin_setup_form(workspace, account, t)
    language_picker()
    st.stop()
links = st.sidebar.container()  # filled after the page has made its choices
st.sidebar.divider()
language_picker()
if demo_store(str(workspace.path)):
    role_picker()
sign_out_button(workspace, account, t)
change_pin_form(workspace, account, t)
st.sidebar.html(CLOSE_SIDEBAR_ON_PHONE, unsafe_allow_javascript=True)
name = next(key for key, value in pages.items() if value == page)
log_view(workspace, account, name, RESOLUTION.get(account.role))
if not demo_store(str(workspace.path)):
    lock_bar(workspace, account, t)  # "lock now", one tap at the top of every page
with acting_as(account.actor):  # imports and edits made on the page are logged under the account
    page.run()
session_used(workspace)  # a long run (an import) does not count as idle time
# the page links carry the session's choices, so a switch of page is one history entry
for link in pages.values():
    links.page_link(link, query_params=carried_params())
write_url()  # after the page: every choice it restored, in one history entry
