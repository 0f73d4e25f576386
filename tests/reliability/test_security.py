"""Security rules, checked on the source itself: what the project reads can never run code.

- every `torch.load` passes `weights_only=True` (a checkpoint is tensors, never a pickle that runs);
- YAML is read with `safe_load` only (no `yaml.load`, `full_load`, `unsafe_load`);
- no `eval` / `exec` / `pickle.load(s)` anywhere (config strings such as constraints are parsed by regex).

Downloads (temporary file, renamed only when complete, SHA-256 checked where the registry knows it)
are exercised in `tests/test_weights.py`; a malicious checkpoint is refused end to end in
`tests/reliability/test_bad_input.py`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("detector", "nars", "search_spaces", "benchmarks")
SOURCES = sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def _calls(path: Path) -> list[tuple[str, ast.Call]]:
    """(dotted callee, call node) of every call in a file, e.g. ('torch.load', ...)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            found.append((ast.unparse(node.func), node))
    return found


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(REPO)}:{node.lineno}"


def test_the_scan_sees_the_code():
    assert len(SOURCES) > 30
    callees = {name for path in SOURCES for name, _ in _calls(path)}
    assert {"torch.load", "yaml.safe_load"} <= callees, "the rules below would pass vacuously"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_loader_can_run_code(path):
    problems = []
    for name, node in _calls(path):
        if name.endswith("torch.load"):
            weights_only = next((k.value for k in node.keywords if k.arg == "weights_only"), None)
            if not (isinstance(weights_only, ast.Constant) and weights_only.value is True):
                problems.append(f"{_where(path, node)}: torch.load without weights_only=True")
        if name in ("yaml.load", "yaml.full_load", "yaml.unsafe_load", "yaml.load_all", "yaml.unsafe_load_all"):
            problems.append(f"{_where(path, node)}: {name} (use yaml.safe_load)")
        if name in ("eval", "exec", "builtins.eval", "builtins.exec", "pickle.load", "pickle.loads", "marshal.loads"):
            problems.append(f"{_where(path, node)}: {name}")
    assert not problems, "\n".join(problems)
