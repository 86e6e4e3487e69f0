"""Every particle's AWRS walk in one Numba call (private; docs/sampler.md, "Walks in one call").

A regular expression, a choice, free text and their intersections check a token by walking the
DFA's table over its bytes, which a kernel can do as well as Python. :func:`kernel_walks` then runs
the walks of all rows of a step — the draws without replacement, the checks, the recursive
weight — in one call, in row order, reading the uniforms the Python walks would have drawn from
the generator, in the order they would have drawn them: one block of uniforms is drawn, and the
generator is then set to where the walks left it (``bit_generator.advance``; PCG64, NumPy's
default). So the steps are those of :func:`~awrs.sampler.walk.walk` row by row — tokens,
weights, checks and the generator's state (tests/sampler/test_kernel_walks.py). Long walks too:
narrowing after ``NARROW_AFTER`` rejections (a candidate is refused when its first byte has no
transition from the state) and restarts over a small remaining mass (the kept pass again, from
the particle's own row of the model's array). A walk that runs out of the uniforms drawn is
handed back and walked again in the kernel with ``RETRY_UNIFORMS`` more (the same uniforms
first: the same walk). A walk that needs what the kernel does not do (a restart in the compact
layout or on rows it cannot read, running out again, more than 4,096 draws in one order or
4,096 rejections) is handed back: the generator is set to where that walk began and Python
walks it, then the kernel goes on with the next row.

Constraints that are not one DFA walk in the same call: the kernel asks Python for each check
(:func:`_answer`, called through a ctypes function pointer: ``TokenChecker.answer``) and for the
candidates a narrowing walk drops (``TokenChecker.refused``); everything else is the same code.
"""

from __future__ import annotations

import ctypes
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numba
import numpy as np
from llvmlite import ir as llvmlite_ir  # type: ignore[import-untyped]

from awrs._numba import njit
from awrs.sampler._kernels import BLOCK, _argmax, _block_sums, _draw, _total, _unvisited_allowed
from awrs.sampler._layout import _ensure_kept, _full_kept
from awrs.sampler.base import Estimator, Step
from awrs.sampler.kept import Kept
from awrs.sampler.order import MAX_AHEAD
from awrs.sampler.space import NO_ROOM, STEP_DTYPE, UNKNOWN_STEP
from awrs.sampler.walk import NARROW_AFTER, RESTART_SHARE

__all__ = ["kernel_walks", "supports"]

#: Rows from which a step's walks run in the kernel: below, its call costs more than the Python
#: walks it saves (one row: 0.11 against 0.10 ms per step; 16 rows: 1.18x faster).
KERNEL_ROWS = 4

#: Uniforms drawn per row and call (a walk of 2-7 checks takes 2-6); a row that needs more is
#: walked again with :data:`RETRY_UNIFORMS` more.
UNIFORMS_PER_ROW = 24
#: Uniforms added for a row handed back for want of them, walked again in the kernel (the walk
#: reads the same uniforms, so it is the same walk); a row that runs out again is walked in Python.
RETRY_UNIFORMS = 1024
_VISITED = 4096


@njit(cache=True, nogil=True)
def _check(pos, state, positions, eos_index, table, final, buf, offsets):  # pragma: no cover - compiled
    # (allowed, next state) of candidate ``pos`` from DFA state ``state``.
    c = positions[pos] if positions.shape[0] > 0 else pos
    if c == eos_index:
        return final[state], state
    s = state
    for i in range(offsets[c], offsets[c + 1]):
        s = table[s, buf[i]]
        if s < 0:
            return False, -1
    return True, s


#: What a kernel walk asks Python (_answer): may candidate ``c`` follow row ``p``'s text (1 or
#: 0); the candidates row ``p``'s state refuses by their first byte, written into the walks'
#: ``refused`` array (1; 0 when the constraint does not say); the byte step from state id
#: ``p`` by byte ``c`` (space.ByteSteps.step: the id of the state it leads to, or a code).
_CHECK, _NARROW, _STEP = 0, 1, 2
#: What _answer says of a byte step that raised (beside space.ByteSteps.step's words: the id of
#: the state it leads to, REFUSED_STEP, NO_ROOM).
_RAISED = -4


