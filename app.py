"""outreach-map, the app (``outreach-map serve --workspace DIR``): the router of its pages."""

from __future__ import annotations

import streamlit as st

from views.shared import (
    carried_params,
    keep_uploads_in_memory,
    language_picker,
    role,
    role_picker,
    tr,
    warm_up,
    write_url,
)

#: Less empty space above the title; on a phone, controls at least 44 px high (WCAG 2.5.5).
STYLE = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem !important; }
[data-testid="stMain"] [data-testid="stPageLink"] a {
  border: 1px solid rgba(128, 128, 128, 0.4); border-radius: 0.5rem; justify-content: center;
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

st.set_page_config(page_title="outreach-map", page_icon="🗺️", layout="wide")
keep_uploads_in_memory()  # before any upload box: an upload must never touch the disk
warm_up()  # the analytics libraries load in the background while the first page draws
st.markdown(STYLE, unsafe_allow_html=True)  # fixed text, no data
t = tr()
PAGES = {
    "coordinator": [
        st.Page(
            "views/overview.py", title=t("overview.title"), icon=":material/map:", default=True
        ),
        st.Page("views/coverage.py", title=t("coverage.title"), icon=":material/insights:"),
        st.Page("views/hotspots.py", title=t("hotspots.title"), icon=":material/location_on:"),
        st.Page("views/services.py", title=t("services_page.title"), icon=":material/healing:"),
        st.Page("views/sites.py", title=t("sites.title"), icon=":material/add_location_alt:"),
        st.Page("views/import_data.py", title=t("import.title"), icon=":material/upload_file:"),
    ],
    "peer": [
        st.Page("views/my_area.py", title=t("peer.title"), icon=":material/near_me:", default=True),
        st.Page("views/log_visit.py", title=t("log.title"), icon=":material/add_circle:"),
    ],
    "funder": [
        st.Page("views/reach.py", title=t("reach.title"), icon=":material/groups:", default=True),
    ],
}
pages = PAGES[role()]
page = st.navigation(pages, position="hidden")
links = st.sidebar.container()  # filled after the page has made its choices
st.sidebar.divider()
language_picker()
role_picker()
page.run()
# the page links carry the session's choices, so a switch of page is one history entry
for link in pages:
    links.page_link(link, query_params=carried_params())
write_url()  # after the page: every choice it restored, in one history entry
