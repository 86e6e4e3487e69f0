"""The package's promises: light import, honest __all__, complete packaging."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import awrs

ROOT = Path(__file__).resolve().parents[1]


def test_import_does_not_load_torch_or_transformers():
    code = "import sys, awrs; print(any(m in sys.modules for m in ('torch', 'transformers')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_public_name_exists():
    for name in awrs.__all__:
        assert getattr(awrs, name) is not None, name


def test_public_api_names_of_the_foundation():
    from awrs.lm.hf import HFModel

    assert awrs.HFModel is HFModel
    assert callable(awrs.load_model)
    assert issubclass(awrs.ConstraintError, awrs.AwrsError)
    assert issubclass(awrs.UnsupportedSchemaError, awrs.ConstraintError)


def test_every_subpackage_is_listed_for_the_wheel():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.relative_to(ROOT).parent.parts) for p in (ROOT / "awrs").rglob("__init__.py")}
    missing = found - listed
    assert not missing, f"add these packages to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"
    assert "awrs.grammars" in listed
