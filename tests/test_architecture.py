"""The layout the README describes: data flow one way, no private names across packages."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "sfsestimators"

# lower layers never import higher ones (README, "Architecture")
LAYERS = [
    {"spectrum", "_scales", "_validation", "_persist"},
    {"io"},
    {"models"},
    {"teacher", "likelihood", "simulate"},
    {"nn", "metrics"},
    {"emulator", "inference", "genealogy", "model_selection", "pretrained",
     "fitter", "mainspring"},
    {"cli", "__main__"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}
MAX_LINES = 650


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "__init__.py":
            continue
        yield path, rel.parts[0].removesuffix(".py")


def _imports(path):
    """(top-level sfsestimators module, imported names) of every relative import."""
    rel = path.relative_to(ROOT)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            depth = len(rel.parts) - node.level  # parts of the importing package left
            parts = list(rel.parts[:depth]) + (node.module.split(".") if node.module else [])
            if not parts:  # "from . import x" at the top: x are modules
                for alias in node.names:
                    yield alias.name, []
            else:
                yield parts[0].removesuffix(".py"), [a.name for a in node.names]


@pytest.mark.parametrize("path,top", list(_modules()),
                         ids=[str(p.relative_to(ROOT)) for p, _ in _modules()])
def test_data_flows_one_way(path, top):
    for target, _ in _imports(path):
        if target in LAYER and top in LAYER:
            assert LAYER[target] <= LAYER[top], (
                f"{path.relative_to(ROOT)} (layer {LAYER[top]}) imports {target} "
                f"(layer {LAYER[target]})")


@pytest.mark.parametrize("package", ["inference", "genealogy", "models"])
def test_no_private_names_imported_from_outside_a_package(package):
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] == package:
            continue
        for target, names in _imports(path):
            if target == package:
                private = [n for n in names if n.startswith("_")]
                assert not private, f"{rel} imports {private} from {package}"


def test_no_module_is_too_long():
    for path in ROOT.rglob("*.py"):
        n = len(path.read_text().splitlines())
        assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines (> {MAX_LINES})"