def _call_back_python(addr, op, p, c):
    """Without the JIT: the callback at ``addr`` called as Python."""
    return _CALLBACKS[addr](op, p, c)


if getattr(numba.config, "DISABLE_JIT", False):
    _call_back = _call_back_python
else:

    @numba.extending.intrinsic
    def _call_back(typingctx, addr, op, p, c):  # pragma: no cover - compiled
        # The C function at address ``addr`` (a ctypes callback of _CALLBACK_TYPE) called with
        # (op, p, c), as int64: a call into Python that numba's cache can keep, where an
        # object-mode block cannot be cached. ctypes takes the GIL for the call. The call
        # writes arrays the kernel reads (the byte steps' table, the refused candidates):
        # numba compiles without ``noalias`` (its default, kept here), so LLVM assumes an
        # opaque call may write any array it was given, and reads them after it.
        i64 = numba.types.int64

        def codegen(context, builder, signature, args):
            wide = [context.cast(builder, v, t, i64) for v, t in zip(args, signature.args)]
            ir = context.get_value_type(i64)
            fn = builder.inttoptr(wide[0], llvmlite_ir.FunctionType(ir, [ir, ir, ir]).as_pointer())
            return builder.call(fn, wide[1:])

        return i64(addr, op, p, c), codegen


@njit(cache=True, nogil=True)
def _checked(
    pos, p, state, positions, eos_index, table, final, buf, offsets, ask, step_table, step_ids
):  # pragma: no cover - compiled
    # (1 or 0, the state candidate ``pos`` (of the layout) leads to; -1 for either when unknown
    # or when a check raised) after row ``p``'s text: the DFA's table from ``state`` (``ask``
    # 0), else through the byte steps from the row's state id ``step_ids[p]`` (space.ByteSteps:
    # a step not met yet is asked once), or (no id, EOS, a step with no room in the table)
    # asked of the row's checker (_answer).
    if ask == 0:
        ok, s = _check(pos, state, positions, eos_index, table, final, buf, offsets)
        return (1 if ok else 0), s
    c = positions[pos] if positions.shape[0] > 0 else pos
    s = step_ids[p]
    if s < 0 or c == eos_index:
        return _call_back(ask, _CHECK, p, c), -1
    for i in range(offsets[c], offsets[c + 1]):
        b = buf[i]
        t = step_table[s, b]
        if t == UNKNOWN_STEP:
            t = _call_back(ask, _STEP, s, b)
            if t == _RAISED:
                return -1, -1
            if t == NO_ROOM:
                return _call_back(ask, _CHECK, p, c), -1
        if t < 0:
            return 0, -1
        s = t
    return 1, s


@njit(cache=True, nogil=True)
def _draw_block(q, sums, taken, us, u, visited, seen, ahead, i, n):  # pragma: no cover - compiled
    # RandomOrder.position(i) with ``seen`` positions drawn: a block of max(ahead, i + 1 - seen)
    # draws (at most what is left), the next block twice as long (up to MAX_AHEAD). Returns
    # (u, seen, ahead); ``seen`` unchanged when the uniforms or the room run out.
    k = min(max(ahead, i + 1 - seen), n - seen)
    if u + k > us.shape[0] or seen + k > visited.shape[0]:
        return u, seen, ahead
    for _ in range(k):
        visited[seen] = _draw(q, sums, taken, us[u], 256)
        u += 1
        seen += 1
    return u, seen, min(2 * ahead, 16)


@njit(cache=True, nogil=True)
def _untake(taken, visited, seen):  # pragma: no cover - compiled
    # The ``seen`` positions drawn (``visited[:seen]``) marked not taken again, for a new
    # order over the same candidates (a restart, a narrowing, the next row); returns 0, the
    # positions drawn since.
    for j in range(seen):
        taken[visited[j]] = False
    return 0


