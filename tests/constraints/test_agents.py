"""Think-then-answer and tool calls (awrs/constraints/agents.py): what they accept, how they
split a text, and how generation reports the parts."""

from __future__ import annotations

import json

import numpy as np
import pytest

import awrs
from awrs.constraints.agents import reasoning_tags, tool_call_tags
from awrs.errors import ConstraintError, GenerationError

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
ADD = {"name": "add", "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}


def _call(name: str, arguments: dict) -> str:
    return "<tool_call>" + json.dumps({"name": name, "arguments": arguments}) + "</tool_call>"


def reference_tool_calls(text: str, tools: dict[str, dict], required: bool = False) -> bool:
    """A plain reading of the language: split at the tags; every call parses and validates."""
    import jsonschema

    rest, calls = text, 0
    while "<tool_call>" in rest:
        _, _, after = rest.partition("<tool_call>")
        body, found, rest = after.partition("</tool_call>")
        if not found:
            return False
        try:
            call = json.loads(body)
        except ValueError:
            return False
        if not isinstance(call, dict) or sorted(call) != ["arguments", "name"] or call["name"] not in tools:
            return False
        if not jsonschema.Draft202012Validator(tools[call["name"]]).is_valid(call["arguments"]):
            return False
        calls += 1
    return calls > 0 or not required


TEXTS = [
    "",
    "no call at all",
    _call("get_weather", {"city": "Paris", "unit": "celsius"}),
    "Let me look. " + _call("get_weather", {"city": "Oslo", "unit": "fahrenheit"}) + " Done.",
    _call("add", {"a": 1, "b": 2.5}) + _call("add", {"a": -1, "b": 0}),
    "<tool_call>\n" + json.dumps({"name": "add", "arguments": {"a": 1, "b": 2}}, indent=2) + "\n</tool_call>",
    _call("get_weather", {"city": "Paris"}),  # a required argument missing
    _call("get_weather", {"city": "Paris", "unit": "kelvin"}),
    _call("mul", {"a": 1}),  # no such tool
    _call("add", {"a": "one"}),
    "<tool_call>not json</tool_call>",
    "<tool_call>" + json.dumps({"name": "add", "arguments": {}}),  # never closed
    '<tool_call>{"arguments": {}, "name": "add"}</tool_call>',  # JSON: the keys in any order
    '<tool_call>{"name": "add"}</tool_call>',  # no arguments
    "text </tool_call> text",  # a stray close tag is free text
    "almost <tool_cal",
]


@pytest.mark.parametrize("required", [False, True])
def test_tool_calls_accept_what_a_plain_reading_accepts(required):
    c = awrs.ToolCalls([WEATHER, ADD], required=required)
    tools = {"get_weather": WEATHER["function"]["parameters"], "add": ADD["parameters"]}
    for text in TEXTS:
        assert c.accepts(text) == reference_tool_calls(text, tools, required), text
        if c.accepts(text):  # every prefix of a valid text is viable
            assert all(c.accepts_prefix(text[:n]) for n in range(len(text) + 1)), text


def test_a_tool_call_prefix_is_refused_where_no_call_can_follow():
    c = awrs.ToolCalls([WEATHER, ADD])
    assert c.accepts_prefix('hi <tool_call>{"name": "ad')
    assert not c.accepts_prefix('hi <tool_call>{"name": "x')
    assert not c.accepts_prefix('<tool_call>{"name": "add", "arguments": {"a": "')
    assert not c.accepts_prefix("<tool_call>hello")
    assert c.accepts_prefix('<tool_call>{"name": "get_weather", "arguments": {"unit": "ce')


def test_tool_calls_value_lists_the_calls_and_the_free_text():
    c = awrs.ToolCalls([WEATHER, ADD])
    text = "Checking. " + _call("get_weather", {"city": "Paris", "unit": "celsius"}) + " and " + _call("add", {"a": 1, "b": 2})
    assert c.parse(text) == {
        "content": "Checking.  and ",
        "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
            {"name": "add", "arguments": {"a": 1, "b": 2}},
        ],
    }
    assert awrs.ToolCalls([WEATHER], open="[CALL]", close="[/CALL]").accepts(
        '[CALL]{"name": "get_weather", "arguments": {"city": "x", "unit": "celsius"}}[/CALL]'
    )


def test_free_text_between_calls_can_be_bounded():
    c = awrs.ToolCalls([ADD], max_content_bytes=3)
    assert c.accepts("abc" + _call("add", {}) + "de")
    assert not c.accepts("abcd")
    assert not c.accepts_prefix("abcd")


