"""The architecture as rules read from the source (with ast, nothing imported).

The imports between the modules of ``mapping``, ``views`` and ``app.py`` (at module level and
inside functions alike) form no cycle; ``mapping`` never imports Streamlit; each part of
``mapping`` imports only from its own part and the parts below it; a module of ``mapping``
longer than 600 lines says why in its docstring.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: The parts of the code, lowest first: a module imports only from its own part and earlier
#: ones. "core" is the flat modules of mapping/; "api" is mapping/__init__.py, the library's
#: public names, which no module of the library imports; the app's pages and its router last.
LAYERS = (
    "core",
    "storage",
    "ingest",
    "analysis",
    "registries",
    "planning",
    "access",
    "maps",
    "cli",
    "api",
    "views",
    "app",
)

#: Imports against the layer order that are known and not fixed yet, each with its reason.
#: An entry that the source no longer has fails the test, so the list only shrinks.
ALLOWED_UPWARD: set[tuple[str, str]] = set()

#: Longest module of mapping/ whose docstring need not say why it is that long.
MAX_LINES = 600
LONG_REASON = f"Longer than {MAX_LINES} lines:"
#: Top-level names Streamlit is imported under.
STREAMLIT = ("streamlit", "streamlit_folium")


@dataclass(frozen=True)
class Import:
    """One import statement's edge: who imports what, where, and whether inside a function."""

    source: str
    target: str
    line: int
    nested: bool


@dataclass(frozen=True)
class Module:
    """A module of the project: its dotted name and its file."""

    name: str
    path: Path

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


def project_modules(root: Path) -> dict[str, Module]:
    """Return every module of mapping/, views/ and app.py under ``root``, by dotted name."""
    paths = [*sorted(root.glob("mapping/**/*.py")), *sorted(root.glob("views/*.py"))]
    if (root / "app.py").exists():
        paths.append(root / "app.py")
    modules = {}
    for path in paths:
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        modules[name] = Module(name, path)
    return modules


def _imported_names(node: ast.Import | ast.ImportFrom, module: Module) -> list[str]:
    """Return the dotted names an import statement asks for (``from a import b``: ``a.b``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.name.split(".")
        if not module.is_package:
            package.pop()
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, *([node.module] if node.module else [])])
    return [f"{base}.{alias.name}" for alias in node.names]


def _nested_imports(tree: ast.Module) -> set[int]:
    """Return the ids of the import nodes inside a function or a class."""
    nested = set()
    for scope in ast.walk(tree):
        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            nested.update(
                id(node)
                for node in ast.walk(scope)
                if isinstance(node, ast.Import | ast.ImportFrom)
            )
    return nested


def imports_of(module: Module) -> list[tuple[str, int, bool]]:
    """Return every import of a module: (dotted name, line, inside a function or class)."""
    tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
    nested = _nested_imports(tree)
    return [
        (name, node.lineno, id(node) in nested)
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in _imported_names(node, module)
    ]


def _known(name: str, modules: Mapping[str, Module]) -> str | None:
    """Return the project module a dotted name is or lies in (``a.b.func``: ``a.b``), if any."""
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name if name in modules else None


def import_graph(root: Path) -> tuple[dict[str, Module], list[Import]]:
    """Return the project's modules and the imports between them (external ones left out)."""
    modules = project_modules(root)
    edges: dict[Import, None] = {}  # one edge per statement, however many names it imports
    for module in modules.values():
        for name, line, nested in imports_of(module):
            target = _known(name, modules)
            if target is not None and target != module.name:
                edges[Import(module.name, target, line, nested)] = None
    return modules, list(edges)


