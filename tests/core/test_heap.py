"""tui.core.heap: a slow full collection moves what survived it out of the collector's reach
(gc.freeze), and unsettle() gives it back. The threshold is set to 0 s so that any full
collection counts as slow: no timing is asserted."""

from __future__ import annotations

import asyncio
import gc

from tui.core.heap import settle_heap


async def test_a_slow_full_collection_freezes_the_survivors():
    gc.unfreeze()
    settler = settle_heap(slow_s=0.0)
    try:
        assert gc.get_freeze_count() == 0
        keep = [{"n": i} for i in range(10_000)]  # long-lived data, like an inventory
        gc.collect(2)
        for _ in range(100):  # the freeze runs on the loop, after the collection
            if settler.freezes:
                break
            await asyncio.sleep(0.01)
        assert settler.freezes == 1
        assert gc.get_freeze_count() >= len(keep)
        gc.collect(1)  # younger collections do not freeze
        await asyncio.sleep(0.05)
        assert settler.freezes == 1
    finally:
        settler.unsettle()
    assert gc.get_freeze_count() == 0
    assert settler._callback not in gc.callbacks


async def test_a_fast_full_collection_changes_nothing():
    gc.unfreeze()
    settler = settle_heap(slow_s=3600.0)
    try:
        gc.collect(2)
        await asyncio.sleep(0.05)
        assert settler.freezes == 0 and gc.get_freeze_count() == 0
        assert settler.last_full_s > 0
    finally:
        settler.unsettle()


async def test_frozen_objects_are_still_freed_by_reference_counting():
    import weakref

    class Item:
        pass

    gc.unfreeze()
    settler = settle_heap(slow_s=0.0)
    try:
        item = Item()
        ref = weakref.ref(item)
        gc.collect(2)
        for _ in range(100):
            if settler.freezes:
                break
            await asyncio.sleep(0.01)
        assert settler.freezes == 1
        del item  # frozen, not cyclic: freed at once
        assert ref() is None
    finally:
        settler.unsettle()


async def test_a_freeze_scheduled_before_unsettle_does_not_happen_after_it():
    """The app unmounts between a slow collection and the scheduled freeze: nothing may
    stay frozen (frozen cyclic garbage would never be collected)."""
    gc.unfreeze()
    settler = settle_heap(slow_s=0.0)
    gc.collect(2)  # schedules the freeze on the loop
    settler.unsettle()
    await asyncio.sleep(0.05)  # the scheduled call runs now
    assert settler.freezes == 0 and gc.get_freeze_count() == 0
