"""What scores a string: language models seen as next-token log-probabilities over byte tokens.

``HFModel`` (torch, transformers) is imported on first use, so importing this package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from awrs.lm.base import ChatMessage, LanguageModel, Prompt, SequenceBatch
from awrs.lm.loading import load_model
from awrs.lm.mock import MockLM
from awrs.lm.vocab import Vocabulary

if TYPE_CHECKING:
    from awrs.lm.hf import HFModel

__all__ = ["ChatMessage", "HFModel", "LanguageModel", "MockLM", "Prompt", "SequenceBatch", "Vocabulary", "load_model"]


def __getattr__(name: str) -> Any:
    if name == "HFModel":
        from awrs.lm.hf import HFModel

        return HFModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
