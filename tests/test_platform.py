"""awrs._platform: the facts about the machine and the process that awrs reads or sets."""

from __future__ import annotations

import gc
import weakref

from awrs._platform import available_cores, settle_heap


def test_available_cores_is_at_least_one():
    assert available_cores() >= 1


class _Node:
    pass


def test_settle_heap_collects_the_garbage_then_freezes_what_is_alive():
    alive = _Node()
    garbage = _Node()
    garbage.itself = garbage  # a cycle: only the collector frees it
    freed = weakref.ref(garbage)
    del garbage
    try:
        frozen = settle_heap()
        assert freed() is None  # collected before the freeze, not kept in the frozen heap
        assert frozen == gc.get_freeze_count() > 0
        assert not any(o is alive for o in gc.get_objects())  # out of the collector's passes
    finally:
        gc.unfreeze()  # the rest of the test session collects as before
    assert any(o is alive for o in gc.get_objects())
