"""The import graph of dlnmc/: no cycles, and no import of a module that is not in the tree.

Read from the source with ``ast`` (nothing is imported). An edge ``a -> b`` is an
``import`` of ``b`` in ``a`` outside ``if TYPE_CHECKING:``. The load-time graph has
the module-level statements only (also inside ``try``/``if`` blocks and class
bodies); the full graph adds the imports inside functions, so a cycle cannot hide
behind a deferred import either.
"""

import ast
import pathlib

import pytest

from tests.paths import REPO

ROOT = REPO
PKG = ROOT / "dlnmc"


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module, *, top_level: bool, package: str) -> list[tuple[str, int]]:
    """Absolute names (``dlnmc...``) imported, with their line; ``from P import n`` gives
    ``P.n`` when that is a module, else ``P``."""
    out: list[tuple[str, int]] = []

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.Import):
                out.extend((a.name, node.lineno) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    out.append((sub if sub in MODULES else base, node.lineno))
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                if not top_level:
                    visit(node.body)
                visit(node.orelse)
            elif top_level and isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
            ):
                if isinstance(node, ast.ClassDef):
                    visit(node.body)  # a class body runs at import time
            else:
                visit(ast.iter_child_nodes(node))

    visit(tree.body)
    return out


def _package_of(name: str) -> str:
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def _graph(top_level: bool = True) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        found = _imports(tree, top_level=top_level, package=_package_of(name))
        targets = {t for t, _ in found}
        graph[name] = {t for t in targets if t in MODULES and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_the_graph_is_read():
    graph, full = _graph(), _graph(top_level=False)
    assert len(graph) > 30
    # decoy: known edges are seen, so an empty graph cannot pass as acyclic
    assert "dlnmc.fields" in graph["dlnmc.network"]
    assert "dlnmc.entropy" in full["dlnmc.studies.kinds.entropy_sweep"]  # deferred import
    assert "dlnmc.entropy" not in graph["dlnmc.studies.kinds.entropy_sweep"]


@pytest.mark.parametrize("top_level", [True, False], ids=["load_time", "with_deferred"])
def test_no_import_cycle_in_dlnmc(top_level):
    assert _cycles(_graph(top_level)) == []


def test_the_cycle_finder_finds_a_cycle():
    # decoy: the same finder on a graph with one added back edge reports that cycle
    graph = _graph()
    graph["dlnmc.fields"] = graph["dlnmc.fields"] | {"dlnmc.network"}
    assert ["dlnmc.fields", "dlnmc.network"] in [
        [m for m in c if m in ("dlnmc.fields", "dlnmc.network")] for c in _cycles(graph)
    ]


@pytest.mark.parametrize("folder", ["dlnmc", "tests", "benchmarks", "scripts"])
def test_every_dlnmc_import_is_in_the_tree(folder):
    """Also function-level imports: an installed copy elsewhere must not stand in for a
    module that was removed here (e.g. the pre-merge ``*_fields`` modules)."""
    missing = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        name = _module_name(path) if folder == "dlnmc" else "tests"
        package = _package_of(name) if folder == "dlnmc" else name
        for target, line in _imports(tree, top_level=False, package=package):
            if target.split(".")[0] == "dlnmc" and target not in MODULES:
                missing.append(f"{path.relative_to(ROOT)}:{line}: {target}")
    assert missing == []
