"""``awrs.sql``: SQL for applications.

``awrs.sql(lm, prompt, schema)`` returns a query valid under the database's schema (the
module is callable); ``awrs.sql.executes(db)`` is the critic that prefers queries that run;
``awrs.sql.SQL`` is the constraint (also ``awrs.SQL``).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from awrs.constraints.sql import SQL, SchemaSource, executes, schema_tables
from awrs.lm.base import LanguageModel, Prompt

__all__ = ["SQL", "executes", "query", "schema_tables"]


def query(lm: LanguageModel, prompt: Prompt, schema: SchemaSource = None, **kwargs: Any) -> str:
    """A SQLite query (valid under ``schema``: tables and columns that exist, names that
    resolve). Raises IncompleteOutputError when generation stops first."""
    from awrs.generate import generate
    from awrs.structured import value_of

    return value_of(generate(lm, prompt, SQL(schema), **kwargs))


class _CallableModule(types.ModuleType):
    """Lets ``awrs.sql(...)`` call :func:`query` while ``awrs.sql.executes`` stays a module
    attribute. Only this module's own class changes."""

    def __call__(self, lm: LanguageModel, prompt: Prompt, schema: SchemaSource = None, **kwargs: Any) -> str:
        return query(lm, prompt, schema, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
