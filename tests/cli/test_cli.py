"""The awrs command, run as a subprocess (the installed entry point's module) or through
``awrs.cli.main`` in the test's process where a run needs a model (loaded once here)."""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import awrs
from awrs import cli
from tests.conftest import SHARED

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str | None = None, cwd: Path = ROOT, pythonpath: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [sys.executable, "-m", "awrs", *args], input=stdin, capture_output=True, text=True, timeout=300, cwd=cwd, env=env
    )


def strict_json(text: str):
    """Parse RFC 8259 JSON: Python's json module would also take -Infinity, NaN and Infinity."""

    def refuse(constant):
        raise AssertionError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"awrs {awrs.__version__}"


def test_check_reports_validity_and_the_first_violation(tmp_path):
    ok = run("check", "--regex", r"\d{4}-\d{2}", "-", stdin="2024-01")
    assert ok.returncode == 0 and ok.stdout.strip() == "valid"
    bad = run("check", "--regex", r"\d{4}-\d{2}", "-", stdin="2024/01")
    assert bad.returncode == 1 and "byte 4" in bad.stdout
    short = run("check", "--regex", r"\d{4}-\d{2}", "--json", "-", stdin="2024-")
    assert short.returncode == 1 and json.loads(short.stdout) == {"valid": False, "first_violation": 5, "complete_prefix": True}
    schema = tmp_path / "s.json"
    schema.write_text('{"type": "object", "required": ["a"]}')
    doc = tmp_path / "d.json"
    doc.write_text('{"a": 1}\n')
    assert run("check", "--json-schema", str(schema), str(doc)).returncode == 0
    assert run("check", "--grammar", "arithmetic", "-", stdin="1+2*x").returncode == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "--regex", "a(", "-"], "invalid regular expression"),
        (["check", "-"], "say what to check against"),
        (["check", "--json-schema", '{"type": "strnig"}', "-"], "invalid type"),
        (["bench", "no-such-benchmark"], "no benchmark"),
    ],
)
def test_errors_are_one_line_and_exit_2(args, message):
    out = run(*args, stdin="x")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith("awrs: error:") and message in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.model
def test_generate_with_json_output_and_stdin(default_checkpoint):
    out = run("generate", "--choice", "yes", "no", "--method", "lcd", "--seed", "0", "--json", stdin="Is water wet?")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["text"] in ("yes", "no") and data["valid"] and data["stats"]["tokens"] >= 1
    plain = run("generate", "--regex", r"[0-9]{2}", "--method", "awrs", "--seed", "1", "How old are you?")
    assert plain.returncode == 0 and len(plain.stdout.strip()) == 2 and plain.stdout.strip().isdigit()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tests.tiny_model import make_tiny_checkpoint

    pytest.importorskip("transformers")
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "checkpoint")


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "db.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE singer (Singer_ID INTEGER, Name TEXT, Age INTEGER)")
    conn.executemany("INSERT INTO singer VALUES (?, ?, ?)", [(1, "a", 30), (2, "b", 40)])
    conn.commit()
    conn.close()
    return path


def main(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_an_invalid_output_still_gets_a_strict_json_record(tiny, capsys):
    """One token for a three-byte pattern: every particle stops incomplete, weight -inf. The
    record is printed (valid false, exit 1), with null where the weight is -inf."""
    code, out, err = main(
        capsys,
        "generate",
        "--model",
        str(tiny),
        "--regex",
        "aaa",
        "--max-new-tokens",
        "1",
        "--seed",
        "0",
        "--raw",
        "--json",
        "hi",
    )
    assert code == 1, err
    record = strict_json(out)
    assert record["valid"] is False and record["stop_reason"] == "max_new_tokens"
    assert record["log_ml"] is None and [p["log_weight"] for p in record["particles"]] == [None] * 5
    assert "Traceback" not in err and "Loading weights" not in err


def error_cases(tmp_path: Path, tiny: Path) -> list[tuple[list[str], str]]:
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny, damaged)
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:500])
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("not a database")
    return [
        (["--json-schema", str(tmp_path / "missing.json"), "x"], "No such file"),
        (["--json-schema", '{"type": "strnig"}', "x"], "invalid type"),
        (["--grammar", str(tmp_path / "missing.lark"), "x"], "No such file"),
        (["--regex", "a(", "x"], "invalid regular expression"),
        (["--sql-schema", str(tmp_path / "missing.sqlite"), "x"], "does not exist"),
        (["--sql-schema", str(not_a_db), "x"], "not a readable SQLite database"),
        (["--regex", "a", "--critic", "executes", "x"], "--critic executes"),
        (["--regex", "a", "--prompt-file", str(tmp_path / "missing.txt")], "No such file"),
        (["--regex", "a", "--model", str(tmp_path / "no-model"), "x"], "could not load model"),
        (["--regex", "a", "--model", str(damaged), "x"], "could not load model"),
        (["--regex", "a", "--model", str(tiny), "--particles", "0", "x"], "particles"),
        (["--regex", "a", "--model", str(tiny), "--temperature", "-1", "x"], "temperature"),
        (["--regex", "a", "--model", str(tiny), "--device", "no-such-device", "x"], "unknown device"),
    ]


