"""Page answers kept while the log head stands still (the UI's counterpart of the API's read cache).

A page's answer (:mod:`modelog.application.pages`) depends only on the log up to the position it
shows, on its parameters and, once roles land, on who asks; so it is kept under (page, parameters,
principal) for as long as the log's head is the one read just before it was computed. Every request
reads the head first (:func:`~modelog.application.pages.moment`), so a change by anyone is seen by the
next page. Used on the registry's thread only (no lock); at most :data:`CAPACITY` answers, all dropped
when the head moves. Only the answer is kept: the HTML is rendered per request (it carries the
session's CSRF value). One thing changes with the clock, not the log: a pending stage request expires; an
answer naming when (``stale_after``, an ISO 8601 time) is computed again once that time has passed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")
#: Most page answers kept at one head position (the oldest is dropped first beyond it).
CAPACITY = 256


class PageCache:
    """Answers of pages at one log head position."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.head = -1
        self._answers: dict[Hashable, object] = {}

    def __len__(self) -> int:
        return len(self._answers)

    def answer(self, head: int, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``'s answer, or the one kept under ``key`` at this ``head``. A request that read an older
        head than the one kept (it raced a write) is computed and not kept."""
        if head < self.head:
            return compute()
        if head != self.head:
            self._answers.clear()
            self.head = head
        if key in self._answers and not _stale(self._answers[key]):
            return self._answers[key]  # type: ignore[return-value]  # stored by compute() under this key
        self._answers.pop(key, None)
        found = compute()
        if len(self._answers) >= self.capacity:
            del self._answers[next(iter(self._answers))]
        self._answers[key] = found
        return found


def _stale(answer: object) -> bool:
    when = getattr(answer, "stale_after", None)
    return isinstance(when, str) and datetime.fromisoformat(when) <= datetime.now(UTC)
