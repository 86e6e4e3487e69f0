"""awrs: fast, exact constrained generation with adaptive weighted rejection sampling.

Importing awrs does not import torch or transformers; they load when a model is loaded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from awrs._version import __version__
from awrs.errors import (
    AwrsError,
    ConstraintError,
    GenerationError,
    ModelError,
    PromptTooLongError,
    TokenizerError,
    UnsupportedSchemaError,
)
from awrs.lm import LanguageModel, MockLM, Vocabulary, load_model

if TYPE_CHECKING:
    from awrs.lm.hf import HFModel

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AwrsError",
    "ConstraintError",
    "GenerationError",
    "HFModel",
    "LanguageModel",
    "MockLM",
    "ModelError",
    "PromptTooLongError",
    "TokenizerError",
    "UnsupportedSchemaError",
    "Vocabulary",
    "__version__",
    "load_model",
]


def __getattr__(name: str) -> Any:
    if name == "HFModel":
        from awrs.lm.hf import HFModel

        return HFModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
