"""Who covers what: a proposed split shown first, saved only on confirmation, and its map."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl
import streamlit as st
from streamlit_folium import st_folium

from mapping.errors import InvalidInputError, OutdatedProposalError
from mapping.maps.base import basemap_for
from mapping.maps.plan import assignment_map
from mapping.planning.plans import assigned_cells
from mapping.storage.workspace import Workspace
from views.shared import current_actor, language, outlines_for, store_stamp

if TYPE_CHECKING:
    from mapping.planning.assignments import AssignmentResult

#: Session keys: the proposal shown, the confirmation asked for, the result saved, what to say.
PROPOSAL, CONFIRMED = "assign_proposal", "assign_confirmed"
SAVED, SAID = "assign_saved", "assign_said"


def show_assignments(workspace: Workspace, t: Callable[..., str]) -> None:
    """Draw "who covers what": propose, show what would move, save on confirmation; the map.

    Call it after the page's role check: a confirmation is written here, in the page's run,
    never in a button's callback (which runs before the page checks who is signed in).
    """
    st.caption(t("plan.assign_intro"))
    if st.session_state.pop(CONFIRMED, False):
        _save(workspace, t)
    left, right = st.columns(2)
    if left.button(t("plan.assign_new"), use_container_width=True, key="assign_new"):
        _propose(workspace, t, rebalance=False)
    if right.button(t("plan.rebalance"), use_container_width=True, key="assign_rebalance"):
        _propose(workspace, t, rebalance=True)
    said = st.session_state.get(SAID)
    if said:
        getattr(st, said[0])(said[1])
    proposal: AssignmentResult | None = st.session_state.get(PROPOSAL)
    if proposal is not None:
        _show_proposal(proposal, t)
    _show_map(workspace, t, pending=proposal is not None and proposal.change_count > 0)
    shown = proposal if proposal is not None else st.session_state.get(SAVED)
    if shown is not None:
        if proposal is not None and proposal.change_count:
            st.caption(t("plan.assign_loads"))
        st.dataframe(_loads_table(shown, t), hide_index=True, use_container_width=True)


def _propose(workspace: Workspace, t: Callable[..., str], *, rebalance: bool) -> None:
    """Work out a split and keep it to show; nothing is written."""
    from mapping.planning.assignments import propose_assignment

    st.session_state.pop(SAID, None)
    st.session_state.pop(SAVED, None)
    st.session_state.pop(PROPOSAL, None)
    try:
        with st.spinner(t("plan.assign_proposing")):
            st.session_state[PROPOSAL] = propose_assignment(workspace, rebalance=rebalance)
    except InvalidInputError as exc:  # no active peer educator
        st.session_state[SAID] = ("error", str(exc))


def _save(workspace: Workspace, t: Callable[..., str]) -> None:
    """Store the proposal shown, exactly; if the store changed since, propose again instead."""
    from mapping.planning.assignments import save_assignment

    proposal: AssignmentResult | None = st.session_state.get(PROPOSAL)
    if proposal is None or proposal.change_count == 0:
        return
    try:
        save_assignment(workspace, proposal, actor=current_actor())
    except OutdatedProposalError:
        _propose(workspace, t, rebalance=proposal.rebalance)
        st.session_state[SAID] = ("error", t("plan.assign_stale"))
        return
    st.session_state.pop(PROPOSAL, None)
    st.session_state[SAVED] = proposal
    st.session_state[SAID] = (
        "success",
        t(
            "plan.assign_saved",
            count=proposal.change_count,
            new=proposal.new,
            moved=proposal.changed,
            removed=proposal.removed,
        ),
    )


def _confirm() -> None:
    """Ask the page's next run to save the proposal shown (it writes after the role check)."""
    st.session_state[CONFIRMED] = True


def _cancel(t: Callable[..., str]) -> None:
    """Drop the proposal shown; nothing is written."""
    st.session_state.pop(PROPOSAL, None)
    st.session_state[SAID] = ("info", t("plan.assign_cancelled"))


def _show_proposal(proposal: AssignmentResult, t: Callable[..., str]) -> None:
    """Draw what saving would change: the counts, the changes, and save or cancel."""
    if proposal.change_count == 0:
        st.info(t("plan.assign_nothing"))
        return
    st.warning(t("plan.assign_preview"))
    counts = st.columns(4)
    counts[0].metric(t("plan.assign_count_new"), proposal.new)
    counts[1].metric(t("plan.assign_count_moved"), proposal.changed)
    counts[2].metric(t("plan.assign_count_kept"), proposal.kept)
    counts[3].metric(
        t("plan.assign_count_removed"), proposal.removed, help=t("plan.assign_removed_help")
    )
    st.dataframe(_changes_table(proposal, t), hide_index=True, use_container_width=True)
    save, cancel = st.columns(2)
    save.button(
        t("plan.assign_save", count=proposal.change_count),
        type="primary",
        use_container_width=True,
        key="assign_save",
        on_click=_confirm,
    )
    cancel.button(
        t("plan.assign_cancel"),
        use_container_width=True,
        key="assign_cancel",
        on_click=_cancel,
        args=(t,),
    )


def _who(peer: str, team: str) -> pl.Expr:
    """Return "code (team)" of a peer educator, or a dash when there is none."""
    return (
        pl.when(pl.col(peer).is_null())
        .then(pl.lit("—"))
        .otherwise(pl.concat_str(pl.col(peer), pl.lit(" ("), pl.col(team), pl.lit(")")))
    )


def _changes_table(proposal: AssignmentResult, t: Callable[..., str]) -> pl.DataFrame:
    """Return the proposal's changes in the reader's words, one row per hotspot."""
    words = {kind: t(f"plan.change_{kind}") for kind in ("new", "changed", "removed")}
    return proposal.changes.select(
        pl.col("hotspot_id").alias(t("plan.col_hotspot")),
        pl.col("district").fill_null("—").alias(t("plan.col_district")),
        pl.col("change").replace_strict(words, return_dtype=pl.String).alias(t("plan.col_change")),
        _who("previous_peer_educator", "previous_team").alias(t("plan.col_from")),
        _who("peer_educator", "team").alias(t("plan.col_to")),
    )


def _loads_table(result: AssignmentResult, t: Callable[..., str]) -> pl.DataFrame:
    """Return each active peer educator's load under ``result``, with the page's headings."""
    return result.workloads.select(
        pl.col("team").alias(t("plan.col_team")),
        pl.col("peer_educator").alias(t("plan.col_peer")),
        pl.col("hotspots").alias(t("plan.col_hotspots")),
        pl.col("sex_workers").round(0).alias(t("plan.col_sex_workers")),
        (pl.col("ratio") * 100).round(0).alias(t("plan.col_ratio")),
    )


def _show_map(workspace: Workspace, t: Callable[..., str], *, pending: bool) -> None:
    """Draw the saved assignments: cells by peer educator, with a key naming each one."""
    assigned = assigned_cells(workspace)
    if assigned.height == 0:
        if not pending:  # a proposal is on screen: the map comes once it is saved
            st.info(t("plan.no_assignments"))
        return
    if pending:
        st.caption(t("plan.assign_map_saved"))
    outlines, labels = outlines_for(str(workspace.path), store_stamp(workspace))
    st_folium(
        assignment_map(
            outlines,
            labels,
            assigned,
            t,
            language=language(),
            basemap=basemap_for(workspace),
        ),
        height=560,
        use_container_width=True,
        returned_objects=[],
        key="assign-map",
    )
