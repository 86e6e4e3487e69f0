"""The walks of a step in one kernel call (awrs/sampler/_kernel_walks.py) are the Python walks: the
same tokens, weights, checks, next states and generator state, row after row, with hand-backs
(restarts over small masses, narrowing, uniforms running out) in between; for a DFA constraint,
whose checks the kernel makes, and for the others, whose checks it asks Python for."""

from __future__ import annotations

import numpy as np
import pytest

import awrs
from awrs.lm.vocab import Vocabulary
from awrs.sampler import _kernel_walks
from awrs.sampler import proposal as proposal_module
from awrs.sampler import space as space_module
from awrs.sampler.proposal import AwrsProposal, LcdProposal
from awrs.sampler.space import CandidateSpace

LETTERS = [bytes([c]) for c in b"abcdefghij"]
TOKENS = [*LETTERS, b"ab", b"abc", b"ba", b"cab", b"0", b"1", b"12", b"-", b" ", b"j0", b"<x>", b"\x00"]


def _vocab():
    return Vocabulary.from_tokens(TOKENS, eos_ids=[len(TOKENS) - 1], special_ids=[])


PATTERNS = [r"[a-c]+-[0-9]{1,3}", r"(ab|ba)*c?", r"j0|1|<x>", r"[a-j]{3,5}", r"x*"]


RAN: list[int] = []


def _random_rows(rng, width: int, states: list) -> tuple[np.ndarray, list]:
    """4-39 rows of ``width`` random log-probabilities (a tenth of them -inf), and a state of
    ``states`` for each row."""
    n = int(rng.integers(_kernel_walks.KERNEL_ROWS, 40))
    rows = rng.normal(-3.0, rng.choice([1.0, 4.0, 12.0]), size=(n, width)).astype(np.float32)
    rows[rng.random(rows.shape) < 0.1] = -np.inf
    return rows, [states[int(i)] for i in rng.integers(0, len(states), n)]


def _steps(proposal, rows, space, states, seed, kernel: bool, monkeypatch):
    if not kernel:
        monkeypatch.setattr(_kernel_walks, "supports", lambda *a: None)
    else:
        walks = _kernel_walks._walks
        monkeypatch.setattr(_kernel_walks, "_walks", lambda *a: RAN.append(1) or walks(*a))
    rng = np.random.default_rng(seed)
    checkers = [space.checker(s) for s in states]
    steps = list(proposal.propose_rows(rows, checkers, rng))
    nexts = [None if s.token is None or s.token == space.eos_index else c.next_state(s.token) for s, c in zip(steps, checkers)]
    monkeypatch.undo()
    return [(s.token, s.log_weight, s.n_checks) for s in steps], nexts, rng.random()


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("proposal", [AwrsProposal(), LcdProposal(), AwrsProposal(max_rejects=2)])
def test_the_kernel_walks_are_the_python_walks(proposal, compact, monkeypatch):
    vocab = _vocab()
    for k, pattern in enumerate(PATTERNS):
        c = awrs.Regex(pattern)
        space = CandidateSpace(vocab, c, compact=compact)
        assert space.dfa is not None
        # States along some accepted texts, and the initial one.
        states = {c.initial()}
        for text in ("abc-1", "ab", "abab", "j0", "abcd", ""):
            s = c.initial()
            for ch in text.encode():
                s = c.advance(s, bytes([ch])) if s is not None else None
                if s is not None:
                    states.add(s)
        states = sorted(states)
        for seed in range(12):
            rows, row_states = _random_rows(np.random.default_rng(100 * k + seed), len(vocab), states)
            want = _steps(proposal, rows, space, row_states, seed, False, monkeypatch)
            RAN.clear()
            got = _steps(proposal, rows, space, row_states, seed, True, monkeypatch)
            assert got == want, (pattern, seed)
            assert RAN  # the kernel made these steps
    # On the full layout, with 2 cores or more, the kernel's walks made kept distributions
    # themselves, a thread of the pool the others (proposal._KeptAhead).
    assert (BESIDE[-1] > 0) == (not compact and proposal_module._WORKERS > 1)


