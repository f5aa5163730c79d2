"""The admin's page: accounts, sessions, the audit log and the settings in force. No data."""

from __future__ import annotations

import polars as pl
import streamlit as st

from mapping.access.accounts import (
    ROLES,
    accounts_table,
    add_account,
    end_all_sessions,
    remove_account,
    reset_password,
)
from mapping.analysis.peers import teams
from mapping.errors import MappingError
from mapping.settings import ACCESS_SETTINGS, ENV_PREFIX, get_settings
from mapping.storage.audit import ACTIONS, audit_entries
from mapping.storage.wipe import wipe_plan, wipe_workspace
from views.access import require
from views.shared import fitting_table, open_or_explain, tr
from views.state import TOKEN

#: The columns shown at first (the rest on demand), so each table fits a 1366 px screen.
ACCOUNT_COLUMNS = ("username", "role", "teams", "last_seen")
LOG_COLUMNS = ("at", "username", "role", "action", "detail")

account = require("admin")  # the server refuses any other role
t = tr()
workspace = open_or_explain()
st.title(t("admin.title"))
st.caption(t("admin.intro"))
accounts_tab, audit_tab, settings_tab, wipe_tab = st.tabs(
    [t("admin.accounts"), t("admin.audit"), t("admin.settings"), t("admin.wipe")]
)

with accounts_tab:
    with workspace.connect() as connection:
        table = accounts_table(connection)
    methods = {"password": "password", "single sign-on": "sso", "demo": "demo"}
    table = table.with_columns(
        pl.col("role").replace_strict({role: t(f"roles.{role}") for role in ROLES}),
        pl.col("sign_in").replace_strict(
            {stored: t(f"admin.sign_in_{name}") for stored, name in methods.items()}
        ),
    )
    fitting_table(
        table.rename({name: t(f"admin.col_{name}") for name in table.columns}),
        [t(f"admin.col_{name}") for name in ACCOUNT_COLUMNS],
        key="admin_accounts_all",
        width="stretch",
        placeholder="",
    )
    add, reset, remove = st.columns(3, gap="medium")
    with add, st.form("add-account", clear_on_submit=True):
        st.subheader(t("admin.add"))
        username = st.text_input(t("access.username"))
        role = st.selectbox(
            t("roles.label"),
            ROLES,
            format_func=lambda r: t(f"roles.{r}"),
            placeholder=t("app.choose_one"),
        )
        bound = st.multiselect(
            t("admin.teams"),
            teams(workspace),
            help=t("admin.teams_help"),
            placeholder=t("app.choose_many"),
        )
        password = st.text_input(t("access.password"), type="password", help=t("admin.pw_help"))
        again = st.text_input(t("admin.password_again"), type="password")
        sso = st.text_input(t("admin.sso"), help=t("admin.sso_help"))
        if st.form_submit_button(t("admin.add"), type="primary"):
            try:
                if password != again:
                    raise MappingError(t("admin.passwords_differ"))
                with workspace.begin() as connection:
                    added = add_account(
                        connection,
                        username,
                        role,
                        by=account.actor,
                        password=password or None,
                        teams=bound,
                        sso_email=sso or None,
                    )
                st.success(t("admin.added", user=added.username))
            except MappingError as exc:
                st.error(t("admin.refused", error=exc))
    names = table["username"].to_list()
    with reset, st.form("reset-password", clear_on_submit=True):
        st.subheader(t("admin.reset"))
        who = st.selectbox(
            t("access.username"), names, key="reset-who", placeholder=t("app.choose_one")
        )
        password = st.text_input(t("access.password"), type="password", key="reset-pw")
        again = st.text_input(t("admin.password_again"), type="password", key="reset-again")
        if st.form_submit_button(t("admin.reset")):
            try:
                if password != again:
                    raise MappingError(t("admin.passwords_differ"))
                with workspace.begin() as connection:
                    reset_password(connection, who, password, by=account.actor)
                st.success(t("admin.was_reset", user=who))
            except MappingError as exc:
                st.error(t("admin.refused", error=exc))
    with remove, st.form("remove-account"):
        st.subheader(t("admin.remove"))
        who = st.selectbox(
            t("access.username"),
            [n for n in names if n != account.username],
            key="remove-who",
            placeholder=t("app.choose_one"),
        )
        sure = st.checkbox(t("admin.remove_sure"))
        if st.form_submit_button(t("admin.remove")) and who:
            if not sure:
                st.warning(t("admin.tick_to_confirm"))
            else:
                with workspace.begin() as connection:
                    remove_account(connection, who, by=account.actor)
                st.success(t("admin.removed", user=who))
                st.rerun()
    st.divider()
    st.caption(t("admin.end_sessions_help"))
    if st.button(t("admin.end_sessions"), icon=":material/logout:"):
        with workspace.begin() as connection:
            ended = end_all_sessions(connection, by=account.actor, keep=st.session_state.get(TOKEN))
        st.success(t("admin.sessions_ended", count=ended))

with audit_tab:
    st.caption(t("admin.audit_intro"))
    actions = st.multiselect(
        t("admin.actions"),
        sorted(ACTIONS),
        format_func=lambda action: t(f"audit_actions.{action}"),
        placeholder=t("app.choose_many"),
    )
    with workspace.connect() as connection:
        entries = audit_entries(connection, limit=5000)
    if actions:
        entries = entries.filter(pl.col("action").is_in(actions))
    entries = entries.with_columns(
        pl.col("action").replace_strict(
            {a: t(f"audit_actions.{a}") for a in ACTIONS}, default=pl.col("action")
        ),
        pl.col("role").replace_strict(
            {role: t(f"roles.{role}") for role in ROLES}, default=pl.col("role")
        ),
    )
    fitting_table(
        entries.rename({name: t(f"admin.log_{name}") for name in entries.columns}),
        [t(f"admin.log_{name}") for name in LOG_COLUMNS],
        key="admin_audit_all",
        column_config={
            t("admin.log_at"): st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            t("admin.log_action"): st.column_config.TextColumn(width="medium"),
            t("admin.log_detail"): st.column_config.TextColumn(width="medium"),
        },
        width="stretch",
        height=520,
        placeholder="",
    )

with settings_tab:
    st.caption(t("admin.settings_intro", prefix=ENV_PREFIX))
    settings = get_settings()
    defaults = type(settings)()
    rows = [
        {
            t("admin.setting"): name,
            t("admin.value"): str(getattr(settings, name)),
            t("admin.default"): str(getattr(defaults, name)),
            t("admin.variable"): ENV_PREFIX + name.upper(),
        }
        for name in ACCESS_SETTINGS
    ]
    st.dataframe(pl.DataFrame(rows), hide_index=True, width="stretch")

with wipe_tab:
    st.warning(t("admin.wipe_intro"), icon=":material/warning:")
    st.markdown("\n".join(f"- `{line}`" for line in wipe_plan(workspace.path)))
    with st.form("wipe"):
        typed = st.text_input(t("admin.wipe_type", name=workspace.name))
        if st.form_submit_button(t("admin.wipe_button"), type="primary"):
            if typed.strip() != workspace.name:
                st.error(t("admin.wipe_mismatch", name=workspace.name))
            else:
                result = wipe_workspace(workspace.path, by=account.username)
                # nothing read before the wipe may be served from memory afterwards
                st.cache_data.clear()
                st.cache_resource.clear()
                st.session_state.clear()
                if result.complete:
                    st.success(t("admin.wiped", seconds=f"{result.seconds:.1f}"))
                else:
                    st.error(t("admin.wipe_failed", failures="; ".join(result.failures)))
                for note in result.notes:
                    st.info(note)
                st.stop()
