"""Facts about the machine awrs runs on (private)."""

from __future__ import annotations

import gc
import os

__all__ = ["available_cores", "settle_heap"]


def available_cores() -> int:
    """The cores this process may use (its CPU affinity where the system has one), at least one."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def settle_heap() -> int:
    """Collect once, then keep every object alive now out of the collector's later passes
    (``gc.freeze``); returns how many objects that is. For a process that has loaded its model
    and serves or runs jobs from then on (``awrs serve``, ``awrs batch`` and its Ray replicas):
    its long-lived objects (torch, transformers, numba, the model: ~400,000 with the default
    model) are otherwise traversed by every full collection, ~150 ms here, a stall in the middle
    of a step every few dozen steps of a busy run (docs/serving.md, "The heap"). Frozen
    objects are never freed, which these are not meant to be. A library call never does this:
    the process is the caller's."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
