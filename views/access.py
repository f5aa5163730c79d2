"""Signing in and out, and the server-side check of every run: no page draws without a session.

The browser holds no session: the session token lives in the app's session on the server
(``st.session_state``), and every run asks the store whether its session is still live, so a
sign-out, the shift's end or an admin's "end all sessions" takes effect at the next click. A
session left idle locks (:mod:`views.lock`); a new app session on the device where the
password was typed (a reload, a phone that slept) finds the shift by the device cookie and asks
for the PIN, any other device for the password.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from mapping.access.accounts import (
    Account,
    SignInRefusedError,
    check_session,
    demo_session,
    is_demo,
    sign_in,
    sign_in_sso,
    sign_out,
)
from mapping.access.locks import DEVICE_COOKIE, device_ticket, may_set_pin
from mapping.settings import get_settings
from mapping.storage.audit import record
from mapping.storage.workspace import Workspace, open_workspace
from views.shared import tr, url_value
from views.state import (
    ACCOUNT,
    DEMO_ROLES,
    ENDED,
    LOCKED,
    PIN_OFFER,
    TICKET,
    TOKEN,
    current_account,
)


@st.cache_data(show_spinner=False, ttl=60)
def demo_store(path: str) -> bool:
    """Say whether the store of the workspace at ``path`` is the demo's (cached a minute)."""
    with open_workspace(Path(path)).connect() as connection:
        return is_demo(connection)


def _wanted_demo_role() -> str | None:
    """Return the role the demo was asked for: the role switch, else ``?role=`` in the URL."""
    asked = st.session_state.get("role") or url_value("role")
    return asked if asked in DEMO_ROLES else None


def signed_in(workspace: Workspace) -> Account | None:
    """Return the account of this app session's live, unlocked session, or None.

    A locked session (idle, "lock now") leaves its token and account in ``LOCKED`` for the PIN
    form, and so does the shift of this device's cookie in a new app session: the PIN opens
    it. On the demo workspace a role asked for (the role switch, or ``?role=peer`` in an
    address) enters as that role's demo account, through a real server-side session.
    """
    token = st.session_state.get(TOKEN)
    account: Account | None = None
    st.session_state.pop(LOCKED, None)
    demo = demo_store(str(workspace.path))
    if token:
        with workspace.begin() as connection:
            check = check_session(connection, token)
        account = check.account
        if check.holder is not None:
            st.session_state[LOCKED] = (token, check.holder)
        elif account is None:
            st.session_state.pop(TOKEN, None)
            st.session_state[ENDED] = check.reason
    elif not demo and isinstance(device := st.context.cookies.get(DEVICE_COOKIE), str) and device:
        with workspace.begin() as connection:
            check = check_session(connection, device, touch=False)
        holder = check.account or check.holder
        if holder is not None and holder.has_pin:
            st.session_state[LOCKED] = (device, holder)
    if demo and LOCKED not in st.session_state:
        wanted = _wanted_demo_role()
        if wanted and (account is None or account.role != wanted):
            with workspace.begin() as connection:
                if token and account is not None:
                    sign_out(connection, token)
                token, account = demo_session(connection, wanted)
            st.session_state[TOKEN] = token
            st.session_state.pop(ENDED, None)
    st.session_state[ACCOUNT] = account
    if account is not None:
        # the pages and the links between them read the role from here
        st.session_state["role"] = account.role
    return account


def _started(workspace: Workspace, token: str, account: Account) -> None:
    """Keep a new session: its token, the PIN offer, and a ticket for this device's cookie."""
    st.session_state[TOKEN] = token
    st.session_state.pop(ENDED, None)
    st.session_state[PIN_OFFER] = may_set_pin(account) and not account.has_pin
    with workspace.begin() as connection:
        st.session_state[TICKET] = device_ticket(connection, token)


def require(*roles: str) -> Account:
    """Return the signed-in account if its role may see this page; else stop with a refusal.

    Navigation only offers a role its own pages; this check is the second lock, on the server,
    in each page itself.
    """
    account = current_account()
    if account.role not in roles:
        st.error(tr()("access.not_for_role"))
        st.stop()
    return account


