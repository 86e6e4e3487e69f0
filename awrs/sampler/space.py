"""The candidates of one generation, and the checker that answers for them.

Candidates are the vocabulary's token ids plus one end-of-sequence candidate at index
``len(vocab)`` whose mass is the sum over every end id; it is allowed when the text so far is
complete. Special tokens, end ids (their mass is in the EOS candidate) and tokens containing a
byte the constraint can never produce are pruned exactly (docs/algorithm.md §2).
:class:`CandidateSpace` is built once per generation; :class:`TokenChecker` answers one
step's checks from one constraint state.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import Any

import numpy as np

from awrs.constraints.base import _SINGLE_BYTES, Constraint
from awrs.constraints.compose import as_dfa
from awrs.errors import GenerationError
from awrs.lm.vocab import Vocabulary
from awrs.sampler._layout import F32, F64, CandidateLayout
from awrs.sampler.base import CountedAccept, Step

__all__ = ["COMPACT_SHARE", "KNOWN_STATES", "STEP_STATES", "ByteSteps", "CandidateSpace", "TokenChecker"]

#: A space whose constraint can use at most this share of the vocabulary's tokens (by the
#: bytes it ever produces) lays its steps out compactly: those tokens and EOS only.
COMPACT_SHARE = 1 / 8

#: The most constraint states a space remembers the answers of (docs/sampler.md, "Twins"); it
#: forgets them all when full.
KNOWN_STATES = 16384

#: What :attr:`_Known.first` says of a byte alone from a state, once known.
FIRST_TAKEN, FIRST_REFUSED = 1, 2

#: The most states a space's :class:`ByteSteps` table holds (512 bytes each: 8 MB at most per
#: generation); it is emptied, between steps, once full.
STEP_STATES = 16384
#: The table's entries: state ids below STEP_STATES, and the codes below.
STEP_DTYPE = np.int16
#: A byte step's entry in :attr:`ByteSteps.table`: not met yet, or refused (else a state id);
#: and what :meth:`ByteSteps.step` says when it cannot keep the step.
UNKNOWN_STEP, REFUSED_STEP, NO_ROOM = -2, -1, -3
assert np.iinfo(STEP_DTYPE).max + 1 >= STEP_STATES and np.iinfo(STEP_DTYPE).min <= NO_ROOM, "ids and codes fit the table"


class ByteSteps:
    """The (state, byte) steps of a constraint whose ``advance`` is a fold over the bytes
    (:attr:`Constraint.byte_steps`) met so far: the states as ids (``states[k]``), and
    ``table[k, b]``, the id of the state after byte ``b`` from state ``k``
    (:data:`REFUSED_STEP`, or :data:`UNKNOWN_STEP` until met). The kernel walks
    (awrs.sampler._kernel_walks) check a token by following it through the table, and ask
    ``advance`` only for the steps not met yet (docs/sampler.md, "Byte steps"). ``epoch``
    counts the times the table was emptied (an id is valid in the epoch that gave it)."""

    __slots__ = ("advance", "epoch", "ids", "limit", "states", "table")

    def __init__(self, constraint: Constraint):
        self.advance = constraint.advance
        self.ids: dict[Any, int] = {}
        self.states: list[Any] = []
        self.table = np.full((256, 256), UNKNOWN_STEP, dtype=STEP_DTYPE)
        self.epoch = 0
        self.limit = 0  # the most states the table may hold until the next ready()

    def ready(self, room: int) -> None:
        """Room for ``room`` more states (up to :data:`STEP_STATES` in all; :meth:`id_of` gives
        no more), the table emptied first when full; between kernel calls only (a call reads
        the table it was given)."""
        if len(self.states) >= STEP_STATES:
            self.ids.clear()
            self.states.clear()
            self.table[:] = UNKNOWN_STEP
            self.epoch += 1
        self.limit = min(len(self.states) + room, STEP_STATES)
        size = self.table.shape[0]
        if self.limit > size:
            while size < self.limit:
                size *= 2
            grown = np.full((min(size, STEP_STATES), 256), UNKNOWN_STEP, dtype=STEP_DTYPE)
            grown[: self.table.shape[0]] = self.table
            self.table = grown

    def id_of(self, state: Any) -> int:
        """``state``'s id, given it if new; -1 when it is unhashable or there is no room."""
        try:
            found = self.ids.get(state)
        except TypeError:
            return -1
        if found is None:
            if len(self.states) >= self.limit:
                return -1
            found = self.ids[state] = len(self.states)
            self.states.append(state)
        return found

    def step(self, k: int, b: int) -> int:
        """The id of the state after byte ``b`` from state ``k`` (:data:`REFUSED_STEP` when
        ``advance`` refuses it), kept in the table; :data:`NO_ROOM` when a new state has no
        room (or is unhashable): nothing is kept."""
        nxt = self.advance(self.states[k], _SINGLE_BYTES[b])
        if nxt is None:
            self.table[k, b] = REFUSED_STEP
            return REFUSED_STEP
        found = self.id_of(nxt)
        if found < 0:
            return NO_ROOM
        self.table[k, b] = found
        return found


