"""Lark grammars shipped with awrs (installed as the ``awrs.grammars`` package)."""
