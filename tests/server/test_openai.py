"""``awrs serve`` through the official ``openai`` client: a real server on 127.0.0.1 with the
default model, constraints through response_format and vLLM's fields, streaming, errors in
the OpenAI shape, API keys, a full queue and clients that leave."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import urllib.request

import jsonschema
import pytest

import awrs
from tests.constraints.test_agents_model import WEATHER
from tests.server.conftest import API_KEY, start_server

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.model

MODEL = "SmolLM2-135M-Instruct"
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer", "minimum": 0, "maximum": 120}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def client(server_url):
    return openai.OpenAI(base_url=f"{server_url}/v1", api_key="unused", max_retries=0, timeout=120)


def ask(client, content, **kwargs):
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}], **kwargs)


def test_models_and_health(client, server_url):
    assert [m.id for m in client.models.list()] == [MODEL]
    with urllib.request.urlopen(f"{server_url}/health") as r:
        health = json.load(r)
    assert health["status"] == "ok" and health["model"] == MODEL
    # serve() settled the heap once the model was loaded: torch's, numba's and the model's
    # objects (hundreds of thousands) are out of the collector's full passes
    assert health["gc"]["frozen"] > 100_000, health
    assert health["gc"]["full_collections"] >= 0


def test_response_format_json_schema_returns_json_that_validates(client):
    response_format = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}
    r = ask(
        client,
        "Describe a person as JSON.",
        response_format=response_format,
        max_tokens=64,
        seed=1,
        extra_body={"n_particles": 3},
    )
    choice = r.choices[0]
    assert choice.finish_reason == "stop" and choice.model_extra["awrs"]["valid"], choice
    jsonschema.validate(json.loads(choice.message.content), PERSON)
    extras = choice.model_extra["awrs"]
    assert extras["method"] == "smc" and extras["n_particles"] == 3 and isinstance(extras["log_ml"], float)
    assert abs(sum(p["probability"] for p in extras["posterior"]) - 1) < 1e-9
    assert r.usage.completion_tokens > 0 and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_json_object_and_guided_json(client):
    r = ask(client, "A JSON object, please.", response_format={"type": "json_object"}, max_tokens=48, seed=2)
    if r.choices[0].model_extra["awrs"]["valid"]:
        assert isinstance(json.loads(r.choices[0].message.content), dict)
    else:  # flagged, never silently invalid
        assert r.choices[0].finish_reason == "length"
    r = ask(client, "A person as JSON.", extra_body={"guided_json": json.dumps(PERSON)}, max_tokens=64, seed=3)
    assert r.choices[0].model_extra["awrs"]["valid"]
    jsonschema.validate(json.loads(r.choices[0].message.content), PERSON)


def test_guided_regex_choice_grammar_and_structured_outputs(client):
    r = ask(client, "When was it?", extra_body={"guided_regex": r"[0-9]{4}-[0-9]{2}-[0-9]{2}"}, max_tokens=16, seed=0)
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", r.choices[0].message.content)
    r = ask(client, "Pick a colour.", extra_body={"guided_choice": ["red", "green", "blue"]}, seed=0)
    assert r.choices[0].message.content in {"red", "green", "blue"} and r.choices[0].finish_reason == "stop"
    grammar = 'start: "SELECT " NAME " FROM " NAME\nNAME: /[a-z]{1,8}/'
    r = ask(client, "Write a query.", extra_body={"guided_grammar": grammar, "method": "lcd"}, max_tokens=24, seed=0)
    assert awrs.Grammar(grammar).accepts(r.choices[0].message.content)
    r = ask(
        client,
        "Yes or no?",
        extra_body={"structured_outputs": {"choice": ["yes", "no"]}, "method": "smc", "n_particles": 4},
        seed=5,
    )
    assert r.choices[0].message.content in {"yes", "no"}
    assert set(p["text"] for p in r.choices[0].model_extra["awrs"]["posterior"]) <= {"yes", "no"}


def test_completions_with_n_and_stop(client):
    r = client.completions.create(model=MODEL, prompt="Count: one, two,", max_tokens=12, n=3, seed=4, stop=[","])
    assert [c.index for c in r.choices] == [0, 1, 2]
    for c in r.choices:
        assert "," not in c.text and c.finish_reason in ("stop", "length")
    texts = [
        c.text
        for c in client.completions.create(model=MODEL, prompt="Count: one, two,", max_tokens=12, n=3, seed=4, stop=[","]).choices
    ]
    assert texts == [c.text for c in r.choices]  # a seed fixes every choice


@pytest.mark.parametrize("method", ["smc", "awrs", "lcd", "mask"])
def test_streamed_chunks_concatenate_to_the_whole_answer(client, method):
    kwargs = dict(extra_body={"guided_regex": r"[A-Z][a-z]+ (is|was) [a-z ]{3,30}\.", "method": method}, max_tokens=40, seed=7)
    whole = ask(client, "Say something about Paris.", **kwargs)
    chunks = list(ask(client, "Say something about Paris.", stream=True, stream_options={"include_usage": True}, **kwargs))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finals = [c.choices[0] for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].finish_reason == whole.choices[0].finish_reason
    assert finals[0].model_extra["awrs"]["valid"] == whole.choices[0].model_extra["awrs"]["valid"]
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_a_bad_schema_regex_or_grammar_is_a_400_with_the_awrs_message(client):
    with pytest.raises(openai.BadRequestError) as info:
        ask(client, "x", response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "strng"}}})
    assert "strng" in info.value.message and info.value.body["param"] == "response_format"
    with pytest.raises(openai.BadRequestError) as info:
        ask(client, "x", extra_body={"guided_json": {"type": "object", "dependentSchemas": {"a": {"type": "x"}}}})
    assert "guided_json" in info.value.message
    with pytest.raises(openai.BadRequestError, match="missing \\)"):
        ask(client, "x", extra_body={"guided_regex": "(ab"})
    with pytest.raises(openai.BadRequestError, match="guided_grammar"):
        ask(client, "x", extra_body={"guided_grammar": "start: undefined_rule"})
    with pytest.raises(openai.BadRequestError, match="one constraint"):
        ask(client, "x", extra_body={"guided_regex": "a", "guided_choice": ["a"]})


def test_unsupported_and_unknown_parameters_say_why(client):
    with pytest.raises(openai.BadRequestError, match=r"top_p=0\.5 is not supported: awrs samples the model.s exact distribution"):
        ask(client, "x", top_p=0.5)
    with pytest.raises(openai.BadRequestError, match="logit_bias is not supported"):
        ask(client, "x", logit_bias={"1": 5})
    with pytest.raises(openai.BadRequestError, match="functions is not supported"):
        ask(client, "x", functions=[{"name": "f", "parameters": {}}])
    with pytest.raises(openai.BadRequestError, match="unknown field 'guided_regexp'"):
        ask(client, "x", extra_body={"guided_regexp": "a"})
    with pytest.raises(openai.BadRequestError, match="n_particles applies to method 'smc'"):
        ask(client, "x", extra_body={"method": "lcd", "n_particles": 4})
    with pytest.raises(openai.BadRequestError, match="max_tokens must be between 1 and 512"):
        ask(client, "x", max_tokens=100000)
    with pytest.raises(openai.NotFoundError, match="is not served here"):
        client.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "x"}])
    r = ask(client, "Say yes.", temperature=0, extra_body={"guided_choice": ["yes", "no"]})  # greedy
    assert r.choices[0].message.content in {"yes", "no"}


def test_a_prompt_too_long_is_a_400(client):
    with pytest.raises(openai.BadRequestError, match="context window") as info:
        ask(client, "word " * 9000, max_tokens=8)
    assert info.value.code == "PromptTooLongError"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A second server: an API key, two choices at most at once, and a database by name."""
    db = tmp_path_factory.mktemp("db") / "shop.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE fruit (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    server = start_server("--max-pending", "2", "--sql-db", f"shop={db}", env={"AWRS_API_KEY": API_KEY})
    guarded.db = db
    yield server.url
    server.stop()


