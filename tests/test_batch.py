"""``awrs batch`` (awrs/batch.py): a 50-item mixed dataset run in-process and on a local Ray
cluster of 2 replicas, killed and resumed; every id exactly once, errors per item, the same
records for the same seeds wherever an item runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import awrs
from awrs import batch
from tests.tiny_model import make_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[1]
PERSON = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"], "additionalProperties": False}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "checkpoint")


@pytest.fixture(scope="module")
def tiny_lm(tiny):
    return awrs.load_model(str(tiny), backend="transformers", device="cpu")


def dataset(path: Path) -> list[dict]:
    """50 items: JSON schemas (inline and named), regexes, choices, free text, and five that
    must fail alone: a bad schema, a prompt too long, an unknown field, no prompt, a line that
    is not JSON."""
    items: list = []
    for i in range(45):
        kind = i % 5
        item: dict = {"id": f"item-{i}", "prompt": f"Item {i}:", "max_tokens": 12}
        if kind == 0:
            item["json_schema"] = PERSON
        elif kind == 1:
            item["regex"] = r"[a-c]{2,5}"
        elif kind == 2:
            item["choice"] = ["yes", "no", "maybe"]
            item["method"] = "awrs"
        elif kind == 3:
            item["constraint"] = "digits"
            item["seed"] = 7
        else:
            item["prompt"] = f"Free {i}"
            item["method"] = "lcd"
        items.append(item)
    items.append({"id": "bad-schema", "prompt": "x", "json_schema": {"type": "strnig"}})
    items.append({"id": "too-long", "prompt": "y" * 700, "regex": "a"})
    items.append({"id": "unknown-field", "prompt": "x", "regex": "a", "particles": 3})
    items.append({"id": "no-prompt", "regex": "a"})
    lines = [json.dumps(it) for it in items] + ["{not json"]
    path.write_text("\n".join(lines) + "\n")
    return items


NAMED = {"digits": {"regex": "[0-9]{1,4}"}}
DEFAULTS = {"method": "smc", "n_particles": 2, "max_new_tokens": 12}
IDS = {f"item-{i}" for i in range(45)} | {"bad-schema", "too-long", "unknown-field", "no-prompt", "line 50"}
FAILING = {
    "bad-schema": "ConstraintError",
    "too-long": "PromptTooLongError",
    "unknown-field": "AwrsError",
    "no-prompt": "AwrsError",
}


def records(path: Path) -> list[dict]:
    text = path.read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def comparable(rs: list[dict]) -> dict[str, dict]:
    """Records by id, without their timings."""
    out = {}
    for r in rs:
        r = dict(r)
        if r.get("stats"):
            r["stats"] = {k: v for k, v in r["stats"].items() if k != "seconds"}
        out[r["id"]] = r
    return out


def check_complete(rs: list[dict]) -> None:
    ids = [r["id"] for r in rs]
    assert len(ids) == len(set(ids)), "an id twice"
    assert set(ids) == IDS
    by_id = comparable(rs)
    for item_id, kind in FAILING.items():
        assert by_id[item_id]["error"]["type"] == kind, by_id[item_id]
    assert by_id["line 50"]["error"]["type"] == "InvalidItem"
    for i in range(45):
        r = by_id[f"item-{i}"]
        assert r["error"] is None and r["stop_reason"] in {"eos", "max_new_tokens", "dead_end", "stop"}
        if r["valid"] and i % 5 == 0:
            assert set(r["value"]) == {"n"}
        if r["valid"] and i % 5 == 2:
            assert r["text"] in {"yes", "no", "maybe"}


def test_a_local_run_writes_one_record_per_item_and_is_reproducible(tmp_path, tiny_lm):
    source = tmp_path / "in.jsonl"
    dataset(source)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    summary = batch.run_local(
        tiny_lm, batch.read_items(source), first, max_batch=8, named=NAMED, defaults=DEFAULTS, progress=False
    )
    assert summary.written == 50 and summary.errors == 5 and summary.skipped == 0
    check_complete(records(first))
    batch.run_local(tiny_lm, batch.read_items(source), second, max_batch=8, named=NAMED, defaults=DEFAULTS, progress=False)
    assert comparable(records(first)) == comparable(records(second))  # the same seeds, the same records
    again = batch.run_local(tiny_lm, batch.read_items(source), first, max_batch=8, named=NAMED, defaults=DEFAULTS, progress=False)
    assert again.written == 0 and again.skipped == 50  # a finished run has nothing left to do


def test_a_torn_last_line_is_cut_and_its_item_runs_again(tmp_path, tiny_lm):
    source = tmp_path / "in.jsonl"
    dataset(source)
    out = tmp_path / "out.jsonl"
    batch.run_local(tiny_lm, batch.read_items(source), out, max_batch=8, named=NAMED, defaults=DEFAULTS, progress=False)
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:20]) + lines[20][: len(lines[20]) // 2])  # killed while writing line 21
    summary = batch.run_local(tiny_lm, batch.read_items(source), out, max_batch=8, named=NAMED, defaults=DEFAULTS, progress=False)
    assert summary.skipped == 20 and summary.written == 30
    check_complete(records(out))


def test_a_run_killed_midway_resumes_with_no_duplicate_no_gap_no_torn_line(tmp_path, tiny):
    """The CLI in a subprocess, SIGKILLed once some records are out, then run again."""
    source = tmp_path / "in.jsonl"
    dataset(source)
    named = tmp_path / "named.json"
    named.write_text(json.dumps(NAMED))
    out = tmp_path / "out.jsonl"
    args = [sys.executable, "-m", "awrs", "batch", str(source), str(out), "--constraints", str(named), "--model", str(tiny)]
    args += ["--backend", "transformers", "--max-batch", "4", "--particles", "2", "--max-new-tokens", "12", "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 12:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = out.read_text().count("\n")
    assert 12 <= partial < 50
    done = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "already done" in done.stderr
    check_complete(records(out))


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster for the module (2 CPUs: this machine's). Without Ray the tests skip,
    except on CI, where `make test` installs it (awrs[dev] has awrs[ray])."""
    try:
        import ray as ray_module
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("Ray is not installed: pip install 'awrs[ray]'")
        pytest.skip("Ray is not installed")
    ray_module.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield ray_module
    ray_module.shutdown()


