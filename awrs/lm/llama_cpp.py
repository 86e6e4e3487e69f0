"""The llama.cpp backend: GGUF models, quantised as they are, on llama-cpp-python's low-level API.

Every row of a batch is one llama.cpp sequence of one context. A step is one ``llama_decode``
of one token per row (each at its own position, under its own sequence id) that asks for logits
at those tokens only. Row operations are KV-cache operations, never a forward pass: a row kept
once keeps its sequence, a duplicated row is ``llama_memory_seq_cp`` into a free sequence id, a
dropped row is ``llama_memory_seq_rm``. Each sequence has a KV stream of its own (not one cache
shared by all): attention then reads only the row's own cells, a copy is one buffer copy, and no
sequence ever reuses cells freed below its own (with a shared cache and flash attention that
gave log-probabilities off by up to 0.45 nats in llama-cpp-python 0.3.36; the contract tests in
tests/lm/test_backends.py catch it). When a row outgrows its stream, or a selection needs more
sequences than the context has, the batch moves into a larger context: each row's KV state is
copied over (``llama_state_seq_get_data``/``set_data``), so nothing is recomputed and every
distribution stays what it was.

The vocabulary's bytes and the prompts' token ids come from the GGUF's own tokenizer as
transformers reads it (:func:`awrs.lm.token_bytes.vocabulary_from_tokenizer`, with its round-trip
check), so both backends see one model as the same tokens; the tokenizer is saved once into the
awrs cache. Install with ``pip install 'awrs[llama-cpp]'`` (it compiles llama.cpp). See
docs/backends.md.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from awrs._cache import cache_root
from awrs._platform import available_cores
from awrs.errors import GenerationError, ModelError
from awrs.lm.base import Prompt, check_prompts, check_temperature, log_softmax
from awrs.lm.default_model import write_atomically
from awrs.lm.prompts import encode_prompt
from awrs.lm.token_bytes import vocabulary_from_tokenizer
from awrs.lm.vocab import Vocabulary

__all__ = ["LlamaCppBatch", "LlamaCppModel", "default_threads", "is_available"]

logger = logging.getLogger(__name__)

INSTALL_HINT = "install it with: pip install 'awrs[llama-cpp]' (it compiles llama.cpp: about 10 minutes on 2 cores)"
#: llama.cpp's limit on sequences in one context (LLAMA_MAX_SEQ).
MAX_ROWS = 256
#: KV cells a new context gives each row beyond its longest prompt; doubled whenever a row
#: outgrows them.
_HEADROOM = 256
#: Tokens one ``llama_decode`` takes (llama.cpp's logical batch).
_DECODE_BATCH = 2048


def is_available() -> bool:
    """Is llama-cpp-python installed (without importing it)?"""
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def default_threads() -> int:
    """Threads for llama.cpp: half the cores this process may use, at least one. llama.cpp's
    threads spin while they wait, so taking every core makes it many times slower as soon as
    anything else runs (measured on 2 cores: 50-200x); ``n_threads`` overrides."""
    return max(1, available_cores() // 2)


def _llama() -> Any:
    try:
        import llama_cpp
        from llama_cpp import _logger
    except ImportError as exc:
        raise ModelError(f"the llama.cpp backend needs llama-cpp-python, which is not installed; {INSTALL_HINT}") from exc
    _logger.set_verbose(False)  # llama.cpp prints every load step to stderr otherwise
    global _backend_ready
    if not _backend_ready:
        llama_cpp.llama_backend_init()
        _backend_ready = True
    return llama_cpp


_backend_ready = False


def uses_amx(ll: Any) -> bool:
    """Does this llama.cpp build run its AMX kernels here (a CPU with AMX, a build that has
    them)? Weights repacked for them crash in ``ggml_backend_amx_mul_mat`` with the default
    model's Q4_1 tensors (llama-cpp-python 0.3.36 built on a Sapphire Rapids VM: a segfault at
    the first decode; llama.cpp issue 20824), and upstream reports wrong results from them with
    Q4_0 and Q4_1 (pull request 16315)."""
    return b"AMX_INT8 = 1" in bytes(ll.llama_print_system_info())


class LlamaCppModel:
    """A GGUF model run by llama.cpp, seen as byte-string tokens.

    ``tokenizer`` is a transformers tokenizer for the model (by default the GGUF's own, read by
    transformers and cached). ``n_threads`` defaults to :func:`default_threads`. ``eos_token_ids``
    adds end ids to the tokenizer's and the GGUF's end-of-generation tokens.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        tokenizer: Any = None,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        eos_token_ids: Sequence[int] = (),
        cache_dir: str | os.PathLike[str] | None = None,
        verbose: bool = False,
    ):
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"no GGUF file at {self.path}; give the path of a .gguf model file")
        self._ll = ll = _llama()
        if verbose:
            from llama_cpp import _logger

            _logger.set_verbose(True)
        self.n_threads = default_threads() if n_threads is None else int(n_threads)
        if self.n_threads < 1:
            raise ModelError(f"n_threads must be at least 1, got {n_threads}")
        params = ll.llama_model_default_params()
        params.n_gpu_layers = n_gpu_layers
        # Extra buffer types are the weights repacked for faster kernels: AMX where the CPU has
        # it, which crashes (uses_amx), so none on such a CPU; elsewhere llama.cpp's default.
        params.use_extra_bufts = not uses_amx(ll)
        self._model = ll.llama_model_load_from_file(str(self.path).encode(), params)
        if not self._model:
            raise ModelError(f"llama.cpp could not load {self.path}: is it a GGUF model file of an architecture it supports?")
        self._idle: list[_Context] = []
        # One finalizer frees the idle contexts before the model they were made from.
        weakref.finalize(self, _free_model, ll, self._model, self._idle)
        self._llama_vocab = llama_vocab = ll.llama_model_get_vocab(self._model)
        self.n_vocab = int(ll.llama_vocab_n_tokens(llama_vocab))
        self.tokenizer = tokenizer if tokenizer is not None else gguf_tokenizer(self.path, cache_dir)
        end_ids = [i for i in range(self.n_vocab) if ll.llama_vocab_is_eog(llama_vocab, i)]
        self._vocab = vocabulary_from_tokenizer(self.tokenizer, vocab_size=self.n_vocab, eos_token_ids=[*eos_token_ids, *end_ids])
        self._max_length = int(ll.llama_model_n_ctx_train(self._model)) or None

    def __repr__(self) -> str:
        return f"LlamaCppModel({self.path.name!r}, n_threads={self.n_threads})"

    @property
    def vocab(self) -> Vocabulary:
        return self._vocab

    @property
    def max_length(self) -> int | None:
        return self._max_length

    def token_piece(self, token: int) -> bytes:
        """llama.cpp's own bytes for ``token`` (special tokens rendered), for cross-checks."""
        buf = ctypes.create_string_buffer(256)
        n = self._ll.llama_token_to_piece(self._llama_vocab, token, buf, len(buf), 0, True)
        if n < 0:  # the piece is longer: -n bytes
            buf = ctypes.create_string_buffer(-n)
            n = self._ll.llama_token_to_piece(self._llama_vocab, token, buf, len(buf), 0, True)
        return buf.raw[:n]

    def encode_prompt(self, prompt: Prompt) -> list[int]:
        """Token ids of a prompt (see :func:`awrs.lm.prompts.encode_prompt`)."""
        return encode_prompt(self.tokenizer, prompt)

    def start(self, prompts: Sequence[Sequence[int]], copies: int = 1) -> LlamaCppBatch:
        """Prefill each prompt once (one multi-sequence decode) and copy its sequence to the
        ``copies`` rows that hold it."""
        if not prompts:
            raise GenerationError("start needs at least one prompt")
        check_prompts(prompts, copies, self._max_length)
        _check_rows(len(prompts) * copies)
        return LlamaCppBatch(self, [[int(t) for t in p] for p in prompts], copies)

    def _context(self, seqs: int, cells: int) -> _Context:
        """An idle context with at least ``seqs`` sequences of ``cells`` KV cells each (its memory
        cleared), or a new one."""
        for ctx in self._idle:
            if ctx.seqs >= seqs and ctx.cells >= cells:
                self._idle.remove(ctx)
                self._ll.llama_memory_clear(ctx.memory, True)
                return ctx
        return _Context(self, seqs, cells)

    def _release(self, ctx: _Context) -> None:
        """Keep the largest context idle for the next batch; free the others."""
        self._idle.append(ctx)
        self._idle.sort(key=lambda c: c.seqs * c.cells)
        while len(self._idle) > 1:
            self._idle.pop(0).close()


