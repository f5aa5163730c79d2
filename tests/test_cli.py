"""The ``outreach-map`` command line: exit codes, one-line errors, summaries."""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import LIMA, MIRAFLORES, counts, csv_text, query

from mapping.cli.main import EXIT_OK, EXIT_UNUSABLE, main
from mapping.storage.workspace import Workspace

VISITS = csv_text(
    ("fecha", "educadora_par", "latitud", "longitud", "codigo_unico", "telefono"),
    [
        ["2026-03-14", "PE01", *LIMA, "AB12", "987654321"],
        ["2026-03-14", "PE01", *MIRAFLORES, "AB12", "987654321"],
        ["2026-03-15", "PE02", "", "", "CD34", ""],
        ["2026-03-16", "PE02", "abc", "-77.0", "", ""],
    ],
)


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_init_import_and_summary(
    districts_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "lima"
    code, out, _ = run(
        capsys,
        "init",
        "--workspace",
        workspace,
        "--districts",
        districts_file,
        "--district-id",
        "district_id",
        "--district-name",
        "district",
        "--population",
        "pop2020_est",
        "--name",
        "Lima Metropolitana",
    )
    assert code == EXIT_OK
    assert "50 districts, cells at resolution 8" in out

    visits = tmp_path / "visitas.csv"
    visits.write_text(VISITS, encoding="utf-8")
    code, out, err = run(capsys, "import", "visits", visits, "--workspace", workspace)
    assert code == EXIT_OK, err
    assert out.startswith("read 4 rows: 3 accepted, 0 duplicates, 1 rejected (report: ")
    assert "warning: dropped columns that must never be stored: 'telefono'" in err

    code, out, _ = run(capsys, "summary", "--workspace", workspace, "--format", "json")
    assert code == EXIT_OK
    facts = json.loads(out)
    assert facts["area"] == "Lima Metropolitana"
    assert (facts["districts"], facts["resolution"]) == (50, 8)
    assert facts["visits"] == 3
    assert facts["visits_without_location"] == 1
    assert facts["visited_cells"] == 2
    assert facts["unique_contacts"] == 2
    assert facts["peer_educators"] == 2
    assert (facts["first_visit"], facts["last_visit"]) == ("2026-03-14", "2026-03-15")
    [imported] = facts["imports"]
    assert (imported["rows_read"], imported["accepted"], imported["rejected"]) == (4, 3, 1)

    code, out, _ = run(capsys, "summary", "--workspace", workspace)
    assert code == EXIT_OK
    assert "visits: 3 (1 without location) in 2 cells" in out


def test_summary_counts_match_the_store(
    workspace: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    visits = tmp_path / "visitas.csv"
    visits.write_text(VISITS, encoding="utf-8")
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(workspace.path))
    assert run(capsys, "import", "visits", visits)[0] == EXIT_OK
    code, out, _ = run(capsys, "import", "visits", visits, "--format", "json")
    assert code == EXIT_OK
    imported = json.loads(out)
    [[report, rows_read, accepted, duplicates, rejected]] = query(
        workspace,
        "SELECT report, rows_read, accepted, duplicates, rejected FROM imports "
        "WHERE id = (SELECT max(id) FROM imports)",
    )
    [again] = imported["rows"]
    assert (again["rows_read"], again["accepted"], again["duplicates"], again["rejected"]) == (
        rows_read,
        accepted,
        duplicates,
        rejected,
    )
    assert (again["kind"], again["records"], again["rejected"]) == ("visits", 4, 1)
    assert Path(again["report"]).name == report
    [warning] = imported["meta"]["warnings"]
    assert warning.startswith("dropped columns that must never be stored: 'telefono'")

    code, out, _ = run(capsys, "summary", "--format", "csv")
    assert code == EXIT_OK
    [row] = list(csv.DictReader(io.StringIO(out)))
    stored = counts(workspace)
    assert (row["visits"], row["unique_contacts"], row["imports"]) == (
        str(stored["visits"]),
        str(stored["contacts"]),
        str(stored["imports"]),
    )
    assert (row["area"], row["resolution"], row["districts"]) == ("Lima", "8", "50")

    code, out, _ = run(capsys, "summary", "--format", "json")

    assert code == EXIT_OK
    facts = json.loads(out)
    stored = counts(workspace)
    assert facts["visits"] == stored["visits"] == 3
    assert facts["unique_contacts"] == stored["contacts"] == 2
    assert facts["peer_educators"] == stored["peer_educators"] == 2
    assert len(facts["imports"]) == stored["imports"] == 2
    assert [i["duplicates"] for i in facts["imports"]] == [0, 3]
    [(first, last)] = query(workspace, "SELECT min(visit_date), max(visit_date) FROM visits")
    assert (facts["first_visit"], facts["last_visit"]) == (first, last)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "does not exist"),
        ("empty.csv", b"", "is empty"),
        ("garbage.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "not a text file"),
        ("header.csv", b"fecha,educadora_par,latitud,longitud\r\n", "has a header but no rows"),
        ("nodate.csv", b"educadora_par,latitud,longitud\nPE01,-12.05,-77.04\n", "no visit date"),
        ("folder", "dir", "is a folder"),
    ],
)
def test_unusable_files_exit_2_with_one_line(
    workspace: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | str | None,
    message: str,
) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    before = counts(workspace)

    code, out, err = run(capsys, "import", "visits", path, "--workspace", workspace.path)

    assert code == EXIT_UNUSABLE
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("outreach-map: error: ")
    assert name in err
    assert re.search(message, err), err
    assert " — " in err, "the message says how to fix it"
    assert counts(workspace) == before
    assert not any(workspace.reports_dir.iterdir())


