"""Pausing Python's cyclic garbage collector around bulk decoding.

Reading or replaying a long log builds one acyclic dict per line by the hundred thousand.
Every collection that allocation triggers can free nothing and only rescans the growing
heap: it doubled the time of a 100,000-entry resume. :func:`collector_paused` switches the
collector off for such a stretch and restores it exactly as it was (off stays off); what the
stretch allocated joins the oldest generation, so the next young collection does not walk it.
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
            if not gc.get_freeze_count():
                # What the stretch allocated sits in the youngest generation, and the first
                # collection after gc.enable() would walk all of it (a million objects after
                # a 100,000-entry resume: 7% of its time). freeze() + unfreeze() moves every
                # tracked object to the oldest generation unscanned, as if it had survived;
                # cyclic garbage among them is still found, by the next full collection.
                # Skipped when the program froze objects itself (unfreeze would undo that).
                gc.freeze()
                gc.unfreeze()
            gc.enable()
