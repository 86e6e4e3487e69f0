"""Where awrs keeps what it makes once and reuses: converted models and compiled kernels."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_root"]

#: Environment variable that moves the cache (like HF_HOME does for transformers).
CACHE_ENV = "AWRS_CACHE_DIR"


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where awrs keeps its files: the argument, else ``$AWRS_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/awrs``, else ``~/.cache/awrs``. Creates nothing."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "awrs"
