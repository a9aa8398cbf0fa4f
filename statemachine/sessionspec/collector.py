"""Pausing Python's cyclic garbage collector around bulk decoding.

Reading or replaying a long log builds one acyclic dict per line by the hundred thousand.
Every collection that allocation triggers can free nothing and only rescans the growing
heap: it doubled the time of a 100,000-entry resume. :func:`collector_paused` switches the
collector off for such a stretch and restores it exactly as it was (off stays off).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the ``with`` block; restore its state after."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
