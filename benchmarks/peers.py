"""Adapters that run the peer libraries' token masks inside one shared decoding loop.

Every method decodes with the same model, the same KV-cached forward passes and the same
sampler; a peer only supplies the mask of allowed tokens each step (its own compiled grammar
and matcher, used through its public API). So per-token differences are the masking and
nothing else. A peer that is not installed, or that refuses a task, is reported with the
reason — never skipped silently.

Peers: llguidance (LLMatcher), xgrammar (GrammarCompiler / GrammarMatcher), outlines
(outlines-core's Index / Guide, as outlines' transformers backend builds them; JSON Schemas
become a regex there, and it has no context-free grammars).
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from awrs.sampler import mask_step


class Unsupported(Exception):
    """The peer cannot take this constraint (with the reason)."""


class Peer:
    name = "peer"

    def __init__(self, hf_model: Any, tokenizer: Any, vocab_size: int):
        self.model, self.tokenizer, self.vocab_size = hf_model, tokenizer, vocab_size

    def compile(self, kind: str, spec: Any) -> Any:  # returns a factory of sessions
        raise NotImplementedError


def _from_ids(ids, n: int) -> np.ndarray:
    """A boolean mask of n tokens from a list of allowed token ids (ids >= n ignored)."""
    out = np.zeros(n, dtype=np.bool_)
    out[[t for t in ids if t < n]] = True
    return out


def _unpack(bitmask_words: np.ndarray, n: int) -> np.ndarray:
    """32-bit little-endian bitmask words -> a boolean array of n tokens."""
    bits = np.unpackbits(np.ascontiguousarray(bitmask_words, dtype="<u4").view(np.uint8), bitorder="little")
    return bits[:n].astype(np.bool_)


class LLGuidance(Peer):
    name = "llguidance"

    def __init__(self, hf_model, tokenizer, vocab_size):
        super().__init__(hf_model, tokenizer, vocab_size)
        import llguidance
        import llguidance.hf

        self.ll = llguidance
        self.tok = llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size)

    def compile(self, kind, spec):
        M = self.ll.LLMatcher
        if kind == "json":
            grammar = M.grammar_from_json_schema(json.dumps(spec))
        elif kind == "regex":
            grammar = M.grammar_from_regex(spec)
        else:
            grammar = M.grammar_from_lark(spec)
        error = M.validate_grammar(grammar, self.tok)  # "" when the grammar is fine
        if error:
            raise Unsupported(str(error)[:160])
        probe = M(self.tok, grammar)
        if probe.is_error():
            raise Unsupported(probe.get_error()[:160])
        return lambda: _LLSession(M(self.tok, grammar), self.vocab_size)


class _LLSession:
    def __init__(self, matcher, n):
        self.m, self.n = matcher, n

    def mask(self) -> np.ndarray:
        return _unpack(np.frombuffer(self.m.compute_bitmask(), dtype="<u4"), self.n)

    def advance(self, token: int) -> None:
        self.m.consume_token(token)

    def complete(self) -> bool:
        return self.m.is_accepting()


class XGrammar(Peer):
    name = "xgrammar"

    def __init__(self, hf_model, tokenizer, vocab_size):
        super().__init__(hf_model, tokenizer, vocab_size)
        import xgrammar

        self.xgr = xgrammar
        self.info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
        self.compiler = xgrammar.GrammarCompiler(self.info)

    def compile(self, kind, spec):
        self.compiler.clear_cache()  # compile cold every time, as the other methods do
        try:
            if kind == "json":
                compiled = self.compiler.compile_json_schema(json.dumps(spec))
            elif kind == "regex":
                compiled = self.compiler.compile_regex(spec)
            else:
                compiled = self.compiler.compile_lark(spec)
        except Exception as exc:
            raise Unsupported(f"{type(exc).__name__}: {str(exc)[:160]}") from None
        stops = list(self.info.stop_token_ids)
        return lambda: _XSession(self.xgr, compiled, self.vocab_size, stops)


class _XSession:
    def __init__(self, xgr, compiled, n, stops):
        self.m = xgr.GrammarMatcher(compiled)
        self.bitmask = xgr.allocate_token_bitmask(1, n)
        self.n, self.stops = n, stops

    def mask(self) -> np.ndarray:
        self.m.fill_next_token_bitmask(self.bitmask)
        return _unpack(self.bitmask[0].numpy().view(np.uint32), self.n)

    def advance(self, token: int) -> None:
        self.m.accept_token(token)

    def complete(self) -> bool:
        # is_terminated() turns true only once a stop token is accepted: ask whether one may be.
        return self.m.is_terminated() or bool(self.mask()[self.stops].any())


class Outlines(Peer):
    name = "outlines"

    def __init__(self, hf_model, tokenizer, vocab_size):
        super().__init__(hf_model, tokenizer, vocab_size)
        import outlines
        from outlines.backends.outlines_core import OutlinesCoreBackend

        self.backend = OutlinesCoreBackend(outlines.from_transformers(hf_model, tokenizer))

    def compile(self, kind, spec):
        from outlines_core import Guide, Index
        from outlines_core.json_schema import build_regex_from_schema

        if kind == "sql":
            raise Unsupported("outlines-core has no context-free grammars (outlines delegates CFGs to llguidance/xgrammar)")
        try:
            regex = build_regex_from_schema(json.dumps(spec)) if kind == "json" else spec
            index = Index(regex, self.backend.vocabulary)
        except Exception as exc:
            raise Unsupported(f"{type(exc).__name__}: {str(exc)[:160]}") from None
        return lambda: _OSession(Guide(index), self.vocab_size, self.backend.eos_token_id)


class _OSession:
    def __init__(self, guide, n, eos):
        self.g, self.n, self.eos = guide, n, eos

    def mask(self) -> np.ndarray:
        return _from_ids(self.g.get_tokens(), self.n)

    def advance(self, token: int) -> None:
        self.g.advance(token)

    def complete(self) -> bool:
        return self.g.is_finished()


class LMFormatEnforcer(Peer):
    """lm-format-enforcer's TokenEnforcer (what its ``prefix_allowed_tokens_fn`` calls)."""

    name = "lm-format-enforcer"

    def __init__(self, hf_model, tokenizer, vocab_size):
        super().__init__(hf_model, tokenizer, vocab_size)
        import sys

        import transformers.tokenization_utils_base

        # Its transformers integration imports transformers.tokenization_utils, which
        # transformers 5 folded into tokenization_utils_base (../shared/reference/PEERS.md).
        sys.modules.setdefault("transformers.tokenization_utils", transformers.tokenization_utils_base)
        import lmformatenforcer
        from lmformatenforcer.integrations.transformers import build_token_enforcer_tokenizer_data

        self.lmfe = lmformatenforcer
        self.data = build_token_enforcer_tokenizer_data(tokenizer)

    def compile(self, kind, spec):
        if kind == "sql":
            raise Unsupported("lm-format-enforcer has no context-free grammars (JSON Schema and regex only)")
        try:
            parser = self.lmfe.JsonSchemaParser(spec) if kind == "json" else self.lmfe.RegexParser(spec)
        except Exception as exc:
            raise Unsupported(f"{type(exc).__name__}: {str(exc)[:160]}") from None
        return lambda: _LMFESession(self.lmfe.TokenEnforcer(self.data, parser), self.vocab_size, self.tokenizer.eos_token_id)


