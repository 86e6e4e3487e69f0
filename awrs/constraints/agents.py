"""Constraints for reasoning models and agents (docs/composition.md), built on
:mod:`awrs.constraints.compose`:

- :class:`Think`: the model reasons freely between its reasoning tags (``<think>`` …
  ``</think>``), then writes the constrained answer. The result separates the two
  (``result.reasoning``, ``result.text``, ``result.value``).
- :class:`ToolCalls`: free text in which a tool call, once the model opens one (its
  tool-call tags), must be JSON ``{"name": ..., "arguments": {...}}`` matching one of the
  tools' parameter schemas (OpenAI's ``tools`` format). The value lists the parsed calls.

:func:`reasoning_tags` and :func:`tool_call_tags` find a model's own tags in its chat template.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from awrs.constraints.base import Constraint
from awrs.constraints.choice import Choice
from awrs.constraints.compose import Free, _Avoiding, _Chain, in_order
from awrs.constraints.json_schema import JsonSchema
from awrs.constraints.regex import Regex
from awrs.errors import ConstraintError, UnsupportedSchemaError, add_note

__all__ = ["REASONING_TAGS", "TOOL_CALL_TAGS", "Think", "ToolCalls", "reasoning_tags", "tool_call_tags"]

#: Reasoning tag pairs, in the order a chat template is searched for them; the first is the default.
REASONING_TAGS: tuple[tuple[str, str], ...] = (
    ("<think>", "</think>"),
    ("<thinking>", "</thinking>"),
    ("<reasoning>", "</reasoning>"),
)
#: Tool-call tag pairs, searched the same way (Hermes-style ``<tool_call>`` first: Qwen, SmolLM3, Hermes...).
TOOL_CALL_TAGS: tuple[tuple[str, str], ...] = (("<tool_call>", "</tool_call>"), ("<function_call>", "</function_call>"))


def _template(lm: Any) -> str:
    tokenizer = getattr(lm, "tokenizer", None)
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # several named templates
        template = " ".join(str(t) for t in template.values())
    return template if isinstance(template, str) else ""


def _tags_in(lm: Any, pairs: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    template = _template(lm)
    for pair in pairs:
        if pair[0] in template and pair[1] in template:
            return pair
    return pairs[0]


def reasoning_tags(lm: Any) -> tuple[str, str]:
    """The (open, close) reasoning tags of ``lm``'s chat template, or ``<think>``/``</think>``."""
    return _tags_in(lm, REASONING_TAGS)


def tool_call_tags(lm: Any) -> tuple[str, str]:
    """The (open, close) tool-call tags of ``lm``'s chat template, or ``<tool_call>``/``</tool_call>``."""
    return _tags_in(lm, TOOL_CALL_TAGS)


