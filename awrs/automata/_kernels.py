"""Numba kernels that walk a byte DFA table (private; see ``awrs.automata.dfa``).

The ``_*`` functions are compiled with ``@njit`` and take plain arrays. The public wrappers
check dtype, shape and contiguity, so a wrong array is a clear error rather than a crash or a
silent recompilation. ``walk_all_python`` is the pure-NumPy reference the tests compare with.
"""

from __future__ import annotations

import numpy as np

from awrs._numba import njit

__all__ = ["walk_all", "walk_all_python", "walk_token"]


@njit(cache=True, nogil=True)
def _walk_token(table, state, buf, start, end):  # pragma: no cover - compiled
    for i in range(start, end):
        state = table[state, buf[i]]
        if state < 0:
            return -1
    return state


@njit(cache=True, nogil=True)
def _walk_all(table, state, buf, offsets, out):  # pragma: no cover - compiled
    for t in range(offsets.shape[0] - 1):
        s = state
        for i in range(offsets[t], offsets[t + 1]):
            s = table[s, buf[i]]
            if s < 0:
                break
        out[t] = s


def _check(table: np.ndarray, buf: np.ndarray, offsets: np.ndarray | None = None) -> None:
    if table.dtype != np.int32 or table.ndim != 2 or table.shape[1] != 256 or not table.flags.c_contiguous:
        raise TypeError("table must be a C-contiguous int32 array of shape (n_states, 256)")
    if buf.dtype != np.uint8 or buf.ndim != 1:
        raise TypeError("buf must be a 1-D uint8 array")
    if offsets is not None and (offsets.dtype != np.int64 or offsets.ndim != 1):
        raise TypeError("offsets must be a 1-D int64 array")


def walk_token(table: np.ndarray, state: int, data: bytes) -> int:
    """The state after ``data`` from ``state``, or -1."""
    buf = np.frombuffer(data, dtype=np.uint8)
    _check(table, buf)
    return int(_walk_token(table, np.int32(state), buf, 0, len(buf)))


def walk_all(table: np.ndarray, state: int, buf: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The state after each token (``buf[offsets[t]:offsets[t+1]]``) from ``state``; -1 if rejected."""
    _check(table, buf, offsets)
    out = np.empty(offsets.shape[0] - 1, dtype=np.int32)
    _walk_all(table, np.int32(state), buf, offsets, out)
    return out


def walk_all_python(table: np.ndarray, state: int, buf: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Reference implementation of :func:`walk_all`, one token at a time in Python."""
    rows = table.tolist()
    out = np.empty(offsets.shape[0] - 1, dtype=np.int32)
    data = buf.tobytes()
    for t in range(len(out)):
        s = state
        for b in data[offsets[t] : offsets[t + 1]]:
            s = rows[s][b]
            if s < 0:
                break
        out[t] = s
    return out