@njit(cache=True, nogil=True)
def _refused(state, table, first, out):  # pragma: no cover - compiled
    # out[pos]: narrowing drops candidate ``pos``, whose first byte (``first[pos]``; -1 for EOS
    # and tokens without bytes, which never are) has no transition from ``state``
    # (TokenChecker.refused: DFAConstraint.next_bytes is the table's row).
    closed = np.empty(257, dtype=np.bool_)
    closed[256] = False  # index -1 (no first byte) reads it
    for b in range(256):
        closed[b] = table[state, b] < 0
    for pos in range(out.shape[0]):
        out[pos] = closed[first[pos]]


@njit(cache=True, nogil=True)
def _walks(  # noqa: C901 - one walk, kept in one function to mirror walk._level_walk line by line
    weights,
    block_sums,
    counts,
    totals,
    log_kept,
    family,
    states,
    table,
    final,
    buf,
    offsets,
    positions,
    eos_index,
    ask,
    step_table,
    step_ids,
    us,
    u,
    weighted,
    max_rejects,
    p0,
    out_token,
    out_logw,
    out_checks,
    out_next,
    taken,
    sums,
    visited,
    first,
    rows,
    restarts,
    eos_ids,
    prunes,
    prune_of,
    narrowq,
    levelq,
    levelsums,
    excluded,
    rejected,
    row,
    refused,
    beside,
    kept_rows,
    which,
    eos,
    kept_prunes,
    kept_prune_of,
    kept_copy,
    done,
    meta,
    kept_row,
    claims,
    ctl,
):  # pragma: no cover - compiled
    # Rows p0.. in order; returns (the row handed back or the number of rows, the uniforms used
    # before it, whether it was handed back for want of uniforms). A family f < 0 has nothing kept. A walk narrows after 32 rejections (into
    # ``narrowq``) and restarts over what it has not visited (from row p of ``rows``, into
    # ``levelq``) as walk._level_walk and walk._one_loop do; without ``restarts`` (the compact
    # layout, or rows the kernel cannot read) a restart is handed back.
    size = weights.shape[1]
    for p in range(p0, family.shape[0]):
        f = family[p]
        if beside and f >= 0:  # made beside the walks (proposal._KeptAhead): made, or made here
            _ensure_kept(
                kept_rows, f, which, eos, kept_prunes, kept_prune_of, kept_copy, weights, block_sums, meta, done, kept_row, claims, ctl
            )  # fmt: skip
            if meta[f, 0] < 0:
                f = -1
            else:
                counts[f] = np.int64(meta[f, 2])
                totals[f] = meta[f, 3]
                log_kept[f] = meta[f, 1] + np.log(meta[f, 3])
        if f < 0:
            out_token[p], out_logw[p], out_checks[p], out_next[p] = -1, -np.inf, 0, -1
            continue
        start = u
        q = weights[f]
        total = totals[f]
        lk = log_kept[f]
        n = counts[f]
        for b in range(block_sums.shape[1]):
            sums[b] = block_sums[f, b]
        state = states[p]
        seen = 0  # positions drawn so far
        ahead = 2 if weighted else 1
        left = total
        rejects = 0
        narrowed = False
        checks = 0
        i = 0
        token, logw, nxt_state = -1, -np.inf, -1
        back = False
        short = False  # handed back for want of uniforms (or of room for draws)
        while True:
            if i >= n or left <= total * 2.0**-20:  # RESTART_SHARE: over the candidates not visited
                if not restarts:
                    back = True
                    break
                seen = _untake(taken, visited, seen)
                prune = prunes[prune_of[p]]
                if narrowed:
                    for c in range(size):
                        excluded[c] = prune[c] or refused[c]
                else:
                    excluded[:] = prune
                for j in range(rejects):
                    excluded[rejected[j]] = True
                row[:] = rows[p]  # contiguous, as the kept pass reads a row (rows may be a broadcast view)
                at, top, count, level_total = _full_kept(row, _argmax(row), eos_ids, excluded, levelq, levelsums, 256)
                if at < 0:  # nothing is left: no token, weight 0
                    break
                q = levelq
                for b in range(sums.shape[0]):
                    sums[b] = levelsums[b]
                total = level_total
                lk = top + np.log(level_total)
                n = count
                left = total
                ahead = 2 if weighted else 1
                i = 0
                continue
            if seen <= i:  # position(i): a block of draws (RandomOrder.position)
                u, seen, ahead = _draw_block(q, sums, taken, us, u, visited, seen, ahead, i, n)
                if seen <= i:  # out of uniforms or of room
                    back, short = True, True
                    break
            pos = visited[i]
            capped = max_rejects >= 0 and rejects + 1 >= max_rejects
            code, s = _checked(pos, p, state, positions, eos_index, table, final, buf, offsets, ask, step_table, step_ids)
            if code < 0:  # a check asked of Python raised: handed back, kernel_walks raises it
                back = True
                break
            ok = code == 1
            checks += 1
            if ok:
                token, nxt_state = pos, s
                if not weighted:
                    logw = 0.0
                    break
                if i + 1 < n and not capped:
                    if seen <= i + 1:  # position(i + 1): one more draw (or more, ahead)
                        u, seen, ahead = _draw_block(q, sums, taken, us, u, visited, seen, ahead, i + 1, n)
                        if seen <= i + 1:
                            back, short = True, True
                            break
                    code, _s2 = _checked(
                        visited[i + 1], p, state, positions, eos_index, table, final, buf, offsets, ask, step_table, step_ids
                    )
                    if code < 0:
                        back = True
                        break
                    ok2 = code == 1
                    checks += 1
                    if not ok2:
                        left = q[pos]
                logw = np.log(left / total) + lk
                break
            if capped:
                token, logw, nxt_state = -1, -np.inf, -1
                break
            if rejects == rejected.shape[0]:  # out of room for what it rejected
                back = True
                break
            rejected[rejects] = pos
            rejects += 1
            left -= q[pos]
            i += 1
            if rejects == 32 and not narrowed:  # NARROW_AFTER: the candidates not visited nor refused
                if ask != 0:  # refused (TokenChecker.refused) written into ``refused`` by _answer, if it says
                    code = _call_back(ask, _NARROW, p, 0)
                    if code < 0:
                        back = True
                        break
                    if code == 0:  # it does not say: the walk goes on unnarrowed (as walk._narrowed)
                        continue
                else:
                    _refused(state, table, first, refused)
                narrowed = True
                _unvisited_allowed(q, refused, visited[:i], narrowq)
                seen = _untake(taken, visited, seen)
                q = narrowq
                n = _block_sums(q, 256, sums)
                left = _total(sums)
                ahead = 1
                i = 0
        _untake(taken, visited, seen)
        if back:
            return p, start, short
        out_token[p], out_logw[p], out_checks[p], out_next[p] = token, logw, checks, nxt_state
    return family.shape[0], u, False


