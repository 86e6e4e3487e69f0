"""``njit``: numba's, with compiled code cached in awrs's cache directory.

numba's ``cache=True`` writes its cache files beside the source, into the package's own
``__pycache__`` (site-packages for an installed awrs). awrs's kernels use this ``njit``
instead, whose ``cache=True`` keeps them under ``<cache_root()>/numba/`` (``~/.cache/awrs``
or ``$AWRS_CACHE_DIR``, read when awrs is imported), unless the user chose otherwise for
numba (``NUMBA_CACHE_DIR`` or ``NUMBA_CACHE_LOCATOR_CLASSES``, which numba puts first); where
that folder cannot be written, numba's own user-wide cache serves, never the package folder.

numba picks a cache folder by asking a list of locator classes in turn; a cache object
carries its list, so each of awrs's compiled functions gets a cache object whose list has
awrs's locator where numba's has the in-tree one. numba's global list is left as it is, and
nothing is written when awrs is imported: the folder is made when the first compiled
function is saved.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numba
from numba.core import caching

from awrs._cache import cache_root

__all__ = ["njit"]


def _numba_class(*names: str) -> type:
    """A class of numba.core.caching under its current name or an older one (numba 0.59
    spelled the locators with a leading underscore)."""
    for name in names:
        cls = getattr(caching, name, None)
        if cls is not None:
            return cls
    raise ImportError(f"numba.core.caching has none of {names}; this numba release is not supported")


if TYPE_CHECKING:  # the names of the numba being type-checked
    from numba.core.caching import InTreeCacheLocator as _InTreeLocator
    from numba.core.caching import UserWideCacheLocator as _UserWideLocator
else:
    _UserWideLocator = _numba_class("UserWideCacheLocator", "_UserWideCacheLocator")
    _InTreeLocator = _numba_class("InTreeCacheLocator", "_InTreeCacheLocator")


class _PackageStamped:
    """A locator whose source stamp is the file's, as numba's, and the stamp of every other
    file of the package: numba checks only the file that defines a function, so a kernel that
    calls one from another module (``_layout`` calls ``_kernels``) would otherwise keep running
    the old callee's code after that module changes. Every locator awrs's kernels use has it,
    the one of ``NUMBA_CACHE_DIR`` included."""

    def get_source_stamp(self) -> Any:
        return (super().get_source_stamp(), _package_stamp())  # type: ignore[misc]


class _AwrsCacheLocator(_PackageStamped, _UserWideLocator):
    """A source file's functions cached under ``cache_root()/numba/<folder>_<hash of its path>``."""

    def __init__(self, py_func: Callable, py_file: str):
        super().__init__(py_func, py_file)
        self._cache_path = str(cache_root() / "numba" / self.get_suitable_cache_subpath(py_file))

    @classmethod
    def from_function(cls, py_func: Callable, py_file: str) -> _AwrsCacheLocator | None:
        if not os.path.exists(py_file):
            return None
        self = cls(py_func, py_file)
        return self if _could_write(Path(self._cache_path)) else None


@functools.cache
def _package_stamp() -> tuple[tuple[str, int, int], ...]:
    """(path, modification time, size) of every Python file of awrs, read once per process."""
    root = Path(__file__).resolve().parent
    return tuple(sorted((str(p.relative_to(root)), p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*.py")))


def _could_write(folder: Path) -> bool:
    """Could ``folder`` be created and written, judging by its nearest existing ancestor
    (nothing is created here)?"""
    for existing in (folder, *folder.parents):
        if existing.exists():
            return existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)
    return False


def _stamped(locator: type) -> type:
    """``locator`` with the package's stamp in its source stamp (:class:`_PackageStamped`)."""
    return type(locator.__name__, (_PackageStamped, locator), {"__module__": __name__})


class _AwrsCacheImpl(caching.CompileResultCacheImpl):
    # A class variable, as numba reads it; numba's own is unannotated, which mypy takes for an
    # instance variable that a ClassVar may not override.
    _locator_classes: ClassVar[list[type[object]]] = [  # type: ignore[misc]
        _AwrsCacheLocator if issubclass(c, _InTreeLocator) else _stamped(c)
        for c in caching.CompileResultCacheImpl._locator_classes
    ]


class _AwrsFunctionCache(caching.FunctionCache):
    _impl_class = _AwrsCacheImpl


def njit(*args: Any, **options: Any) -> Any:
    """``numba.njit`` with the same options; ``cache=True`` caches under awrs's cache
    directory (see the module's description). Used as ``@njit`` or ``@njit(...)``."""
    cache = options.pop("cache", False)

    def decorate(fn: Callable) -> Any:
        dispatcher = numba.njit(**options)(fn)
        if cache and hasattr(dispatcher, "enable_caching"):  # not under NUMBA_DISABLE_JIT
            dispatcher._cache = _AwrsFunctionCache(fn)  # what enable_caching() does, with awrs's locator
        return dispatcher

    if args and callable(args[0]) and len(args) == 1:
        return decorate(args[0])
    return decorate