def test_an_api_key_keeps_others_out(guarded):
    anonymous = openai.OpenAI(base_url=f"{guarded}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError, match="API key"):
        anonymous.models.list()
    keyed = openai.OpenAI(base_url=f"{guarded}/v1", api_key=API_KEY, max_retries=0, timeout=120)
    r = ask(keyed, "How many fruits are there?", extra_body={"sql_database": "shop", "method": "lcd"}, max_tokens=40, seed=0)
    query = r.choices[0].message.content
    if r.choices[0].model_extra["awrs"]["valid"]:
        assert awrs.SQL(str(guarded.db)).accepts(query), query  # over the shop's tables only
    assert query.upper().startswith("SELECT")
    with pytest.raises(openai.BadRequestError, match="not one of this server's databases: shop"):
        ask(keyed, "x", extra_body={"sql_database": "bank"})


def health(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/health") as r:
        return json.load(r)


def test_a_full_queue_is_a_503_and_a_client_that_leaves_frees_its_rows(guarded):
    keyed = openai.OpenAI(base_url=f"{guarded}/v1", api_key=API_KEY, max_retries=0, timeout=120)
    long = dict(extra_body={"guided_regex": "[a-z ]{500}", "method": "lcd"}, max_tokens=512, seed=0)  # 500 steps: > 5 s
    stream = ask(keyed, "Write a lot.", stream=True, n=2, **long)  # both places taken
    next(iter(stream))
    with pytest.raises(openai.InternalServerError) as info:  # 503
        ask(keyed, "x", extra_body={"guided_choice": ["a", "b"]})
    assert info.value.status_code == 503 and "busy" in info.value.message
    stream.close()  # the client leaves: its two choices are cancelled
    deadline = time.monotonic() + 2.5  # far sooner than the requests would end by themselves
    while health(guarded)["pending"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert health(guarded)["pending"] == 0
    steps = health(guarded)["steps"]
    time.sleep(0.5)
    assert health(guarded)["steps"] == steps  # nothing runs any more
    r = ask(keyed, "Pick one.", extra_body={"guided_choice": ["a", "b"]}, seed=1)  # room again
    assert r.choices[0].message.content in {"a", "b"}


def test_a_whole_request_whose_client_leaves_is_cancelled(guarded):
    keyed = openai.OpenAI(base_url=f"{guarded}/v1", api_key=API_KEY, max_retries=0, timeout=1.0)
    long = dict(extra_body={"guided_regex": "[a-z ]{500}", "method": "lcd"}, max_tokens=512, seed=0)  # 500 steps: > 5 s
    with pytest.raises(openai.APITimeoutError):
        ask(keyed, "Write a lot.", **long)  # the client gives up after 1 s and closes the connection
    deadline = time.monotonic() + 2.5  # far sooner than the requests would end by themselves
    while health(guarded)["pending"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert health(guarded)["pending"] == 0


def test_concurrent_clients_each_get_their_own_answer(client):
    """Requests with different constraints in one batch answer as each does alone (same seed)."""
    asks = [
        ("A date.", {"guided_regex": r"[0-9]{4}-[0-9]{2}-[0-9]{2}"}),
        ("Pick a colour.", {"guided_choice": ["red", "green", "blue"]}),
        ("A person as JSON.", {"guided_json": PERSON}),
        ("A query.", {"guided_grammar": 'start: "SELECT " /[a-z]{1,8}/'}),
    ]
    alone = [ask(client, p, extra_body=b, max_tokens=64, seed=i).choices[0].message.content for i, (p, b) in enumerate(asks)]
    together: list[str | None] = [None] * len(asks)

    def work(i: int) -> None:
        p, b = asks[i]
        together[i] = ask(client, p, extra_body=b, max_tokens=64, seed=i).choices[0].message.content

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(asks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together == alone


@pytest.mark.parametrize("stream", [False, True])
def test_tools_give_tool_calls_that_validate(client, stream):
    """tool_choice "required": every valid choice calls get_weather with arguments that
    validate; a stream sends the message whole at its end (the same as the whole response)."""
    kwargs = dict(tools=[WEATHER], tool_choice="required", max_tokens=96, seed=3, n=2, extra_body={"n_particles": 4})
    if not stream:
        r = ask(client, "What is the weather in Paris?", **kwargs)
        choices = [(c.finish_reason, c.message.content, c.message.tool_calls) for c in r.choices]
    else:
        deltas: dict[int, list] = {0: [], 1: []}
        for event in ask(client, "What is the weather in Paris?", stream=True, **kwargs):
            for c in event.choices:
                deltas[c.index].append(c)
        choices = []
        for i in (0, 1):
            last = deltas[i][-1]
            assert all(not d.delta.content and not d.delta.tool_calls for d in deltas[i][:-1])  # nothing before the end
            choices.append((last.finish_reason, last.delta.content, last.delta.tool_calls))
    assert any(reason == "tool_calls" for reason, _, _ in choices), choices
    for reason, _content, calls in choices:
        if reason != "tool_calls":
            assert reason == "length" and not calls
            continue
        for call in calls:
            assert call.type == "function" and call.function.name == "get_weather" and call.id.startswith("call_")
            jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])


def test_tool_choice_none_a_named_tool_and_bad_tools(client):
    r = ask(client, "Say yes.", tools=[WEATHER], tool_choice="none", max_tokens=4, extra_body={"guided_choice": ["yes"]})
    assert r.choices[0].message.content == "yes" and not r.choices[0].message.tool_calls
    with pytest.raises(openai.BadRequestError, match="'nope', which is not among the tools"):
        ask(client, "x", tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "nope"}})
    with pytest.raises(openai.BadRequestError, match="not both"):
        ask(client, "x", tools=[WEATHER], extra_body={"guided_regex": "a"})
    with pytest.raises(openai.BadRequestError, match=r"tools: .*parameters of tool 'f'"):
        ask(client, "x", tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "strnig"}}}])
    with pytest.raises(openai.BadRequestError, match="no tools were given"):
        ask(client, "x", tool_choice="required")


def test_think_returns_the_reasoning_apart_from_the_answer(client):
    response_format = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}
    kwargs = dict(response_format=response_format, max_tokens=160, seed=0, extra_body={"think": True, "n_particles": 4})
    r = ask(client, "Think briefly, then describe a person as JSON.", **kwargs)
    choice = r.choices[0]
    if choice.finish_reason == "stop":
        jsonschema.validate(json.loads(choice.message.content), PERSON)
        reasoning = choice.message.model_extra["reasoning_content"]
        assert isinstance(reasoning, str) and "<think>" not in reasoning and "</think>" not in reasoning
    else:
        assert choice.finish_reason == "length" and not choice.model_extra["awrs"]["valid"]
    events = list(ask(client, "Think briefly, then describe a person as JSON.", stream=True, **kwargs))
    last = [e for e in events if e.choices][-1].choices[0]
    assert last.finish_reason == choice.finish_reason and last.delta.content == choice.message.content
