"""Coverage on the Lima demo workspace, through the library and the command line."""

from __future__ import annotations

import io
import json
import subprocess
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from mapping.analysis.coverage import NO_LOCATION, CoverageOptions, coverage
from mapping.cli.main import main
from mapping.storage.workspace import open_workspace


def test_coverage_returns_every_district(demo_workspace: Path) -> None:
    """All 50 districts of Lima + Callao are ranked; phone contacts have their own row."""
    report = coverage(open_workspace(demo_workspace))
    ranked = report.ranked().filter(pl.col("rank").is_not_null())
    assert ranked.height == 50
    assert ranked["district"].n_unique() == 50
    assert ranked["rank"].to_list() == list(range(1, 51))
    assert report.districts.filter(pl.col("district_id") == NO_LOCATION)["contacts"][0] > 0
    sources = set(ranked["estimate_source"])
    assert sources == {"hotspots", "population prior"}


def test_the_planted_night_access_gap_ranks_near_the_top(demo_workspace: Path) -> None:
    """Highway hotspots on the Panamericana Norte work at night; the only friendly testing and
    STI care near them are a daytime clinic (and a night unit that closed in 2025). Their
    districts must come out near the top of the ranking, and only because of the hours."""
    workspace = open_workspace(demo_workspace)
    options = CoverageOptions.from_settings()
    top = coverage(workspace, options=options).ranked().head(5)
    night_blind = top.filter(
        (pl.col("hotspots") > 0)
        & (pl.col("access_hiv_testing") == 0)
        & (pl.col("access_sti_clinic") == 0)
    )
    assert night_blind.height >= 1, top
    # ignoring opening hours, the same districts have friendly testing within reach
    any_hours = coverage(workspace, options=replace(options, min_overlap_minutes=0)).districts
    lifted = any_hours.filter(pl.col("district_id").is_in(night_blind["district_id"].implode()))
    assert (lifted["access_hiv_testing"] > 0).any()
    assert "PUENTE PIEDRA" in set(night_blind["district"])


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the command line and return its exit code, stdout and stderr."""
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_coverage_command(demo_workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Text, CSV and JSON; the explanation of one district."""
    ws = ["--workspace", str(demo_workspace)]
    code, out, _ = run(["coverage", *ws], capsys)
    assert code == 0
    assert "rank  district" in out and "PUENTE PIEDRA" in out
    assert "(no location: phone, SMS, online)" in out
    code, out, _ = run(["coverage", *ws, "--format", "csv", "--period", "2026-Q3"], capsys)
    table = pl.read_csv(io.StringIO(out))
    assert code == 0 and table.filter(pl.col("rank").is_not_null()).height == 50
    code, out, _ = run(["coverage", *ws, "--cells", "--format", "csv"], capsys)
    cells = pl.read_csv(io.StringIO(out))
    assert (
        code == 0 and "cell" not in cells.columns and cells["cell_id"].str.len_chars().max() == 15
    )
    code, out, _ = run(["coverage", *ws, "--explain", "Puente Piedra"], capsys)
    assert code == 0 and "score    = 100 x (" in out
    code, out, _ = run(["coverage", *ws, "--explain", "puente piedra", "--format", "json"], capsys)
    explained = json.loads(out)
    assert code == 0 and explained["rows"][0]["district"] == "PUENTE PIEDRA"
    assert "score    = 100 x (" in explained["meta"]["explanation"]
    code, _, err = run(["coverage", *ws, "--period", "2026-Q5"], capsys)
    assert code == 2 and "period '2026-Q5' is not a period" in err


def test_gaps_command(demo_workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's stories: overdue Villa El Salvador, emerging Ate, the raided Callao hotspot."""
    ws = ["--workspace", str(demo_workspace)]
    code, out, _ = run(["gaps", *ws, "--format", "csv"], capsys)
    assert code == 0
    gaps = pl.read_csv(io.StringIO(out))
    by_kind = {kind: set(group["district"]) for (kind,), group in gaps.group_by("kind")}
    assert "VILLA EL SALVADOR" in by_kind["overdue"]
    assert "ATE" in by_kind["emerging"]
    assert "H11-01" in set(gaps.filter(pl.col("kind") == "fading")["hotspot_id"])
    code, out, _ = run(["gaps", *ws, "--district", "PE-150142"], capsys)
    assert code == 0 and "VILLA EL SALVADOR" in out and "ATE " not in out
    code, out, _ = run(["gaps", *ws, "--district", "villa el salvador"], capsys)
    assert code == 0 and out.startswith("hotspot findings in VILLA EL SALVADOR")
    code, _, err = run(["gaps", *ws, "--district", "Vila El Salvador"], capsys)
    assert code == 2 and "did you mean 'VILLA EL SALVADOR'" in err


def test_suggest_sites_command(demo_workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Sites for night testing: the highway comes first, shares grow, no more than asked."""
    ws = ["--workspace", str(demo_workspace)]
    argv = ["suggest-sites", *ws, "--service-type", "hiv_testing", "--count", "3"]
    code, out, _ = run([*argv, "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["meta"] == {"service_type": "hiv_testing"}
    code, out, _ = run([*argv, "--format", "csv"], capsys)
    sites = pl.read_csv(io.StringIO(out))
    assert sites.height == 3
    assert sites["district"][0] == "PUENTE PIEDRA"
    assert sites["cumulative_share"].is_sorted()
    code, _, err = run(["suggest-sites", *ws, "--service-type", "clinic"], capsys)
    assert code == 2 and "service type 'clinic' is not one of" in err
    code, _, err = run(["suggest-sites", *ws, "--service-type", "shelter", "--count", "0"], capsys)
    assert code == 2 and "count 0 is not a number of sites" in err
    code, out, _ = run(["suggest-sites", *ws, "--service-type", "shelter", "--count", "60"], capsys)
    assert code == 0 and "sites reach every hotspot that lacks this service" in out


def test_a_closed_pipe_is_not_an_error(demo_workspace: Path) -> None:
    """`outreach-map coverage | head -1` ends quietly with exit code 0."""
    result = subprocess.run(
        f"outreach-map coverage --workspace '{demo_workspace}' | head -1; exit ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("coverage last-90-days")
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
