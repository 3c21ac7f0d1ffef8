"""Help for bulk passes over the log (rebuild, verify, import, past reads)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the duration of a bulk pass.

    A replay allocates a few objects per event (a decoded dict, a row, a queued parameter
    tuple) that reference counting frees batch by batch; none of them form cycles. The cyclic
    collector still walks the young generation every few hundred allocations, which cost a
    tenth of a rebuild's time. Collection resumes afterwards (unless the caller had already
    switched it off), and any cycle made in between is collected then.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
