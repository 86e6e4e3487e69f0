"""The OpenAI API's request and response bodies, read into awrs requests and written back.

Nothing here knows HTTP: :func:`read` turns a request body (a parsed JSON object) into checked
:class:`~awrs.generate.Request` objects, one per choice, or raises :class:`ApiError` (the
status and the OpenAI error object); the ``*_response`` and ``*_chunk`` functions write the
bodies back. docs/serving.md lists every field and how awrs reads it.

Constraints come from exactly one of: ``response_format`` (OpenAI's ``json_schema`` and
``json_object``), vLLM's ``guided_json`` / ``guided_regex`` / ``guided_choice`` /
``guided_grammar`` and its newer ``structured_outputs`` object (``json``, ``regex``,
``choice``, ``grammar``, ``json_object``), or awrs's ``sql_database`` (a database the server
was started with). awrs's own fields: ``method``, ``n_particles``, ``ess_threshold`` and
``awrs_detail`` (stream every particle, for the playground).
"""

from __future__ import annotations

import functools
import json
import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from awrs.constraints import SQL, Choice, Constraint, Grammar, JsonSchema, Regex, ToolCalls, Unconstrained
from awrs.constraints.agents import tool_call_tags
from awrs.errors import AwrsError
from awrs.generate import Request, prepare
from awrs.lm.base import LanguageModel
from awrs.result import METHODS, Result, json_ready
from awrs.service import ParticleView
from awrs.structured import thinking

__all__ = ["ApiError", "Parsed", "read"]