def test_bad_tools_say_what_is_wrong():
    with pytest.raises(ConstraintError, match="non-empty list of tools"):
        awrs.ToolCalls([])
    with pytest.raises(ConstraintError, match="named 'add'"):
        awrs.ToolCalls([ADD, ADD])
    with pytest.raises(ConstraintError, match="no function name"):
        awrs.ToolCalls([{"type": "function", "function": {"parameters": {}}}])
    with pytest.raises(ConstraintError, match="must not contain each other"):
        awrs.ToolCalls([ADD], open="<c>", close="<c>")
    with pytest.raises(awrs.UnsupportedSchemaError) as info:
        awrs.ToolCalls([ADD, {"name": "g", "parameters": {"type": "object", "properties": {"x": {"unevaluatedItems": False}}}}])
    assert any("tool 'g'" in note for note in getattr(info.value, "__notes__", [])), info.value
    with pytest.raises(ConstraintError, match="parameters of tool 'f': cannot resolve"):
        awrs.ToolCalls([ADD, {"name": "f", "parameters": {"type": "object", "properties": {"x": {"$ref": "http://x/y"}}}}])


def test_think_splits_the_reasoning_from_the_answer():
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    c = awrs.Think(awrs.JsonSchema(schema))
    text = '<think>maybe {"x": 2}? no.</think>\n\n{"x": 3}'
    assert c.accepts(text) and c.parse(text) == {"x": 3}
    assert c.sections(text) == {"reasoning": 'maybe {"x": 2}? no.', "answer": '{"x": 3}'}
    assert not c.accepts('{"x": 3}')  # the reasoning comes first
    assert not c.accepts_prefix("<think>a</think>b")
    opened = awrs.Think(awrs.Regex("[0-9]+"), opened=True)
    assert opened.accepts("so, 4</think>4") and not opened.accepts_prefix("4</think>x")
    assert opened.sections("so, 4</think> 4") == {"reasoning": "so, 4", "answer": "4"}


def test_bounded_reasoning_must_close_in_time():
    c = awrs.Think(awrs.Regex("a"), max_bytes=10)  # "</think>" is 8 of the 10 bytes
    assert c.accepts("<think>xy</think>a")
    assert not c.accepts_prefix("<think>xyz")
    assert c.accepts_prefix("<think>xy<")


class _Tokenizer:
    def __init__(self, template):
        self.chat_template = template


class _Model:
    def __init__(self, template):
        self.tokenizer = _Tokenizer(template)


def test_tags_come_from_the_chat_template():
    assert reasoning_tags(_Model("... <thinking> ... </thinking> ...")) == ("<thinking>", "</thinking>")
    assert reasoning_tags(_Model(None)) == ("<think>", "</think>")
    assert reasoning_tags(object()) == ("<think>", "</think>")
    assert tool_call_tags(_Model({"default": "<function_call>x</function_call>"})) == ("<function_call>", "</function_call>")
    assert tool_call_tags(_Model("")) == ("<tool_call>", "</tool_call>")


TOKENS = [
    b"<think>",
    b"</think>",
    b"a",
    b"b",
    b" ",
    b"1",
    b"2",
    b"<tool_call>",
    b"</tool_call>",
    b'{"name": "add", "arguments": {}}',
]


def _mock():
    rng = np.random.default_rng(3)
    return awrs.MockLM(TOKENS, rng.normal(0, 1, (len(TOKENS) + 1, len(TOKENS) + 1)))


def test_generation_reports_the_reasoning_apart_from_the_answer():
    lm = _mock()
    for method in ("smc", "awrs", "lcd", "mask"):
        r = awrs.generate(lm, "a", awrs.Think(awrs.Regex("[12]+"), max_bytes=14), method=method, max_new_tokens=30, seed=2)
        assert r.valid, (method, r.text)
        assert r.text in {"1", "2", "11", "12", "21", "22"} or set(r.text) <= {"1", "2"}
        assert r.extra["generated"] == f"<think>{r.reasoning}</think>" + r.extra["generated"].split("</think>", 1)[1]
        assert r.value == r.text
    assert awrs.regex(lm, "a", "[12]+", think=True, max_think_bytes=14, max_new_tokens=30, seed=2) in {
        r.text for r in [awrs.generate(lm, "a", awrs.Think(awrs.Regex("[12]+"), max_bytes=14), max_new_tokens=30, seed=2)]
    }
    with pytest.raises(GenerationError, match="max_think_bytes"):
        awrs.regex(lm, "a", "[12]+", max_think_bytes=10)
    with pytest.raises(GenerationError, match="think must be"):
        awrs.regex(lm, "a", "[12]+", think="yes")  # type: ignore[arg-type]


def test_generation_reports_the_tool_calls():
    lm = _mock()
    r = awrs.generate(lm, "a", awrs.ToolCalls([ADD], required=True, max_content_bytes=2), method="smc", max_new_tokens=30, seed=0)
    assert r.valid and r.tool_calls and all(call == {"name": "add", "arguments": {}} for call in r.tool_calls), r.text
    assert r.value["tool_calls"] == r.tool_calls
    plain = awrs.generate(lm, "a", awrs.Regex("[ab]+"), max_new_tokens=5, seed=0)
    assert plain.tool_calls is None and plain.reasoning is None
