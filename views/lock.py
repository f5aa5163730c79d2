"""The lock of a shift: the PIN form, setting a PIN, "lock now" on every page, the device cookie.

A locked session draws nothing but :func:`lock_form`: the account's name, the PIN, sign out.
The PIN opens it on the device where the password was typed: right after sign-in the page
exchanges a one-time ticket for an HttpOnly cookie (``api/device``, :mod:`views.web`), so a
new app session on that device (a phone that slept for 50 minutes, a reload) is offered the
PIN, and any other device the password.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from mapping.access.accounts import (
    Account,
    SignInRefusedError,
    check_session,
    lock_session,
    sign_in,
    sign_out,
)
from mapping.access.locks import (
    MAX_PIN_DIGITS,
    MIN_PIN_DIGITS,
    check_pin,
    mark_used,
    may_set_pin,
    pin_rule_broken,
    set_pin,
    unlock,
)
from mapping.settings import get_settings
from mapping.storage.workspace import Workspace
from views.state import ACCOUNT, ENDED, LOCKED, PIN_OFFER, TICKET, TOKEN

#: Exchanges the sign-in's one-time ticket for the device cookie, without leaving the page:
#: a same-origin GET of ``api/device`` relative to the page, as Streamlit's own assets are.
DEVICE_JS = """
export default function ({ data }) {
  if (!data || !data.ticket) return;
  const url = new URL("api/device?ticket=" + encodeURIComponent(data.ticket), document.baseURI);
  fetch(url, { credentials: "same-origin", cache: "no-store", redirect: "manual" });
}
"""
#: Gives the PIN fields a phone's number pad and keeps browsers from offering to save them.
KEYPAD_JS = """
export default function () {
  let rounds = 0;
  const mark = () => {
    document.querySelectorAll('[class*="st-key-pin"] input').forEach((input) => {
      input.setAttribute("inputmode", "numeric");
      input.setAttribute("autocomplete", "one-time-code");
    });
    if (++rounds < 20) setTimeout(mark, 250);
  };
  mark();
}
"""
#: Covers the page while the browser tab is hidden (a phone asleep, another app: the app
#: switcher's picture shows nothing), and when it comes back after the idle time reloads it
#: instead of showing the last page again: online, a new page gets the PIN form; offline, the
#: browser's own error page, not the team's data (docs/security.md).
GUARD_JS = """
export default function ({ data }) {
  window.omLockAfter = ((data && data.seconds) || 300) * 1000;
  if (window.omLockGuard) return;
  window.omLockGuard = true;
  let hiddenAt = null;
  const cover = document.createElement("div");
  cover.id = "om-lock-cover";
  cover.style.cssText = "position:fixed;inset:0;z-index:2147483647;background:#000";
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") {
      hiddenAt = Date.now();
      document.body.appendChild(cover);
    } else if (hiddenAt !== null) {
      if (Date.now() - hiddenAt >= window.omLockAfter) {
        location.reload();
        return;
      }
      hiddenAt = null;
      cover.remove();
    }
  });
}
"""
_device = st.components.v2.component("om_device", js=DEVICE_JS)
_guard = st.components.v2.component("om_lock_guard", js=GUARD_JS)
_keypad = st.components.v2.component("om_pin_keypad", js=KEYPAD_JS)
#: "Lock now" in the top right corner of every page, over Streamlit's header: one tap, and no
#: line of the page given up for it on a phone.
BAR_STYLE = """<style>
.st-key-lock-bar { position: fixed; top: 0.5rem; right: 0.75rem; z-index: 999991;
  width: auto !important; }
</style>"""


def remember_this_device() -> None:
    """Send the page to exchange the sign-in's ticket for the device cookie (once)."""
    ticket = st.session_state.pop(TICKET, None)
    if ticket:
        _device(data={"ticket": ticket}, key="om-device", height=0)


def _signed_out(workspace: Workspace, token: str, reason: str) -> None:
    with workspace.begin() as connection:
        sign_out(connection, token)
    _forget(reason)


def _forget(reason: str) -> None:
    for key in (TOKEN, LOCKED, PIN_OFFER, "role"):
        st.session_state.pop(key, None)
    st.session_state[ACCOUNT] = None
    st.session_state[ENDED] = reason
    st.rerun()


def lock_form(workspace: Workspace, token: str, holder: Account, t: Callable[..., str]) -> None:
    """Draw the locked app: whose it is, the PIN, and sign out. Nothing of the programme."""
    st.title(t("lock.title"), anchor=False)
    st.markdown(t("lock.account", user=holder.username))
    st.caption(t("lock.intro"))
    with st.form("unlock", enter_to_submit=True, border=False):
        pin = st.text_input(
            t("lock.pin"), type="password", max_chars=MAX_PIN_DIGITS, key="pin-unlock"
        )
        opened = st.form_submit_button(
            t("lock.unlock"), type="primary", icon=":material/lock_open:"
        )
    _keypad(key="om-keypad-unlock", height=0)
    if st.button(t("access.sign_out"), icon=":material/logout:", key="lock-sign-out"):
        _signed_out(workspace, token, "ended")
    if not opened:
        return
    why = "PIN" if st.session_state.get(TOKEN) == token else "PIN, on a new page of this device"
    outcome = unlock(workspace, token, pin, why=why)
    if outcome.account is not None:
        st.session_state[TOKEN] = token
        st.session_state.pop(LOCKED, None)
        st.rerun()
    if outcome.ended:
        _forget("pin")
    st.error(t("lock.wrong", left=outcome.tries_left))


