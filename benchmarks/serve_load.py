"""Load on ``awrs serve``: throughput and latency with 1, 4, 16 and 32 concurrent clients.

Starts the real server on 127.0.0.1 (the default model, ``--backend`` as given), then sends the
same set of requests — each with its own constraint: JSON schemas, regexes and choices mixed
— at each concurrency level: C clients each take the next request from a shared list until
it is empty (level 1 is the requests sent one at a time). Every request is streamed, to time
its first token. Reports requests/s, tokens/s, p50/p95 latency and time to first token per
level, and the ratio of throughput at 16 clients to 1 client (continuous batching at work).

Every request is counted: answered once, lost, or failed; every answer is checked against its
constraint here (jsonschema, re.fullmatch, the option list): valid, flagged by the server as
not valid (finish_reason "length", awrs.valid false), or wrong (unflagged and invalid: must be
0). Traffic goes to loopback only, bounded by the request count and --timeout per level.

    python benchmarks/serve_load.py --backend transformers --requests 48
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jsonschema
import openai
from _common import percentile, print_table, run_metadata, write_json

from tests.server.conftest import Server

MODEL = "SmolLM2-135M-Instruct"
REGEXES = [
    ("When did it happen? Answer with a timestamp.", r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"),
    ("What is the phone number?", r"\([0-9]{3}\) [0-9]{3}-[0-9]{4}"),
    ("Describe the weather in one sentence.", r"[A-Z][a-z]+( [a-z]+){4,10}\."),
    ("Give a postal address.", r"[0-9]{1,4} [A-Z][a-z]+ (Street|Road|Avenue), [A-Z][a-z]+"),
    ("Give an email address.", r"[a-z]{3,8}\.[a-z]{3,8}@[a-z]{3,8}\.(com|org|net)"),
]
CHOICES = [
    ("Is the sky blue?", ["yes", "no"]),
    ("Pick a colour.", ["red", "green", "blue", "yellow"]),
    ("Which is a fruit?", ["apple", "carrot", "potato"]),
    ("How do you feel?", ["happy", "sad", "tired", "hungry"]),
]


def requests(count: int, max_tokens: int) -> list[dict[str, Any]]:
    """``count`` requests cycling JSON, regex and choice, each constraint its own."""
    out = []
    for i in range(count):
        kind = ("json", "regex", "choice")[i % 3]
        body: dict[str, Any] = {"max_tokens": max_tokens, "seed": i}
        if kind == "json":
            schema = {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 8 + i % 7},
                    "age": {"type": "integer", "minimum": 0, "maximum": 100 + i},
                    "city": {"type": "string", "maxLength": 16},
                    "occupation": {"type": "string", "maxLength": 16},
                },
                "required": ["name", "age", "city", "occupation"],
                "additionalProperties": False,
            }
            prompt = "Describe a person as JSON: name, age, city and occupation."
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": f"person{i}", "schema": schema}}
            check = lambda text, schema=schema: _validates(text, schema)
        elif kind == "regex":
            prompt, pattern = REGEXES[i // 3 % len(REGEXES)]
            body["guided_regex"] = pattern
            check = lambda text, pattern=pattern: re.fullmatch(pattern, text) is not None
        else:
            prompt, options = CHOICES[i // 3 % len(CHOICES)]
            body["guided_choice"] = options
            check = lambda text, options=options: text in options
        out.append({"id": i, "kind": kind, "prompt": prompt, "body": body, "check": check})
    return out


def _validates(text: str, schema: dict[str, Any]) -> bool:
    try:
        jsonschema.validate(json.loads(text), schema)
    except (json.JSONDecodeError, jsonschema.ValidationError):
        return False
    return True


async def one(client: openai.AsyncOpenAI, request: dict[str, Any]) -> dict[str, Any]:
    """Stream one request: its text, tokens, latency, time to first token and verdict."""
    started = time.perf_counter()
    first = None
    pieces, final, tokens = [], None, 0
    extra = {k: v for k, v in request["body"].items() if k not in ("max_tokens", "seed", "response_format")}
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": request["prompt"]}],
        max_tokens=request["body"]["max_tokens"],
        seed=request["body"]["seed"],
        response_format=request["body"].get("response_format", openai.NOT_GIVEN),
        extra_body=extra,
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        if choice.delta.content:
            first = first if first is not None else time.perf_counter() - started
            pieces.append(choice.delta.content)
        if choice.finish_reason is not None:
            final = choice
    text = "".join(pieces)
    flagged = final is None or not final.model_extra["awrs"]["valid"]
    valid = request["check"](text)
    verdict = "valid" if valid else ("flagged" if flagged and final is not None and final.finish_reason == "length" else "wrong")
    latency = time.perf_counter() - started
    return {
        "id": request["id"],
        "latency": latency,
        "ttft": first if first is not None else latency,
        "tokens": tokens,
        "verdict": verdict,
    }


async def level(url: str, clients: int, reqs: list[dict[str, Any]], timeout: float) -> dict[str, Any]:
    """Send every request with ``clients`` concurrent clients; count and time them."""
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=timeout)
    todo = list(reqs)
    answers: list[dict[str, Any]] = []
    failures: list[str] = []

    async def worker() -> None:
        while todo:
            request = todo.pop(0)
            try:
                answers.append(await one(client, request))
            except Exception as exc:  # counted, reported
                failures.append(f"{request['id']}: {type(exc).__name__}: {exc}")

    started = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(clients))), timeout)
    except asyncio.TimeoutError:
        failures.append(f"the level did not finish within {timeout} s")
    wall = time.perf_counter() - started
    await client.close()
    ids = [a["id"] for a in answers]
    latencies = [a["latency"] for a in answers]
    ttfts = [a["ttft"] for a in answers]
    tokens = sum(a["tokens"] for a in answers)
    return {
        "clients": clients,
        "requests": len(reqs),
        "answered": len(answers),
        "answered_twice": len(ids) - len(set(ids)),
        "lost": len(reqs) - len(set(ids)) - len(failures),
        "failed": len(failures),
        "valid": sum(a["verdict"] == "valid" for a in answers),
        "flagged": sum(a["verdict"] == "flagged" for a in answers),
        "wrong": sum(a["verdict"] == "wrong" for a in answers),
        "wall_s": wall,
        "requests_per_s": len(answers) / wall,
        "tokens_per_s": tokens / wall,
        "tokens": tokens,
        "p50_latency_s": percentile(latencies, 50),
        "p95_latency_s": percentile(latencies, 95),
        "p50_ttft_s": percentile(ttfts, 50),
        "p95_ttft_s": percentile(ttfts, 95),
        "failures": failures[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="auto", choices=["auto", "transformers", "llama_cpp"])
    parser.add_argument("--clients", default="1,4,16,32", help="concurrency levels, comma-separated")
    parser.add_argument("--requests", type=int, default=48, help="requests per level (the same set at every level)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=600, help="seconds a level may take")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    reqs = requests(args.requests, args.max_tokens)
    server = Server("--backend", args.backend, "--max-pending", str(max(256, args.requests)))
    try:
        server.wait_until_up()
        asyncio.run(level(server.url, 4, reqs[:4], args.timeout))  # warm-up: compile the constraints' code paths
        rows = [asyncio.run(level(server.url, c, reqs, args.timeout)) for c in levels]
        with urllib.request.urlopen(f"{server.url}/health") as r:
            health = json.load(r)
    finally:
        server.stop()
    base = next((r for r in rows if r["clients"] == 1), None)
    for r in rows:
        r["throughput_vs_1"] = r["tokens_per_s"] / base["tokens_per_s"] if base else float("nan")
    print(f"awrs serve on {args.backend}: {args.requests} requests per level, max_tokens {args.max_tokens}\n")
    columns = [
        "clients",
        "answered",
        "lost",
        "failed",
        "answered_twice",
        "valid",
        "flagged",
        "wrong",
        "requests_per_s",
        "tokens_per_s",
    ]
    columns += ["p50_latency_s", "p95_latency_s", "p50_ttft_s", "p95_ttft_s", "throughput_vs_1"]
    print_table(rows, columns)
    sixteen = next((r for r in rows if r["clients"] == 16), None)
    if base and sixteen:
        print(f"\nthroughput at 16 clients / 1 client: {sixteen['throughput_vs_1']:.2f}x (tokens/s)")
    print(f"server at the end: {health['pending']} pending, {health['steps']} steps")
    for r in rows:
        for f in r["failures"]:
            print(f"  {r['clients']} clients: {f}")
    parameters = {**vars(args), "levels": levels, "method": "awrs (the server's default: one sequence per request)"}
    path = write_json(f"serve_load_{args.backend}", run_metadata(parameters), {"levels": rows, "server_at_end": health}, args.out)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