class _LMFESession:
    def __init__(self, enforcer, n, eos):
        # The enforcer keys its state by the whole token sequence; one fixed token stands in
        # for the prompt, so masks depend only on the generated tokens.
        self.e, self.n, self.eos, self.seq = enforcer, n, eos, [eos]

    def _allowed(self) -> list[int]:
        return self.e.get_allowed_tokens(self.seq).allowed_tokens

    def mask(self) -> np.ndarray:
        return _from_ids(self._allowed(), self.n)

    def advance(self, token: int) -> None:
        self.seq.append(token)

    def complete(self) -> bool:
        return self.eos in self._allowed()


class TransformersCFG(Peer):
    """transformers-cfg reads GBNF grammars only: no JSON Schema or regex front end, and this
    benchmark has no Lark-to-GBNF translation of sql.lark, so every task is reported as
    unsupported with that reason (it loads, so the version is recorded)."""

    name = "transformers-cfg"

    def __init__(self, hf_model, tokenizer, vocab_size):
        super().__init__(hf_model, tokenizer, vocab_size)
        import transformers_cfg  # noqa: F401

    def compile(self, kind, spec):
        if kind == "sql":
            raise Unsupported("GBNF grammars only; sql.lark is not translated to GBNF here (%ignore and Lark regex terminals)")
        raise Unsupported(f"GBNF grammars only: no {'JSON Schema' if kind == 'json' else 'regex'} front end")