def _pin_problem(pin: str, again: str, t: Callable[..., str]) -> str | None:
    """Return what is wrong with a new PIN, in the page's language, naming the value."""
    if pin != again:
        return t("lock.differ")
    rule = pin_rule_broken(pin)
    if rule in ("digits", "length"):
        return t("lock.rule_length", count=len(pin), low=MIN_PIN_DIGITS, high=MAX_PIN_DIGITS)
    if rule:
        return t(f"lock.rule_{rule}", pin=pin)
    return None


def pin_setup_form(workspace: Workspace, account: Account, t: Callable[..., str]) -> None:
    """Draw the PIN set-up offered right after the password: the PIN twice, or "not now"."""
    settings = get_settings()
    st.title(t("lock.setup_title"), anchor=False)
    st.markdown(
        t(
            "lock.setup_intro",
            minutes=f"{settings.lock_idle_minutes:g}",
            hours=f"{settings.shift_hours:g}",
            low=MIN_PIN_DIGITS,
            high=MAX_PIN_DIGITS,
        )
    )
    with st.form("pin-setup", border=False):
        pin = st.text_input(
            t("lock.new_pin"), type="password", max_chars=MAX_PIN_DIGITS, key="pin-new"
        )
        again = st.text_input(
            t("lock.pin_again"), type="password", max_chars=MAX_PIN_DIGITS, key="pin-again"
        )
        saved = st.form_submit_button(t("lock.save"), type="primary", icon=":material/lock:")
    _keypad(key="om-keypad-setup", height=0)
    if st.button(t("lock.not_now"), key="pin-not-now", help=t("lock.not_now_help")):
        st.session_state.pop(PIN_OFFER, None)
        st.rerun()
    if saved:
        problem = _pin_problem(pin, again, t)
        if problem:
            st.error(problem)
            return
        with workspace.begin() as connection:
            set_pin(connection, account, check_pin(pin))
        st.session_state.pop(PIN_OFFER, None)
        st.toast(t("lock.saved"), icon=":material/lock:")
        st.rerun()


def change_pin_form(workspace: Workspace, account: Account, t: Callable[..., str]) -> None:
    """Draw, in the sidebar, a form to set or change the PIN: the current PIN (or password) first.

    The current PIN proves the person holding an unlocked phone knows it; a wrong one counts
    as a wrong PIN. The password does too (a forgotten PIN): a password has 12 characters or
    more and a PIN at most 8 digits, so what was typed says which it is; a wrong password
    counts as a failed sign-in. An account without a PIN types its password.
    """
    if not may_set_pin(account):
        return
    token = st.session_state.get(TOKEN)
    title = t("lock.change" if account.has_pin else "lock.set_later")
    with st.sidebar.expander(title), st.form("pin-change", clear_on_submit=True, border=False):
        proof = st.text_input(
            t("lock.current_pin_or_password" if account.has_pin else "access.password"),
            type="password",
            key="pin-current" if account.has_pin else "pin-password",
        )
        pin = st.text_input(
            t("lock.new_pin"), type="password", max_chars=MAX_PIN_DIGITS, key="pin-change-new"
        )
        again = st.text_input(
            t("lock.pin_again"), type="password", max_chars=MAX_PIN_DIGITS, key="pin-change-again"
        )
        changed = st.form_submit_button(t("lock.save"))
    if not changed or not token:
        return
    problem = _pin_problem(pin, again, t)
    if problem:
        st.sidebar.error(problem)
        return
    if account.has_pin and proof.isdigit() and len(proof) <= MAX_PIN_DIGITS:
        outcome = unlock(workspace, token, proof, why="current PIN, to change it")
        if outcome.ended:
            _forget("pin")
        if outcome.account is None:
            st.sidebar.error(t("lock.wrong", left=outcome.tries_left))
            return
    else:
        try:
            sign_in(workspace, account.username, proof, start=False)
        except SignInRefusedError:
            st.sidebar.error(t("access.refused"))
            return
    with workspace.begin() as connection:
        set_pin(connection, account, pin)
    st.sidebar.success(t("lock.saved"))


def lock_bar(workspace: Workspace, account: Account, t: Callable[..., str]) -> None:
    """Draw "lock now" at the top of the page, and lock the page once it has been idle.

    A fragment that reruns on its own every few seconds (a fifth of the idle time, 30 s at
    most) asks the store, without counting as use, whether the session is still open; when
    it has locked (idle, or from another page), the whole app runs again and shows the PIN.
    While the browser tab is hidden the page is covered; back after the idle time, it reloads.
    """
    seconds = get_settings().lock_idle_minutes * 60
    every = min(30.0, max(1.0, seconds / 5))
    st.fragment(run_every=every)(_bar)(workspace, account, t)
    _guard(data={"seconds": seconds}, key="om-lock-guard", height=0)
    st.html(BAR_STYLE)  # fixed text, no data


def _bar(workspace: Workspace, account: Account, t: Callable[..., str]) -> None:
    token = st.session_state.get(TOKEN)
    if not token:
        return
    with st.container(horizontal=True, horizontal_alignment="right", key="lock-bar"):
        now = st.button(t("lock.now"), icon=":material/lock:", key="lock-now", type="secondary")
    with workspace.begin() as connection:
        if now:
            lock_session(connection, token, "lock now")
        live = check_session(connection, token, touch=False).account is not None
    if not live:
        st.rerun(scope="app")


def session_used(workspace: Workspace) -> None:
    """Restart the idle clock at the end of a run, so a long run does not count as idle."""
    token = st.session_state.get(TOKEN)
    if token:
        with workspace.begin() as connection:
            mark_used(connection, token)
