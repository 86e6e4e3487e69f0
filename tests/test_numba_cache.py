"""numba's compiled kernels are cached in awrs's cache directory, not in the package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Imports awrs, reports where each cached kernel would go and whether the cache folder exists
#: yet, compiles one small kernel, and lists what the cache folder then holds.
PROBE = """
import json, os, sys
import numpy as np
import awrs
from awrs.automata import _kernels as dfa
from awrs.sampler import _kernels as sampler
root = sys.argv[1]
paths = [dfa._walk_token._cache.cache_path, sampler._masked_argmax._cache.cache_path]
existed = os.path.exists(root)
dfa.walk_token(np.zeros((2, 256), dtype=np.int32), 0, b"ab")
files = sorted(f for _, _, names in os.walk(root) for f in names)
print(json.dumps({"paths": paths, "existed_after_import": existed, "files": files}))
"""


def probe(tmp_path: Path, **env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CACHE") and k != "AWRS_CACHE_DIR"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, env.get("NUMBA_CACHE_DIR") or env["AWRS_CACHE_DIR"]],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**base, "PYTHONPATH": str(ROOT), **env},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_kernels_are_cached_under_the_awrs_cache_directory(tmp_path):
    cache = tmp_path / "awrs-cache"
    result = probe(tmp_path, AWRS_CACHE_DIR=str(cache))
    for path in result["paths"]:
        assert Path(path).is_relative_to(cache / "numba"), path
    assert not result["existed_after_import"]  # importing awrs writes nothing
    assert any(f.startswith("_kernels._walk_token") and f.endswith(".nbi") for f in result["files"])


def test_numba_cache_dir_chosen_by_the_user_comes_first(tmp_path):
    result = probe(tmp_path, AWRS_CACHE_DIR=str(tmp_path / "awrs-cache"), NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    for path in result["paths"]:
        assert Path(path).is_relative_to(tmp_path / "numba"), path
    assert not (tmp_path / "awrs-cache").exists()


def test_an_unwritable_awrs_cache_falls_back_to_numbas_user_cache(tmp_path):
    """Never the package folder: numba's user-wide cache (under $HOME/.cache here) instead."""
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    home = tmp_path / "home"
    result = probe(tmp_path, AWRS_CACHE_DIR=str(blocked / "cache"), HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    awrs_package = ROOT / "awrs"
    for path in result["paths"]:
        assert not Path(path).is_relative_to(awrs_package) and Path(path).is_relative_to(home), path


@pytest.mark.parametrize("where", ["awrs", "NUMBA_CACHE_DIR"])
def test_a_cached_kernel_is_stale_once_another_awrs_file_changes(where):
    """numba compares only the stamp of the file that defines a function, and _layout's
    kernels inline _kernels' code: after _kernels.py changes they must compile again (a stale
    cache once ran the old block sums, 60% slower), wherever the cache is: awrs's folder, or
    the one the user names for numba (whose locator comes first)."""
    import os

    from awrs import _numba
    from awrs.sampler import _kernels, _layout

    kinds = _numba._AwrsCacheImpl._locator_classes
    kind = _numba._AwrsCacheLocator if where == "awrs" else next(c for c in kinds if c.__name__ == "UserProvidedCacheLocator")
    locator = kind(_layout._full_kept.py_func, _layout.__file__)
    _numba._package_stamp.cache_clear()  # the files as they are now (the stamp is read once per process)
    before = locator.get_source_stamp()
    stat = os.stat(_kernels.__file__)
    try:
        os.utime(_kernels.__file__, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        _numba._package_stamp.cache_clear()
        assert locator.get_source_stamp() != before
    finally:
        os.utime(_kernels.__file__, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        _numba._package_stamp.cache_clear()
    assert locator.get_source_stamp() == before