BESIDE = [0]


@pytest.fixture(autouse=True)
def _count_beside():
    """BESIDE[-1]: the steps whose kept distributions were made beside the walks, this test
    (its own patch: the tests undo theirs midway)."""
    BESIDE.append(0)

    class Counted(proposal_module._KeptAhead):
        def __init__(self, *args, **kwargs):
            BESIDE[-1] += 1
            super().__init__(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(proposal_module, "_KeptAhead", Counted)
        yield


def test_rows_the_kernel_hands_back_are_walked_in_python_in_their_place(monkeypatch):
    """Rows whose allowed mass is tiny (restarts) and a uniform budget of 1 per row (every
    weighted walk needs 2): hand-backs everywhere, walked again in the kernel with more
    uniforms or, with none more, in Python; the same steps."""
    vocab = _vocab()
    c = awrs.Regex(r"<x>")
    space = CandidateSpace(vocab, c, compact=False)
    rng = np.random.default_rng(0)
    rows = rng.normal(0, 1, size=(30, len(vocab))).astype(np.float32)
    rows[:, TOKENS.index(b"<x>")] = -40.0  # the one allowed token, 2**-57 of the mass: restarts
    handed = []
    kernel = _kernel_walks._walks

    def counting(*args):
        out = kernel(*args)
        handed.append(out[0] < len(args[5]))
        return out

    # (uniforms per row, more for a row that ran out): with none more, it is walked in Python
    for budget, retry in (
        (1, 0),
        (1, _kernel_walks.RETRY_UNIFORMS),
        (_kernel_walks.UNIFORMS_PER_ROW, _kernel_walks.RETRY_UNIFORMS),
    ):
        monkeypatch.setattr(_kernel_walks, "UNIFORMS_PER_ROW", budget)
        want = _steps(AwrsProposal(), rows, space, [0] * 30, 3, False, monkeypatch)
        monkeypatch.setattr(_kernel_walks, "UNIFORMS_PER_ROW", budget)
        monkeypatch.setattr(_kernel_walks, "RETRY_UNIFORMS", retry)
        monkeypatch.setattr(_kernel_walks, "_walks", counting)
        got = _steps(AwrsProposal(), rows, space, [0] * 30, 3, True, monkeypatch)
        monkeypatch.undo()
        assert got == want
        assert all(t == TOKENS.index(b"<x>") for t, _, _ in got[0])
    assert any(handed)


@pytest.mark.parametrize("depth", [-6.0, -20.0])
@pytest.mark.parametrize("proposal", [AwrsProposal(), LcdProposal(), AwrsProposal(max_rejects=40)])
def test_walks_that_narrow_and_restart_in_the_kernel_are_the_python_walks(proposal, depth, monkeypatch):
    """A vocabulary with room for NARROW_AFTER = 32 rejections: the rows put their mass on 64
    tokens the first state refuses by their first byte (their bytes come later in the
    language, so they are not pruned), so walks narrow after 32 rejections and, with the one
    allowed token 20 nats down, restart too. With uniforms enough the kernel walks them all
    (nothing handed back); with the default budget some are handed back; the same steps as
    the Python walks either way."""
    pairs = [bytes([a, b]) for a in b"abcdefgh" for b in b"abcdefgh"]
    tokens = [*pairs, b"y", b"\x00"]
    vocab = Vocabulary.from_tokens(tokens, eos_ids=[len(tokens) - 1], special_ids=[])
    c = awrs.Regex(r"y[a-h]+")
    states = [c.initial(), c.advance(c.initial(), b"y")]
    kernel = _kernel_walks._walks
    for compact in (False, True):
        space = CandidateSpace(vocab, c, compact=compact)
        for budget in (_kernel_walks.UNIFORMS_PER_ROW, 200):
            for seed in range(4):
                rng = np.random.default_rng(seed)
                rows = rng.normal(0.0, 0.5, size=(24, len(vocab))).astype(np.float32)
                rows[:, tokens.index(b"y")] = depth
                row_states = [states[int(i)] for i in rng.integers(0, 2, len(rows))]
                want = _steps(proposal, rows, space, row_states, seed, False, monkeypatch)
                handed: list[bool] = []

                def counting(*args, handed=handed):
                    out = kernel(*args)
                    handed.append(out[0] < len(args[5]))
                    return out

                monkeypatch.setattr(_kernel_walks, "UNIFORMS_PER_ROW", budget)
                monkeypatch.setattr(_kernel_walks, "_walks", counting)
                got = _steps(proposal, rows, space, row_states, seed, True, monkeypatch)
                assert got == want, (compact, budget, seed)
                assert max(checks for _, _, checks in got[0]) > _kernel_walks.NARROW_AFTER  # walks that narrowed
                if budget == 200 and not compact:  # the compact layout hands restarts back
                    assert not any(handed), seed


def test_which_walks_run_in_the_kernel():
    vocab = _vocab()
    space = CandidateSpace(vocab, awrs.Regex("a+"))
    checkers = [space.checker(0)]
    rng = np.random.default_rng(0)
    assert _kernel_walks.supports(checkers, "recursive", rng) is space.dfa
    assert _kernel_walks.supports(checkers, "two-loop", rng) is None
    assert _kernel_walks.supports(checkers, "recursive", np.random.Generator(np.random.MT19937(0))) is None  # no advance
    json = CandidateSpace(vocab, awrs.JsonSchema({"type": "integer"}))
    assert _kernel_walks.supports([json.checker(json.constraint.initial())], "recursive", rng) is _kernel_walks.ASKED
    both = awrs.Regex("[a-c]+") & awrs.Regex("a.*")  # an intersection of DFAs is one
    assert CandidateSpace(vocab, both).dfa is not None


#: Constraints that are not one DFA, over JSON_TOKENS, with texts whose prefixes give the
#: states the rows walk from: the kernel asks Python for their checks.
JSON_TOKENS = [
    *[bytes([c]) for c in b'{}[]",:0123456789 abcxyz-.'],
    b'{"', b'":', b'",', b'"a', b"ab", b"abc", b"12", b"true", b"null", b" }", b"],", b"\\n", b"\\", b"\\u00", b"\x00",
]  # fmt: skip
ASKED = [
    (
        lambda: awrs.JsonSchema(
            {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}}}
        ),
        ['[{"a": 12, "b": "xyz"}, {"b": "a\\n"}]', "[", '[{"a', '[{"b": "ab'],
    ),
    (lambda: awrs.Grammar('start: "[" item ("," item)* "]"\nitem: /[0-9]+/ | "null" | "true"'), ["[12,null,true]", "[1"]),
    (
        lambda: awrs.Predicate(prefix=lambda t: set(t) <= set("abc") and len(t) <= 6, complete=lambda t: t.endswith("c")),
        ["abcab", "ba"],
    ),
]


