"""One source for each default: every options object and keyword default takes it from Settings.

An options class with ``from_settings`` built with no argument is the one built from the
default settings, field by field, and a field ``from_settings`` fills names its setting
instead of repeating the value; a keyword default that a setting also gives is that setting.
The options classes are found by importing every module of ``mapping``, so a new one is
checked without being listed here.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import textwrap
import types
import typing
from collections.abc import Callable
from typing import Any

import pytest

import mapping
from mapping.access.disclosure import DisclosureParameters
from mapping.access.funder_reach import ReachOptions
from mapping.analysis.coverage import CoverageOptions
from mapping.hours import is_open_at_night
from mapping.periods import parse_period
from mapping.planning.plans import PlanOptions
from mapping.planning.routes import solve_routes
from mapping.settings import Settings
from mapping.travel import RoadNetworkTravel, StraightLineTravel


def _modules() -> list[types.ModuleType]:
    """Import every module of mapping, but ``python -m`` entry points and the migrations."""
    found = []
    for info in pkgutil.walk_packages(mapping.__path__, "mapping."):
        if info.name.endswith(".__main__") or ".migrations" in info.name:
            continue
        found.append(importlib.import_module(info.name))
    return found


def options_classes() -> list[type]:
    """Return every dataclass of mapping that builds itself with ``from_settings``."""
    classes = {
        value
        for module in _modules()
        for value in vars(module).values()
        if inspect.isclass(value)
        and value.__module__ == module.__name__
        and dataclasses.is_dataclass(value)
        and "from_settings" in vars(value)
    }
    return sorted(classes, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


def _settings_class(options: type) -> type[Settings]:
    """Return the settings class ``from_settings`` takes (Settings or a subclass of it)."""
    hint = typing.get_type_hints(options.from_settings)["settings"]
    settings = next(kind for kind in typing.get_args(hint) if kind is not type(None))
    assert issubclass(settings, Settings)
    return settings


def test_the_options_classes_are_found() -> None:
    assert set(options_classes()) == {
        CoverageOptions,
        DisclosureParameters,
        PlanOptions,
        ReachOptions,
        StraightLineTravel,
    }


@pytest.mark.parametrize("options", options_classes(), ids=lambda cls: cls.__qualname__)
def test_the_defaults_of_an_options_class_are_the_default_settings(options: type) -> None:
    built = options.from_settings(_settings_class(options)())
    default = options()
    for field in dataclasses.fields(options):
        assert getattr(default, field.name) == getattr(built, field.name), field.name


def _literal(node: ast.expr) -> bool:
    """Say whether an expression is a value written out (``30``, ``(1.0, 3.0)``, ``"a"``)."""
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("options", options_classes(), ids=lambda cls: cls.__qualname__)
def test_a_default_from_the_settings_is_not_written_again(options: type) -> None:
    """A field ``from_settings`` fills has a default that names the setting, not a copy."""
    source = ast.parse(textwrap.dedent(inspect.getsource(options)))
    body = source.body[0]
    assert isinstance(body, ast.ClassDef)
    method = next(
        node
        for node in body.body
        if isinstance(node, ast.FunctionDef) and node.name == "from_settings"
    )
    filled = {
        keyword.arg
        for node in ast.walk(method)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "cls"
        for keyword in node.keywords
    }
    copies = [
        f"{node.target.id} = {ast.unparse(node.value)}"
        for node in body.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id in filled
        and node.value is not None
        and _literal(node.value)
    ]
    assert filled
    assert not copies, f"{options.__qualname__} copies settings: {copies} — use Settings.<name>"


#: Keyword defaults a setting also gives: (function, parameter, the default it must have).
KEYWORD_DEFAULTS: list[tuple[Callable[..., Any], str, object]] = [
    (parse_period, "default_days", Settings().default_period_days),
    (is_open_at_night, "night_start", Settings().night_starts * 60),
    (is_open_at_night, "night_end", Settings().day_starts * 60),
    (RoadNetworkTravel.from_file, "speed_kmh", Settings().travel_speed_kmh),
    (RoadNetworkTravel.from_file, "detour_factor", Settings().detour_factor),
    (solve_routes, "time_limit_s", Settings().plan_search_seconds),
    (solve_routes, "solution_limit", Settings().plan_search_solutions),
]


@pytest.mark.parametrize(
    ("function", "parameter", "expected"),
    KEYWORD_DEFAULTS,
    ids=[f"{f.__qualname__}-{p}" for f, p, _ in KEYWORD_DEFAULTS],
)
def test_a_keyword_default_is_the_setting(
    function: Callable[..., Any], parameter: str, expected: object
) -> None:
    assert inspect.signature(function).parameters[parameter].default == expected


def test_the_road_network_defaults_are_the_settings() -> None:
    fields = {field.name: field.default for field in dataclasses.fields(RoadNetworkTravel)}
    assert (fields["speed_kmh"], fields["detour_factor"]) == (
        Settings().travel_speed_kmh,
        Settings().detour_factor,
    )


def test_the_defaults_are_unchanged() -> None:
    """The values themselves, as before defaults were taken from the settings."""
    coverage = CoverageOptions()
    assert (coverage.recent_days, coverage.overdue_weeks, coverage.workload_norm) == (30, 5, 90)
    assert (coverage.reach_minutes, coverage.min_overlap_minutes) == (30.0, 60)
    assert coverage.prior_per_1000 == (1.0, 3.0)
    assert coverage.key_service_types == ("hiv_testing", "sti_clinic", "prep_pep", "drop_in_centre")
    assert coverage.travel == StraightLineTravel(speed_kmh=4.5, detour_factor=1.3)
    plan = PlanOptions()
    assert (plan.stop_minutes, plan.kits_per_person) == (30, 1.0)
    assert (plan.overdue_priority, plan.missed_priority) == (3.0, 1.5)
    assert (plan.search_seconds, plan.search_solutions) == (3.0, 0)
    assert ReachOptions().target_share == 0.8
    assert [default for _, _, default in KEYWORD_DEFAULTS] == [
        90,
        22 * 60,
        6 * 60,
        4.5,
        1.3,
        3.0,
        0,
    ]
