"""Lark grammars shipped with awrs, installed as the ``awrs.grammars`` package.

>>> from awrs.grammars import load, names
>>> "sql" in names()
True
"""

from __future__ import annotations

from importlib import resources

__all__ = ["load", "names"]


def names() -> list[str]:
    """The shipped grammars, by name (file name without ``.lark``)."""
    return sorted(p.name[: -len(".lark")] for p in resources.files(__name__).iterdir() if p.name.endswith(".lark"))


def load(name: str) -> str:
    """The Lark text of a shipped grammar (``"sql"``, ``"json"``, ``"arithmetic"``)."""
    from awrs.errors import ConstraintError

    if name not in names():
        raise ConstraintError(f"no shipped grammar named {name!r}; available: {', '.join(names())}")
    return resources.files(__name__).joinpath(f"{name}.lark").read_text(encoding="utf-8")
