"""awrs's layers import only downward (CONTRIBUTING.md, "Layout").

Every ``import awrs.X`` / ``from awrs.X import ...`` / ``from awrs import X`` in the package is
read from the source (imports inside functions included) and its layer compared with the
importing module's: a module may import its own layer and the layers below it, never one
above. A new top-level module needs a rank here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "awrs"

#: Bottom to top. Modules of one layer may import each other.
RANKS = {
    "errors": 0,
    "_cache": 0,
    "_version": 0,
    "_numba": 0,
    "_platform": 0,
    "grammars": 0,
    "lm": 1,
    "automata": 2,
    "constraints": 3,
    "sampler": 4,
    "smc": 5,
    "result": 6,
    "arguments": 7,
    "generate": 7,
    "structured": 8,
    "service": 8,
    "aio": 8,
    "sql": 9,
    "batch": 9,
    "transformers": 9,
    "testing": 9,
    # The package itself (awrs/__init__.py), and the command line, which is written on it.
    "": 10,
    "cli": 10,
    "server": 10,
    "__main__": 10,
}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "awrs"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "awrs":
                found += [(node.lineno, f"awrs.{a.name}") for a in node.names if f"awrs.{a.name}".split(".")[1] in RANKS]
                found += [(node.lineno, "awrs") for a in node.names if a.name not in RANKS]
            elif node.module.split(".")[0] == "awrs":
                found.append((node.lineno, node.module))
    return found


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "grammars" not in p.parts)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_import_only_their_layer_and_below(path):
    module = ".".join(("awrs", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
    own = layer(module)
    assert own in RANKS, f"{module} is in no layer: give {own!r} a rank in tests/test_layers.py"
    upward = [
        f"line {line}: {name} (layer {layer(name) or 'awrs'}, rank {RANKS[layer(name)]})"
        for line, name in imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        if RANKS[layer(name)] > RANKS[own]
    ]
    assert not upward, f"{module} (rank {RANKS[own]}) imports upward: {upward}"


def test_the_check_sees_an_upward_import():
    tree = ast.parse("from awrs.smc.engine import run_groups\nimport awrs.generate\nfrom awrs import arguments\n")
    assert [layer(n) for _, n in imported_modules(tree)] == ["smc", "generate", "arguments"]