def sign_in_form(workspace: Workspace, t: Callable[..., str]) -> None:
    """Draw the sign-in form (and the demo's roles, and single sign-on when configured)."""
    st.title(t("app.name"))
    ended = st.session_state.get(ENDED)
    if ended in ("idle", "expired", "ended", "pin"):
        settings = get_settings()
        minutes, hours = f"{settings.lock_idle_minutes:g}", f"{settings.shift_hours:g}"
        st.info(t(f"access.ended_{ended}", minutes=minutes, hours=hours), icon=":material/logout:")
    if demo_store(str(workspace.path)):
        st.subheader(t("access.demo_title"))
        st.caption(t("access.demo_intro"))
        with st.container(horizontal=True):
            for role in DEMO_ROLES:
                if st.button(t(f"roles.{role}"), key=f"demo-{role}", type="primary"):
                    st.session_state["role"] = role
                    st.rerun()
        st.divider()
    st.subheader(t("access.sign_in"))
    with st.form("sign-in", enter_to_submit=True):
        username = st.text_input(t("access.username"), autocomplete="username")
        password = st.text_input(
            t("access.password"), type="password", autocomplete="current-password"
        )
        submitted = st.form_submit_button(t("access.sign_in"), type="primary")
    if submitted:
        try:
            token, account = sign_in(workspace, username, password)
        except SignInRefusedError as exc:
            if exc.too_soon:
                st.error(t("access.wait", seconds=exc.wait_seconds))
            else:
                st.error(t("access.refused"))
                if exc.wait_seconds:
                    st.warning(t("access.wait", seconds=exc.wait_seconds))
        else:
            _started(workspace, token, account)
            st.rerun()
    if _sso_configured():
        _single_sign_on(workspace, t)
    st.caption(t("access.no_account"))


def _sso_configured() -> bool:
    """Say whether the deployment configured an identity provider (``[auth]`` in secrets)."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


def _single_sign_on(workspace: Workspace, t: Callable[..., str]) -> None:
    """Offer single sign-on; once the provider has verified the person, open their session."""
    if not st.user.is_logged_in:
        st.button(t("access.sso"), on_click=st.login, icon=":material/badge:")
        return
    email = str(st.user.get("email") or "")
    if st.user.get("email_verified") is False or not email:
        st.error(t("access.sso_unverified"))
        st.button(t("access.sign_out"), on_click=st.logout)
        return
    try:
        token, account = sign_in_sso(workspace, email)
    except SignInRefusedError:
        st.error(t("access.sso_no_account", email=email))
        st.button(t("access.sign_out"), on_click=st.logout)
        return
    _started(workspace, token, account)
    st.rerun()


def sign_out_button(workspace: Workspace, account: Account, t: Callable[..., str]) -> None:
    """Draw who is signed in and the sign-out button in the sidebar."""
    st.sidebar.caption(
        t("access.signed_in_as", user=account.username, role=t(f"roles.{account.role}"))
    )
    if st.sidebar.button(t("access.sign_out"), icon=":material/logout:"):
        token = st.session_state.pop(TOKEN, None)
        if token:
            with workspace.begin() as connection:
                sign_out(connection, token)
        st.session_state[ACCOUNT] = None
        st.session_state.pop("role", None)
        st.session_state.pop(PIN_OFFER, None)
        st.session_state[ENDED] = "ended"
        st.query_params.pop("role", None)
        if _sso_configured() and st.user.is_logged_in:
            st.logout()
        st.rerun()


def log_view(workspace: Workspace, account: Account, page: str, resolution: int | None) -> None:
    """Record a page view in the audit log, once per visit of a page (not at every click)."""
    if st.session_state.get("__viewed") == page:
        return
    st.session_state["__viewed"] = page
    with workspace.begin() as connection:
        record(connection, account.actor, "view", f"page {page}", resolution=resolution)