def test_every_generate_error_is_one_line_and_a_json_record(tmp_path, tiny, capsys):
    for args, message in error_cases(tmp_path, tiny):
        code, out, err = main(capsys, "generate", "--json", *args)
        assert code == 2, (args, out, err)
        assert err.strip().startswith("awrs: error:") and len(err.strip().splitlines()) == 1, (args, err)
        assert message in err and "Traceback" not in err, (args, err)
        assert strict_json(out) == {"valid": False, "error": err.strip().removeprefix("awrs: error: ")}, args
    assert not (tmp_path / "missing.sqlite").exists()


def test_check_errors_with_json_are_json_records(tmp_path, capsys):
    code, out, _err = main(capsys, "check", "--json", "--json-schema", str(tmp_path / "missing.json"), str(tmp_path / "x"))
    assert code == 2 and strict_json(out)["valid"] is False and "No such file" in strict_json(out)["error"]


def test_an_unexpected_error_is_one_line_unless_traceback_is_asked(monkeypatch, capsys):
    def broken(args):
        raise KeyError("internal")

    monkeypatch.setattr(cli, "_check", broken)
    code, _out, err = main(capsys, "check", "--regex", "a", "-")
    assert (
        code == 2
        and err.strip()
        == "awrs: error: unexpected KeyError: 'internal' (rerun with --traceback for the details, and please report it)"
    )
    with pytest.raises(KeyError):
        cli.main(["--traceback", "check", "--regex", "a", "-"])


class Recorded(Exception):
    """Raised by the stand-in for generate once it has recorded its arguments."""


@pytest.fixture
def recorded(monkeypatch):
    """generate and load_model replaced: the CLI's arguments to generate are recorded."""
    import importlib

    generate_module = importlib.import_module("awrs.generate")  # awrs.generate is also the function
    loading_module = importlib.import_module("awrs.lm.loading")
    calls = []

    def generate(lm, prompt, constraint, **kwargs):
        calls.append({"prompt": prompt, "constraint": constraint, **kwargs})
        raise Recorded

    monkeypatch.setattr(generate_module, "generate", generate)
    monkeypatch.setattr(loading_module, "load_model", lambda *a, **k: awrs.MockLM([b"a"], [0.0, 0.0]))
    return calls


def test_sql_defaults_ask_one_line_over_the_tables_with_a_bounded_budget(db, recorded):
    """The newcomer's call (5 min 22 s and SELECT 1,020,278,... before): the question goes with
    the tables and an example, a newline ends the query, the budget is SQL_MAX_NEW_TOKENS."""
    with pytest.raises(Recorded):
        cli.main(["--traceback", "generate", "--sql-schema", str(db), "How many singers are there?"])
    call = recorded[-1]
    assert call["max_new_tokens"] == cli.SQL_MAX_NEW_TOKENS <= 96 and call["stop"] == ["\n"] and call["critic"] is None
    assert "singer(Singer_ID, Name, Age)" in call["prompt"] and call["prompt"].endswith(
        "Question: How many singers are there?\nSQL: "
    )
    with pytest.raises(Recorded):
        cli.main(
            [
                "--traceback",
                "generate",
                "--sql-schema",
                str(db),
                "--critic",
                "executes",
                "--max-new-tokens",
                "40",
                "--stop",
                ";",
                "--raw",
                "SELECT",
            ]
        )
    call = recorded[-1]
    assert call["max_new_tokens"] == 40 and call["stop"] == [";"] and call["prompt"] == "SELECT"
    assert call["critic"]("SELECT Name FROM singer") == 0.0 and call["critic"]("DELETE FROM singer") == -math.inf
    with pytest.raises(Recorded):
        cli.main(["--traceback", "generate", "--regex", "a", "x"])
    assert recorded[-1]["max_new_tokens"] == cli.DEFAULT_MAX_NEW_TOKENS and recorded[-1]["stop"] == []


def test_stop_strings_keep_their_characters(recorded):
    with pytest.raises(Recorded):
        cli.main(["--traceback", "generate", "--regex", "a", "--stop", "é\\n", "--stop", "\\t|\\x41\\u00e9\\\\", "x"])
    assert recorded[-1]["stop"] == ["é\n", "\t|Aé\\"]