class CandidateSpace:
    """The candidate layout for one vocabulary and one constraint (built once per generation).

    ``compact`` (None: decided by :data:`COMPACT_SHARE`) lays AWRS and LCD steps out over
    the tokens no state prunes, and EOS, instead of the whole vocabulary: a digit regex can
    use ~100 of SmolLM2's 49,152 tokens, and every pass of a step (the masked argmax, the
    exponentials, the block sums) then reads 100 values instead of 49,153. The pruned
    candidates have no mass in either layout, so the steps are the same walks.
    """

    def __init__(
        self, vocab: Vocabulary, constraint: Constraint, extra_eos_ids: Iterable[int] = (), *, compact: bool | None = None
    ):
        self.vocab = vocab
        self.constraint = constraint
        kind = type(constraint)
        # The constraint's is_final and impossible_tokens, None where it keeps the default
        # (False; None): no call on the step's path then (docs/sampler.md, "The hot path").
        self._is_final = None if kind.is_final is Constraint.is_final else constraint.is_final
        self._impossible = None if kind.impossible_tokens is Constraint.impossible_tokens else constraint.impossible_tokens
        self.eos_index = len(vocab)
        #: The byte DFA that makes every check, when the constraint is one (its walks can run
        #: in one kernel call: awrs.sampler._kernel_walks), else None.
        self.dfa = as_dfa(constraint)
        #: The constraint reads bytes one at a time (:attr:`Constraint.bytewise`): a first byte
        #: it refuses alone is refused for every token that starts with it.
        self.bytewise = bool(getattr(constraint, "bytewise", False))
        self._known: dict[Any, _Known] = {}
        self._refused: dict[bytes, np.ndarray] = {}
        #: The byte steps the kernel walks check tokens through, for a constraint whose
        #: ``advance`` is a fold over the bytes (:attr:`Constraint.byte_steps`), else None.
        self.byte_steps = ByteSteps(constraint) if getattr(constraint, "byte_steps", False) else None
        self.eos_ids = np.array(sorted(set(vocab.eos_ids) | set(extra_eos_ids)), dtype=np.int64)
        prune = np.zeros(self.eos_index + 1, dtype=np.bool_)  # EOS (last) is never pruned
        prune[: self.eos_index] = ~vocab.text_mask
        prune[self.eos_ids] = True
        never = constraint.never_tokens(vocab)
        if never is not None:
            prune[: self.eos_index] |= never
        prune.flags.writeable = False
        final = np.ones(self.eos_index + 1, dtype=np.bool_)
        final[self.eos_index] = False
        final.flags.writeable = False
        #: What a final state prunes (:meth:`Constraint.is_final`): every candidate but EOS.
        self.final_prune = final
        #: Candidates no state can take (special tokens, end ids, tokens with a byte the
        #: constraint never produces); every proposal skips them.
        self.prune = prune
        #: What one masking step checks: every token that can appear in text, plus EOS.
        self.mask_checks = int(vocab.text_mask.sum()) + 1
        kept = np.flatnonzero(~prune[: self.eos_index])
        if compact is None:
            compact = len(kept) <= COMPACT_SHARE * self.eos_index
        #: The layout of every candidate (what masking steps and :meth:`candidates` use).
        self.full_layout = CandidateLayout(self.eos_index, self.eos_ids)
        #: The layout AWRS, LCD and greedy steps use: the compact one when the space has it.
        self.layout = CandidateLayout(self.eos_index, self.eos_ids, kept) if compact else self.full_layout
        #: The compact layout: ``positions[k]`` is the candidate at compact index ``k`` (the
        #: unpruned tokens in id order, then EOS); None for the full layout.
        self.positions: np.ndarray | None = None
        if compact:
            self.positions = np.append(kept, self.eos_index).astype(np.int64)
            self.positions.flags.writeable = False
            self._compact_prune = np.zeros(len(self.positions), dtype=np.bool_)
            self._compact_prune.flags.writeable = False

    def candidates(self, logprobs: np.ndarray, dtype=np.float64) -> np.ndarray:
        """Log-probabilities over the candidates, EOS last, as float64 (or as float32 when the
        model's are: what greedy steps take, as they only compare them; half the memory
        traffic). Pruned candidates keep their values: :meth:`TokenChecker.pruned` says which
        to skip."""
        lp = self.row(logprobs)
        return self.full_layout.candidates(lp, np.float64 if lp.dtype == np.float64 else dtype)

    def compact_candidates(self, logprobs: np.ndarray, dtype=np.float64) -> np.ndarray:
        """:meth:`candidates` at :attr:`positions` only (the compact layout)."""
        if self.positions is None:
            raise GenerationError("this candidate space has the full layout (compact=False)")
        lp = self.row(logprobs)
        return self.layout.candidates(lp, np.float64 if lp.dtype == np.float64 else dtype)

    @cached_property
    def first_bytes(self) -> np.ndarray:
        """Each candidate's first byte in :attr:`layout` (int16; -1 for EOS and for tokens
        without bytes): what :meth:`TokenChecker.refused` reads, for the kernel walks."""
        first = np.append(self.vocab.first_byte, np.int16(-1))  # the EOS candidate last
        out = first if self.positions is None else first[self.positions]
        out.flags.writeable = False
        return out

    def row(self, logprobs: np.ndarray) -> np.ndarray:
        """The model's log-probabilities as the kernels read them: float32 or float64 (others
        become float64), one per token of the vocabulary."""
        lp = logprobs
        if type(lp) is not np.ndarray or (lp.dtype is not F32 and lp.dtype is not F64):
            lp = np.asarray(lp)
            if lp.dtype not in (np.float32, np.float64):
                lp = lp.astype(np.float64)
        if lp.shape != (self.eos_index,):
            raise GenerationError(
                f"expected log-probabilities over the {self.eos_index} tokens of the vocabulary, got shape {lp.shape}"
            )
        return lp

    def refused_by(self, next_bytes: np.ndarray) -> np.ndarray:
        """The candidates whose first byte ``next_bytes`` (256 bools) refuses: read-only, and
        made once per distinct set (a handful per generation, each a pass over the
        vocabulary)."""
        allowed = np.asarray(next_bytes, dtype=np.bool_)
        key = allowed.tobytes()
        out = self._refused.get(key)
        if out is None:
            first = self.vocab.first_byte
            out = np.zeros(self.eos_index + 1, dtype=np.bool_)
            out[: self.eos_index] = ~allowed[first] & (first >= 0)
            out.flags.writeable = False
            if len(self._refused) >= 256:
                self._refused.clear()
            self._refused[key] = out
        return out

    def checker(self, state: Any, twin: TokenChecker | None = None) -> TokenChecker:
        """The checker of one step from ``state``; ``twin``: a checker of the same step from
        the same state (a particle's twin, docs/sampler.md "Twins") whose answers it shares.
        Checkers from equal (hashable) states share what the constraint said, across the
        generation's particles and steps (:data:`KNOWN_STATES` states at a time)."""
        if twin is not None:
            return TokenChecker(self, state, twin._answers)
        try:
            known = self._known.get(state)
        except TypeError:  # an unhashable state: its checkers learn alone
            return TokenChecker(self, state)
        if known is None:
            if len(self._known) >= KNOWN_STATES:
                self._known.clear()
            known = self._known[state] = _Known()
        return TokenChecker(self, state, _Answers(known))

    def to_full(self, step: Step) -> Step:
        """A step taken in :attr:`layout`, its token as a candidate id (the same step in the
        full layout)."""
        if step.token is None or self.positions is None:
            return step
        return Step(int(self.positions[step.token]), step.log_weight, step.n_checks)