def _strongly_connected(nodes: Iterable[str], edges: Iterable[Import]) -> list[list[str]]:
    """Return the strongly connected components of the graph (Tarjan's algorithm)."""
    after: dict[str, list[str]] = {}
    for edge in edges:
        after.setdefault(edge.source, []).append(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for following in after.get(node, []):
            if following not in index:
                visit(following)
                low[node] = min(low[node], low[following])
            elif following in on_stack:
                low[node] = min(low[node], index[following])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return components


def import_cycles(modules: Mapping[str, Module], edges: list[Import]) -> list[list[Import]]:
    """Return one cycle of imports through each group of modules that import each other."""
    cycles = []
    for component in _strongly_connected(modules, edges):
        if len(component) < 2:
            continue
        inside = set(component)
        start = component[0]
        # breadth first: the shortest way from the group's first module back to itself
        paths: dict[str, list[Import]] = {start: []}
        queue = [start]
        cycle: list[Import] = []
        while queue and not cycle:
            node = queue.pop(0)
            for edge in edges:
                if edge.source != node or edge.target not in inside:
                    continue
                if edge.target == start:
                    cycle = [*paths[node], edge]
                    break
                if edge.target not in paths:
                    paths[edge.target] = [*paths[node], edge]
                    queue.append(edge.target)
        cycles.append(cycle)
    return cycles


def layer_of(name: str, root: Path = ROOT) -> str:
    """Return the part of the code a module belongs to (see :data:`LAYERS`)."""
    parts = name.split(".")
    if parts[0] != "mapping":
        return parts[0]  # "views" or "app"
    if len(parts) == 1:
        return "api"
    if len(parts) == 2 and (root / "mapping" / f"{parts[1]}.py").exists():
        return "core"
    return parts[1]


def upward_imports(edges: Iterable[Import], layer: dict[str, str]) -> list[Import]:
    """Return the imports from a part into a later part of :data:`LAYERS`."""
    return [
        edge
        for edge in edges
        if LAYERS.index(layer[edge.target]) > LAYERS.index(layer[edge.source])
    ]


def streamlit_imports(modules: Mapping[str, Module], root: Path = ROOT) -> list[str]:
    """Return where a module of mapping/ imports Streamlit, as ``path:line imports name``."""
    return [
        f"{module.path.relative_to(root)}:{line} imports {name}"
        for module in modules.values()
        if module.name.split(".")[0] == "mapping"
        for name, line, _ in imports_of(module)
        if name.split(".")[0] in STREAMLIT
    ]


def _where(edge: Import, modules: Mapping[str, Module], root: Path = ROOT) -> str:
    path = modules[edge.source].path.relative_to(root)
    return f"{path}:{edge.line}{' (inside a function)' if edge.nested else ''}"


def _cycle_text(cycle: list[Import], modules: Mapping[str, Module], root: Path = ROOT) -> str:
    names = " → ".join([cycle[0].source, *(edge.target for edge in cycle)])
    return f"{names} (imports at {', '.join(_where(e, modules, root) for e in cycle)})"


@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, Module], list[Import]]:
    return import_graph(ROOT)


def test_the_graph_holds_every_module_and_the_imports_inside_functions(
    graph: tuple[dict[str, Module], list[Import]],
) -> None:
    modules, edges = graph
    assert {"mapping", "mapping.cells", "mapping.storage.store", "views.shared", "app"} <= set(
        modules
    )
    assert len(modules) > 80
    pairs = {(edge.source, edge.target) for edge in edges}
    assert ("app", "views.access") in pairs
    assert ("views.shared", "views.state") in pairs
    # the command line's parsers are imported inside a function; the split's solver too
    assert any(
        edge.nested and (edge.source, edge.target) == ("mapping.cli.main", "mapping.cli.users")
        for edge in edges
    )
    assert ("views.plan_assign", "mapping.planning.assignments") in pairs


def test_no_import_cycle(graph: tuple[dict[str, Module], list[Import]]) -> None:
    modules, edges = graph
    cycles = [_cycle_text(cycle, modules) for cycle in import_cycles(modules, edges)]
    assert not cycles, (
        "import cycles — move what both modules need into a third one:\n" + "\n".join(cycles)
    )


def test_mapping_never_imports_streamlit(graph: tuple[dict[str, Module], list[Import]]) -> None:
    found = streamlit_imports(graph[0])
    assert not found, "mapping/ never imports Streamlit: pages live in views/\n" + "\n".join(found)


def test_each_part_imports_only_from_itself_and_the_parts_below(
    graph: tuple[dict[str, Module], list[Import]],
) -> None:
    modules, edges = graph
    layer = {name: layer_of(name) for name in modules}
    assert set(layer.values()) == set(LAYERS), "a part of mapping/ is missing from LAYERS"
    upward = upward_imports(edges, layer)
    wrong = [
        f"{_where(edge, modules)}: {edge.source} ({layer[edge.source]}) imports "
        f"{edge.target} ({layer[edge.target]})"
        for edge in upward
        if (edge.source, edge.target) not in ALLOWED_UPWARD
    ]
    assert not wrong, (
        f"imports against the layer order {' → '.join(LAYERS)} — move what is needed down, "
        "into the importing part or one below it:\n" + "\n".join(wrong)
    )
    stale = ALLOWED_UPWARD - {(edge.source, edge.target) for edge in upward}
    assert not stale, f"no longer imported: remove {sorted(stale)} from ALLOWED_UPWARD"


