"""Think-then-JSON and tool calls with the embedded default model (SmolLM2-135M-Instruct): the
answers that come back valid validate against their schemas, and most come back valid."""

from __future__ import annotations

import jsonschema
import pytest

import awrs

pytestmark = pytest.mark.model

CITY = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 20}, "population": {"type": "integer", "maximum": 100000000}},
    "required": ["city", "population"],
    "additionalProperties": False,
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 20}, "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
SEEDS = range(4)


def test_think_then_json_with_the_default_model(default_lm):
    prompt = [
        {
            "role": "user",
            "content": "What is the largest city in France and how many people live there? Think first, then answer as JSON.",
        }
    ]
    constraint = awrs.Think(awrs.JsonSchema(CITY, whitespace="compact"), max_bytes=120)
    valid = 0
    for seed in SEEDS:
        r = awrs.generate(default_lm, prompt, constraint, method="smc", n_particles=8, max_new_tokens=120, seed=seed)
        if not r.valid:
            assert r.value is None and r.reasoning is None
            continue
        valid += 1
        jsonschema.validate(r.value, CITY)
        assert r.value == awrs.JsonSchema(CITY).parse(r.text)  # the text is the answer alone
        assert isinstance(r.reasoning, str) and "</think>" not in r.reasoning
        assert r.extra["generated"].startswith("<think>" + r.reasoning + "</think>")
    assert valid >= len(SEEDS) // 2, valid


def test_tool_calls_with_the_default_model(default_lm):
    prompt = [
        {
            "role": "system",
            "content": 'To call a tool, write <tool_call>{"name": ..., "arguments": {...}}</tool_call>. Tools: get_weather(city, unit).',
        },
        {"role": "user", "content": "What is the weather in Paris?"},
    ]
    constraint = awrs.ToolCalls([WEATHER], required=True, max_content_bytes=0)
    valid = 0
    for seed in SEEDS:
        r = awrs.generate(default_lm, prompt, constraint, method="smc", n_particles=8, max_new_tokens=80, seed=seed)
        if not r.valid:
            assert r.tool_calls is None
            continue
        valid += 1
        assert r.tool_calls
        for call in r.tool_calls:
            assert call["name"] == "get_weather"
            jsonschema.validate(call["arguments"], WEATHER["function"]["parameters"])
    assert valid >= len(SEEDS) // 2, valid