class ApiError(Exception):
    """An HTTP error with the OpenAI error object: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None, kind: str = "invalid_request_error"
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


#: Fields the OpenAI clients send that change nothing here (metadata, client bookkeeping).
IGNORED = frozenset(
    {
        "user",
        "store",
        "metadata",
        "service_tier",
        "parallel_tool_calls",
        "guided_decoding_backend",
        "prompt_cache_key",
        "safety_identifier",
    }
)

#: Fields awrs does not implement, and why: a request that sets them gets a 400 saying so
#: rather than an answer that quietly ignores them.
UNSUPPORTED = {
    "functions": "function calling is not served: constrain the answer with response_format or guided_json instead",
    "function_call": "function calling is not served: constrain the answer with response_format or guided_json instead",
    "logit_bias": "awrs samples the model's own distribution under the constraint; a logit bias would change it",
    "top_logprobs": "per-token top log-probabilities are not returned (each choice's 'awrs' field has the AWRS log weight and log_ml)",
    "best_of": "best_of is not supported: use method='smc' with n_particles, which weighs its candidates",
    "echo": "echo is not supported",
    "suffix": "suffix (insertion) is not supported",
    "audio": "audio output is not supported",
    "modalities": "only text output is supported",
    "prediction": "predicted outputs are not supported",
    "reasoning_effort": "reasoning_effort is not supported",
    "web_search_options": "web search is not supported",
}

#: Settings that change the sampled distribution, accepted only at their neutral value.
NEUTRAL = {
    "top_p": (1.0, "awrs samples the model's exact distribution under the constraint (top_p must be 1)"),
    "presence_penalty": (0.0, "penalties change the distribution awrs samples from (presence_penalty must be 0)"),
    "frequency_penalty": (0.0, "penalties change the distribution awrs samples from (frequency_penalty must be 0)"),
    "logprobs": (
        False,
        "per-token log-probabilities are not returned (each choice's 'awrs' field has the AWRS log weight and log_ml)",
    ),
}

_CHAT_FIELDS = {
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stream",
    "stream_options",
    "temperature",
    "seed",
    "stop",
    "tools",
    "tool_choice",
    "think",
}
_COMPLETION_FIELDS = {"model", "prompt", "max_tokens", "n", "stream", "stream_options", "temperature", "seed", "stop"}
_CONSTRAINT_FIELDS = {
    "response_format",
    "guided_json",
    "guided_regex",
    "guided_choice",
    "guided_grammar",
    "structured_outputs",
    "sql_database",
}
_AWRS_FIELDS = {"method", "n_particles", "ess_threshold", "awrs_detail"}


@dataclass
class Limits:
    """What one server allows a request."""

    model_name: str
    max_tokens: int = 512  # the default and the most a request may ask for
    max_n: int = 16
    max_particles: int = 64
    databases: Mapping[str, str] = field(default_factory=dict)  # sql_database name -> SQLite file


@dataclass
class Parsed:
    """A request body read: one checked awrs request per choice, and how to answer."""

    kind: str  # "chat" or "completion"
    requests: list[Request]
    prompt_tokens: list[int]  # per choice
    stream: bool
    include_usage: bool
    detail: bool
    model: str
    whole: bool = False  # a stream sends each choice's message whole at its end (tools, think)


def read(kind: str, body: Any, lm: LanguageModel, limits: Limits) -> Parsed:
    """Read a ``/v1/chat/completions`` (``kind="chat"``) or ``/v1/completions`` body."""
    _check_fields(kind, body)
    model = body.get("model")
    if model is not None and model != limits.model_name:
        raise ApiError(
            404,
            f"model {model!r} is not served here: this server serves {limits.model_name!r} (GET /v1/models)",
            param="model",
            code="model_not_found",
        )
    prompts = _prompts(kind, body)
    n = _integer(body, "n", 1, 1, limits.max_n)
    max_tokens = _integer(
        body,
        "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens",
        limits.max_tokens,
        1,
        limits.max_tokens,
    )
    seed = _integer(body, "seed", None, 0, 2**63 - 1)
    stream = _flag(body, "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ApiError(400, 'stream_options must be an object like {"include_usage": true}', param="stream_options")
    constraint = constraint_of(body, limits)
    tools = _tool_calls(body, lm) if kind == "chat" else None
    if tools is not None:
        if constraint is not None:
            raise ApiError(
                400, "give tools or a response constraint, not both: a tool call's arguments follow its schema", param="tools"
            )
        constraint = tools
        prompts = [_with_tools(prompt, body["tools"], tools) for prompt in prompts]
    think = kind == "chat" and _flag(body, "think")
    settings = _settings(body, limits, max_tokens)
    requests, prompt_tokens = [], []
    for p, prompt in enumerate(prompts):
        constraint_p = constraint
        if think:
            try:
                constraint_p = thinking(lm, prompt, constraint or Unconstrained(), True)
            except AwrsError as exc:
                raise ApiError(400, str(exc), code=type(exc).__name__) from exc
        for i in range(n):
            choice_seed = None if seed is None else (seed + p * n + i) % 2**63
            try:
                request = prepare(lm, prompt, constraint_p, seed=choice_seed, **settings)
            except AwrsError as exc:
                raise ApiError(400, str(exc), code=type(exc).__name__) from exc
            requests.append(request)
            prompt_tokens.append(len(request.prompt_ids[0]))
    return Parsed(
        kind,
        requests,
        prompt_tokens,
        stream,
        bool(options.get("include_usage")),
        _flag(body, "awrs_detail"),
        limits.model_name,
        whole=tools is not None or think,
    )


def _tool_calls(body: Mapping[str, Any], lm: LanguageModel) -> Constraint | None:
    """The ToolCalls constraint of a chat body's ``tools`` and ``tool_choice`` (None without
    tools, or with tool_choice "none"), in the model's own tool-call tags."""
    tools, choice = body.get("tools"), body.get("tool_choice")
    if tools in (None, []):
        if choice not in (None, "none", "auto"):
            raise ApiError(400, "tool_choice asks for a tool call, but no tools were given", param="tool_choice")
        return None
    if not isinstance(tools, list):
        raise ApiError(400, 'tools must be a list of {"type": "function", "function": {...}} objects', param="tools")
    required = False
    if choice == "none":
        return None
    if choice == "required":
        required = True
    elif isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        tools = [
            t for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict) and t["function"].get("name") == name
        ]
        if not tools:
            raise ApiError(400, f"tool_choice names {name!r}, which is not among the tools", param="tool_choice")
        required = True
    elif choice not in (None, "auto"):
        raise ApiError(
            400,
            'tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": ...}}',
            param="tool_choice",
        )
    open_, close = tool_call_tags(lm)
    try:
        return _compiled("tools", json.dumps({"tools": tools, "required": required, "open": open_, "close": close}))
    except AwrsError as exc:
        raise ApiError(400, f"tools: {exc}", param="tools", code=type(exc).__name__) from exc


