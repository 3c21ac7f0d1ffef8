"""Ordering without holes on PostgreSQL: a reader following the log by position never skips an event.

The mechanism (docs/postgres.md): every append takes ``pg_advisory_xact_lock`` before it
reads the head, and holds it until commit. So position N+1 is only computed after the
transaction holding N has committed and become visible; no snapshot can contain N+1
without N.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from modelog.registry.recorder import append_checked
from modelog.registry.store import APPEND_LOCK_KEY, AppendRequest, EventStore, StoredEvent
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.integration.pg_support import database_name, postgres_url_or_skip, side_connection
from tests.integration.store_support import log_engine, new


@pytest.fixture
def pg_url() -> str:
    """An empty PostgreSQL test database."""
    return postgres_url_or_skip()


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    """A fresh PostgreSQL database holding only the log tables."""
    eng = log_engine(pg_url)
    yield eng
    eng.dispose()


def wait_for_advisory_waiter(url: str, timeout: float = 20.0) -> None:
    """Block until some session on the test database waits for the append lock."""
    deadline = time.monotonic() + timeout
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE a.datname = :db AND l.locktype = 'advisory' AND NOT l.granted AND l.objid = :key"
    )
    with side_connection(url) as observer:
        while observer.execute(query, {"db": database_name(url), "key": APPEND_LOCK_KEY}).scalar_one() == 0:
            assert time.monotonic() < deadline, "the second writer never queued for the append lock"
            time.sleep(0.02)


def test_a_later_append_waits_until_the_earlier_one_commits(pg_url: str, engine: Engine) -> None:
    store = EventStore(engine)
    for i in range(3):
        store.append("s-seed", None, [new(i)])
    late = ExitStack()
    session = late.enter_context(store.session())
    held = append_checked(session, [AppendRequest("s-late", None, [new(10)])])  # position 4, not committed yet
    results: list[list[StoredEvent]] = []
    writer = threading.Thread(target=lambda: results.append(store.append("s-next", None, [new(11)])))
    writer.start()
    try:
        wait_for_advisory_waiter(pg_url)
        # While 4 is uncommitted nothing after it can exist: the reader sees a consistent prefix.
        assert store.head() == 3
        assert list(store.read_all(from_position=4)) == []
    finally:
        late.close()  # commits the session
        writer.join(timeout=30)
    assert [e.position for e in held] == [4]
    assert [e.position for e in results[0]] == [5]
    assert results[0][0].prev_hash == held[0].hash
    assert [e.position for e in store.read_all()] == [1, 2, 3, 4, 5]
    assert store.verify().ok


class Follower(threading.Thread):
    """Follows the log by position the way projection catch-up does, recording a skip as an error."""

    def __init__(self, store: EventStore, done: threading.Event) -> None:
        super().__init__(daemon=True)
        self.store, self.done = store, done
        self.seen: list[tuple[int, str]] = []
        self.problems: list[str] = []

    def run(self) -> None:
        while True:
            finished = self.done.is_set()  # read before the batch so the final sweep sees everything
            for event in self.store.read_all(from_position=len(self.seen) + 1, batch_size=50):
                if event.position != len(self.seen) + 1:
                    self.problems.append(f"saw position {event.position} while {len(self.seen) + 1} was not visible")
                    return
                self.seen.append((event.position, event.hash))
            if finished:
                return


def test_concurrent_writers_never_expose_a_hole_to_a_follower(engine: Engine) -> None:
    store = EventStore(engine)
    done = threading.Event()
    follower = Follower(store, done)
    failures: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(30):
                if i % 3 == 0:  # multi-stream batches interleave with single appends
                    store.append_batch([AppendRequest(f"w{worker}-a", None, [new(i), new(i + 1)]),
                                        AppendRequest(f"w{worker}-b", None, [new(i)])])
                else:
                    store.append(f"w{worker}-c", None, [new(i)])
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    writers = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    follower.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    done.set()
    follower.join(timeout=60)

    assert failures == []
    assert follower.problems == []
    log = [(e.position, e.hash) for e in store.read_all()]
    assert len(log) == 6 * (10 * 3 + 20)
    assert follower.seen == log
    assert store.verify().ok