class _Known:
    """What the constraint has said from one state: the candidates checked, the states they
    lead to, whether the state is final, and (a bytewise constraint) which first bytes it
    takes alone. A state is a value (docs/constraints.md), so this holds for every particle in
    that state, at every step of the generation."""

    __slots__ = ("allowed", "final", "first", "next_states", "step_epoch", "step_id")

    def __init__(self) -> None:
        self.allowed: dict[int, bool] = {}
        self.next_states: dict[int, Any] = {}
        self.final: bool | None = None
        #: ``first[b]``: what the state says of byte ``b`` alone, 0 until known, then
        #: :data:`FIRST_TAKEN` or :data:`FIRST_REFUSED` (index 256, for tokens without bytes,
        #: is never refused).
        self.first = bytearray(257)
        #: The state's id in the space's ByteSteps (-1: none), valid in epoch ``step_epoch``.
        self.step_id = -1
        self.step_epoch = -1


class _Answers:
    """What one step's checkers from one state share: what is known of the state, and its
    pruned and refused candidates once asked (arrays over the candidates, kept for the step
    only)."""

    __slots__ = ("known", "pruned", "refused")

    def __init__(self, known: _Known) -> None:
        self.known = known
        self.pruned: np.ndarray | None = None
        self.refused: np.ndarray | bool | None = False  # False: not asked yet