def _tag(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConstraintError(f"{name} must be a non-empty str tag, got {value!r}")
    return value


class Think(_Chain):
    """Reasoning, then ``answer``: ``open``, free text up to and including ``close`` (at most
    ``max_bytes`` bytes, the tag included), optional whitespace, then a text of ``answer``.
    ``opened=True`` when the prompt already ends with ``open`` (chat templates that open the
    reasoning for the model): the text then starts with the reasoning itself.

    Its value is the answer's value; :meth:`sections` gives ``reasoning`` (between the tags)
    and ``answer`` (the answer's text), which generation reports as ``result.reasoning`` and
    ``result.text``."""

    def __init__(
        self,
        answer: Constraint,
        open: str = REASONING_TAGS[0][0],
        close: str = REASONING_TAGS[0][1],
        *,
        max_bytes: int | None = None,
        opened: bool = False,
    ):
        if not isinstance(answer, Constraint):
            raise ConstraintError(f"Think needs the answer's constraint, got {type(answer).__name__}")
        self.answer = answer
        self.open, self.close = _tag(open, "open"), _tag(close, "close")
        self.opened = bool(opened)
        parts: list[Constraint] = [] if opened else [Choice([self.open])]
        parts += [Free(until=self.close, max_bytes=max_bytes), Regex(r"[ \t\r\n]*"), answer]
        self._answer_at = len(parts) - 1
        super().__init__(parts, [0], in_order(len(parts)), [self._answer_at])

    def __repr__(self) -> str:
        return f"Think({self.answer!r}, open={self.open!r}, close={self.close!r})"

    def sections(self, text: str) -> dict[str, Any] | None:
        pieces = self.pieces(text)
        return None if pieces is None else self._split(pieces)

    def parse(self, text: str) -> Any:
        return self.answer.parse(self._split(self.whole(text))["answer"])

    def _split(self, pieces: list[tuple[int, bytes]]) -> dict[str, Any]:
        by_part = {k: piece.decode("utf-8") for k, piece in pieces}
        free, answer = by_part[self._answer_at - 2], by_part[self._answer_at]
        if answer != answer.lstrip(" \t\r\n") and self.answer.accepts(answer.lstrip(" \t\r\n")):
            answer = answer.lstrip(" \t\r\n")  # the whitespace between is not the answer's
        return {"reasoning": free[: len(free) - len(self.close)], "answer": answer}


def _tools(tools: object) -> list[tuple[str, dict[str, Any]]]:
    """(name, parameters schema) of each tool, OpenAI's format or bare functions."""
    if isinstance(tools, (str, bytes)) or not isinstance(tools, Sequence) or not tools:
        raise ConstraintError('ToolCalls needs a non-empty list of tools ({"type": "function", "function": {...}})')
    out: list[tuple[str, dict[str, Any]]] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise ConstraintError(f"tools[{i}] must be a dict, got {type(tool).__name__}")
        fn = tool.get("function", tool) if tool.get("type", "function") == "function" else None
        if not isinstance(fn, Mapping):
            raise ConstraintError(f'tools[{i}] must be {{"type": "function", "function": {{"name": ..., "parameters": ...}}}}')
        name, params = fn.get("name"), fn.get("parameters", {"type": "object"})
        if not isinstance(name, str) or not name:
            raise ConstraintError(f"tools[{i}] has no function name")
        if not isinstance(params, Mapping):
            raise ConstraintError(f"the parameters of tool {name!r} must be a JSON Schema object, got {type(params).__name__}")
        if name in (n for n, _ in out):
            raise ConstraintError(f"two tools are named {name!r}; tool names must be unique")
        out.append((name, dict(params)))
    return out


class ToolCalls(_Chain):
    """Free text with tool calls: wherever the model writes ``open`` (its tool-call tag), a
    call follows, JSON ``{"name": <a tool's name>, "arguments": <valid under its
    parameters>}``, then ``close``; free text goes on after it. ``tools``: OpenAI's format
    (``[{"type": "function", "function": {"name", "parameters"}}]``) or the bare functions.
    ``required=True``: at least one call. ``max_content_bytes`` bounds each run of free text.

    Its value is ``{"content": the free text, "tool_calls": [{"name", "arguments"}, ...]}``."""

    def __init__(
        self,
        tools: Sequence[Mapping[str, Any]],
        open: str = TOOL_CALL_TAGS[0][0],
        close: str = TOOL_CALL_TAGS[0][1],
        *,
        required: bool = False,
        max_content_bytes: int | None = None,
    ):
        self.tools = _tools(tools)
        self.open, self.close = _tag(open, "open"), _tag(close, "close")
        if self.open in self.close or self.close in self.open:
            raise ConstraintError(f"the tool-call tags {self.open!r} and {self.close!r} must not contain each other")
        self.required = bool(required)
        calls = [
            {
                "type": "object",
                "properties": {"name": {"const": name}, "arguments": params},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
            for name, params in self.tools
        ]
        try:
            self.call = JsonSchema(calls[0] if len(calls) == 1 else {"anyOf": calls})
        except ConstraintError as exc:
            for (name, _), call in zip(self.tools, calls):  # which tool: compile each alone
                try:
                    JsonSchema(call)
                except ConstraintError:
                    if isinstance(exc, UnsupportedSchemaError):  # keeps its keyword and pointer
                        add_note(exc, f"in the parameters of tool {name!r}")
                        raise exc from None
                    raise type(exc)(f"the parameters of tool {name!r}: {exc}") from None
            raise
        parts: list[Constraint] = [
            Free(until=self.open, max_bytes=None if max_content_bytes is None else max_content_bytes + len(self.open.encode())),
            self.call,
            Choice([self.close]),
            _Avoiding(self.open) if max_content_bytes is None else _Avoiding(self.open) & Free(max_bytes=max_content_bytes),
        ]
        starts = [0] if required else [0, 3]
        super().__init__(parts, starts, [[1], [2], [0, 3], []], [3])

    def __repr__(self) -> str:
        return f"ToolCalls([{', '.join(repr(n) for n, _ in self.tools)}], open={self.open!r}, close={self.close!r})"

    def sections(self, text: str) -> dict[str, Any] | None:
        pieces = self.pieces(text)
        return None if pieces is None else self._split(pieces)

    def parse(self, text: str) -> Any:
        return self._split(self.whole(text))

    def _split(self, pieces: list[tuple[int, bytes]]) -> dict[str, Any]:
        content: list[str] = []
        calls: list[dict[str, Any]] = []
        for k, piece in pieces:
            if k == 0:
                content.append(piece[: len(piece) - len(self.open.encode())].decode("utf-8"))
            elif k == 1:
                call = json.loads(piece)
                calls.append({"name": call["name"], "arguments": call["arguments"]})
            elif k == 3:
                content.append(piece.decode("utf-8"))
        return {"content": "".join(content), "tool_calls": calls}
