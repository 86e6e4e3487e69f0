"""What scores a string, part two: constraints that check byte strings."""

from awrs.constraints.agents import Think, ToolCalls
from awrs.constraints.base import Constraint
from awrs.constraints.choice import Choice
from awrs.constraints.compose import Free, Intersection, Sequence, Union
from awrs.constraints.grammar import Grammar
from awrs.constraints.json_schema import JsonSchema, UnenforcedKeywordWarning
from awrs.constraints.predicate import Predicate
from awrs.constraints.regex import Regex
from awrs.constraints.sql import SQL
from awrs.constraints.unconstrained import Unconstrained

__all__ = [
    "SQL",
    "Choice",
    "Constraint",
    "Free",
    "Grammar",
    "Intersection",
    "JsonSchema",
    "Predicate",
    "Regex",
    "Sequence",
    "Think",
    "ToolCalls",
    "Unconstrained",
    "UnenforcedKeywordWarning",
    "Union",
]
