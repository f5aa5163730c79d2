"""The coordinator's Import page: upload a file, see what it would change, then commit it.

The uploaded file holds coordinates and contact codes. It is prepared at once (locations become
cells, codes keyed hashes), then dropped: the uploader gets a new key and Streamlit's copy is
removed. Only the prepared import, which holds neither, is kept in the session until the
coordinator commits or cancels.
"""

from __future__ import annotations

from typing import Any, cast

import polars as pl
import streamlit as st
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mapping import clock
from mapping.errors import MappingError
from mapping.ingest.batch import ImportResult, PreparedImport, commit_prepared, preview_prepared
from mapping.ingest.uploads import IMPORT_KINDS, UPLOAD_TYPES, prepare_upload
from views.access import require
from views.import_report import problems_in, report_csv, report_name, unusable_in, warning_in
from views.shared import fitting_table, language, open_or_explain, store_stamp, tr, uploader_words

ICONS = {
    "visits": ":material/directions_walk:",
    "services": ":material/local_hospital:",
    "hotspots": ":material/location_on:",
}
#: Problems shown on the page; the download (and the report saved on commit) has them all.
SHOWN_PROBLEMS = 1000
#: Pixels for a problem or a fix, so that the rejected rows fit a 1366 px screen.
PROBLEM_WIDTH = 300
#: Session state keys. Nothing here holds a coordinate or a contact code.
PREPARED, PREVIEW, MESSAGE = "import_prepared", "import_preview", "import_message"
UPLOADER, KIND = "import_uploader", "import_last_kind"
#: The rejected rows in the page's language, and whether the file kept locations outside.
REJECTED, OUTSIDE, OUTSIDE_USED = "import_rejected", "import_outside", "import_outside_used"


account = require("coordinator")  # the server refuses any other role
t = tr()
workspace = open_or_explain()
state = st.session_state


def forget(upload: Any) -> None:
    """Drop the uploaded file: Streamlit's copy now, the widget (with a new key) on rerun."""
    context = get_script_run_ctx()
    if context is not None:
        # the server and AppTest both keep uploads in a MemoryUploadedFileManager; the protocol
        # the context is typed with has no remove_file (Streamlit's own tests cast it so too)
        manager = cast(MemoryUploadedFileManager, context.uploaded_file_mgr)
        manager.remove_file(session_id=context.session_id, file_id=upload.file_id)
    state[UPLOADER] = state.get(UPLOADER, 0) + 1


def take(upload: Any, kind: str, *, allow_outside: bool) -> None:
    """Prepare the uploaded file as ``kind``, forget the file, and show the preview."""
    data, name = upload.getvalue(), upload.name
    forget(upload)
    state[KIND] = kind
    state[OUTSIDE_USED] = allow_outside
    try:
        with st.spinner(t("import.reading")):
            state[PREPARED] = prepare_upload(
                workspace, kind, data, source_name=name, allow_outside=allow_outside
            )
    except MappingError as exc:  # a file that cannot be used, or a workspace without its key
        state[MESSAGE] = ("error", t("import.unusable", error=unusable_in(exc, name, t)), None)
    del data
    st.rerun()


def preview(prepared: PreparedImport) -> ImportResult:
    """Return what a commit would do now, worked out again only when the store changed."""
    stamp = store_stamp(workspace)
    kept = state.get(PREVIEW)
    if kept is None or kept[0] is not prepared or kept[1] != stamp:
        kept = (prepared, stamp, preview_prepared(workspace, prepared))
        state[PREVIEW] = kept
    result: ImportResult = kept[2]
    return result


def done(level: str, text: str, rejected: tuple[str, bytes] | None = None) -> None:
    """Let go of the prepared import; say what happened (and offer its rejected rows) next run."""
    state.pop(PREPARED, None)
    state.pop(PREVIEW, None)
    state.pop(REJECTED, None)
    state[MESSAGE] = (level, text, rejected)
    st.rerun()


def rejected_rows(prepared: PreparedImport) -> tuple[pl.DataFrame, bytes]:
    """Return the rejected rows in the page's language, and as the CSV to download."""
    kept = state.get(REJECTED)
    if kept is None or kept[0] is not prepared or kept[1] != language():
        problems = problems_in(prepared, t)
        kept = (prepared, language(), problems, report_csv(problems))
        state[REJECTED] = kept
    return kept[2], kept[3]


def offer_download(kind: str, data: bytes) -> None:
    """Offer the rejected rows as a CSV named for what it holds and the day."""
    st.download_button(
        t("import.download"),
        data=data,
        file_name=report_name(kind, clock.today(workspace)),
        mime="text/csv",
        help=t("import.download_help", redacted=t("import.redacted")),
        icon=":material/download:",
        on_click="ignore",  # the preview stays as it is
    )


def kind_name(kind: str) -> str:
    """Return the kind in plain words, with its icon."""
    return f"{ICONS[kind]} {t(f'import.kind_{kind}')}"


