"""``outreach-map summary``, ``coverage``, ``gaps`` and ``suggest-sites``: what the store says."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mapping.cli.exits import EXIT_OK
from mapping.cli.formats import add_format_argument
from mapping.errors import InvalidInputError


def add_analysis_parsers(sub: Any, workspace_help: str) -> None:
    """Add the ``summary``, ``coverage``, ``gaps`` and ``suggest-sites`` commands."""
    summary = sub.add_parser("summary", help="what the workspace holds")
    summary.add_argument("--workspace", help=workspace_help)
    add_format_argument(summary)

    period_help = "2026-Q3, 2026-09 or last-90-days (default: the last 90 days)"
    cover = sub.add_parser("coverage", help="coverage per district, ranked by gap score")
    cover.add_argument("--workspace", help=workspace_help)
    cover.add_argument("--period", help=period_help)
    add_format_argument(cover)
    cover.add_argument("--cells", action="store_true", help="one row per cell instead")
    cover.add_argument("--explain", metavar="DISTRICT", help="how one district's row was computed")

    gaps = sub.add_parser("gaps", help="overdue and uncovered hotspots, emerging and fading ones")
    gaps.add_argument("--workspace", help=workspace_help)
    gaps.add_argument("--period", help=period_help)
    gaps.add_argument("--district", help="only this district (id)")
    add_format_argument(gaps)

    sites = sub.add_parser("suggest-sites", help="cells where a new service would reach most")
    sites.add_argument("--service-type", required=True, help="e.g. hiv_testing, prep_pep")
    sites.add_argument("--count", type=int, default=5, help="how many sites (default 5)")
    sites.add_argument("--workspace", help=workspace_help)
    sites.add_argument("--period", help=period_help)
    add_format_argument(sites)


def summary_command(args: argparse.Namespace) -> int:
    """Print what the workspace holds; return the exit code.

    JSON is the facts as they are, the imports listed; CSV is one row of the counts, with the
    number of ``imports`` in place of their list.
    """
    from mapping.analysis.summary import summary_text, workspace_summary
    from mapping.storage.workspace import open_workspace, workspace_path

    facts = workspace_summary(open_workspace(workspace_path(args.workspace)))
    if args.format == "json":
        print(json.dumps(facts, indent=2, default=str))
    elif args.format == "csv":
        import polars as pl

        from mapping.analysis.reports import render

        print(render(pl.DataFrame([{**facts, "imports": len(facts["imports"])}]), "csv"))
    else:
        print(summary_text(facts))
    return EXIT_OK


def _coverage_data(args: argparse.Namespace) -> tuple[object, object]:
    from mapping import clock
    from mapping.analysis.coverage import CoverageOptions
    from mapping.analysis.coverage_data import load_coverage_data
    from mapping.periods import parse_period
    from mapping.settings import get_settings
    from mapping.storage.workspace import open_workspace, workspace_path

    workspace = open_workspace(workspace_path(args.workspace))
    options = CoverageOptions.from_settings()
    today = clock.today(workspace)
    period = parse_period(args.period, today=today, default_days=get_settings().default_period_days)
    return load_coverage_data(workspace, period, today=today), options


def coverage_command(args: argparse.Namespace) -> int:
    """Print coverage per district, per cell or for one district; return the exit code."""
    from mapping.analysis.coverage import coverage_from_data
    from mapping.analysis.reports import (
        coverage_text,
        explain_district,
        explain_frame,
        frame_text,
        render,
    )

    data, options = _coverage_data(args)
    report = coverage_from_data(data, options)  # type: ignore[arg-type]
    if args.explain:
        if args.format == "text":
            print(explain_district(report, args.explain))
        else:
            meta = {**report.totals, "explanation": explain_district(report, args.explain)}
            print(render(explain_frame(report, args.explain), args.format, meta=meta))
        return EXIT_OK
    frame = report.cells.drop("cell") if args.cells else report.ranked()
    if args.format == "text":
        print(frame_text(frame) if args.cells else coverage_text(report))
    else:
        print(render(frame, args.format, meta=report.totals))
    return EXIT_OK


def gaps_command(args: argparse.Namespace) -> int:
    """Print the hotspot findings of a period; return the exit code."""
    import polars as pl

    from mapping.analysis.coverage import coverage_from_data
    from mapping.analysis.gaps import findings_by_district, hotspot_gaps
    from mapping.analysis.reports import coverage_notes, find_district, frame_text, render

    data, options = _coverage_data(args)
    report = coverage_from_data(data, options)  # type: ignore[arg-type]
    district = find_district(report.districts, args.district) if args.district else None
    frame = hotspot_gaps(
        report,
        data,  # type: ignore[arg-type]
        district_id=district["district_id"] if district else None,
    )
    if args.format == "text":
        where = f" in {district['district']}" if district else ""
        print(f"hotspot findings{where}, {report.totals['period']}: {frame.height}")
        for note in coverage_notes(report):
            print(f"note: {note}")
        print(frame_text(frame.drop("district_id", "z_score")))
        if frame.height:
            # each district's gap list, its unregistered clusters (emerging places) included
            print("\nby district:")
            by_district = findings_by_district(frame).with_columns(
                pl.col("district").fill_null("(outside every district)")
            )
            print(frame_text(by_district.drop("district_id")))
    else:
        print(render(frame, args.format, meta=report.totals))
    return EXIT_OK


def suggest_sites_command(args: argparse.Namespace) -> int:
    """Print the cells where a new service would reach most; return the exit code."""
    import polars as pl

    from mapping.analysis.reports import frame_text, render
    from mapping.analysis.siting import suggest_sites
    from mapping.vocab import SERVICE_TYPES

    # check the arguments before reading the store
    if args.service_type not in SERVICE_TYPES:
        raise InvalidInputError(
            f"service type {args.service_type!r} is not one of: {', '.join(SERVICE_TYPES)}"
        )
    if args.count < 1:
        raise InvalidInputError(f"count {args.count} is not a number of sites — give 1 or more")
    data, options = _coverage_data(args)
    frame = suggest_sites(
        data,  # type: ignore[arg-type]
        options,  # type: ignore[arg-type]
        service_type=args.service_type,
        count=args.count,
    )
    if args.format == "text":
        print(
            f"up to {args.count} new {args.service_type} sites, each adding the most hotspots "
            "not yet within reach (weight = estimated sex workers)"
        )
        if frame.height == 0:
            print(
                "nothing to add: every active hotspot already has this service within reach, "
                "or no hotspot is registered"
            )
            return EXIT_OK
        print(
            frame_text(
                frame.with_columns(
                    pl.format("{} %", (pl.col("cumulative_share") * 100).round(0).cast(pl.Int64))
                )
            )
        )
        if frame.height < args.count:
            print(f"{frame.height} sites reach every hotspot that lacks this service")
    else:
        print(render(frame, args.format, meta={"service_type": args.service_type}))
    return EXIT_OK
