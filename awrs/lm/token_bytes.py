"""Recover the exact byte string of every token of a Hugging Face tokenizer.

Supported schemes, detected from the tokenizer itself:

- **byte-level BPE** (GPT-2, Llama 3, SmolLM, Qwen...): each character of a piece stands
  for one byte through the GPT-2 byte alphabet;
- **SentencePiece-style** pieces (Llama 2, Mistral, T5...): ``▁`` stands for a space and
  ``<0xNN>`` byte-fallback pieces stand for one raw byte, whether the tokenizer is a
  ``tokenizers`` object with a Metaspace/Replace decoder or a raw ``sentencepiece`` model;
- **literal** pieces (a tokenizer with no decoder whose pieces are plain text);
- **added tokens**, whose content is literal text.

The result is verified: the bytes of ``encode(probe)`` must concatenate to the probe's
UTF-8 (optionally with the one leading space a prefix-space tokenizer adds). A tokenizer
that fails the check raises :class:`~awrs.errors.TokenizerError`; nothing is guessed.
This module never imports torch or transformers; it only calls the tokenizer's methods.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from awrs.errors import TokenizerError
from awrs.lm.vocab import Vocabulary

__all__ = ["CHAT_END_MARKERS", "gpt2_byte_decoder", "vocabulary_from_tokenizer"]

logger = logging.getLogger(__name__)

#: (piece, token id) -> the token's exact bytes, for one tokenizer scheme.
PieceDecoder = Callable[[str, int], bytes]

#: Added tokens that end an assistant turn or a document in common chat models. When one is
#: in the vocabulary as an added token it counts as end of sequence.
CHAT_END_MARKERS = frozenset(
    {
        "<|im_end|>",  # ChatML (SmolLM, Qwen)
        "<|endoftext|>",  # GPT-2 family, document separator
        "<|eot_id|>",  # Llama 3
        "<|eom_id|>",  # Llama 3 tool use
        "<|end_of_text|>",  # Llama 3 base
        "<end_of_turn>",  # Gemma
        "<|end|>",  # Phi-3
        "</s>",  # SentencePiece models
    }
)

_BYTE_FALLBACK = re.compile(r"<0x([0-9A-Fa-f]{2})>")

# Probes that exercise spaces, tabs, newlines, runs of spaces, accents (composed and
# combining), CJK and emoji. Non-ASCII probes are skipped for a tokenizer that maps them to
# its unknown token (it cannot produce those characters at all).
_PROBES = (
    "Hello world, 1234 + 5678 = 6912.\n\tIndented  with   spaces.",
    "café naïve résumé e\u0301 n\u0303 日本語のテキスト 中文 😀🎉👍🏽 ∑ ≤ ≥",
)


@lru_cache(maxsize=1)
def gpt2_byte_decoder() -> dict[str, int]:
    """The inverse of GPT-2's ``bytes_to_unicode``: printable character -> byte value."""
    visible = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = list(visible)
    extra = 0
    for b in range(256):
        if b not in visible:
            visible.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(visible, chars)}


def vocabulary_from_tokenizer(
    tokenizer: Any,
    *,
    vocab_size: int | None = None,
    eos_token_ids: Iterable[int] = (),
    verify: bool = True,
) -> Vocabulary:
    """Map every token id of ``tokenizer`` to its exact bytes.

    ``vocab_size`` is the width of the model's logits (it may exceed the tokenizer's size:
    the extra rows become special tokens with no bytes). ``eos_token_ids`` adds end ids, such
    as those of a model's ``generation_config``.

    Raises :class:`TokenizerError` when the scheme is not recognised or the round trip fails.
    """
    size = max(len(tokenizer), vocab_size or 0)
    decode_piece = _piece_decoder(tokenizer)
    added = _added_tokens(tokenizer)
    pieces = _pieces(tokenizer, size)
    tokens = [
        added[i][0].encode("utf-8") if i in added else b"" if piece is None else decode_piece(piece, i)
        for i, piece in enumerate(pieces)
    ]

    special = {i for i, (_, is_special) in added.items() if is_special}
    special.update(i for i in (getattr(tokenizer, "all_special_ids", None) or []) if i is not None)
    special.update(range(len(tokenizer), size))
    special.update(_sentencepiece_controls(tokenizer))
    eos = _eos_ids(tokenizer, added, eos_token_ids)
    vocab = Vocabulary.from_tokens(tokens, eos_ids=eos, special_ids=special)
    if verify:
        _verify_round_trip(tokenizer, vocab)
    return vocab


def _eos_ids(tokenizer: Any, added: dict[int, tuple[str, bool]], extra: Iterable[int]) -> set[int]:
    eos = {int(i) for i in extra}
    if getattr(tokenizer, "eos_token_id", None) is not None:
        eos.add(int(tokenizer.eos_token_id))
    eos.update(i for i, (content, _) in added.items() if content in CHAT_END_MARKERS)
    if not eos:
        raise TokenizerError(
            "the tokenizer has no end-of-sequence token; pass eos_token_ids=[...] to say which token ids end generation"
        )
    return eos


