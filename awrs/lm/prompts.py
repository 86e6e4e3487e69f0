"""Prompts to token ids through a Hugging Face tokenizer, shared by every backend that has one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from awrs.errors import GenerationError
from awrs.lm.base import Prompt

__all__ = ["encode_prompt"]


def encode_prompt(tokenizer: Any, prompt: Prompt) -> list[int]:
    """Token ids of a prompt. Chat messages use the tokenizer's chat template with the
    generation prompt added; a plain string is encoded as ``tokenizer(prompt)`` would. An empty
    prompt starts from the BOS token."""
    ids = list(tokenizer.encode(prompt)) if isinstance(prompt, str) else _encode_chat(tokenizer, prompt)
    if not ids:
        bos = getattr(tokenizer, "bos_token_id", None)
        if bos is None:
            raise GenerationError("the prompt is empty and the tokenizer has no BOS token to start from")
        ids = [bos]
    return ids


def _encode_chat(tokenizer: Any, messages: Sequence[Any]) -> list[int]:
    if not getattr(tokenizer, "chat_template", None):
        raise GenerationError("chat messages were given but this tokenizer has no chat template; pass the prompt as a string")
    try:
        text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    except Exception as exc:  # the template is user-supplied Jinja; report its failure plainly
        raise GenerationError(f"the chat template could not render these messages: {exc}") from exc
    return list(tokenizer.encode(text, add_special_tokens=False))
