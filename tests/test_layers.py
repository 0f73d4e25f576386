"""The import graph only points down, read from the source with `ast` (nothing is imported):

    core  <-  detector  <-  search_spaces  <-  nars  <-  benchmarks

`core` is the shared bottom layer; inside `nars` the search (searcher, predictor, evolution, trainable,
Tune wiring, tables ...) never imports `nars.analysis`, which reads what the search wrote; only the CLI
`nars.search` calls the analysis to write the report at the end. No module imports another that imports it
back, directly or around a loop. Imports under `if TYPE_CHECKING:` never run and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["core", "detector", "search_spaces", "nars", "benchmarks"]
ABOVE_ANALYSIS = {"nars.search"}  # the CLI: runs the search, then writes the report with nars.analysis


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for layer in LAYERS for p in sorted((REPO / layer).rglob("*.py"))}


def _lazy_exports(path: Path) -> dict[str, str]:
    """A package's PEP 562 `_EXPORTS = {name: module}`, read from its `__init__.py`."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (a package's lazily exported names resolve to their module)."""
    sources = _sources()
    exports = {name: _lazy_exports(path) for name, path in sources.items() if path.name == "__init__.py"}
    graph: dict[str, set[str]] = {}
    for name, path in sources.items():
        targets: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
                continue
            if node.level or node.module is None:
                raise AssertionError(f"{name}: relative import; the project imports absolutely")
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in sources:
                    targets.add(submodule)
                else:
                    targets.add(exports.get(node.module, {}).get(alias.name, node.module))
        graph[name] = {t for t in targets if t.split(".")[0] in LAYERS and t != name}
    return graph


GRAPH = import_graph()


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_no_layer_imports_a_layer_above_it(layer):
    upward = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if _layer(m) == LAYERS.index(layer)
                    for t in targets if _layer(t) > _layer(m))
    assert upward == []


def test_the_search_never_imports_its_analysis():
    search = [m for m in GRAPH if m.startswith("nars") and not m.startswith("nars.analysis") and m not in ABOVE_ANALYSIS]
    assert sorted(f"{m} -> {t}" for m in search for t in GRAPH[m] if t.startswith("nars.analysis")) == []


def test_no_import_cycles():
    """Depth-first search for a back edge; the first loop found is named."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module], _ = 1, path.append(module)
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (loop := visit(target)):
                return loop
        state[module], _ = 2, path.pop()
        return None

    for module in sorted(GRAPH):
        if module not in state:
            loop = visit(module)
            assert loop is None, " -> ".join(loop)


def test_the_graph_sees_the_imports_it_checks():
    """The reader resolves submodules, lazy exports and function-level imports (else the tests above prove nothing)."""
    assert "nars.tables" in GRAPH["nars.analysis.run"]  # from nars.tables import ...
    assert "nars.run_folder" in GRAPH["nars.search"]  # from nars import run_folder
    assert "search_spaces.load" in GRAPH["nars.search"]  # a function-level import of a lazily exported name
    assert "detector.engine" not in GRAPH["detector.callbacks"]  # under TYPE_CHECKING only
