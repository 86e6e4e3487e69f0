"""A real ``awrs serve`` started on 127.0.0.1 for the tests of this folder (the default model,
on llama.cpp as ``--backend auto`` picks it when installed)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import require_llama_cpp

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "test-key-not-a-secret"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``awrs serve`` in a subprocess, its output in a temporary file (read back on failure)."""

    def __init__(self, *args: str, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log: IO[str] = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by stop())
        command = [sys.executable, "-m", "awrs", "serve", "--port", str(self.port), "--log-level", "warning", *args]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=self.log, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()[-4000:]

    def wait_until_up(self, timeout: float = 120) -> None:
        """Return once /health answers; RuntimeError with the server's output if it exits or
        does not answer within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"awrs serve exited with {self.process.returncode} before answering /health:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if json.load(answer).get("status") == "ok":
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"awrs serve did not answer /health within {timeout} s:\n{self.output()}")
            time.sleep(0.25)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def start_server(*args: str, env: dict[str, str] | None = None) -> Server:
    """Start ``awrs serve`` on a free port and wait (up to 120 s) until /health answers."""
    require_llama_cpp()
    server = Server(*args, env=env)
    server.wait_until_up()
    return server


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """The base URL of a server on the default model with no API key, shared by the session."""
    server = start_server()
    yield server.url
    server.stop()
