"""Security rules, checked on the source itself: what the project reads can never run code.

- every `torch.load` passes `weights_only=True` (a checkpoint is tensors, never a pickle that runs);
- YAML is read with a safe loader only (`safe_load`, or `yaml.load` with `SafeLoader` / `CSafeLoader`; no
  `full_load`, `unsafe_load` or other loader);
- no `eval` / `exec` / `pickle.load(s)` anywhere (config strings such as constraints are parsed by regex).

Every Python folder of the repo is scanned: `core` parses every YAML file and `--set` value, and the tests read
files from `../shared` (they write pickles, `pickle.dumps`, but never load one). A hostile YAML tag in a `--set`
value or a YAML file runs nothing (checked by running one).

Downloads (temporary file, renamed only when complete, SHA-256 checked where the registry knows it)
are exercised in `tests/test_weights.py`; a malicious checkpoint is refused end to end in
`tests/reliability/test_bad_input_models.py`.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.overrides import parse_override
from core.yaml_io import read_yaml

REPO = Path(__file__).resolve().parents[2]
PACKAGES = (".ci", "benchmarks", "core", "detector", "nars", "search_spaces", "tests")
SOURCES = sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))
SAFE_LOADERS = ("SafeLoader", "CSafeLoader")
YAML_READERS = ("load", "load_all")  # safe only with a safe Loader
UNSAFE_YAML = ("full_load", "full_load_all", "unsafe_load", "unsafe_load_all", "Loader", "FullLoader", "UnsafeLoader", "CLoader",
               "CFullLoader", "CUnsafeLoader")  # readers and loaders that build arbitrary Python objects


def _calls(tree: ast.AST) -> list[tuple[str, ast.Call]]:
    """(dotted callee, call node) of every call in a module, e.g. ('torch.load', ...)."""
    return [(ast.unparse(node.func), node) for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _yaml_loader(call: ast.Call) -> str | None:
    """The `Loader` given to `yaml.load(stream, Loader)` (keyword or second argument), as written."""
    loader = next((k.value for k in call.keywords if k.arg == "Loader"), call.args[1] if len(call.args) > 1 else None)
    return None if loader is None else ast.unparse(loader)


def problems_in(source: str, where: str) -> list[str]:
    """Every loader in `source` that can run code, as 'where:line: what'."""
    tree = ast.parse(source, filename=where)
    problems = []
    for name, node in _calls(tree):
        if name.endswith("torch.load"):
            weights_only = next((k.value for k in node.keywords if k.arg == "weights_only"), None)
            if not (isinstance(weights_only, ast.Constant) and weights_only.value is True):
                problems.append(f"{where}:{node.lineno}: torch.load without weights_only=True")
        if name in (f"yaml.{reader}" for reader in YAML_READERS):
            loader = _yaml_loader(node)
            if loader is None or loader.rpartition(".")[2] not in SAFE_LOADERS:
                problems.append(f"{where}:{node.lineno}: {name} with Loader={loader} (use yaml.safe_load)")
        if name in ("eval", "exec", "builtins.eval", "builtins.exec", "pickle.load", "pickle.loads", "marshal.loads"):
            problems.append(f"{where}:{node.lineno}: {name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) == "yaml" and node.attr in UNSAFE_YAML:
            problems.append(f"{where}:{node.lineno}: yaml.{node.attr} (use yaml.safe_load)")
        if isinstance(node, ast.ImportFrom) and node.module == "yaml":
            imported = [a.name for a in node.names if a.name in UNSAFE_YAML + YAML_READERS]
            if imported:
                problems.append(f"{where}:{node.lineno}: from yaml import {', '.join(imported)} (use yaml.safe_load)")
    return problems


def test_the_scan_sees_the_code():
    assert len(SOURCES) > 30
    callees = {name for path in SOURCES for name, _ in _calls(ast.parse(path.read_text()))}
    assert {"torch.load", "yaml.safe_load"} <= callees, "the rules below would pass vacuously"


def test_every_python_folder_of_the_repo_is_scanned():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert {name.split("/")[0] for name in tracked if "/" in name} <= set(PACKAGES)


@pytest.mark.parametrize(("line", "unsafe"), [
    ("yaml.safe_load(text)", False), ("yaml.load(text, Loader=yaml.SafeLoader)", False), ("yaml.load(text, yaml.CSafeLoader)", False),
    ("yaml.load(text)", True), ("yaml.load(text, Loader=yaml.UnsafeLoader)", True), ("yaml.load(text, yaml.FullLoader)", True),
    ("yaml.load_all(text, Loader=yaml.Loader)", True), ("yaml.unsafe_load(text)", True), ("yaml.full_load(text)", True),
    ("from yaml import unsafe_load", True), ("from yaml import load, SafeLoader", True), ("from yaml import safe_load", False),
    ("torch.load(path)", True), ("torch.load(path, weights_only=True)", False), ("pickle.loads(data)", True),
])
def test_the_rules_tell_safe_from_unsafe_loaders(line, unsafe):
    assert bool(problems_in(line, "snippet")) == unsafe


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_loader_can_run_code(path):
    problems = problems_in(path.read_text(), str(path.relative_to(REPO)))
    assert not problems, "\n".join(problems)


def _hostile(marker: Path) -> str:
    """A YAML value that, read by an unsafe loader, runs a shell command creating `marker`."""
    return f'!!python/object/apply:os.system ["touch {marker}"]'


def test_an_unsafe_yaml_tag_in_a_set_value_runs_nothing(tmp_path):
    """An override that is not plain YAML is kept as the string it is (a bad value is then refused by the config)."""
    marker = tmp_path / "MARKER"
    assert parse_override(f"train.lr={_hostile(marker)}") == (["train", "lr"], _hostile(marker))
    assert not marker.exists()


def test_an_unsafe_yaml_tag_in_a_yaml_file_runs_nothing(tmp_path):
    marker = tmp_path / "MARKER"
    config = tmp_path / "config.yaml"
    config.write_text(f"train:\n  lr: {_hostile(marker)}\n")
    with pytest.raises(ConfigError, match=r"config.yaml line 2: not valid YAML \(could not determine a constructor"):
        read_yaml(config, "config")
    assert not marker.exists()