class TokenChecker(CountedAccept):
    """``checker(i)``: may candidate ``i`` come next? Remembers its answers and the states
    it computes, and counts the distinct candidates it was asked about (``calls``). Checkers
    from the same state (:meth:`CandidateSpace.checker`) share what the constraint answered,
    and each counts its own walk's checks, as if it had asked alone."""

    __slots__ = ("_answers", "_seen", "calls", "next_states", "space", "state")
    calls: int  # a slot, where the base class has a read-only property

    def __init__(self, space: CandidateSpace, state: Any, answers: _Answers | None = None):
        self.space = space
        self.state = state
        self._answers = _Answers(_Known()) if answers is None else answers
        self.next_states: dict[int, Any] = self._answers.known.next_states
        self.calls = 0
        self._seen: dict[int, bool] = {}

    def final(self) -> bool:
        """The state is final (:meth:`Constraint.is_final`): EOS is the only candidate."""
        known = self._answers.known
        if known.final is None:
            is_final = self.space._is_final
            known.final = is_final is not None and bool(is_final(self.state))
        return known.final

    def __call__(self, i: int) -> bool:
        seen = self._seen
        hit = seen.get(i)
        if hit is not None:
            return hit
        self.calls += 1
        hit = self.answer(i)
        seen[i] = hit
        return hit

    def answer(self, i: int) -> bool:
        """Whether candidate ``i`` may come next, not counted as a check (the kernel walks of
        awrs.sampler._kernel_walks count theirs, :meth:`took`); remembered for every checker
        from this state."""
        allowed = self._answers.known.allowed
        hit = allowed.get(i)
        if hit is None:
            space = self.space
            if i == space.eos_index:
                hit = bool(space.constraint.is_complete(self.state))
            elif self.final():
                hit = False
            else:
                hit = self._advance(i)
            allowed[i] = hit
        return hit

    def _advance(self, i: int) -> bool:
        """Token ``i`` checked by the constraint (the state it leads to remembered). With a
        bytewise constraint, a token whose first byte the state refuses alone is refused without
        a check, and a token refused whole has its first byte tried alone once per state and
        byte (docs/sampler.md, "Refused first bytes")."""
        space = self.space
        token = space.vocab.tokens[i]
        first = self._answers.known.first if space.bytewise else None
        b = token[0] if token else 256
        if first is not None and first[b] == FIRST_REFUSED:
            return False
        nxt = space.constraint.advance(self.state, token)
        if nxt is not None:
            self.next_states[i] = nxt
            if first is not None:
                first[b] = FIRST_TAKEN
            return True
        if first is not None and b < 256 and not first[b]:
            taken = len(token) > 1 and space.constraint.advance(self.state, token[:1]) is not None
            first[b] = FIRST_TAKEN if taken else FIRST_REFUSED
        return False

    def refusals(self) -> tuple[bytearray, list[int]] | None:
        """``(first, first_of)``: a walk may refuse candidate ``i`` without asking when
        ``first[first_of[i]] == FIRST_REFUSED`` (its first byte is refused alone from this
        state; a bytewise constraint, the full layout), counting it as a check (``calls``) as
        asking would; it must not ask about ``i`` again. ``first_of`` is each candidate's first
        byte (256 for EOS and tokens without bytes), a list made once per vocabulary. None when
        there are no such refusals to read."""
        space = self.space
        if not space.bytewise or space.positions is not None:
            return None
        return self._answers.known.first, space.vocab.first_bytes_then_end

    def took(self, checks: int, i: int | None = None, next_state: Any = None) -> None:
        """What checks made elsewhere found (the kernel walks of awrs.sampler._kernel_walks):
        ``checks`` more candidates asked, and candidate ``i`` (when one was taken) leads to
        ``next_state``."""
        self.calls += checks
        if i is not None:
            self.next_states[i] = next_state

    def next_state(self, i: int) -> Any:
        if i not in self.next_states and not self(i):
            raise AssertionError(f"candidate {i} was chosen but is not allowed")
        return self.next_states[i]

    def pruned(self) -> np.ndarray:
        """Candidates to skip from this state: the space's :attr:`~CandidateSpace.prune` and
        the tokens the constraint rules out by its cheap check
        (:meth:`Constraint.impossible_tokens`); EOS is never among them. From a final state,
        every candidate but EOS."""
        answers = self._answers
        if answers.pruned is not None:
            return answers.pruned
        space = self.space
        if self.final():
            out = space.final_prune
        else:
            impossible = space._impossible
            refused = None if impossible is None else impossible(self.state, space.vocab)
            if refused is None:
                out = space.prune
            else:
                out = space.prune.copy()
                out[: space.eos_index] |= refused
                out.flags.writeable = False
        answers.pruned = out
        return out

    def refused(self) -> np.ndarray | None:
        """Candidates whose first byte the constraint refuses from this state
        (:meth:`Constraint.next_bytes`), or None when it does not say. What a long walk prunes
        (``awrs_step``'s ``narrow``); EOS and tokens without bytes are never among them."""
        answers = self._answers
        if answers.refused is not False:
            return answers.refused  # type: ignore[return-value]
        space = self.space
        allowed = space.constraint.next_bytes(self.state)
        answers.refused = None if allowed is None else space.refused_by(allowed)
        return answers.refused

    def mask(self) -> np.ndarray:
        """Every candidate checked at once (the masking baseline)."""
        space = self.space
        out = np.zeros(space.eos_index + 1, dtype=np.bool_)
        if not self.final():
            out[: space.eos_index] = space.constraint.mask(self.state, space.vocab)
            out &= ~space.prune
        out[space.eos_index] = space.constraint.is_complete(self.state)
        return out

    def in_layout(self) -> tuple[TokenChecker | _CompactChecker, CandidateLayout, np.ndarray]:
        """This checker, the layout and the pruned candidates of a step in the space's
        :attr:`~CandidateSpace.layout`: in the compact one, candidate ``k`` is
        ``space.positions[k]`` (:meth:`CandidateSpace.to_full` turns a step's token back)."""
        space = self.space
        view = self if space.positions is None else _CompactChecker(self)
        return view, space.layout, view.pruned()


class _CompactChecker(CountedAccept):
    """A :class:`TokenChecker` seen through the compact layout: candidate ``k`` is
    ``space.positions[k]``."""

    __slots__ = ("checker", "positions")

    def __init__(self, checker: TokenChecker):
        positions = checker.space.positions
        assert positions is not None, "a compact view needs the compact layout"
        self.checker = checker
        self.positions: np.ndarray = positions

    @property
    def calls(self) -> int:
        return self.checker.calls

    def __call__(self, k: int) -> bool:
        return self.checker(int(self.positions[k]))

    def pruned(self) -> np.ndarray:
        full = self.checker.pruned()
        space = self.checker.space
        return space._compact_prune if full is space.prune else full[self.positions]

    def refused(self) -> np.ndarray | None:
        full = self.checker.refused()
        return None if full is None else full[self.positions]
