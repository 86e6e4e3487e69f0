"""awrs: fast, exact constrained generation with adaptive weighted rejection sampling.

Importing awrs does not import torch or transformers; they load when a model is loaded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from awrs import sql
from awrs._version import __version__
from awrs.aio import AsyncStream, agenerate, astream
from awrs.constraints import (
    SQL,
    Choice,
    Constraint,
    Free,
    Grammar,
    Intersection,
    JsonSchema,
    Predicate,
    Regex,
    Sequence,
    Think,
    ToolCalls,
    Unconstrained,
    UnenforcedKeywordWarning,
    Union,
)
from awrs.errors import (
    ArgumentTypeError,
    AwrsError,
    ConstraintError,
    EmptyLanguageError,
    GenerationError,
    IncompleteOutputError,
    InvalidTextError,
    ModelError,
    PromptTooLongError,
    TokenizerError,
    UnsupportedSchemaError,
)
from awrs.generate import generate, generate_batch
from awrs.lm import LanguageModel, MockLM, Vocabulary, load_model
from awrs.result import Particle, Result, Stats
from awrs.structured import Stream, choice, json, regex, stream

if TYPE_CHECKING:
    from awrs.lm.hf import HFModel
    from awrs.lm.llama_cpp import LlamaCppModel

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "SQL",
    "ArgumentTypeError",
    "AsyncStream",
    "AwrsError",
    "Choice",
    "Constraint",
    "ConstraintError",
    "EmptyLanguageError",
    "Free",
    "GenerationError",
    "Grammar",
    "HFModel",
    "IncompleteOutputError",
    "Intersection",
    "InvalidTextError",
    "JsonSchema",
    "LanguageModel",
    "LlamaCppModel",
    "MockLM",
    "ModelError",
    "Particle",
    "Predicate",
    "PromptTooLongError",
    "Regex",
    "Result",
    "Sequence",
    "Stats",
    "Stream",
    "Think",
    "TokenizerError",
    "ToolCalls",
    "Unconstrained",
    "UnenforcedKeywordWarning",
    "Union",
    "UnsupportedSchemaError",
    "Vocabulary",
    "__version__",
    "agenerate",
    "astream",
    "choice",
    "generate",
    "generate_batch",
    "json",
    "load_model",
    "regex",
    "sql",
    "stream",
]


def __getattr__(name: str) -> Any:
    if name == "HFModel":
        from awrs.lm.hf import HFModel

        return HFModel
    if name == "LlamaCppModel":
        from awrs.lm.llama_cpp import LlamaCppModel

        return LlamaCppModel
    if name == "grammars":  # awrs.grammars.load / names: the shipped Lark grammars
        import importlib

        return importlib.import_module("awrs.grammars")
    if name == "transformers":  # awrs.transformers.generate, the drop-in for model.generate
        import importlib

        return importlib.import_module("awrs.transformers")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
