"""The awrs command, run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import awrs


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "awrs", *args], input=stdin, capture_output=True, text=True, timeout=300)


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
