"""What an app session holds on the server: its session keys and its account.

Both :mod:`views.shared` (what every page needs) and :mod:`views.access` (signing in and out)
read these; this module imports neither, so the two import each other in one direction only
(access uses shared).
"""

from __future__ import annotations

import streamlit as st

from mapping.access.accounts import Account

#: Session-state key of the session token (never in the URL, a cookie or the page).
TOKEN = "auth_token"
#: Session-state key of the signed-in account, set by :func:`views.access.signed_in` at each run.
ACCOUNT = "account"
#: Why the last session ended, shown on the sign-in page.
ENDED = "auth_ended"
#: A locked session this app session may open with the PIN: (its token, its account).
LOCKED = "auth_locked"
#: Set at a sign-in with the password (or single sign-on): the PIN may be set without more.
PIN_OFFER = "auth_pin_offer"
#: The one-time ticket the page exchanges for the device cookie, right after sign-in.
TICKET = "auth_device_ticket"
#: The demo's role switch, in the order it lists them.
DEMO_ROLES = ("coordinator", "peer", "funder", "admin")


def current_account() -> Account:
    """Return the account :func:`views.access.signed_in` found in this run; else stop the page."""
    account = st.session_state.get(ACCOUNT)
    if not isinstance(account, Account):
        st.stop()
    assert isinstance(account, Account)
    return account
