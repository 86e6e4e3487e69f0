"""Every Python example in the README and docs/ runs (against the embedded default model)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def examples():
    for page in PAGES:
        for i, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)):
            yield pytest.param(block, id=f"{page.relative_to(ROOT)}#{i}")


@pytest.fixture(scope="module")
def served():
    """A real ``awrs serve`` for the client examples of docs/serving.md (they name port 8000)."""
    from tests.server.conftest import start_server

    server = start_server()
    yield server.url
    server.stop()


@pytest.mark.model
@pytest.mark.parametrize("code", list(examples()))
def test_example_runs(code, default_lm, monkeypatch, capsys, request):
    import awrs

    if "http://127.0.0.1:8000" in code:  # a client example: run it against a server started here
        code = code.replace("http://127.0.0.1:8000", request.getfixturevalue("served"))
    monkeypatch.setattr(awrs, "load_model", lambda *a, **k: default_lm)  # one loaded copy for all pages
    exec(compile(code, "<example>", "exec"), {"__name__": "__example__"})
    assert capsys.readouterr().out.strip(), "an example should print what it shows"


def test_readme_shows_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text