def _tools(value: dict[str, Any]) -> Constraint:
    """ "required" (or a named tool): calls and nothing else, as OpenAI's API answers them."""
    required = value["required"]
    return ToolCalls(value["tools"], value["open"], value["close"], required=required, max_content_bytes=0 if required else None)


def _with_tools(messages: list[dict[str, str]], tools: list[Any], constraint: Constraint) -> list[dict[str, str]]:
    """The messages with the tools described in the system message (the first, or a new one):
    how to call one, and each tool's name, description and parameter schema."""
    assert isinstance(constraint, ToolCalls)
    lines = [
        f"You can call these tools. To call one, write {constraint.open}"
        '{"name": <tool name>, "arguments": <its arguments as JSON>}' + constraint.close + "."
    ]
    for tool in tools:
        fn = tool.get("function", tool) if isinstance(tool, dict) else {}
        lines.append(json.dumps({k: fn[k] for k in ("name", "description", "parameters") if k in fn}))
    described = "\n".join(lines)
    if messages and messages[0]["role"] == "system":
        return [{"role": "system", "content": messages[0]["content"] + "\n\n" + described}, *messages[1:]]
    return [{"role": "system", "content": described}, *messages]


def _settings(body: Mapping[str, Any], limits: Limits, max_tokens: int) -> dict[str, Any]:
    """The generate() keywords for the method, particles and temperature a body asks for."""
    temperature = _number(body, "temperature", 1.0, 0.0, 2.0)
    stop = _stop(body.get("stop"))
    method = body.get("method", "smc" if body.get("n_particles") is not None else "awrs")
    if method not in METHODS:
        raise ApiError(400, f"method must be one of {', '.join(METHODS)}, got {method!r}", param="method")
    settings: dict[str, Any] = {"method": method, "max_new_tokens": max_tokens, "stop": stop}
    if method == "smc":
        settings["n_particles"] = _integer(body, "n_particles", 4, 1, limits.max_particles)
        settings["ess_threshold"] = _number(body, "ess_threshold", 0.5, 0.0, 1.0)
    elif body.get("n_particles") not in (None, 1):
        raise ApiError(400, f"n_particles applies to method 'smc', not {method!r}", param="n_particles")
    if temperature == 0.0:
        if method == "smc":
            raise ApiError(
                400,
                "temperature 0 means greedy decoding, which follows one sequence: use method 'awrs', 'lcd' or 'mask' with it",
                param="temperature",
            )
        settings["greedy"] = True
    else:
        settings["temperature"] = temperature
    return settings