class Formatron(Peer):
    """formatron's public Formatter API (its logits processor needs pinned memory, which the
    CPU build of torch refuses)."""

    name = "formatron"

    def __init__(self, hf_model, tokenizer, vocab_size):
        super().__init__(hf_model, tokenizer, vocab_size)
        import formatron.formatter  # noqa: F401 - fails under pydantic >= 2.12 (pydantic.typing.Type)

    def compile(self, kind, spec):
        raise Unsupported("adapter not written: formatron imported here, which it did not under pydantic >= 2.12")


PEERS = [LLGuidance, XGrammar, Outlines, LMFormatEnforcer, TransformersCFG, Formatron]


def load_peers(hf_model, tokenizer, vocab_size) -> tuple[list[Peer], dict[str, str]]:
    """The peers that load here, and for the others the reason they do not."""
    ready, missing = [], {}
    for cls in PEERS:
        try:
            started = time.perf_counter()
            peer = cls(hf_model, tokenizer, vocab_size)
            peer.setup_seconds = time.perf_counter() - started
            ready.append(peer)
        except ImportError as exc:
            missing[cls.name] = f"not installed ({exc.name}); run make peers"
        except Exception as exc:
            missing[cls.name] = f"{type(exc).__name__}: {str(exc)[:160]}"
    return ready, missing


def decode_with_mask(lm, prompt_ids: list[int], session, max_new_tokens: int, rng, greedy: bool) -> dict:
    """Sample with the peer's mask from the same model, KV cache and sampler as awrs."""
    vocab = lm.vocab
    eos = sorted(vocab.eos_ids)
    batch = lm.start([prompt_ids])
    tokens: list[int] = []
    mask_seconds = 0.0
    finished = False
    started = time.perf_counter()
    lm_seconds = 0.0
    for _ in range(max_new_tokens + 1):
        t0 = time.perf_counter()
        logprobs = batch.logprobs()[0]
        lm_seconds += time.perf_counter() - t0
        t0 = time.perf_counter()
        allowed = session.mask()
        mask_seconds += time.perf_counter() - t0
        if len(allowed) < len(logprobs):
            break
        allowed = allowed[: len(logprobs)]
        if greedy:  # the masked argmax, as a peer's own greedy loop does (no softmax)
            masked = np.where(allowed, logprobs, -np.inf)
            token = int(np.argmax(masked))
            if masked[token] == -np.inf:
                break
        else:
            # awrs's own masked sampler (one inverse-CDF draw, vectorised exp): the peers'
            # overhead is their masks, not a slower sampler of ours.
            token = mask_step(logprobs, allowed, rng).token
            if token is None:
                break
        if token in eos:
            finished = True
            break
        tokens.append(token)
        t0 = time.perf_counter()
        session.advance(token)
        mask_seconds += time.perf_counter() - t0
        if len(tokens) >= max_new_tokens:
            break
        t0 = time.perf_counter()
        batch.extend([token])
        lm_seconds += time.perf_counter() - t0
    seconds = time.perf_counter() - started
    return {
        "text": vocab.decode(tokens).decode("utf-8", errors="replace"),
        "finished": finished or session.complete(),
        "tokens": len(tokens),
        "steps": len(tokens) + 1,
        "seconds": seconds,
        "mask_seconds": mask_seconds,
        "overhead_seconds": seconds - lm_seconds,  # everything but the model: masks and sampling
    }


