"""Async generation and the shared service: ``await awrs.agenerate`` gives what ``awrs.generate``
gives for a seed, concurrent calls batch together, streams send only committed text, and
cancelling or failing one request leaves the others as they were."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

import awrs
from awrs.generate import prepare
from awrs.service import QueueFullError, Service


def mock(seed: int = 0, delay: float = 0.0) -> awrs.MockLM:
    rng = np.random.default_rng(seed)
    tokens = [bytes([c]) for c in range(32, 127)] + [b"ab", b"com", b"@", b"\xc3", b"\xa9", b"</", b"s>"]
    table = rng.normal(0, 2, (len(tokens) + 1, len(tokens) + 1))
    if not delay:
        return awrs.MockLM(tokens, table)

    def logits(context):
        time.sleep(delay)
        return table[context[-1] if context else 0]

    return awrs.MockLM(tokens, logits)


REQUESTS = [
    ("Give me an email.", awrs.Regex(r"[a-z]+@[a-z]+\.(com|org)"), dict(method="smc", n_particles=4)),
    (
        "JSON?",
        awrs.JsonSchema({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}),
        dict(method="awrs"),
    ),
    ("Yes or no?", awrs.Choice(["yes", "no"]), dict(method="lcd")),
    ("SQL?", awrs.Grammar('start: "SELECT " NAME\nNAME: /[a-z]+/'), dict(method="smc", n_particles=3)),
    ("Mask?", awrs.Regex(r"(ab|@)+"), dict(method="mask")),
]


def same(a: awrs.Result, b: awrs.Result) -> bool:
    return a.text == b.text and a.particles == b.particles and a.log_ml == b.log_ml and a.posterior == b.posterior


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gathered_agenerate_calls_give_what_generate_gives_alone(seed):
    lm = mock()

    async def main():
        return await asyncio.gather(
            *(awrs.agenerate(lm, p, c, seed=seed + i, max_new_tokens=16, **kw) for i, (p, c, kw) in enumerate(REQUESTS))
        )

    results = asyncio.run(main())
    for i, ((prompt, c, kw), result) in enumerate(zip(REQUESTS, results)):
        assert same(result, awrs.generate(lm, prompt, c, seed=seed + i, max_new_tokens=16, **kw)), kw
    assert awrs.service.shared(lm).steps < sum(len(r.particles[0].token_ids) + 1 for r in results)  # they shared steps


def test_agenerate_checks_its_arguments_as_generate_does():
    async def main():
        with pytest.raises(awrs.GenerationError, match="method"):
            await awrs.agenerate(mock(), "a", None, method="beam")
        with pytest.raises(awrs.GenerationError, match="one prompt"):
            await awrs.agenerate(mock(), ["a", "b"], None)

    asyncio.run(main())


@pytest.mark.parametrize("method", ["smc", "awrs", "lcd", "mask"])
def test_an_async_stream_concatenates_to_its_result(method):
    lm = mock(3)
    c = awrs.Regex(r"(ab|@|\xe9)+(</s>)?")

    async def main():
        stream = awrs.astream(lm, "a", c, method=method, seed=5, max_new_tokens=12, stop=["</s>"])
        pieces = [piece async for piece in stream]
        return pieces, stream.result

    pieces, result = asyncio.run(main())
    assert "".join(pieces) == result.text and result.valid
    assert all("\ufffd" not in p for p in pieces)
    alone = awrs.generate(lm, "a", c, method=method, seed=5, max_new_tokens=12, stop=["</s>"])
    assert same(result, alone)


@pytest.mark.parametrize("seed", range(6))
def test_an_smc_stream_sends_only_text_no_later_step_takes_back(seed):
    """Over SMC with resampling, what a stream has sent is a prefix of every live particle after
    every step, and of the chosen output at the end."""
    lm = mock(seed)
    c = awrs.Regex(r"[a-z]{2,6}@(ab|com)\.(com|org)")
    request = prepare(lm, "mail", c, method="smc", n_particles=6, ess_threshold=0.9, max_new_tokens=20, seed=seed)
    service = Service(lm)
    updates: list[awrs.service.Update] = []
    job = service.submit(request, listener=updates.append, detail=True)
    result = job.result(timeout=60)
    service.close()
    sent = ""
    for u in updates:
        sent += u.text
        assert u.particles is not None
        live = [p.text for p in u.particles if p.log_weight is not None and np.isfinite(p.log_weight)]
        if not u.done:
            assert all(t.startswith(sent) for t in live), (sent, live)
    assert updates[-1].done and updates[-1].result is result
    if result.valid:
        assert sent == result.text
    assert any(u.resampled for u in updates) == (result.stats.n_resamples > 0)


def test_cancelling_the_awaiting_task_cancels_the_request_and_frees_its_rows():
    lm = mock(delay=0.002)
    slow = awrs.Regex(r"[a-z ]{1500}")  # runs ~3 s unless cancelled

    async def main():
        long = asyncio.create_task(awrs.agenerate(lm, "a", slow, method="awrs", max_new_tokens=2000, seed=0))
        await asyncio.sleep(0.2)
        short = await awrs.agenerate(lm, "b", awrs.Choice(["yes", "no"]), method="lcd", seed=1)
        long.cancel()
        with pytest.raises(asyncio.CancelledError):
            await long
        return short

    short = asyncio.run(main())
    assert same(short, awrs.generate(lm, "b", awrs.Choice(["yes", "no"]), method="lcd", seed=1))
    service = awrs.service.shared(lm)
    deadline = time.time() + 10
    while service.pending and time.time() < deadline:
        time.sleep(0.01)
    assert service.pending == 0  # the cancelled request left the engine


def test_a_request_whose_constraint_raises_fails_alone_and_the_service_goes_on():
    class Boom(Exception):
        pass

    def explode(text: str) -> bool:
        if len(text) > 3:
            raise Boom("the predicate gave up")
        return True

    lm = mock()

    async def main():
        return await asyncio.gather(
            awrs.agenerate(lm, "a", awrs.Predicate(explode), method="awrs", max_new_tokens=10, seed=0),
            awrs.agenerate(lm, "b", REQUESTS[0][1], seed=7, max_new_tokens=16, **REQUESTS[0][2]),
            return_exceptions=True,
        )

    bad, good = asyncio.run(main())
    assert isinstance(bad, Boom)
    assert same(good, awrs.generate(lm, "b", REQUESTS[0][1], seed=7, max_new_tokens=16, **REQUESTS[0][2]))
    after = asyncio.run(awrs.agenerate(lm, "c", awrs.Choice(["x", "y"]), method="lcd", seed=0))
    assert after.valid


def test_a_full_service_refuses_with_queue_full_and_serves_the_rest():
    lm = mock(delay=0.002)
    service = Service(lm, max_pending=2)
    requests = [prepare(lm, "a", awrs.Regex("[ab]{20}"), method="lcd", max_new_tokens=25, seed=i) for i in range(3)]
    jobs = [service.submit(r) for r in requests[:2]]
    with pytest.raises(QueueFullError, match="max_pending"):
        service.submit(requests[2])
    assert all(j.result(timeout=30).valid for j in jobs)
    assert service.submit(requests[2]).result(timeout=30).valid  # room again
    service.close()


def test_a_listener_that_raises_cancels_its_own_job_only():
    lm = mock()
    service = Service(lm)

    def bad(update):
        raise RuntimeError("listener broke")

    a = service.submit(prepare(lm, "a", awrs.Regex("[ab]{12}"), method="lcd", max_new_tokens=20, seed=0), listener=bad)
    b = service.submit(prepare(lm, "b", awrs.Regex("[ab]{12}"), method="lcd", max_new_tokens=20, seed=1))
    assert b.result(timeout=30).valid
    a.wait(30)
    assert a.status == "cancelled"
    service.close()


def test_submissions_from_many_threads_each_get_their_own_answer():
    lm = mock()
    service = Service(lm)
    out: dict[int, awrs.Result] = {}

    def work(i: int) -> None:
        request = prepare(lm, f"q{i}", awrs.Regex(r"[a-z]{3}@com"), method="awrs", max_new_tokens=12, seed=i)
        out[i] = service.submit(request).result(timeout=60)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    service.close()
    for i in range(8):
        assert same(out[i], awrs.generate(lm, f"q{i}", awrs.Regex(r"[a-z]{3}@com"), method="awrs", max_new_tokens=12, seed=i))
