"""A contract kit for constraints, including the ones users write.

``check_constraint(c, valid=[...], invalid=[...])`` checks the promises the sampler relies on
and raises :class:`ContractViolation` (an ``AssertionError``) naming the first broken one:

- every valid example is accepted, and every prefix of it (byte by byte) is accepted as a
  prefix (prefix closure: the sampler must never reject the start of a valid string);
- complete implies prefix;
- a final state (:meth:`~awrs.constraints.base.Constraint.is_final`) is complete, and a
  valid example goes on past one with whitespace at most (generation ends there, so it could
  never produce the rest);
- invalid examples are not accepted as complete;
- checking is independent of how the bytes are split into tokens (one byte at a time, the
  whole string, random chunks);
- states are values: advancing a state never changes it, so copies are independent;
- :meth:`~awrs.constraints.base.Constraint.next_bytes`, when the constraint gives it, is sound
  along every valid example (the example's next byte is allowed, and texts starting with a
  refused byte are rejected by ``advance``);
- with ``vocab=``: :meth:`~awrs.constraints.base.Constraint.impossible_tokens` is sound along
  every valid example (no token that continues the example is marked impossible, and sampled
  tokens it marks are rejected by ``advance``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import numpy as np

from awrs.constraints.base import Constraint, probe_next_bytes, to_bytes
from awrs.errors import ArgumentTypeError
from awrs.lm.vocab import Vocabulary

__all__ = ["ContractViolation", "check_constraint"]


class ContractViolation(AssertionError):
    """A constraint broke one of the promises of the protocol."""


def check_constraint(
    constraint: Constraint,
    valid: Iterable[str | bytes],
    invalid: Iterable[str | bytes] = (),
    *,
    seed: int = 0,
    splits: int = 5,
    vocab: Vocabulary | None = None,
) -> None:
    """Check ``constraint`` on example strings; raise :class:`ContractViolation` on the first failure.

    Raises :class:`~awrs.errors.ArgumentTypeError` when ``constraint`` is not a constraint or
    an example is not a str or bytes (naming it), and
    :class:`~awrs.errors.InvalidTextError` for an example with no UTF-8 form."""
    if not isinstance(constraint, Constraint):
        raise ArgumentTypeError(f"constraint must be an awrs constraint, got {type(constraint).__name__}")
    rng = random.Random(seed)
    valid_data = [to_bytes(example, f"valid[{k}]") for k, example in enumerate(valid)]
    invalid_data = [to_bytes(example, f"invalid[{k}]") for k, example in enumerate(invalid)]
    for data in valid_data:
        _check_valid(constraint, data)
        for _ in range(splits):
            _check_chunking(constraint, data, rng)
        _check_states_are_values(constraint, data, rng)
        _check_next_bytes(constraint, data, rng)
        _check_bytewise(constraint, data, rng)
        _check_byte_steps(constraint, data, rng)
        if vocab is not None:
            _check_impossible_tokens(constraint, data, vocab, rng)
    for example in invalid_data:
        if constraint.accepts(example):
            raise ContractViolation(f"{constraint!r} accepts the invalid example {example!r}")


def _check_valid(c: Constraint, data: bytes) -> None:
    if not c.accepts(data):
        raise ContractViolation(f"{c!r} does not accept the valid example {data!r}")
    state = c.initial()
    for i in range(len(data) + 1):
        if c.is_final(state) and (not c.is_complete(state) or data[i:].strip(b" \t\n\r\x0c")):
            raise ContractViolation(
                f"{c!r}: {data[:i]!r} is final (generation ends there) but "
                + (f"the valid example {data!r} goes on" if c.is_complete(state) else "not complete")
            )
        if i == len(data):
            break
        state = c.advance(state, data[i : i + 1])
        if state is None:
            raise ContractViolation(f"{c!r} rejects the prefix {data[: i + 1]!r} of the valid example {data!r} (prefix closure)")
        if c.is_complete(state) and not c.accepts_prefix(data[: i + 1]):
            raise ContractViolation(f"{c!r}: {data[: i + 1]!r} is complete but not accepted as a prefix")
    if not c.is_complete(state):
        raise ContractViolation(f"{c!r}: walking {data!r} byte by byte does not end complete, but accepts() is True")


def _check_chunking(c: Constraint, data: bytes, rng: random.Random) -> None:
    cuts = sorted(rng.sample(range(1, len(data)), k=min(len(data) - 1, rng.randint(0, 4)))) if len(data) > 1 else []
    state = c.initial()
    start = 0
    for end in [*cuts, len(data)]:
        state = c.advance(state, data[start:end])
        if state is None:
            raise ContractViolation(f"{c!r} rejects {data!r} when it arrives in chunks cut at {cuts}")
        start = end
    if not c.is_complete(state):
        raise ContractViolation(f"{c!r}: {data!r} in chunks cut at {cuts} does not end complete")


def _check_states_are_values(c: Constraint, data: bytes, rng: random.Random) -> None:
    if not data:
        return
    cut = rng.randrange(len(data) + 1)
    state = c.walk(data[:cut])
    assert state is not None  # the example passed _check_valid
    snapshot = repr(state)
    for noise in (b"\x00", b"}", b"zz", "é".encode()):
        c.advance(state, noise)  # must not change `state`
    if repr(state) != snapshot:
        raise ContractViolation(f"{c!r}: advance() changed the state it was given (states must be immutable values)")
    rest = c.advance(state, data[cut:])
    if rest is None or not c.is_complete(rest):
        raise ContractViolation(f"{c!r}: after exploring other continuations, the state no longer completes {data!r}")


#: Prefixes of each example at which ``next_bytes`` is checked (it may cost 256 advances).
_NEXT_BYTES_SAMPLE = 16


def _check_next_bytes(c: Constraint, data: bytes, rng: random.Random) -> None:
    cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, _NEXT_BYTES_SAMPLE)))
    for i in cuts:
        state = c.walk(data[:i])
        allowed = c.next_bytes(state)
        if allowed is None:
            continue  # the constraint does not say (from this state)
        if getattr(allowed, "shape", None) != (256,) or allowed.dtype != bool:
            raise ContractViolation(f"{c!r}: next_bytes() must be a bool array of shape (256,)")
        if i < len(data) and not allowed[data[i]]:
            raise ContractViolation(f"{c!r}: next_bytes() refuses {data[i : i + 1]!r} after {data[:i]!r}, but {data!r} is valid")
        refused = [b for b in range(256) if not allowed[b]]
        sample = rng.sample(refused, min(len(refused), 8))
        found = _accepted_after_refused(c, state, sample, (b"", data[i + 1 :]), rng)
        if found is not None:
            raise ContractViolation(
                f"{c!r}: next_bytes() refuses {found[:1]!r} after {data[:i]!r}, but advance() accepts {found!r}"
            )


def _accepted_after_refused(
    c: Constraint, state: Any, refused: Iterable[int], tails: tuple[bytes, ...], rng: random.Random
) -> bytes | None:
    """The first text of a byte of ``refused`` and a tail (``tails``, then 3 random bytes drawn
    for each byte) that ``advance`` takes from ``state``, or None: a refused byte must refuse
    every continuation."""
    for b in refused:
        for tail in (*tails, bytes(rng.randrange(256) for _ in range(3))):
            text = bytes((b,)) + tail
            if c.advance(state, text) is not None:
                return text
    return None


#: Prefixes of each example at which a bytewise constraint's refused bytes are checked (each
#: costs 256 advances, and 3 more per refused byte).
_BYTEWISE_SAMPLE = 4


def _check_bytewise(c: Constraint, data: bytes, rng: random.Random) -> None:
    """A constraint that says it is bytewise refuses, after a byte it refuses alone, every
    continuation tried (the sampler then refuses tokens by their first byte unchecked)."""
    if not c.bytewise:
        return
    for i in sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, _BYTEWISE_SAMPLE))):
        state = c.walk(data[:i])
        refused = np.flatnonzero(~probe_next_bytes(c, state)).tolist()
        found = _accepted_after_refused(c, state, refused, (data[i + 1 :], data[i:]), rng)
        if found is not None:
            raise ContractViolation(
                f"{c!r} says it is bytewise and refuses {found[:1]!r} after {data[:i]!r}, but advance() accepts "
                f"{found!r} (set bytewise = False for a constraint that judges whole texts)"
            )


def _check_byte_steps(c: Constraint, data: bytes, rng: random.Random) -> None:
    """A constraint that says its ``advance`` is a fold over the bytes gives, at a random cut,
    the state of the whole text as the state of the prefix advanced by the rest byte by byte
    (equal values, equal hashes)."""
    if not c.byte_steps or not data:
        return
    cut = rng.randrange(len(data))  # a byte or more read alone
    whole = c.walk(data)
    state = c.walk(data[:cut])
    for b in data[cut:]:
        state = None if state is None else c.advance(state, bytes((b,)))
    if state != whole or (state is not None and hash(state) != hash(whole)):
        raise ContractViolation(
            f"{c!r} says advance is a fold over the bytes, but {data!r} read as {data[:cut]!r} then byte by byte "
            f"leads to another state (set byte_steps = False)"
        )


#: Tokens marked impossible that are re-checked with ``advance`` at each prefix of an example.
_IMPOSSIBLE_SAMPLE = 64


def _check_impossible_tokens(c: Constraint, data: bytes, vocab: Vocabulary, rng: random.Random) -> None:
    state = c.initial()
    for i in range(len(data) + 1):
        refused = c.impossible_tokens(state, vocab)
        if refused is not None:
            if refused.shape != (len(vocab),) or refused.dtype != bool:
                raise ContractViolation(f"{c!r}: impossible_tokens() must be a bool array of shape ({len(vocab)},)")
            rest = data[i:]
            for t, token in enumerate(vocab.tokens):
                if refused[t] and token and rest.startswith(token):
                    raise ContractViolation(f"{c!r} marks token {token!r} impossible after {data[:i]!r}, but {data!r} is valid")
            marked = [t for t in rng.sample(range(len(vocab)), min(len(vocab), 4 * _IMPOSSIBLE_SAMPLE)) if refused[t]]
            for t in marked[:_IMPOSSIBLE_SAMPLE]:
                if c.advance(state, vocab.tokens[t]) is not None:
                    raise ContractViolation(
                        f"{c!r} marks token {vocab.tokens[t]!r} impossible after {data[:i]!r}, but advance() accepts it"
                    )
        if i < len(data):
            state = c.advance(state, data[i : i + 1])