def test_bench_results_go_under_the_current_directory(tmp_path):
    out = run("bench", "json-conformance", "--limit", "1", "--subsets", "Github_easy", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "benchmarks" / "results" / "json_conformance.json").is_file()
    assert (
        not (ROOT / "benchmarks" / "results" / "json_conformance.json").exists()
        or (ROOT / "benchmarks" / "results" / "json_conformance.json").stat().st_mtime < (tmp_path / "benchmarks").stat().st_mtime
    )


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory):
    """awrs built as a wheel (from a copy of the sources) and unpacked as site-packages are."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("awrs", "grammars"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(work), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if built.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {built.stderr[-300:]}")
    site = work / "site"
    with zipfile.ZipFile(next(work.glob("awrs-*.whl"))) as whl:
        whl.extractall(site)
    assert not (site / "benchmarks").exists()
    return site


def test_bench_from_a_wheel_needs_a_checkout_and_says_so(wheel_site, tmp_path):
    out = run("bench", "json-conformance", cwd=tmp_path, pythonpath=wheel_site)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "checkout" in out.stderr and "benchmarks/NAME.py" in out.stderr


@pytest.mark.slow
def test_bench_from_a_wheel_runs_in_a_checkout(wheel_site, tmp_path):
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT / "benchmarks", checkout / "benchmarks", ignore=shutil.ignore_patterns("results", "__pycache__"))
    (tmp_path / "shared").symlink_to(SHARED)
    where = run("--version", cwd=checkout, pythonpath=wheel_site)
    assert where.returncode == 0
    out = run("bench", "json-conformance", "--limit", "1", "--subsets", "Github_easy", cwd=checkout, pythonpath=wheel_site)
    assert out.returncode == 0, out.stderr
    assert (checkout / "benchmarks" / "results" / "json_conformance.json").is_file()
    assert not any(wheel_site.rglob("*.json"))  # nothing written into the installed package


@pytest.mark.model
@pytest.mark.slow  # a subprocess loading the real model, up to 96 steps of 5 particles: 15 s idle, over a minute when busy
def test_sql_with_the_default_model_and_the_critic(default_checkpoint, db):
    out = run("generate", "--sql-schema", str(db), "--critic", "executes", "--seed", "0", "--json", "How many singers are there?")
    assert out.returncode == 0, out.stderr
    record = strict_json(out.stdout)
    assert record["valid"] and record["stats"]["tokens"] <= 5 * cli.SQL_MAX_NEW_TOKENS
    assert awrs.sql.executes(db)(record["text"]) == 0.0
    assert "Loading weights" not in out.stderr


@pytest.mark.parametrize(
    ("host", "key", "warned"), [("0.0.0.0", None, True), ("0.0.0.0", "k", False), ("127.0.0.1", None, False)]
)
def test_serve_warns_on_a_public_address_without_a_key(monkeypatch, capsys, host, key, warned):
    from awrs import server
    from awrs.lm import loading

    served = {}
    monkeypatch.delenv("AWRS_API_KEY", raising=False)
    monkeypatch.setattr(loading, "load_model", lambda *a, **k: awrs.MockLM([b"a"], [0.0, 0.0]))
    monkeypatch.setattr(server, "serve", lambda lm, **kwargs: served.update(kwargs))
    assert cli.main(["serve", "--host", host, *(["--api-key", key] if key else [])]) == 0
    assert served["host"] == host and served["api_key"] == key
    assert ("with no API key" in capsys.readouterr().err) == warned


def test_think_wraps_the_constraint_in_the_models_reasoning(recorded):
    with pytest.raises(Recorded):
        cli.main(["--traceback", "generate", "--regex", "[0-9]+", "--think", "--max-think-bytes", "40", "a"])
    c = recorded[-1]["constraint"]
    assert isinstance(c, awrs.Think) and c.accepts("<think>hm</think>42") and not c.accepts("42")
    assert not c.accepts_prefix("<think>" + "a" * 40)  # bounded
    with pytest.raises(Recorded):
        cli.main(["--traceback", "generate", "--think", "a"])  # no constraint: free answer
    assert recorded[-1]["constraint"].accepts("<think>a</think>anything")


def test_tools_check_and_generate_tool_calls(tmp_path, recorded, capsys):
    tools = [
        {
            "type": "function",
            "function": {"name": "add", "parameters": {"type": "object", "properties": {"a": {"type": "number"}}}},
        }
    ]
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(tools))
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text('Sure. <tool_call>{"name": "add", "arguments": {"a": 1}}</tool_call>')
    bad.write_text('<tool_call>{"name": "add", "arguments": {"a": "x"}}</tool_call>')
    assert main(capsys, "check", "--tools", str(path), str(good))[0] == 0
    assert main(capsys, "check", "--tools", json.dumps(tools), str(bad))[0] == 1
    code, _out, err = main(capsys, "check", "--tools", "[not json", str(good))
    assert code == 2 and "--tools" in err
    with pytest.raises(Recorded):
        cli.main(["--traceback", "generate", "--tools", str(path), "a"])
    assert isinstance(recorded[-1]["constraint"], awrs.ToolCalls)