def draw_problems(prepared: PreparedImport) -> None:
    """Draw the rejected rows: row, field, value (redacted where needed), problem and fix."""
    st.subheader(t("import.rejected_rows"))
    problems, data = rejected_rows(prepared)
    if problems.height == 0:
        st.success(t("import.no_problems"), icon=":material/check_circle:")
        return
    columns = ("row", "field", "value", "problem", "fix", "cell")
    shown = problems.head(SHOWN_PROBLEMS).select(
        pl.col(name).alias(t(f"import.{name}")) for name in columns
    )
    # the value and its cell on demand; a long problem or fix is cut in its column (a click on
    # the cell shows it whole, the download has it too) rather than pushing the table sideways
    wide = st.column_config.TextColumn(width=PROBLEM_WIDTH)
    fitting_table(
        shown,
        [t(f"import.{name}") for name in ("row", "field", "problem", "fix")],
        key="import_all_columns",
        column_config={t("import.problem"): wide, t("import.fix"): wide},
        width="stretch",
    )
    if problems.height > SHOWN_PROBLEMS:
        st.caption(t("import.more_problems", shown=SHOWN_PROBLEMS, total=problems.height))
    st.caption(t("import.report_on_commit", redacted=t("import.redacted")))
    offer_download(prepared.kind, data)


def draw_preview(prepared: PreparedImport) -> None:
    """Draw the counts a commit would give, the warnings, the rejected rows, the buttons."""
    result = preview(prepared)
    kind = kind_name(prepared.kind)
    st.subheader(t("import.preview", name=prepared.source_name, kind=kind))
    st.caption(t("import.preview_note"))
    figures = (
        ("rows_read", result.rows_read),
        ("accepted", result.accepted),
        ("updated", result.updated),
        ("duplicates", result.duplicates),
        *((("skipped", result.skipped),) if result.skipped else ()),
        ("rejected", result.rejected),
    )
    row = st.container(horizontal=True, gap="medium")  # wraps on a phone instead of stacking
    for key, value in figures:
        row.metric(
            t(f"import.{key}"),
            f"{value:,}",
            help=t(f"import.{key}_help"),
            border=True,
            width="content",
        )
    for warning in result.warnings:
        st.warning(t("import.warning", warning=warning_in(warning, t)), icon=":material/warning:")
    # the file is gone: the box applies to the next file, and the preview says which it had
    kept = state.get(OUTSIDE_USED, False)
    st.caption(t("import.outside_kept" if kept else "import.outside_rejected"))
    draw_problems(prepared)
    st.divider()
    if result.accepted == 0:
        st.info(t("import.nothing_new"), icon=":material/info:")
    confirmed = st.checkbox(
        t(
            "import.confirm",
            accepted=f"{result.accepted:,}",
            rows=f"{result.rows_read:,}",
            name=prepared.source_name,
        ),
        key=f"import_confirm_{state.get(UPLOADER, 0)}",
    )
    left, right, _ = st.columns([1, 1, 3])
    if left.button(
        t("import.commit"),
        type="primary",
        disabled=not confirmed,
        icon=":material/save:",
        width="stretch",
    ):
        rejected = (prepared.kind, rejected_rows(prepared)[1]) if prepared.rejected else None
        committed = commit_prepared(workspace, prepared)
        done("success", changed(prepared, committed, kind), rejected)
    if right.button(t("import.cancel"), icon=":material/close:", width="stretch"):
        done("info", t("import.cancelled", name=prepared.source_name))


def changed(prepared: PreparedImport, result: ImportResult, kind: str) -> str:
    """Say what a commit changed (its rejected rows are offered as a download beside)."""
    return t(
        "import.changed",
        name=prepared.source_name,
        kind=kind,
        added=f"{result.accepted - result.updated:,}",
        updated=f"{result.updated:,}",
        duplicates=f"{result.duplicates:,}",
        rejected=f"{result.rejected:,}",
    )


st.title(t("import.title"))
st.caption(t("import.intro"))
if MESSAGE in state:
    level, text, rejected = state.pop(MESSAGE)
    {"success": st.success, "info": st.info, "error": st.error}[level](text)
    if rejected is not None:
        offer_download(*rejected)
prepared = state.get(PREPARED)
if prepared is None:
    kind = str(
        st.radio(
            t("import.kind"),
            IMPORT_KINDS,
            index=IMPORT_KINDS.index(state.get(KIND, IMPORT_KINDS[0])),
            format_func=kind_name,
            captions=[t(f"import.kind_{k}_help") for k in IMPORT_KINDS],
            key="import_kind",
        )
    )
    # the options first: they are read when the file is processed, the moment it is chosen.
    # The file is then dropped, so a change applies to the next file (the preview says so);
    # the box keeps what the last file was read with, though the preview did not draw it
    if OUTSIDE not in state:
        state[OUTSIDE] = state.get(OUTSIDE_USED, False)
    allow_outside = st.checkbox(
        t("import.allow_outside"), help=t("import.allow_outside_help"), key=OUTSIDE
    )
    uploader_words(UPLOAD_TYPES)
    upload = st.file_uploader(
        t("import.file"),
        type=list(UPLOAD_TYPES),
        key=f"import_file_{state.get(UPLOADER, 0)}",
        help=t("import.file_help"),
    )
    st.caption(t("import.privacy"))
    if upload is not None:
        take(upload, kind, allow_outside=allow_outside)
else:
    draw_preview(prepared)
