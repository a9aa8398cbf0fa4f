"""The cyclic collector paused around bulk decoding (sessionspec.collector)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sessionspec.collector import collector_paused


@pytest.fixture
def collecting() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    gc.unfreeze()
    if not was:
        gc.disable()


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def _in_generation(obj: object, generation: int) -> bool:
    return any(o is obj for o in gc.get_objects(generation=generation))


def test_the_collector_is_off_inside_and_restored_after(collecting: None) -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # off stays off


def test_what_the_stretch_allocated_is_old_and_its_garbage_still_collected(
    collecting: None,
) -> None:
    with collector_paused():
        kept = [{"entry": n} for n in range(1000)]
        _Node()  # cyclic garbage made during the stretch
    assert gc.get_freeze_count() == 0
    assert _in_generation(kept, 2) and not _in_generation(kept, 0)
    assert any(type(o) is _Node for o in gc.get_objects())
    gc.collect()  # a full collection still finds the cycle
    assert not any(type(o) is _Node for o in gc.get_objects())


def test_objects_the_program_froze_stay_frozen(collecting: None) -> None:
    frozen = [{"before": True}]
    gc.freeze()
    count = gc.get_freeze_count()
    with collector_paused():
        made = [{"entry": n} for n in range(10)]
    assert gc.get_freeze_count() == count > 0
    assert not _in_generation(frozen, 2)
    assert _in_generation(made, 0) or _in_generation(made, 1)