def _check_rows(n: int) -> None:
    if n > MAX_ROWS:
        raise GenerationError(f"llama.cpp holds at most {MAX_ROWS} rows in one batch, {n} were asked for")


def _more_seqs(have: int, need: int) -> int:
    """How many sequences a context rebuilt for ``need`` rows gets: at least twice as many as
    it had (up to MAX_ROWS), so that rows joining one by one (a server's requests) rebuild
    O(log n) times, not once per request."""
    return min(MAX_ROWS, max(need, 2 * have))


def _free_model(ll: Any, model: Any, idle: list[_Context]) -> None:
    for ctx in idle:
        ctx.close()
    idle.clear()
    ll.llama_model_free(model)


class _Context:
    """One llama.cpp context: ``seqs`` sequences, each with a KV stream of ``cells`` cells, and a
    token batch to fill.

    Its owner closes it: the batch that holds it returns it to the model's pool (from ``__del__``
    too), and the pool closes the contexts it does not keep, and the rest with the model. It has
    no ``__del__`` of its own: when a batch and its context are collected together in a
    reference cycle, the collector would finalize the context after the batch's ``__del__`` had
    put it back in the pool, leaving a freed context there for the next batch."""

    def __init__(self, lm: LlamaCppModel, seqs: int, cells: int):
        ll = self._ll = lm._ll
        params = ll.llama_context_default_params()
        params.n_ctx = seqs * cells
        params.n_batch = _DECODE_BATCH
        params.n_ubatch = min(512, _DECODE_BATCH)
        params.n_seq_max = seqs
        params.n_threads = lm.n_threads
        params.n_threads_batch = lm.n_threads
        params.kv_unified = False  # a stream per sequence: see the module's docstring
        params.no_perf = True
        self.ptr = ll.llama_init_from_model(lm._model, params)
        if not self.ptr:
            raise ModelError(
                f"llama.cpp could not make a context of {seqs} sequences x {cells} cells for {lm.path.name} (out of memory?)"
            )
        self.seqs = seqs
        self.cells = int(ll.llama_n_ctx_seq(self.ptr))
        self.memory = ll.llama_get_memory(self.ptr)
        self.n_vocab = lm.n_vocab
        self.batch = ll.llama_batch_init(_DECODE_BATCH, 0, 1)
        self._tokens = np.ctypeslib.as_array(self.batch.token, shape=(_DECODE_BATCH,))
        self._pos = np.ctypeslib.as_array(self.batch.pos, shape=(_DECODE_BATCH,))
        self._n_seq = np.ctypeslib.as_array(self.batch.n_seq_id, shape=(_DECODE_BATCH,))
        self._logits = np.ctypeslib.as_array(self.batch.logits, shape=(_DECODE_BATCH,))
        self._seq = [self.batch.seq_id[i] for i in range(_DECODE_BATCH)]
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._ll.llama_batch_free(self.batch)
            self._ll.llama_free(self.ptr)

    def decode(self, tokens: Sequence[int], positions: Sequence[int], seqs: Sequence[int], outputs: Sequence[bool]) -> np.ndarray:
        """Feed the tokens (token i at ``positions[i]`` of sequence ``seqs[i]``) in batches of
        _DECODE_BATCH; the logits where ``outputs`` is set, in order, as float32 (n, n_vocab).
        Raises _OutOfCells when the KV cache has no room (the tokens of that batch are not kept)."""
        found: list[np.ndarray] = []
        for lo in range(0, len(tokens), _DECODE_BATCH):
            hi = min(lo + _DECODE_BATCH, len(tokens))
            n = hi - lo
            self._tokens[:n] = tokens[lo:hi]
            self._pos[:n] = positions[lo:hi]
            self._n_seq[:n] = 1
            self._logits[:n] = outputs[lo:hi]
            for i, s in enumerate(seqs[lo:hi]):
                self._seq[i][0] = s
            self.batch.n_tokens = n
            rc = self._ll.llama_decode(self.ptr, self.batch)
            if rc == 1:
                raise _OutOfCells
            if rc != 0:
                raise GenerationError(f"llama.cpp failed to decode a batch of {n} tokens (llama_decode returned {rc})")
            wanted = int(np.count_nonzero(self._logits[:n]))
            if wanted:
                logits = np.ctypeslib.as_array(self._ll.llama_get_logits(self.ptr), shape=(wanted * self.n_vocab,))
                found.append(logits.reshape(wanted, self.n_vocab).copy())
        return np.concatenate(found) if found else np.empty((0, self.n_vocab), dtype=np.float32)

    def copy(self, src: int, dst: int) -> None:
        self._ll.llama_memory_seq_cp(self.memory, src, dst, -1, -1)

    def drop(self, seq: int) -> None:
        self._ll.llama_memory_seq_rm(self.memory, seq, -1, -1)


