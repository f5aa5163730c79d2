"""outreach-map, the app (``outreach-map serve --workspace DIR``): the router of its pages."""

from __future__ import annotations

import streamlit as st

from views.shared import language_picker, role, role_picker, tr

st.set_page_config(page_title="outreach-map", page_icon="🗺️", layout="wide")
st.markdown(  # less empty space above the title than Streamlit's default
    '<style>[data-testid="stMainBlockContainer"] { padding-top: 2.5rem !important; }</style>',
    unsafe_allow_html=True,
)
t = tr()
PAGES = {
    "coordinator": [
        st.Page(
            "views/overview.py", title=t("overview.title"), icon=":material/map:", default=True
        ),
        st.Page("views/coverage.py", title=t("coverage.title"), icon=":material/insights:"),
        st.Page("views/hotspots.py", title=t("hotspots.title"), icon=":material/location_on:"),
        st.Page("views/sites.py", title=t("sites.title"), icon=":material/add_location_alt:"),
        st.Page("views/services.py", title=t("services_page.title"), icon=":material/healing:"),
    ],
    "peer": [
        st.Page("views/my_area.py", title=t("peer.title"), icon=":material/near_me:", default=True),
    ],
}
page = st.navigation(PAGES[role()])
language_picker()
role_picker()
page.run()