def test_ray_with_two_replicas_gives_the_local_records(tmp_path, tiny, tiny_lm, cluster):
    """Record for record, log weights included: each of the two replicas takes one of the
    cluster's two CPUs, so Ray runs its torch on one thread (OMP_NUM_THREADS=1), and the local
    run does too here — with two threads the weights differ in the 9th digit (another summation
    order), the texts not."""
    import torch

    source = tmp_path / "in.jsonl"
    dataset(source)
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        batch.run_local(tiny_lm, batch.read_items(source), local, max_batch=8, named=NAMED, defaults=DEFAULTS, progress=False)
    finally:
        torch.set_num_threads(threads)
    seen = []
    summary = batch.run_ray(
        str(tiny),
        batch.read_items(source),
        remote,
        replicas=2,
        max_batch=8,
        load={"backend": "transformers", "device": "cpu"},
        named=NAMED,
        defaults=DEFAULTS,
        progress=False,
        on_start=lambda actors: seen.extend(cluster.get([a.process.remote() for a in actors])),
    )
    assert len(set(seen)) == 2 and os.getpid() not in seen  # two replicas, each its own process
    assert summary.written == 50
    check_complete(records(remote))
    assert comparable(records(remote)) == comparable(records(local))


def test_a_ray_replica_killed_midway_is_restarted_and_every_item_comes_once(tmp_path, tiny, cluster):
    source = tmp_path / "in.jsonl"
    dataset(source)
    out = tmp_path / "ray.jsonl"
    actors: list = []
    killed = []

    def kill_one(record):
        if not killed and len(records_so_far) >= 8:
            cluster.kill(actors[0], no_restart=False)  # Ray restarts it and retries its chunks
            killed.append(record["id"])
        records_so_far.append(record["id"])

    records_so_far: list[str] = []
    summary = batch.run_ray(
        str(tiny),
        batch.read_items(source),
        out,
        replicas=2,
        max_batch=4,
        load={"backend": "transformers", "device": "cpu"},
        named=NAMED,
        defaults=DEFAULTS,
        progress=False,
        on_start=actors.extend,
        on_record=kill_one,
    )
    assert killed, "a replica was killed during the run"
    assert summary.written == 50
    check_complete(records(out))


def test_ray_missing_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(awrs.AwrsError, match=r"pip install 'awrs\[ray\]'"):
        batch.run_ray("x", [], tmp_path / "out.jsonl")


def test_the_command_says_what_is_wrong(tmp_path, capsys):
    from awrs import cli

    assert cli.main(["batch", str(tmp_path / "missing.jsonl"), str(tmp_path / "out.jsonl")]) == 2
    assert "no such input file" in capsys.readouterr().err
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "prompt": "x"}\n')
    (tmp_path / "named.json").write_text("[1, 2]")
    args = ["batch", str(source), str(tmp_path / "out.jsonl"), "--constraints", str(tmp_path / "named.json")]
    assert cli.main(args) == 2
    assert "--constraints must hold a JSON object" in capsys.readouterr().err
    assert cli.main(["batch", str(source), str(tmp_path / "out.jsonl"), "--max-batch", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err
