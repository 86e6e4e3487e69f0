"""The playground page (GET /) in a real browser against a real ``awrs serve``: Debian's
chromium driven by Playwright. The first test also refreshes docs/img/playground.png."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.server.conftest import API_KEY, start_server

pytestmark = pytest.mark.model

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "playground.png"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
FINISHED = "['done', 'error'].includes(document.body.dataset.state)"


def missing(what: str, fix: str) -> NoReturn:
    """Skip, except on CI, which must install what the browser tests need."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the playground's browser tests, but {what}: {fix}")
    pytest.skip(f"{what}: {fix}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed", "pip install playwright (its own browser download is not needed)")
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is missing", "apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server_url) -> Iterator[Any]:
    """A fresh 1280x900 page on the playground; fails the test on any script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server_url)
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


def health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
        return json.load(answer)


def generate(page, timeout: float = 120_000) -> dict[str, Any]:
    """Click Generate, wait for the run to end, and return the body the page sent (checking
    the Authorization header it sent with it)."""
    with page.expect_request("**/v1/chat/completions") as sent:
        page.click("#generate")
    page.wait_for_function(FINISHED, timeout=timeout)
    key = page.input_value("#api-key")
    assert sent.value.headers.get("authorization") == (f"Bearer {key}" if key else None)
    return sent.value.post_data_json


def test_json_schema_with_smc_streams_particles_and_a_posterior(page):
    import jsonschema

    page.select_option("#kind", "json")  # the prefilled person schema
    page.select_option("#method", "smc")
    page.fill("#particles", "3")
    page.fill("#max-tokens", "48")
    page.fill("#seed", "1")
    body = generate(page)

    schema = json.loads(page.input_value("#constraint"))
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "playground", "schema": schema}}
    assert body["method"] == "smc" and body["n_particles"] == 3 and body["max_tokens"] == 48 and body["seed"] == 1
    assert body["stream"] is True and body["awrs_detail"] is True
    assert body["messages"] == [{"role": "user", "content": page.input_value("#prompt")}]

    status = page.inner_text("#status")
    assert page.get_attribute("body", "data-state") == "done", page.inner_text("#error")
    if "Finished: valid" in status:
        jsonschema.validate(json.loads(page.inner_text("#output")), schema)
    else:  # cut by max_tokens: the page must say the output is not valid, and why
        assert "NOT valid" in status and "token limit" in status, status
    assert "log_ml" in status and "resample" in status and "constraint checks" in status
    assert page.locator("#particles-table tbody tr").count() == 3
    assert page.locator("#posterior .bar").count() >= 1
    assert page.locator("#posterior .pct").first.inner_text().endswith("%")

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_a_bad_regex_shows_the_servers_400_message(page):
    page.select_option("#kind", "regex")
    page.fill("#constraint", "(ab")
    body = generate(page)

    assert body["guided_regex"] == "(ab"
    assert page.get_attribute("body", "data-state") == "error"
    message = page.inner_text("#error")
    assert "guided_regex" in message and "missing )" in message, message
    assert page.is_visible("#error")


def test_choice_with_awrs_streams_one_of_the_options(page):
    page.select_option("#kind", "choice")
    options = [line for line in page.input_value("#constraint").splitlines() if line.strip()]
    assert options == ["yes", "no"]
    page.select_option("#method", "awrs")
    assert page.is_disabled("#particles")
    page.fill("#max-tokens", "16")
    page.fill("#seed", "1")
    body = generate(page)

    assert body["guided_choice"] == options and body["method"] == "awrs" and "n_particles" not in body
    assert page.get_attribute("body", "data-state") == "done", page.inner_text("#error")
    assert page.inner_text("#output") in options
    assert "Finished: valid" in page.inner_text("#status")


def test_a_schema_that_is_not_json_is_refused_without_a_request(page):
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url))
    page.select_option("#kind", "json")
    page.fill("#constraint", "{not json")
    page.click("#generate")
    page.wait_for_function(FINISHED, timeout=10_000)

    assert page.get_attribute("body", "data-state") == "error"
    assert "not valid JSON" in page.inner_text("#error")
    assert not [url for url in sent if url.endswith("/v1/chat/completions")]


def test_stop_aborts_the_request_and_the_server_drops_it(page, server_url):
    page.select_option("#kind", "none")
    page.fill("#prompt", "Write a very long story about a dragon who learns to sail.")
    page.select_option("#method", "smc")
    page.fill("#particles", "4")
    page.fill("#max-tokens", "512")
    page.click("#generate")
    page.wait_for_selector("#particles-table tbody tr", timeout=60_000)  # the first step has arrived
    page.click("#stop")
    page.wait_for_function(FINISHED, timeout=10_000)

    assert page.get_attribute("body", "data-state") == "done"
    assert "Stopped" in page.inner_text("#status")
    assert page.is_enabled("#generate") and page.is_disabled("#stop")
    deadline = time.monotonic() + 10
    while (pending := health(server_url)["pending"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pending == 0, "the server still holds the stopped request"


def test_the_api_key_is_sent_and_remembered(browser):
    server = start_server("--api-key", API_KEY)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(server.url)
        page.select_option("#kind", "choice")
        page.select_option("#method", "awrs")
        page.fill("#max-tokens", "8")
        generate(page)
        assert page.get_attribute("body", "data-state") == "error"
        assert "API key" in page.inner_text("#error")  # the server's 401 message

        page.fill("#api-key", API_KEY)
        body = generate(page)
        assert body["method"] == "awrs"
        assert page.get_attribute("body", "data-state") == "done", page.inner_text("#error")
        assert not page.is_visible("#error")
        assert page.inner_text("#output") in ("yes", "no")

        page.reload()
        assert page.input_value("#api-key") == API_KEY  # kept in localStorage
    finally:
        context.close()
        server.stop()