#: What :func:`supports` returns for walks whose checks the kernel asks Python for.
ASKED = "asked"


def supports(checkers: Sequence[Any], estimator: Estimator, rng: Any) -> Any:
    """How the walks of these checkers run in one call, or None (in Python, one by one): the
    estimator recursive or none, and the generator's bits can be advanced. The DFA that makes
    every check, where the constraint is one byte DFA; else :data:`ASKED`: the kernel asks
    the checkers (``TokenChecker.answer``) for each check it makes, through a callback."""
    if estimator == "two-loop" or not checkers or not hasattr(getattr(rng, "bit_generator", None), "advance"):
        return None
    space = checkers[0].space
    dfa = space.dfa
    if dfa is None or not all(isinstance(c.state, int) for c in checkers):
        return ASKED
    return dfa


def kernel_walks(
    how: Any,
    weights: np.ndarray,
    block_sums: np.ndarray,
    kept: list[Kept | None],
    family: Sequence[int],
    checkers: Sequence[Any],
    rng: np.random.Generator,
    weighted: bool,
    max_rejects: int | None,
    python_walk: Callable[[int], Step],
    rows: np.ndarray | None = None,
    prunes: Sequence[np.ndarray] = (),
    ahead: Any = None,
) -> Iterator[Step]:
    """The steps of rows ``0..len(checkers)-1`` (row ``p`` walks ``kept[family[p]]``, whose
    weights and block sums are row ``family[p]`` of ``weights`` and ``block_sums``), tokens in
    the space's layout (as ``walk`` gives them), their checks made as ``how`` says (what
    :func:`supports` returned: the DFA, or :data:`ASKED`); ``python_walk(p)`` walks a handed-back row with
    ``rng`` where that row's walk begins. A walk restarts in the kernel from row ``p`` of the
    model's ``rows`` with ``prunes[p]`` pruned (the full layout; else restarts are handed back).
    ``ahead``: a ``proposal._KeptAhead`` making the kept distributions beside the walks (then
    ``kept`` is not read: each walk takes its family's row once it is made, or makes it)."""
    space = checkers[0].space
    asked = how is ASKED
    d = len(kept) if ahead is None else len(ahead.done)
    size = weights.shape[1]
    counts = np.zeros(d, dtype=np.int64)
    totals = np.ones(d)
    log_kept = np.zeros(d)
    fam = np.asarray(family, dtype=np.int64)
    for j, k in enumerate(kept):  # empty with ``ahead``: the kernel reads each row's once made
        if k is None:
            fam = np.where(fam == j, -1, fam)
            continue
        counts[j], totals[j], log_kept[j] = k.blocks[1], k.total, k.log_kept
    made_beside = _beside(ahead, size)
    n = len(checkers)
    steps = space.byte_steps if asked else None
    if asked:
        states, table, final = np.zeros(n, dtype=np.int64), _NO_TABLE, _NO_FINAL
        step_ids = _step_ids(steps, checkers)
    else:
        states = np.fromiter((c.state for c in checkers), dtype=np.int64, count=n)
        table, final, step_ids = how.table, how.final, _NO_IDS
    buf, offsets = space.vocab.flat
    positions = space.positions if space.positions is not None else np.zeros(0, dtype=np.int64)
    out_token = np.empty(n, dtype=np.int64)
    out_logw = np.empty(n)
    out_checks = np.empty(n, dtype=np.int64)
    out_next = np.empty(n, dtype=np.int64)
    taken = np.zeros(size, dtype=np.bool_)
    sums = np.empty(block_sums.shape[1])
    visited = np.empty(_VISITED, dtype=np.int64)
    restarts = rows is not None and space.positions is None
    model_rows, prune_of, pruned = _restart_rows(rows if restarts else None, prunes, n, size)
    narrowq, levelq, levelsums, excluded, rejected, refused = _scratch(size, block_sums.shape[1], weights.dtype)
    row = _row_scratch(model_rows)
    asking = _Asking(checkers, space.positions, refused, steps) if asked else None
    bits = rng.bit_generator
    p = 0
    retried = -1  # the row last handed back for want of uniforms, walked again with more
    while p < n:
        before = bits.state
        us = rng.random(UNIFORMS_PER_ROW * (n - p) + (RETRY_UNIFORMS if retried == p else 0))
        outer = getattr(_ASKING, "now", None)
        _ASKING.now = asking  # what _answer answers from, on this thread, for this call
        try:
            stop, used, short = _walks(
                weights, block_sums, counts, totals, log_kept, fam, states, table, final, buf, offsets, positions,
                space.eos_index, _ANSWER_AT if asked else 0, _NO_STEPS if steps is None else steps.table, step_ids, us, 0, weighted, -1 if max_rejects is None else max_rejects, p,
                out_token, out_logw, out_checks, out_next, taken, sums, visited, space.first_bytes, model_rows, restarts,
                space.full_layout.eos, pruned, prune_of, narrowq, levelq, levelsums, excluded, rejected, row, refused,
                ahead is not None, *made_beside,
            )  # fmt: skip
        finally:
            _ASKING.now = outer
        bits.state = before
        if asking is not None and asking.error is not None:  # a check raised: the generator as the walk began
            raise asking.error
        bits.advance(int(used))  # type: ignore[attr-defined]  # PCG64 and the others that have it (supports)
        for r in range(p, stop):
            yield _step(checkers[r], int(out_token[r]), float(out_logw[r]), int(out_checks[r]), int(out_next[r]), asked, steps)
        if stop < n and short and retried != stop:  # a long walk: the kernel again, with more uniforms
            p = retried = stop
            continue
        if stop < n:
            if asked:  # walked from its start in Python: what the kernel asked is asked again, and counted
                checkers[stop]._seen.clear()
            yield python_walk(stop)
        p = stop + 1


