"""The import graph follows the layout by role, read from the source with `ast` (nothing is imported):

    core  <-  detector  <-  search_spaces  <-  nars  <-  benchmarks

and inside each package, the roles of its folders in the order of `ROLES` (a role imports only roles before it).
The CLI modules are thin ends that no library module imports; no module imports another that imports it back,
directly or around a loop, counting imports under `if TYPE_CHECKING:` too; and no module outside the arch
tables is longer than `MAX_LINES`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["core", "detector", "search_spaces", "nars", "benchmarks"]
ROLES = {  # within a layer, lowest first; a module belongs to the longest prefix that names it
    "detector": ["detector.modeling.backbones", "detector.modeling.norms", "detector.config", "detector.data", "detector.weights",
                 "detector.modeling", "detector.evaluation", "detector.training", "detector.deploy", "detector"],
    "search_spaces": ["search_spaces.params", "search_spaces.param_specs", "search_spaces.point", "search_spaces.protocol", "search_spaces.constraints",
                      "search_spaces.space", "search_spaces.fbnetv3", "search_spaces.load", "search_spaces"],
    "nars": ["nars.searchers.registry", "nars.config", "nars.predictor", "nars.trial", "nars.records", "nars.searchers", "nars.tune",
             "nars.stages", "nars.analysis", "nars.search", "nars"],
}
CLIS = {"detector.train", "detector.evaluate", "detector.predict", "detector.export", "detector.synthetic", "detector.archs", "nars.search",
        "nars.analysis.__main__", "core.docs"}
"""`python -m` entry points: argparse and `main`, over library modules."""
ARCH_TABLES = {"detector.modeling.backbones.fbnet_archs"}
MAX_LINES = 350


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


def _imports(tree: ast.AST, typing_only: bool) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement at any depth; those under `if TYPE_CHECKING:` only when `typing_only`."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" and not typing_only:
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(typing_only: bool = False) -> dict[str, set[str]]:
    """module -> the project modules it imports (a package's lazily exported names resolve to their module)."""
    sources = _sources()
    exports = {name: _lazy_exports(path) for name, path in sources.items() if path.name == "__init__.py"}
    graph: dict[str, set[str]] = {}
    for name, path in sources.items():
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text()), typing_only):
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
STATIC_GRAPH = import_graph(typing_only=True)


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def _role(module: str) -> int:
    roles = ROLES[module.split(".")[0]]
    matches = [r for r in roles if module == r or module.startswith(r + ".")]
    return roles.index(max(matches, key=len))


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_no_layer_imports_a_layer_above_it(layer):
    upward = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if _layer(m) == LAYERS.index(layer)
                    for t in targets if _layer(t) > _layer(m))
    assert upward == []


@pytest.mark.parametrize("layer", sorted(ROLES))
def test_roles_inside_a_layer_import_only_roles_below_them(layer):
    upward = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if m.split(".")[0] == layer
                    for t in targets if t.split(".")[0] == layer and _role(t) > _role(m))
    assert upward == []


def test_no_library_module_imports_a_cli():
    assert sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if m not in CLIS for t in targets if t in CLIS) == []


def test_no_import_cycles_even_for_type_checking():
    """Depth-first search for a back edge in the graph with `TYPE_CHECKING` imports; the first loop found is named."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module], _ = 1, path.append(module)
        for target in sorted(STATIC_GRAPH.get(module, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (loop := visit(target)):
                return loop
        state[module], _ = 2, path.pop()
        return None

    for module in sorted(STATIC_GRAPH):
        if module not in state:
            loop = visit(module)
            assert loop is None, " -> ".join(loop)


def test_modules_are_small():
    long = {name: n for name, path in _sources().items() if name not in ARCH_TABLES and (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_graph_sees_the_imports_it_checks():
    """The reader resolves submodules, lazy exports, function-level and typing-only imports (else the tests above prove nothing)."""
    assert "nars.records.tables" in GRAPH["nars.analysis.run"]  # from nars.records.tables import ...
    assert "nars.records.run_folder" in GRAPH["nars.search"]  # from nars.records import run_folder
    assert "search_spaces.load" in GRAPH["nars.search"]  # a function-level import of a lazily exported name
    assert "search_spaces.protocol" in STATIC_GRAPH["nars.searchers.local"] and "search_spaces.protocol" not in GRAPH["nars.searchers.local"]
    assert _role("detector.modeling.backbones.spec") < _role("detector.config") < _role("detector.modeling.model")
    assert set(ROLES) | {"core", "benchmarks"} == set(LAYERS)