def test_other_unusable_input_exits_2(
    workspace: Workspace, districts_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "summary", "--workspace", tmp_path / "nowhere")
    assert (code, err.count("\n")) == (EXIT_UNUSABLE, 1)
    assert "is not a workspace" in err

    code, _, err = run(
        capsys,
        "init",
        "--workspace",
        tmp_path / "fine",
        "--districts",
        districts_file,
        "--district-id",
        "district_id",
        "--district-name",
        "district",
        "--resolution",
        "10",
    )
    assert (code, err.count("\n")) == (EXIT_UNUSABLE, 1)
    assert "finer than 9" in err
    assert not (tmp_path / "fine").exists()

    # 9 is allowed, with a warning that such cells can name a venue
    code, out, err = run(
        capsys,
        "init",
        "--workspace",
        tmp_path / "fine9",
        "--districts",
        districts_file,
        "--district-id",
        "district_id",
        "--district-name",
        "district",
        "--resolution",
        "9",
    )
    assert code == EXIT_OK and "cells at resolution 9" in out
    assert "warning: resolution 9 cells are about one block" in err

    visits = tmp_path / "v.csv"
    visits.write_text(VISITS, encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text("[columns\n", encoding="utf-8")
    code, _, err = run(
        capsys, "import", "visits", visits, "--workspace", workspace.path, "--mapping", mapping
    )
    assert (code, err.count("\n")) == (EXIT_UNUSABLE, 1)
    assert "is not valid TOML" in err

    assert run(capsys, "import", "trips", visits)[0] == EXIT_UNUSABLE
    assert run(capsys)[0] == EXIT_UNUSABLE


def test_services_and_hotspots_through_the_cli(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    services = tmp_path / "services.csv"
    services.write_text(
        csv_text(("id", "tipo", "latitud", "longitud"), [["S1", "prep", *LIMA]]), encoding="utf-8"
    )
    hotspots = tmp_path / "hotspots.csv"
    hotspots.write_text(
        csv_text(("id", "tipologia", "latitud", "longitud"), [["H1", "calle", *MIRAFLORES]]),
        encoding="utf-8",
    )
    for kind, path in (("services", services), ("hotspots", hotspots)):
        code, out, _ = run(capsys, "import", kind, path, "--workspace", workspace.path)
        assert (code, out.split(" (report")[0]) == (
            EXIT_OK,
            "read 1 rows: 1 accepted, 0 duplicates, 0 rejected",
        )
    assert (counts(workspace)["services"], counts(workspace)["hotspots"]) == (1, 1)
    # the same file again, as CSV: one row of the counts, each row a duplicate now
    code, out, _ = run(capsys, "import", "hotspots", hotspots, "--workspace", workspace.path,
                       "--format", "csv")  # fmt: skip
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert code == EXIT_OK
    assert list(row) == [
        "kind",
        "rows_read",
        "records",
        "accepted",
        "updated",
        "duplicates",
        "skipped",
        "rejected",
        "report",
    ]
    assert (row["kind"], row["rows_read"], row["accepted"], row["duplicates"]) == (
        "hotspots",
        "1",
        "0",
        "1",
    )
    assert counts(workspace)["hotspots"] == 1


def test_python_m_mapping_cli_exits_with_the_commands_code(tmp_path: Path) -> None:
    """``python -m mapping.cli`` is the command: a failure is a failing exit code, not 0."""
    done = subprocess.run(
        [sys.executable, "-m", "mapping.cli", "summary", "--workspace", tmp_path / "none"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == EXIT_UNUSABLE, done.stderr
    assert done.stderr.startswith("outreach-map: error: ")


#: The commands that print a result, and so take ``--format text|csv|json`` (README.md says
#: which); the others (init, demo, serve, export, config, wipe, migrate, copy) print what they
#: did in a line or two.
FORMATTED = {
    ("summary",),
    ("coverage",),
    ("gaps",),
    ("suggest-sites",),
    ("import",),
    ("user", "list"),
    ("plan", "assign"),
    ("plan", "route"),
}


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict:
    """Return every command's parser by its words, sub-commands included."""
    found = {path: parser} if path else {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= _commands(sub, (*path, name))
    return found


def test_the_commands_that_print_a_result_take_format() -> None:
    from mapping.analysis.reports import FORMATS as RENDERED
    from mapping.cli.formats import FORMATS
    from mapping.cli.main import _parser

    assert FORMATS == RENDERED
    taking = {
        words
        for words, parser in _commands(_parser()).items()
        if any("--format" in action.option_strings for action in parser._actions)
    }
    assert taking == FORMATTED
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    [sentence] = re.findall(r"[^.]*`--format\s+text\|csv\|json`[^.]*\.", readme)
    for words in FORMATTED:
        assert f"`{' '.join(words)}`" in sentence, words


@pytest.mark.parametrize("words", sorted(FORMATTED))
def test_an_unknown_format_is_argparses_error(
    words: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *words, "--format", "xml")
    assert (code, out) == (EXIT_UNUSABLE, "")
    assert "argument --format: invalid choice: 'xml' (choose from" in err