def _asked_states(c, texts):
    states, found = [c.initial()], {repr(c.initial())}
    for text in texts:
        s = c.initial()
        for ch in text.encode():
            s = c.advance(s, bytes([ch])) if s is not None else None
            if s is not None and repr(s) not in found:
                found.add(repr(s))
                states.append(s)
    return states


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("proposal", [AwrsProposal(), LcdProposal(), AwrsProposal(max_rejects=3)])
@pytest.mark.parametrize("which", range(len(ASKED)))
def test_the_kernel_walks_that_ask_python_for_checks_are_the_python_walks(which, proposal, compact, monkeypatch):
    """JSON Schema, a grammar and a predicate, from states along some texts: rows at random,
    and rows whose allowed tokens are 6 or 20 nats down (walks that narrow after 32
    rejections, restart over small masses and run out of uniforms); the kernel's checks asked
    of a fresh space (nothing known) and of the space the Python walks filled."""
    make, texts = ASKED[which]
    vocab = Vocabulary.from_tokens(JSON_TOKENS, eos_ids=[len(JSON_TOKENS) - 1], special_ids=[])
    c = make()
    space = CandidateSpace(vocab, c, compact=compact)
    assert space.dfa is None
    states = _asked_states(c, texts)
    most = 0
    for seed in range(6):
        rows, row_states = _random_rows(np.random.default_rng(1000 * which + seed), len(vocab), states)
        if seed % 2:
            for p, state in enumerate(row_states):
                rows[p, space.checker(state).mask()[:-1]] -= (6.0, 20.0)[seed % 4 // 2]
        want = _steps(proposal, rows, space, row_states, seed, False, monkeypatch)
        for fresh in (True, False):
            RAN.clear()
            kernel_space = CandidateSpace(vocab, c, compact=compact) if fresh else space
            got = _steps(proposal, rows, kernel_space, row_states, seed, True, monkeypatch)
            assert got == want, (which, seed, fresh)
            assert RAN
        most = max(most, *(checks for _, _, checks in want[0]))
    if proposal.max_rejects is None:
        assert most > _kernel_walks.NARROW_AFTER  # walks that narrowed


class Odd(Exception):
    pass


class OddBytes(awrs.Predicate):
    """A predicate that raises on an "x", read as a fold over the bytes (its text its state)."""

    byte_steps = True


def _no_x(text):
    if "x" in text:
        raise Odd("no x")
    return True


@pytest.mark.parametrize("make", [awrs.Predicate, OddBytes], ids=["asked", "byte steps"])
def test_a_check_that_raises_in_a_kernel_walk_raises_from_the_step(make):
    """The error of a check the kernel asked for (whole, or a byte step) is raised from
    ``propose_rows`` (it cannot cross the kernel's frames), the generator set to where the
    raising walk began."""
    vocab = _vocab()
    space = CandidateSpace(vocab, make(prefix=_no_x))
    assert (space.byte_steps is not None) == (make is OddBytes)
    rng = np.random.default_rng(0)
    rows = np.zeros((8, len(vocab)), dtype=np.float32)
    rows[:, TOKENS.index(b"<x>")] = 30.0  # every walk asks about it first
    checkers = [space.checker(space.constraint.initial()) for _ in range(8)]
    before = rng.bit_generator.state
    with pytest.raises(Odd, match="no x"):
        list(AwrsProposal().propose_rows(rows, checkers, rng))
    assert rng.bit_generator.state == before  # the first row raised: nothing was drawn


@pytest.mark.parametrize("limit", [2, 6, 16384])
@pytest.mark.parametrize("which", [0, 1])
def test_walks_through_byte_steps_with_little_room_are_the_python_walks(which, limit, monkeypatch):
    """JSON Schema's and a grammar's checks follow their byte steps (space.ByteSteps); the table held to
    ``limit`` states and grown by one state per call: steps with no room are asked whole, and
    the table is emptied between calls once full (a new epoch: the ids remembered per state are
    read anew). The same steps as the Python walks, call after call on one space."""
    make, texts = ASKED[which]
    vocab = Vocabulary.from_tokens(JSON_TOKENS, eos_ids=[len(JSON_TOKENS) - 1], special_ids=[])
    c = make()
    assert c.byte_steps
    states = _asked_states(c, texts)
    python_space, kernel_space = CandidateSpace(vocab, c), CandidateSpace(vocab, c)
    assert kernel_space.byte_steps is not None
    kept = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(_kernel_walks.KERNEL_ROWS, 40))
        rows = rng.normal(-3.0, 4.0, size=(n, len(vocab))).astype(np.float32)
        row_states = [states[int(i)] for i in rng.integers(0, len(states), n)]
        want = _steps(AwrsProposal(), rows, python_space, row_states, seed, False, monkeypatch)
        monkeypatch.setattr(space_module, "STEP_STATES", limit)
        monkeypatch.setattr(_kernel_walks, "STEP_ROOM", 1)
        got = _steps(AwrsProposal(), rows, kernel_space, row_states, seed, True, monkeypatch)
        assert got == want, (limit, seed)
        kept = max(kept, int((kernel_space.byte_steps.table >= 0).sum()))
    if limit == 16384:
        assert kept > 0  # steps kept in the table, for tokens to follow
    assert (kernel_space.byte_steps.epoch > 0) == (limit < 16384)
