"""A tiny random causal LM and a byte-level tokenizer saved as a Hugging Face checkpoint, for
tests of loading and of the command line that need a real checkpoint folder but not a real
model: it loads in well under a second and decodes fast."""

from __future__ import annotations

from pathlib import Path

#: The tokenizer's end-of-sequence token, after the 256 byte tokens.
EOS = "<|endoftext|>"


def byte_alphabet() -> list[str]:
    """GPT-2's printable stand-in for each byte (byte-level BPE's alphabet), in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def make_tiny_checkpoint(folder: Path, seed: int = 0) -> Path:
    """Save a 1-layer Llama with a 257-token byte-level vocabulary (256 bytes, then EOS) into
    ``folder`` (model.safetensors, config.json, tokenizer files) and return ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {ch: i for i, ch in enumerate(byte_alphabet())}
    vocab[EOS] = 256
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=EOS)
    config = LlamaConfig(
        vocab_size=257,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=256,
        pad_token_id=256,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