class GenlmControl:
    """The reference AWRS implementation (genlm-control): its own SMC with its own AWRS, five
    particles, ESS threshold 0.5 — the setting of the paper — on the same loaded model."""

    name = "genlm-control"

    def __init__(self, hf_model: Any, tokenizer: Any):
        import asyncio

        from genlm.backend.llm import AsyncTransformer
        from genlm.control import PromptedLLM

        self.asyncio = asyncio
        self.tokenizer = tokenizer
        self.llm = PromptedLLM(AsyncTransformer(hf_model, tokenizer))

    def condition(self, kind: str, spec: Any):
        from genlm.control import BoolCFG, BoolFSA, JsonSchema

        try:
            if kind == "json":
                return JsonSchema(spec)
            if kind == "regex":
                return BoolFSA.from_regex(spec)
            if kind == "pattern":
                return regex_potential(spec)
            return BoolCFG.from_lark(spec)
        except Exception as exc:
            raise Unsupported(f"{type(exc).__name__}: {str(exc)[:160]}") from None

    def run(self, kind: str, spec: Any, prompt_ids: list[int], max_new_tokens: int, seed: int) -> dict:
        from genlm.control import AWRS

        started = time.perf_counter()
        cond = self.condition(kind, spec)
        self.llm.prompt_ids = list(prompt_ids)
        try:
            sampler = AWRS(self.llm, cond.coerce(self.llm, f=b"".join), seed=seed)
        except Exception as exc:
            raise Unsupported(f"{type(exc).__name__}: {str(exc)[:160]}") from None
        compile_s = time.perf_counter() - started
        t0 = time.perf_counter()
        seqs = self.asyncio.run(sampler.smc(n_particles=5, ess_threshold=0.5, max_tokens=max_new_tokens))
        seconds = time.perf_counter() - t0
        posterior = dict(seqs.decoded_posterior)
        text = max(posterior, key=posterior.get) if posterior else ""
        steps = max((len(c) for c in seqs.contexts), default=0) + 1
        return {
            "compile_s": compile_s,
            "text": text if isinstance(text, str) else str(text),
            "finished": bool(posterior),
            "steps": steps,
            "seconds": seconds,
        }


def regex_potential(pattern: str):
    """A genlm-control byte potential for a non-regular pattern, as in the AWRS paper's
    pattern-matching domain: prefix by the regex module's partial matching (an unfinished
    UTF-8 character is allowed), complete by a full match."""
    import regex
    from genlm.control.potential.base import Potential

    compiled = regex.compile(pattern)

    def text(context) -> tuple[str, bool]:
        data = bytes(context)
        try:
            return data.decode("utf-8"), True
        except UnicodeDecodeError as exc:
            return data[: exc.start].decode("utf-8", errors="replace"), False

    class RegexPotential(Potential):
        def __init__(self):
            super().__init__(vocabulary=list(range(256)))

        async def complete(self, context):
            s, whole = text(context)
            return 0.0 if whole and compiled.fullmatch(s) else float("-inf")

        async def prefix(self, context):
            s, _ = text(context)
            return 0.0 if compiled.fullmatch(s, partial=True) else float("-inf")

    return RegexPotential()


def load_genlm(hf_model, tokenizer):
    try:
        return GenlmControl(hf_model, tokenizer), None
    except ImportError as exc:
        return None, f"not installed ({exc.name}); run make peers"
    except Exception as exc:
        return None, f"{type(exc).__name__}: {str(exc)[:160]}"