def _check_fields(kind: str, body: Any) -> None:
    """A 400 for a body that is not an object, for a field awrs does not support (saying why)
    and for an unknown one (a typo should not be ignored)."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    allowed = (_CHAT_FIELDS if kind == "chat" else _COMPLETION_FIELDS) | _CONSTRAINT_FIELDS | _AWRS_FIELDS | IGNORED
    for name, value in body.items():
        if name in UNSUPPORTED and value not in (None, [], {}):
            raise ApiError(400, f"{name} is not supported by awrs: {UNSUPPORTED[name]}", param=name, code="unsupported_parameter")
        if name in NEUTRAL:
            neutral, why = NEUTRAL[name]
            if value is not None and value != neutral:
                raise ApiError(400, f"{name}={value!r} is not supported: {why}", param=name, code="unsupported_parameter")
            continue
        if name not in allowed and name not in UNSUPPORTED:
            raise ApiError(400, f"unknown field {name!r}: {_known(kind)}", param=name, code="unknown_parameter")


def constraint_of(body: Mapping[str, Any], limits: Limits) -> Constraint | None:
    """The one constraint a body asks for (None for free text); ApiError 400 for a bad one,
    with the awrs message inside."""
    found = [(name, body[name]) for name in sorted(_CONSTRAINT_FIELDS) if body.get(name) is not None]
    found = [(n, v) for n, v in found if not (n == "response_format" and isinstance(v, dict) and v.get("type") == "text")]
    if len(found) > 1:
        raise ApiError(400, f"give one constraint, got {len(found)}: {', '.join(n for n, _ in found)}", param=found[1][0])
    if not found:
        return None
    name, value = found[0]
    if name == "sql_database":  # the server's name for a database: compiled from its file
        value = _database(value, limits)
    try:
        return _compiled(name, json.dumps(value))
    except AwrsError as exc:
        raise ApiError(400, f"{name}: {exc}", param=name, code=type(exc).__name__) from exc


@functools.lru_cache(maxsize=128)
def _compiled(name: str, value: str) -> Constraint:
    """The constraint of a field's JSON text. Compiling a schema or grammar takes milliseconds
    to seconds and constraints are immutable, so the requests of an app that sends the same
    one again and again share it (the text keeps the key order: two schemas that differ only
    in it are two constraints)."""
    return _READERS[name](json.loads(value))


def _response_format(value: Any) -> Constraint:
    if not isinstance(value, dict) or "type" not in value:
        raise ApiError(
            400, "response_format must be an object with a type: json_schema, json_object or text", param="response_format"
        )
    kind = value["type"]
    if kind == "json_object":
        return JsonSchema({"type": "object"})
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict) or "schema" not in spec:
            raise ApiError(
                400,
                'response_format json_schema needs {"json_schema": {"name": ..., "schema": {...}}}',
                param="response_format.json_schema",
            )
        return _json(spec["schema"])
    raise ApiError(
        400, f"response_format type {kind!r} is not supported: use json_schema, json_object or text", param="response_format.type"
    )


def _json(value: Any) -> Constraint:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ApiError(400, f"the JSON schema is not JSON: {exc}", param="guided_json") from exc
    return JsonSchema(value)


def _regex(value: Any) -> Constraint:
    if not isinstance(value, str):
        raise ApiError(400, f"a regex must be a string, got {type(value).__name__}", param="guided_regex")
    return Regex(value)


def _choice(value: Any) -> Constraint:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, "guided_choice must be a list of strings", param="guided_choice")
    return Choice(value)


def _grammar(value: Any) -> Constraint:
    if not isinstance(value, str):
        raise ApiError(400, "a grammar must be a string (Lark syntax, with a start rule)", param="guided_grammar")
    return Grammar(value)


def _structured(value: Any) -> Constraint:
    if not isinstance(value, dict):
        raise ApiError(
            400,
            "structured_outputs must be an object with one of json, regex, choice, grammar, json_object",
            param="structured_outputs",
        )
    readers = {"json": _json, "regex": _regex, "choice": _choice, "grammar": _grammar}
    given = {k: v for k, v in value.items() if v not in (None, False)}
    unknown = set(given) - set(readers) - {"json_object", "backend"}
    if unknown:
        raise ApiError(
            400,
            f"structured_outputs.{sorted(unknown)[0]} is not supported: give one of json, regex, choice, grammar, json_object",
            param="structured_outputs",
        )
    given.pop("backend", None)
    if len(given) != 1:
        raise ApiError(
            400,
            f"structured_outputs needs exactly one of json, regex, choice, grammar, json_object; got {sorted(given) or 'none'}",
            param="structured_outputs",
        )
    ((key, v),) = given.items()
    if key == "json_object":
        return JsonSchema({"type": "object"})
    return readers[key](v)


def _database(value: Any, limits: Limits) -> str:
    """The file of the database a request names in sql_database."""
    if not isinstance(value, str) or value not in limits.databases:
        names = ", ".join(sorted(limits.databases)) or "none (start the server with --sql-db NAME=PATH)"
        raise ApiError(400, f"sql_database {value!r} is not one of this server's databases: {names}", param="sql_database")
    return str(limits.databases[value])


_READERS: dict[str, Callable[[Any], Constraint]] = {
    "response_format": _response_format,
    "guided_json": _json,
    "guided_regex": _regex,
    "guided_choice": _choice,
    "guided_grammar": _grammar,
    "structured_outputs": _structured,
    "sql_database": SQL,  # the database's file (_database)
    "tools": _tools,  # {"tools", "required", "open", "close"} (_tool_calls)
}


def _prompts(kind: str, body: Mapping[str, Any]) -> list[Any]:
    if kind == "chat":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "messages must be a non-empty list of {role, content} objects", param="messages")
        return [[_message(m, k) for k, m in enumerate(messages)]]
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return list(prompt)
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
        return [prompt]
    raise ApiError(400, "prompt must be a string, a list of strings, or a list of token ids", param="prompt")


def _message(message: Any, k: int) -> dict[str, str]:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise ApiError(400, f"messages[{k}] must be an object with a role and a content", param=f"messages[{k}]")
    content = message.get("content")
    if isinstance(content, list):  # content parts: text only
        if not all(isinstance(part, dict) and part.get("type") == "text" for part in content):
            raise ApiError(400, f"messages[{k}]: only text content parts are supported", param=f"messages[{k}].content")
        content = "".join(str(part.get("text", "")) for part in content)
    if not isinstance(content, str):
        raise ApiError(400, f"messages[{k}].content must be a string or a list of text parts", param=f"messages[{k}].content")
    return {"role": message["role"], "content": content}


def _integer(body: Mapping[str, Any], name: str, default: Any, low: int, high: int) -> Any:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{name} must be an integer, got {json.dumps(value)}", param=name)
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high} on this server, got {value}", param=name)
    return value


def _number(body: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ApiError(400, f"{name} must be a number, got {json.dumps(value)}", param=name)
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}, got {value}", param=name)
    return float(value)


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false, got {json.dumps(value)}", param=name)
    return value


def _stop(value: Any) -> list[str]:
    if value is None:
        return []
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or len(values) > 4 or not all(isinstance(s, str) and s for s in values):
        raise ApiError(400, "stop must be a non-empty string or a list of up to 4 of them", param="stop")
    return values


def _known(kind: str) -> str:
    fields = sorted((_CHAT_FIELDS if kind == "chat" else _COMPLETION_FIELDS) | _CONSTRAINT_FIELDS | _AWRS_FIELDS)
    return "this endpoint takes " + ", ".join(fields)


# --- responses -----------------------------------------------------------------------------


def new_id(kind: str) -> str:
    return ("chatcmpl-" if kind == "chat" else "cmpl-") + uuid.uuid4().hex[:24]


def finish_reason(result: Result) -> str:
    """``stop`` for an output that ended as the constraint allows (end of sequence or a stop
    string), ``tool_calls`` for one that called tools, ``length`` for one cut by max_tokens
    (its ``awrs.valid`` is false)."""
    if not result.valid:
        return "length"
    return "tool_calls" if result.tool_calls else "stop"


def message(result: Result) -> dict[str, Any]:
    """A chat choice's message: the content, with the reasoning (``reasoning_content``, as
    vLLM names it) and the tool calls apart when there are."""
    out: dict[str, Any] = {"role": "assistant", "content": result.text}
    if result.reasoning is not None:
        out["reasoning_content"] = result.reasoning
    if result.tool_calls is not None:
        value = result.value
        content = value.get("content") if isinstance(value, dict) else None
        out["content"] = content or None
        out["tool_calls"] = [
            {
                "id": "call_" + uuid.uuid4().hex[:24],
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
            }
            for call in result.tool_calls
        ]
    return out


def extras(result: Result) -> dict[str, Any]:
    """The ``awrs`` field of a choice: whether the output satisfies the constraint, why it
    stopped, the chosen particle's AWRS log weight, log_ml and the posterior over outputs."""
    chosen = result.chosen
    return {
        "valid": result.valid,
        "stop_reason": result.stop_reason,
        "method": result.method,
        "log_weight": json_ready(chosen.log_weight if chosen else None),
        "log_ml": json_ready(result.log_ml),
        "posterior": [{"text": t, "probability": p} for t, p in result.posterior.items()],
        "n_particles": len(result.particles),
        "n_resamples": result.stats.n_resamples,
        "constraint_checks": result.stats.constraint_checks,
    }


