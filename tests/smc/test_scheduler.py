"""The step-scheduled engine: requests with their own constraints share one batch, join it
while it runs, and each gives exactly what it gives alone."""

from __future__ import annotations

import numpy as np
import pytest

import awrs
from awrs.errors import GenerationError
from awrs.sampler.proposal import make_proposal
from awrs.smc.engine import SMCConfig, run_particles
from awrs.smc.scheduler import Engine, Submission
from tests.conftest import require_llama_cpp


def alone(lm, s: Submission):
    return run_particles(lm, s.prompt_ids, s.constraint, s.config, np.random.default_rng(s.seed), critic=s.critic)


def outcome(record):
    particles = [(p.tokens, p.log_weight, p.stop_reason, p.checks) for p in record.particles]
    return particles, record.log_ml, record.n_resamples, record.forward_passes, record.constraint_checks


def submissions(lm):
    prompt = lm.encode_prompt([{"role": "user", "content": "Give me an example."}])
    smc = SMCConfig(n_particles=4, ess_threshold=0.5, max_new_tokens=12)
    one = SMCConfig(max_new_tokens=12)
    lcd = SMCConfig(proposal=make_proposal("lcd"), max_new_tokens=12)
    return [
        Submission(prompt, awrs.Regex(r"[a-z]+@[a-z]+\.(com|org)"), smc, seed=1),
        Submission(
            prompt, awrs.JsonSchema({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}), one, seed=2
        ),
        Submission(lm.encode_prompt("Yes or no?"), awrs.Choice(["yes", "no"]), lcd, seed=3),
        Submission(prompt, awrs.Grammar('start: "SELECT " NAME\nNAME: /[a-z]+/'), smc, seed=4),
    ]


@pytest.fixture(scope="module", params=["mock", "llama_cpp"])
def lm(request):
    """A mock LM, and the default model on llama.cpp, whose rows come out the same to the bit
    alone and batched here (a KV stream per sequence). On transformers, padding and
    the batch's size change the last bits of a row's logits, so a sampled output can part from
    its run alone at a near-tie: the same law, not the same draw."""
    if request.param == "llama_cpp":
        require_llama_cpp()
        return request.getfixturevalue("llama_lm")
    rng = np.random.default_rng(0)
    tokens = [bytes([c]) for c in range(32, 127)] + [b"ab", b"com", b"@", b"SELECT "]
    table = rng.normal(0, 2, (len(tokens) + 1, len(tokens) + 1))
    return awrs.MockLM(tokens, table)


def test_requests_with_different_constraints_in_one_batch_give_what_they_give_alone(lm):
    subs = submissions(lm)
    engine = Engine(lm)
    handles = [engine.submit(s) for s in subs]
    engine.run()
    for handle, s in zip(handles, subs):
        assert handle.status == "done"
        assert outcome(handle.result()) == outcome(alone(lm, s))


def test_requests_joining_a_running_batch_give_what_they_give_alone(lm):
    subs = submissions(lm)
    engine = Engine(lm)
    first = engine.submit(subs[0])
    engine.step()
    engine.step()
    second = engine.submit(subs[1])
    engine.step()
    third = engine.submit(subs[3])
    engine.run()
    for handle, s in ((first, subs[0]), (second, subs[1]), (third, subs[3])):
        assert outcome(handle.result()) == outcome(alone(lm, s))


def test_a_cancelled_request_leaves_and_the_others_are_unchanged(lm):
    subs = submissions(lm)
    engine = Engine(lm)
    handles = [engine.submit(s) for s in subs]
    engine.step()
    engine.step()
    handles[0].cancel()
    engine.step()
    assert handles[0].status == "cancelled"
    assert all(owner.handle is not handles[0] for owner, _ in engine._rows)  # its rows are freed
    engine.run()
    with pytest.raises(GenerationError, match="cancelled"):
        handles[0].result()
    for handle, s in zip(handles[1:], subs[1:]):
        assert outcome(handle.result()) == outcome(alone(lm, s))