def test_a_long_module_says_why_it_is_long() -> None:
    long = []
    for module in project_modules(ROOT).values():
        if layer_of(module.name) in ("views", "app"):
            continue
        text = module.path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines <= MAX_LINES:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if not any(line.strip().startswith(LONG_REASON) for line in docstring.splitlines()):
            long.append(f"{module.path.relative_to(ROOT)}: {lines} lines")
    assert not long, (
        f"modules over {MAX_LINES} lines without a line starting with {LONG_REASON!r} in their "
        "docstring — split the module, or give the reason:\n" + "\n".join(long)
    )


# --- the checks find what they look for, on a small hand-made project ---------------------


def _project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        {
            "mapping/__init__.py": "",
            "views/a.py": "from views.b import thing\n",
            "views/b.py": "def thing():\n    from views import a\n    return a\n",
            "views/c.py": "import views.a\n",
        },
    )
    modules, edges = import_graph(root)
    cycles = import_cycles(modules, edges)
    assert [_cycle_text(cycle, modules, root) for cycle in cycles] == [
        "views.a → views.b → views.a (imports at views/a.py:1, views/b.py:2 (inside a function))"
    ]


def test_relative_upward_and_streamlit_imports_are_found(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        {
            "mapping/__init__.py": "",
            "mapping/cells.py": "def draw():\n    import streamlit.components.v1\n",
            "mapping/storage/__init__.py": "",
            "mapping/storage/store.py": "from ..analysis import coverage\nfrom . import audit\n",
            "mapping/storage/audit.py": "from mapping.cells import draw\n",
            "mapping/analysis/__init__.py": "",
            "mapping/analysis/coverage.py": "from streamlit_folium import st_folium\n",
            "views/page.py": "import streamlit\nfrom mapping.analysis.coverage import x\n",
        },
    )
    modules, edges = import_graph(root)
    layer = {name: layer_of(name, root) for name in modules}
    assert layer["mapping.cells"] == "core"
    assert sorted((edge.source, edge.target) for edge in edges) == [
        ("mapping.storage.audit", "mapping.cells"),
        ("mapping.storage.store", "mapping.analysis.coverage"),
        ("mapping.storage.store", "mapping.storage.audit"),
        ("views.page", "mapping.analysis.coverage"),
    ]
    assert [(edge.source, edge.target) for edge in upward_imports(edges, layer)] == [
        ("mapping.storage.store", "mapping.analysis.coverage")
    ]
    assert streamlit_imports(modules, root) == [
        "mapping/analysis/coverage.py:1 imports streamlit_folium.st_folium",
        "mapping/cells.py:2 imports streamlit.components.v1",
    ]


def test_the_layers_of_modules() -> None:
    assert layer_of("mapping") == "api"
    assert layer_of("mapping.cells") == "core"
    assert layer_of("mapping.storage") == "storage"
    assert layer_of("mapping.storage.migrations.env") == "storage"
    assert layer_of("mapping.maps.base") == "maps"
    assert layer_of("views.shared") == "views"
    assert layer_of("app") == "app"


def test_docs_architecture_lists_every_module() -> None:
    """docs/architecture.md names every module of mapping/ and views/ under its part."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = []
    for folder in [ROOT / "mapping", *sorted((ROOT / "mapping").glob("*/")), ROOT / "views"]:
        if folder.name in {"locales", "__pycache__"} or not folder.is_dir():
            continue
        heading = text.find(f"`{folder.relative_to(ROOT).as_posix()}/")
        if folder.name == "mapping":
            heading = text.find("`mapping/*.py`")
        for module in sorted(folder.glob("*.py")):
            if module.name in {"__init__.py", "__main__.py"} or "migrations" in module.parts:
                continue
            if heading < 0 or f"- `{module.name}` —" not in text[heading:]:
                missing.append(module.relative_to(ROOT).as_posix())
    assert not missing, f"add to docs/architecture.md, under its part: {', '.join(missing)}"