def _added_tokens(tokenizer: Any) -> dict[int, tuple[str, bool]]:
    """id -> (content, special) for every added token."""
    table = getattr(tokenizer, "added_tokens_decoder", None) or {}
    return {int(i): (str(tok.content), bool(getattr(tok, "special", False))) for i, tok in table.items()}


def _pieces(tokenizer: Any, size: int) -> list[str | None]:
    """The raw piece of every id below ``size`` (None past the tokenizer's own size)."""
    known = len(tokenizer)
    sp = getattr(tokenizer, "sp_model", None)
    if sp is not None:
        n = sp.get_piece_size()
        pieces = [sp.id_to_piece(i) for i in range(n)]
        pieces += tokenizer.convert_ids_to_tokens(list(range(n, known)))
    else:
        pieces = list(tokenizer.convert_ids_to_tokens(list(range(known))))
    return pieces + [None] * (size - known)


def _sentencepiece_controls(tokenizer: Any) -> set[int]:
    sp = getattr(tokenizer, "sp_model", None)
    if sp is None:
        return set()
    return {i for i in range(sp.get_piece_size()) if sp.is_control(i) or sp.is_unknown(i)}


# --- scheme detection -------------------------------------------------------------------


def _piece_decoder(tokenizer: Any) -> PieceDecoder:
    """A function (piece, id) -> bytes for the tokenizer's scheme."""
    if getattr(tokenizer, "sp_model", None) is not None:
        return _sentencepiece_piece_decoder("▁", byte_fallback=True)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise TokenizerError(
            f"cannot recover token bytes from {type(tokenizer).__name__}: it is neither a "
            "`tokenizers`-backed tokenizer nor a SentencePiece model; wrap the model with a fast "
            "tokenizer (use_fast=True) or pass a Vocabulary built by hand"
        )
    spec = json.loads(backend.to_str())
    decoders = _flatten(spec.get("decoder"))
    kinds = {d.get("type") for d in decoders}
    model = spec.get("model") or {}
    if "ByteLevel" in kinds:
        return _byte_level_piece_decoder()
    replacement = _space_replacement(decoders)
    if replacement is not None:
        byte_fallback = "ByteFallback" in kinds or bool(model.get("byte_fallback"))
        return _sentencepiece_piece_decoder(replacement, byte_fallback=byte_fallback)
    if not decoders and model.get("type") in {"BPE", "Unigram", "WordLevel"}:
        return _literal_piece_decoder
    raise TokenizerError(
        f"unsupported tokenizer decoder {sorted(k for k in kinds if k)} "
        f"(model {model.get('type')!r}): awrs needs a byte-level or SentencePiece-style "
        "tokenizer whose pieces map to exact bytes (WordPiece and similar lose spaces)"
    )


def _flatten(decoder: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not decoder:
        return []
    if decoder.get("type") == "Sequence":
        return [d for sub in decoder.get("decoders", []) for d in _flatten(sub)]
    return [decoder]


def _space_replacement(decoders: list[dict[str, Any]]) -> str | None:
    """The character the decoders turn back into a space (tokenizer.json holds strings here)."""
    for d in decoders:
        if d.get("type") == "Metaspace":
            replacement: str = d.get("replacement", "▁")
            return replacement
        if d.get("type") == "Replace" and d.get("content") == " ":
            pattern = d.get("pattern", {})
            if "String" in pattern:
                string: str = pattern["String"]
                return string
    return None


def _byte_level_piece_decoder() -> PieceDecoder:
    table = gpt2_byte_decoder()

    def decode(piece: str, i: int) -> bytes:
        try:
            return bytes(table[ch] for ch in piece)
        except KeyError as exc:
            raise TokenizerError(
                f"token {i} ({piece!r}) has character {exc.args[0]!r} outside the GPT-2 byte "
                "alphabet, so its bytes cannot be recovered"
            ) from None

    return decode


def _sentencepiece_piece_decoder(replacement: str, *, byte_fallback: bool) -> PieceDecoder:
    def decode(piece: str, i: int) -> bytes:
        if byte_fallback:
            m = _BYTE_FALLBACK.fullmatch(piece)
            if m:
                return bytes([int(m.group(1), 16)])
        return piece.replace(replacement, " ").encode("utf-8")

    return decode


def _literal_piece_decoder(piece: str, i: int) -> bytes:
    return piece.encode("utf-8")


# --- verification -----------------------------------------------------------------------


def _verify_round_trip(tokenizer: Any, vocab: Vocabulary) -> None:
    unk = getattr(tokenizer, "unk_token_id", None)
    for probe in _PROBES:
        ids = _encode_plain(tokenizer, probe)
        if unk is not None and unk in ids:
            logger.debug("tokenizer cannot encode probe %r without <unk>; skipped", probe[:20])
            continue
        got = b"".join(vocab.tokens[i] for i in ids)
        want = probe.encode("utf-8")
        if got != want and got != b" " + want:
            raise TokenizerError(
                "token bytes do not round-trip for this tokenizer: encoding "
                f"{probe[:40]!r}... gives {got[:60]!r} instead of {want[:60]!r}; "
                "its pieces do not map to exact bytes, so awrs cannot check constraints on them"
            )


def _encode_plain(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=False))