class _OutOfCells(Exception):
    """The KV cache is full: the batch moves into a larger context."""


class LlamaCppBatch:
    """Rows of one :class:`LlamaCppModel`, each a llama.cpp sequence. See
    :class:`~awrs.lm.base.SequenceBatch`."""

    def __init__(self, lm: LlamaCppModel, prompts: list[list[int]], copies: int):
        self._lm = lm
        self._prompts = prompts
        self._prompt_of = [k for k in range(len(prompts)) for _ in range(copies)]
        self._generated: list[list[int]] = [[] for _ in self._prompt_of]
        self._ctx: _Context | None = None
        self._seqs: list[int] = []
        self._logits = np.empty((0, lm.n_vocab), dtype=np.float32)
        self._logprob_memo: tuple[float, np.ndarray] | None = None
        self._rebuild(self.size, self._longest() + _HEADROOM)

    def __del__(self) -> None:
        ctx, self._ctx = getattr(self, "_ctx", None), None
        if ctx is not None:
            self._lm._release(ctx)

    @property
    def size(self) -> int:
        return len(self._generated)

    @property
    def generated(self) -> list[list[int]]:
        return [list(g) for g in self._generated]

    def logprobs(self, temperature: float = 1.0) -> np.ndarray:
        t = check_temperature(temperature)
        if self._logprob_memo is not None and self._logprob_memo[0] == t:
            return self._logprob_memo[1]
        out = log_softmax(self._logits, t)
        self._logprob_memo = (t, out)
        return out

    def extend(self, tokens: Sequence[int]) -> None:
        if len(tokens) != self.size:
            raise GenerationError(f"extend needs one token per row: {len(tokens)} tokens for {self.size} rows")
        if self.size == 0:
            return
        limit = self._lm.max_length
        positions = [len(self._prompts[k]) + len(g) for k, g in zip(self._prompt_of, self._generated)]
        if limit is not None and max(positions) >= limit:
            raise GenerationError(f"the sequence reached the model's context window of {limit} tokens")
        tokens = [int(t) for t in tokens]
        assert self._ctx is not None
        for g, t in zip(self._generated, tokens):
            g.append(t)
        self._logprob_memo = None
        if max(positions) >= self._ctx.cells:  # a row outgrows its stream
            self._grow(self._ctx.seqs, 2 * self._ctx.cells)
        try:
            self._logits = self._ctx.decode(tokens, positions, self._seqs, [True] * len(tokens))
        except _OutOfCells:
            raise GenerationError(f"llama.cpp found no KV cells for a step of {len(tokens)} rows") from None

    def add(self, prompts: Sequence[Sequence[int]], copies: int = 1) -> None:
        """Prefill the new prompts into free sequences (one decode; the existing rows are not
        touched) and append their rows. A context without enough sequences is rebuilt with more
        (see :meth:`_grow`); streams too short for a new prompt are grown first."""
        check_prompts(prompts, copies, self._lm.max_length)
        n = len(prompts) * copies
        if n == 0:
            return
        _check_rows(self.size + n)
        assert self._ctx is not None
        base, old = len(self._prompts), self.size
        longest = max(len(p) for p in prompts)
        if longest >= self._ctx.cells and old + n <= self._ctx.seqs:
            self._grow(self._ctx.seqs, longest + _HEADROOM)
        self._prompts += [[int(t) for t in p] for p in prompts]
        self._prompt_of += [base + k for k in range(len(prompts)) for _ in range(copies)]
        self._generated += [[] for _ in range(n)]
        self._logprob_memo = None
        if old + n > self._ctx.seqs:  # more sequences than the context has: rebuild with all rows
            self._rebuild(_more_seqs(self._ctx.seqs, old + n), max(self._ctx.cells, longest + _HEADROOM))
            return
        free = sorted(set(range(self._ctx.seqs)) - set(self._seqs))
        self._seqs += free[:n]
        try:
            logits = self._prefill(list(range(old, old + n)))
        except _OutOfCells:
            raise GenerationError(f"llama.cpp found no KV cells for {n} new rows") from None
        self._logits = np.concatenate([self._logits, np.stack([logits[r] for r in range(old, old + n)])])

    def select(self, rows: Sequence[int]) -> None:
        rows = [int(r) for r in rows]
        if rows == list(range(self.size)):
            return
        if any(not 0 <= r < self.size for r in rows):
            raise GenerationError(f"select takes row indices in [0, {self.size}), got {rows}")
        _check_rows(len(rows))
        assert self._ctx is not None
        if len(rows) > self._ctx.seqs:  # more sequences than the context has
            self._grow(_more_seqs(self._ctx.seqs, len(rows)), self._ctx.cells)
        kept = set(rows)
        free = [s for r, s in enumerate(self._seqs) if r not in kept]
        for s in free:
            self._ctx.drop(s)
        free += sorted(set(range(self._ctx.seqs)) - set(self._seqs))
        seen: set[int] = set()
        seqs = []
        for r in rows:
            if r in seen:
                s = free.pop(0)
                self._ctx.copy(self._seqs[r], s)
            else:
                seen.add(r)
                s = self._seqs[r]
            seqs.append(s)
        self._seqs = seqs
        kept_prompts = sorted({self._prompt_of[r] for r in rows})  # a long-running batch forgets the prompts it dropped
        renumber = {k: i for i, k in enumerate(kept_prompts)}
        self._prompts = [self._prompts[k] for k in kept_prompts]
        self._prompt_of = [renumber[self._prompt_of[r]] for r in rows]
        self._generated = [list(self._generated[r]) for r in rows]
        self._logits = self._logits[rows]
        self._logprob_memo = None

    def _longest(self) -> int:
        """The longest row (prompt and generated tokens)."""
        return max((len(self._prompts[k]) + len(g) for k, g in zip(self._prompt_of, self._generated)), default=1)

    def _rebuild(self, seqs: int, cells: int) -> None:
        """Build the rows in a new context of ``seqs`` sequences of ``cells`` cells (rounded up,
        and more when a row needs it): each prompt prefilled once (one decode for all of them)
        into the sequence of its first row and copied to the other rows that hold it, then every
        row's generated tokens in one more decode. The logits are those of each row's last token."""
        old = self._ctx
        ctx = self._ctx = self._lm._context(max(seqs, 1), -(-max(cells, self._longest() + 1) // 256) * 256)
        if old is not None:
            self._lm._release(old)
        self._seqs = list(range(self.size))
        try:
            prompt_logits = self._prefill(list(range(self.size)))
            tokens: list[int] = []
            positions: list[int] = []
            seqs_of: list[int] = []
            outputs: list[bool] = []
            for r, (k, g) in enumerate(zip(self._prompt_of, self._generated)):
                start = len(self._prompts[k])
                tokens += g
                positions += range(start, start + len(g))
                seqs_of += [r] * len(g)
                outputs += [i == len(g) - 1 for i in range(len(g))]
            step_logits = iter(ctx.decode(tokens, positions, seqs_of, outputs))
        except _OutOfCells:
            raise GenerationError(f"llama.cpp found no KV cells for {self.size} rows of up to {self._longest()} tokens") from None
        rows = [next(step_logits) if g else prompt_logits[r] for r, g in enumerate(self._generated)]
        self._logits = np.stack(rows) if rows else np.empty((0, self._lm.n_vocab), dtype=np.float32)

    def _prefill(self, rows: list[int]) -> dict[int, np.ndarray]:
        """Prefill the prompts of ``rows`` (whose sequences ``self._seqs[row]`` are empty): each
        prompt once, in one decode, into the sequence of its first row, then copied to the
        others. Returns each row's logits after its prompt."""
        assert self._ctx is not None
        first: dict[int, int] = {}
        for r in rows:
            first.setdefault(self._prompt_of[r], r)
        tokens: list[int] = []
        positions: list[int] = []
        seqs_of: list[int] = []
        outputs: list[bool] = []
        for k, r in first.items():
            p = self._prompts[k]
            tokens += p
            positions += range(len(p))
            seqs_of += [self._seqs[r]] * len(p)
            outputs += [False] * (len(p) - 1) + [True]
        logits = dict(zip(first, self._ctx.decode(tokens, positions, seqs_of, outputs)))
        for r in rows:
            k = self._prompt_of[r]
            if first[k] != r:
                self._ctx.copy(self._seqs[first[k]], self._seqs[r])
        return {r: logits[self._prompt_of[r]] for r in rows}

    def _grow(self, seqs: int, cells: int) -> None:
        """Move into a context of at least ``seqs`` sequences of ``cells`` cells. With as many
        sequences as now, each row's KV state is copied into the sequence numbered as the row
        (``llama_state_seq_*``: nothing recomputed, every distribution unchanged). llama.cpp
        refuses such a copy between contexts with other numbers of sequences, so more sequences
        mean a rebuild (:meth:`_rebuild`), whose prefill rounds differently from the steps that
        made the rows (see test_a_whole_prefill_agrees_with_steps_to_rounding)."""
        old = self._ctx
        assert old is not None
        if seqs != old.seqs:
            self._rebuild(seqs, max(cells, old.cells))
            return
        ll = self._lm._ll
        new = self._lm._context(seqs, -(-max(cells, self._longest() + 1) // 256) * 256)
        for r, s in enumerate(self._seqs):
            size = ll.llama_state_seq_get_size(old.ptr, s)
            buf = (ctypes.c_uint8 * size)()
            written = ll.llama_state_seq_get_data(old.ptr, buf, size, s)
            if ll.llama_state_seq_set_data(new.ptr, buf, written, r) == 0:
                new.close()
                raise GenerationError(f"llama.cpp could not move row {r} into a context of {seqs} x {new.cells} cells")
        self._ctx, self._seqs = new, list(range(len(self._seqs)))
        self._lm._release(old)


def gguf_tokenizer(path: Path, cache_dir: str | os.PathLike[str] | None = None) -> Any:
    """The transformers tokenizer of a GGUF file, read from the file once and then from the awrs
    cache (keyed by the file's path, size and modification time)."""
    from transformers import AutoTokenizer

    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    folder = cache_root(cache_dir) / "tokenizers" / f"{path.stem}-{key}"
    if (folder / "tokenizer_config.json").is_file():
        try:
            return AutoTokenizer.from_pretrained(folder)
        except Exception as exc:  # a damaged cached copy: read the GGUF again
            logger.warning("the cached tokenizer at %s could not be loaded (%s); reading %s again", folder, exc, path.name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    except Exception as exc:  # transformers raises many types for an unreadable GGUF
        raise ModelError(f"could not read the tokenizer of {path}: {exc}; pass tokenizer= explicitly") from exc
    try:
        write_atomically(
            folder,
            tokenizer.save_pretrained,
            intact=lambda f: (f / "tokenizer_config.json").is_file(),
            what=f"the tokenizer of {path.name}",
        )
    except ModelError as exc:  # the cache is an optimisation: a read-only one costs time, not correctness
        logger.warning("could not cache the tokenizer of %s: %s", path.name, exc)
    return tokenizer