_LOCAL = threading.local()

#: The most rejections a kernel walk keeps (for the restarts' exclusions); a walk that rejects more is handed back.
_REJECTED = 4096


def _scratch(size: int, blocks: int, dtype: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """This thread's arrays for the narrowed weights, a restart's weights, its block sums, the
    excluded candidates, the rejected ones and the refused ones (reused: fresh ones would fault
    a page per 4 KB)."""
    found = getattr(_LOCAL, "scratch", None)
    if found is None or len(found[0]) != size or found[0].dtype != dtype:
        found = _LOCAL.scratch = (
            np.empty(size, dtype=dtype),
            np.empty(size, dtype=dtype),
            np.empty(blocks),
            np.empty(size, dtype=np.bool_),
            np.empty(_REJECTED, dtype=np.int64),
            np.empty(size, dtype=np.bool_),
        )
    return found


def _restart_rows(
    rows: np.ndarray | None, prunes: Sequence[np.ndarray], n: int, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, prune_of, pruned)`` for the kernel's restarts: row ``p`` restarts from
    ``rows[p]`` with ``pruned[prune_of[p]]`` pruned (the rows' pruned candidates are a handful
    of distinct arrays, each stacked once); placeholders when ``rows`` is None (no restarts)."""
    if rows is None:
        return np.zeros((1, 1), dtype=np.float32), np.zeros(n, dtype=np.int64), np.zeros((1, size), dtype=np.bool_)
    index: dict[int, int] = {}
    unique: list[np.ndarray] = []
    prune_of = np.empty(n, dtype=np.int64)
    for r, mask in enumerate(prunes):
        k = index.get(id(mask))
        if k is None:
            k = index[id(mask)] = len(unique)
            unique.append(mask)
        prune_of[r] = k
    return rows, prune_of, np.stack(unique)


def _row_scratch(rows: np.ndarray) -> np.ndarray:
    """This thread's contiguous copy of a row of ``rows`` (a restart's kept pass reads it)."""
    found = getattr(_LOCAL, "row", None)
    if found is None or found.shape[0] != rows.shape[1] or found.dtype != rows.dtype:
        found = _LOCAL.row = np.empty(rows.shape[1], dtype=rows.dtype)
    return found


def _beside(ahead: Any, size: int) -> tuple[Any, ...]:
    """The arguments of the kernel's kept passes made beside the walks (``ahead``: a
    ``proposal._KeptAhead``), or placeholders of the same types (float32 rows) without."""
    if ahead is not None:
        index, eos, pruned, prune_of, copy, _, _, meta, done = ahead.args
        return ahead.rows, index, eos, pruned, prune_of, copy, done, meta, ahead.mine, ahead.claims, ahead.ctl
    none = np.zeros(0, dtype=np.int64)
    return (
        np.zeros((1, 1), dtype=np.float32), none, none, np.zeros((1, size), dtype=np.bool_), none, False,
        np.zeros(0, dtype=np.uint8), np.zeros((0, 4)), np.zeros(0, dtype=np.float32), np.zeros((2, 0), dtype=np.uint8),
        np.zeros((1, 4), dtype=np.int64),
    )  # fmt: skip


def _step(checker: Any, token: int, log_w: float, checks: int, next_state: int, asked: bool = False, steps: Any = None) -> Step:
    """The kernel's step for ``checker``'s row, its checker told what the kernel checked (as if
    it had checked them itself). ``asked``: the kernel asked Python for checks; the token's next
    state is ``steps.states[next_state]`` when it followed the byte steps there, else its
    checker knows it (it answered the check)."""
    if token < 0 or (asked and next_state < 0):
        checker.took(checks)
        return Step(None, -math.inf, checks) if token < 0 else Step(token, log_w, checks)
    step = Step(token, log_w, checks)
    checker.took(checks, checker.space.to_full(step).token, steps.states[next_state] if asked else next_state)
    return step


def _step_ids(steps: Any, checkers: Sequence[Any]) -> np.ndarray:
    """Each row's state id in ``steps`` (space.ByteSteps), with room made for the states the
    call may meet; -1 where its checks are asked whole: no byte steps, a state unhashable or
    without room, or a final one (which takes EOS alone: TokenChecker.answer says so). A
    state's id is remembered with what is known of it (``_Known.step_id``, for the table's
    epoch)."""
    n = len(checkers)
    ids = np.full(n, -1, dtype=np.int64)
    if steps is None:
        return ids
    steps.ready(n + STEP_ROOM)
    epoch = steps.epoch
    for p, checker in enumerate(checkers):
        known = checker._answers.known
        if known.step_epoch != epoch:
            known.step_id, known.step_epoch = steps.id_of(checker.state), epoch
        if not checker.final():
            ids[p] = known.step_id
    return ids


#: Room for new states made before each kernel call that follows byte steps (a step that finds
#: none is asked whole, and the table grows before the next call).
STEP_ROOM = 4096


class _Asking:
    """What :func:`_answer` answers from during one kernel call: the row checkers' answers and
    what each walk asked (``TokenChecker._seen``, as if it had asked itself), the candidates
    their states refuse by first byte (in the layout: ``positions`` maps it, for the compact
    one), the kernel's array those are written into, and what a check raised."""

    __slots__ = ("answers", "checkers", "error", "positions", "refused", "seen", "steps")

    def __init__(self, checkers: Sequence[Any], positions: np.ndarray | None, refused: np.ndarray, steps: Any = None):
        self.checkers = checkers
        self.steps = steps
        self.answers = [c.answer for c in checkers]
        self.seen = [c._seen for c in checkers]
        self.positions = positions
        self.refused = refused
        self.error: BaseException | None = None

    def narrow(self, p: int) -> int:
        found = self.checkers[p].refused()
        if found is None:
            return 0
        self.refused[:] = found if self.positions is None else found[self.positions]
        return 1