def test_a_request_whose_constraint_raises_fails_alone(lm):
    subs = submissions(lm)

    def prefix(text: str) -> bool:
        if len(text) >= 2:
            raise ValueError("the user's check broke")
        return True

    broken = Submission(
        subs[0].prompt_ids, awrs.Predicate(prefix=prefix, complete=lambda t: True), SMCConfig(max_new_tokens=8), seed=5
    )
    engine = Engine(lm)
    bad = engine.submit(broken)
    good = [engine.submit(s) for s in subs[1:3]]
    engine.run()
    assert bad.status == "failed"
    with pytest.raises(ValueError, match="the user's check broke"):
        bad.result()
    for handle, s in zip(good, subs[1:3]):
        assert outcome(handle.result()) == outcome(alone(lm, s))


def test_a_request_that_cannot_start_fails_alone(lm):
    subs = submissions(lm)
    engine = Engine(lm)
    bad = engine.submit(Submission(subs[0].prompt_ids, subs[0].constraint, SMCConfig(twist=True)))  # no critic
    fine = engine.submit(subs[2])
    engine.run()
    assert bad.status == "failed" and fine.status == "done"
    with pytest.raises(GenerationError, match="critic"):
        bad.result()
    assert outcome(fine.result()) == outcome(alone(lm, subs[2]))


@pytest.mark.parametrize("seed", range(12))
def test_the_committed_output_only_grows_and_begins_every_valid_result(seed):
    """What a stream may send: over SMC with resampling and a stop string spanning tokens, the
    committed output is a prefix of itself at every later step and of the chosen output."""
    tokens = [b"a", b"b", b"ab", b"</", b"s>", b"x", b"\xc3", b"\xa9"]
    rng = np.random.default_rng(seed)
    lm = awrs.MockLM(tokens, rng.normal(0, 1.5, (len(tokens) + 1, len(tokens) + 1)))
    constraint = awrs.Regex(r"(a|b|\xe9)+(x|</s>)?")
    config = SMCConfig(n_particles=6, ess_threshold=0.9, max_new_tokens=10, stop_strings=(b"</s>",))
    engine = Engine(lm)
    handle = engine.submit(Submission(lm.encode_prompt("a"), constraint, config, seed=seed, stream=True))
    seen = [b""]
    while engine.pending:
        engine.step()
        assert handle.committed.startswith(seen[-1])
        seen.append(handle.committed)
        handle.committed_text.encode()  # always decodable: an incomplete character waits
    record = handle.result()
    finite = [p for p in record.particles if np.isfinite(p.log_weight)]
    assert all(p.output(lm.vocab).startswith(handle.committed) for p in finite)
    if finite:  # at the end nothing is held back: all that the survivors share is committed
        outputs = [p.output(lm.vocab) for p in finite]
        shared = next((i for i in range(min(map(len, outputs))) if len({o[i] for o in outputs}) > 1), min(map(len, outputs)))
        assert handle.committed == outputs[0][:shared]


def test_agreed_output_holds_back_what_a_stop_string_could_cut():
    from awrs.smc.engine import Trajectory
    from awrs.smc.scheduler import agreed_output

    vocab = awrs.MockLM([b"ab", b"</", b"s>"], [0.0] * 4).vocab
    running = [Trajectory(None, tokens=[0, 1]), Trajectory(None, tokens=[0, 1, 0])]
    assert agreed_output(running, vocab) == b"ab</"
    assert agreed_output(running, vocab, [b"</s>"]) == b"ab"  # "ab</" less the "</" that may begin "</s>"
    assert agreed_output(running, vocab, [b"b</s>"]) == b"a"  # "ab</" less "b</"
    assert agreed_output(running, vocab, [b"xyz"]) == b"ab</"  # nothing here can begin "xyz"
    dead = Trajectory(None, tokens=[2], log_weight=-np.inf)
    assert agreed_output([*running, dead], vocab) == b"ab</"


def test_committed_text_waits_for_a_whole_character():
    from awrs.smc.scheduler import Handle

    handle = Handle(0, Submission([0], awrs.Regex("a")))
    for data, text in [
        (b"ab\xc3", "ab"),
        (b"ab\xc3\xa9", "abé"),
        (b"\xe2\x82", ""),
        (b"\xe2\x82\xac", "€"),
        (b"x\xf0\x9f\x98", "x"),
    ]:
        handle.committed = data
        assert handle.committed_text == text
