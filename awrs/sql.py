"""``awrs.sql``: SQL for applications.

``awrs.sql(lm, prompt, schema)`` returns a query valid under the database's schema (the
module is callable); ``awrs.sql.executes(db)`` is the critic that prefers queries that run
(it never writes: the database is opened read-only and locked down);
``awrs.sql.prompt(schema, question)`` asks a model for one line of SQL over the schema's
tables; ``awrs.sql.SQL`` is the constraint (also ``awrs.SQL``).
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

from awrs.constraints.sql import SQL, SchemaSource, executes, schema_tables
from awrs.lm.base import LanguageModel, Prompt

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from awrs.generate import GenerateOptions, PromptInput

__all__ = ["SQL", "executes", "prompt", "query", "schema_tables"]

SYSTEM = "You translate questions into SQLite queries. Reply with one SQL query on one line, nothing else."
#: One worked example (question, then its query): a small model copies the shape of an answer
#: far more reliably than it follows an instruction.
EXAMPLE = (
    "Tables: singer(singer_id, name, age)",
    "How many singers are older than 30?",
    "SELECT count(*) FROM singer WHERE age > 30",
)


def prompt(schema: SchemaSource | SQL, question: str, *, chat: bool = True) -> Prompt:
    """Chat messages asking for one line of SQL that answers ``question`` over the tables of
    ``schema`` (any schema source :class:`SQL` takes, or a compiled ``SQL``): an instruction,
    one worked example, then the tables with their columns and the question. With
    ``chat=False``, the same as one plain-text prompt (for models without a chat template)."""
    tables = schema.tables if isinstance(schema, SQL) else None if schema is None else schema_tables(schema)
    listing = "; ".join(f"{t}({', '.join(cols)})" for t, cols in (tables or {}).items())
    asked = (f"Tables: {listing}\n" if listing else "") + f"Question: {question}"
    example, example_question, example_query = EXAMPLE
    if not chat:
        return f"{SYSTEM}\n\n{example}\nQuestion: {example_question}\nSQL: {example_query}\n\n{asked}\nSQL: "
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"{example}\nQuestion: {example_question}"},
        {"role": "assistant", "content": example_query},
        {"role": "user", "content": asked},
    ]


def query(lm: LanguageModel, prompt: PromptInput, schema: SchemaSource = None, **kwargs: Unpack[GenerateOptions]) -> str:
    """A SQLite query (valid under ``schema``: tables and columns that exist, names that
    resolve). Raises IncompleteOutputError when generation stops first."""
    from awrs.generate import generate
    from awrs.structured import value_of

    text: str = value_of(generate(lm, prompt, SQL(schema), **kwargs))  # a query's value is its text
    return text


class _CallableModule(types.ModuleType):
    """Lets ``awrs.sql(...)`` call :func:`query` while ``awrs.sql.executes`` stays a module
    attribute. Only this module's own class changes."""

    def __call__(
        self, lm: LanguageModel, prompt: PromptInput, schema: SchemaSource = None, **kwargs: Unpack[GenerateOptions]
    ) -> str:
        return query(lm, prompt, schema, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
