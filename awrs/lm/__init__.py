"""What scores a string: language models seen as next-token log-probabilities over byte tokens.

``HFModel`` (torch, transformers) and ``LlamaCppModel`` (llama-cpp-python) are imported on first use, so importing this package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from awrs.lm.base import ChatMessage, JoinableBatch, LanguageModel, Prompt, SequenceBatch
from awrs.lm.loading import load_model
from awrs.lm.mock import MockLM
from awrs.lm.vocab import Vocabulary

if TYPE_CHECKING:
    from awrs.lm.hf import HFModel
    from awrs.lm.llama_cpp import LlamaCppModel

__all__ = [
    "ChatMessage",
    "HFModel",
    "JoinableBatch",
    "LanguageModel",
    "LlamaCppModel",
    "MockLM",
    "Prompt",
    "SequenceBatch",
    "Vocabulary",
    "load_model",
]


def __getattr__(name: str) -> Any:
    if name == "HFModel":
        from awrs.lm.hf import HFModel

        return HFModel
    if name == "LlamaCppModel":
        from awrs.lm.llama_cpp import LlamaCppModel

        return LlamaCppModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