def _answer(op: int, p: int, c: int) -> int:
    """The kernel walks' callback (:data:`_CALLBACK_TYPE`): for row ``p`` of the call running on
    this thread, whether candidate ``c`` (a candidate id) may come next (op :data:`_CHECK`: 1
    or 0), or the refused candidates written into the kernel's array (op :data:`_NARROW`: 1,
    or 0 when the constraint does not say). -1 when that raised: kept to be raised once the
    kernel is back (an exception cannot cross the C frames)."""
    asking: _Asking = _ASKING.now
    try:
        if op == _CHECK:
            hit = asking.seen[p][c] = asking.answers[p](c)
            return 1 if hit else 0
        if op == _STEP:
            return asking.steps.step(p, c)
        return asking.narrow(p)
    except BaseException as exc:  # every one, KeyboardInterrupt too: raised by kernel_walks
        if asking.error is None:  # the first (the kernel stops at it)
            asking.error = exc
        return _RAISED if op == _STEP else -1


_ASKING = threading.local()
_CALLBACK_TYPE = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)
_ANSWER = _CALLBACK_TYPE(_answer)  # kept alive with the module: the kernels call its address
_ANSWER_AT: int = ctypes.cast(_ANSWER, ctypes.c_void_p).value  # type: ignore[assignment]
_CALLBACKS = {_ANSWER_AT: _answer}  # without the JIT, _call_back calls it by its address
#: The DFA arguments of a kernel call that asks (one state, no transitions: never read).
_NO_TABLE = np.full((1, 256), -1, dtype=np.int32)
_NO_STEPS = np.full((1, 256), -1, dtype=STEP_DTYPE)
_NO_FINAL = np.zeros(1, dtype=np.bool_)
_NO_IDS = np.full(0, -1, dtype=np.int64)  # a DFA's call: never read


assert RESTART_SHARE == 2.0**-20 and NARROW_AFTER == 32 and MAX_AHEAD == 16 and BLOCK == 256, "the kernel's constants"