def response(parsed: Parsed, request_id: str, results: list[Result]) -> dict[str, Any]:
    """The whole (not streamed) response body."""
    created = int(time.time())
    choices = []
    for index, result in enumerate(results):
        choice: dict[str, Any] = {
            "index": index,
            "finish_reason": finish_reason(result),
            "logprobs": None,
            "awrs": extras(result),
        }
        if parsed.kind == "chat":
            choice["message"] = message(result)
        else:
            choice["text"] = result.text
        choices.append(choice)
    obj = "chat.completion" if parsed.kind == "chat" else "text_completion"
    return {
        "id": request_id,
        "object": obj,
        "created": created,
        "model": parsed.model,
        "choices": choices,
        "usage": usage(parsed, results),
    }


def usage(parsed: Parsed, results: list[Result]) -> dict[str, int]:
    prompt = sum(parsed.prompt_tokens)
    completion = sum(len(r.chosen.token_ids) for r in results if r.chosen is not None)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def chunk(
    parsed: Parsed,
    request_id: str,
    created: int,
    index: int,
    text: str | None,
    *,
    role: bool = False,
    finish: str | None = None,
    awrs: dict[str, Any] | None = None,
    whole: Result | None = None,
) -> dict[str, Any]:
    """One server-sent event's body in the OpenAI chunk format; ``whole``: the choice's whole
    message at its end (a stream with tools or think sends the message in one delta)."""
    choice: dict[str, Any] = {"index": index, "finish_reason": finish, "logprobs": None}
    if parsed.kind == "chat":
        delta: dict[str, Any] = {"role": "assistant"} if role else {}
        if whole is not None:
            delta.update({k: v for k, v in message(whole).items() if k != "role"})
            for i, call in enumerate(delta.get("tool_calls") or []):
                call["index"] = i
        elif text is not None:
            delta["content"] = text
        choice["delta"] = delta
    else:
        choice["text"] = text or ""
    if awrs is not None:
        choice["awrs"] = awrs
    return _chunk_of(parsed, request_id, created, [choice])


def usage_chunk(parsed: Parsed, request_id: str, created: int, results: list[Result]) -> dict[str, Any]:
    """The last event of a stream that asked for ``stream_options.include_usage``."""
    return {**_chunk_of(parsed, request_id, created, []), "usage": usage(parsed, results)}


def particles_detail(step: int, resampled: bool, particles: Sequence[ParticleView]) -> dict[str, Any]:
    """The ``awrs`` field of a chunk with ``awrs_detail``: the step's particles as they stand."""
    shown = [
        {"text": p.text, "log_weight": json_ready(p.log_weight), "finished": p.finished, "stop_reason": p.stop_reason}
        for p in particles
    ]
    return {"step": step, "resampled": resampled, "particles": shown}


def _chunk_of(parsed: Parsed, request_id: str, created: int, choices: list[dict[str, Any]]) -> dict[str, Any]:
    obj = "chat.completion.chunk" if parsed.kind == "chat" else "text_completion"
    return {"id": request_id, "object": obj, "created": created, "model": parsed.model, "choices": choices}
