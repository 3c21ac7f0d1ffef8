"""Rebuild (reset + replay), catch-up and verification of the read models against the log."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

from modelog.projections import links_in_database
from modelog.projections import tables as t
from modelog.projections.bulk_replay import bulk_replay, fast_deletes
from modelog.projections.projector import apply_events, read_checkpoint, save_checkpoint
from modelog.projections.temporal import HISTORY_TABLES, reset_history
from modelog.registry._sql.batches import read_batches
from modelog.registry._sql.bulk import cyclic_gc_paused, refresh_statistics, vacuum_after_bulk_load
from modelog.registry._sql.raw_events import RowEvent
from modelog.registry.database import transaction
from modelog.registry.guards import guard_problems
from modelog.registry.store import EventStore, lock_appends
from sqlalchemy import String, create_engine, func, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RebuildReport:
    """How many events a rebuild replayed and how long it took."""

    events: int
    seconds: float

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class VerifyViewsReport:
    """Differences between the live read models and a fresh replay."""

    checked_position: int
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the live read models equal a fresh replay."""
        return not self.differences


def reset_views(conn: Connection) -> None:
    """Empty every read-model table (the derived views with their twins) and set the checkpoint back to 0."""
    for table in t.STORED_VIEW_TABLES:
        conn.execute(table.delete())
    reset_history(conn)
    conn.execute(update(t.checkpoints).where(t.checkpoints.c.name == t.CHECKPOINT_NAME).values(position=0))


def replay(conn: Connection, store: EventStore, *, after: int = 0, until: int | None = None,
           progress: Progress | None = None, batch_size: int = 5_000, source: Connection | None = None,
           bulk: bool = False) -> int:
    """Apply the log's events after ``after`` (up to ``until``) to the tables ``conn`` sees.

    Events are read through ``source`` (default: ``conn`` itself, same database). ``bulk``: a replay of
    the whole log into empty tables, inside :func:`bulk_replay.bulk_replay` (see ``projector.apply_events``);
    reading its own log, it builds the links in the database (:mod:`links_in_database`).
    """
    reader = source if source is not None else conn
    end = until if until is not None else store.head(reader)
    done = 0
    with cyclic_gc_paused():
        if bulk and links_in_database.applies(conn, reader):
            for links, batch in links_in_database.windows(conn, after + 1, end, batch_size):
                save_checkpoint(conn, links.low - 1, links.end)
                done += links.end - links.low + 1
                apply_events(conn, batch, bulk=True, links=links)
                if progress:
                    progress(done, end - after)
            return done
        for batch in read_batches(reader, after=after, until=end, batch_size=batch_size):
            done += _apply_batch(conn, batch, done, end - after, progress, bulk)
    return done


def _apply_batch(conn: Connection, batch: list[RowEvent], done: int, total: int, progress: Progress | None,
                 bulk: bool) -> int:
    save_checkpoint(conn, batch[0].position - 1, batch[-1].position)
    apply_events(conn, batch, bulk=bulk)
    if progress:
        progress(done + len(batch), total)
    return len(batch)


#: The tables a whole-log replay rewrites (their planner statistics and visibility map are refreshed after it).
_REPLAYED = [table.name for table in (*t.STORED_VIEW_TABLES, *HISTORY_TABLES)]


def _replay_all(conn: Connection, store: EventStore, progress: Progress | None = None) -> int:
    """Reset the read models and replay the whole log into them, in the caller's transaction."""
    with fast_deletes(conn):
        reset_views(conn)
        with bulk_replay(conn):
            count = replay(conn, store, progress=progress, bulk=True)
    if links_in_database.applies(conn, conn):  # the links' touches: from their stamps, copied after the replay
        links_in_database.touch_from_stamps(conn)
    refresh_statistics(conn, _REPLAYED)
    return count


def rebuild(engine: Engine, store: EventStore, progress: Progress | None = None) -> RebuildReport:
    """Reset the read models and replay the whole log in one transaction (readers see old or new, never half)."""
    started = time.perf_counter()
    with transaction(engine, write=True) as conn:
        lock_appends(conn)  # on PostgreSQL an append's inline projection would otherwise race the replay
        count = _replay_all(conn, store, progress)
    vacuum_after_bulk_load(engine, _REPLAYED)
    return RebuildReport(count, time.perf_counter() - started)


#: What :func:`catch_up` returns when it left the read models alone because their checkpoint is past the log's end.
VIEWS_AHEAD = -1


def catch_up(engine: Engine, store: EventStore) -> int:
    """Make read models that lag the log's end whole again; return the events replayed.

    The checkpoint is written in the same transaction as the rows, so a checkpoint behind the log's
    last position means the views were damaged or written by something else: replaying only the
    tail could apply an event twice, so they are rebuilt from the whole log instead. A checkpoint
    *past* the log's end is evidence that events were removed from the log: it is left as it is
    (``VIEWS_AHEAD``) for ``log verify`` to report; only ``projections rebuild`` resets it.
    """
    with transaction(engine) as conn:
        if _has_views(conn):
            checkpoint, head = read_checkpoint(conn), store.head(conn)
            if checkpoint >= head:
                return 0 if checkpoint == head else VIEWS_AHEAD
    with transaction(engine, write=True) as conn:
        lock_appends(conn)
        t.create_view_schema(conn)  # a log written without read models (a bare store, an old import) gets them
        checkpoint, head = read_checkpoint(conn), store.head(conn)
        if checkpoint >= head:
            return 0 if checkpoint == head else VIEWS_AHEAD
        count = _replay_all(conn, store)
    vacuum_after_bulk_load(engine, _REPLAYED)
    return count


def tamper_evidence(engine: Engine, store: EventStore) -> list[str]:
    """What ``log verify`` reports besides the chain: guards missing or disabled, traces of removed events."""
    with transaction(engine, snapshot=True) as conn:
        return guard_problems(conn) + removal_evidence(conn, store.head(conn))


def removal_evidence(conn: Connection, head: int) -> list[str]:
    """Traces, in the read models, of events past the log's end ``head``: what deleting the log's tail leaves.

    The checkpoint and every position a read-model row records are at most the head in an intact
    registry. Reads only.
    """
    if not _has_views(conn):
        return []
    found = []
    checkpoint = read_checkpoint(conn)
    if checkpoint > head:
        found.append(f"the read models' checkpoint is at position {checkpoint} but the log ends at position {head}")
    for table in (t.artifact_links, t.run_links):
        highest = conn.execute(select(func.max(table.c.position))).scalar()
        if highest is not None and int(highest) > head:
            found.append(f"{table.name} records log position {int(highest)} but the log ends at position {head}")
    return found


def _scratch_engine(path: Path) -> Engine:
    """A throw-away SQLite file: no journal, no fsync (it is deleted afterwards either way)."""
    engine = create_engine(f"sqlite:///{path}")

    @sa_event.listens_for(engine, "connect")
    def _fast(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA journal_mode=OFF")
        dbapi_conn.execute("PRAGMA synchronous=OFF")

    return engine


def _has_views(conn: Connection) -> bool:
    return bool(conn.dialect.has_table(conn, t.checkpoints.name))


def verify(engine: Engine, store: EventStore, progress: Progress | None = None) -> VerifyViewsReport:
    """Replay the log into a scratch database and compare every read-model table with the live one."""
    with tempfile.TemporaryDirectory(prefix="modelog-verify-") as scratch_dir:
        scratch = _scratch_engine(Path(scratch_dir) / "views.db")
        try:
            with transaction(engine, snapshot=True) as live:  # one snapshot for the replay and the views
                head = read_checkpoint(live)
                with scratch.begin() as conn:
                    t.create_view_schema(conn)
                    with bulk_replay(conn):
                        replay(conn, store, until=head, progress=progress, source=live, bulk=True)
                    report = VerifyViewsReport(head)
                    if store.head(live) != head:
                        report.differences.append(
                            f"checkpoint is at position {head} but the log ends at {store.head(live)}")
                    for table in (*t.VIEW_TABLES, *HISTORY_TABLES):
                        report.differences.extend(_compare(table, live, conn))
                    return report
        finally:
            scratch.dispose()


def _rows(conn: Connection, table: Any) -> Iterator[tuple[Any, ...]]:
    keys: list[Any] = list(table.primary_key.columns)
    if conn.dialect.name == "postgresql":  # compare in code-point order, as the SQLite scratch copy sorts
        keys = [k.collate("C") if isinstance(k.type, String) else k for k in keys]
    result = conn.execution_options(stream_results=True).execute(table.select().order_by(*keys))
    for row in result:
        yield tuple(row)


def _compare(table: Any, live: Connection, fresh: Connection, limit: int = 20) -> list[str]:
    problems: list[str] = []
    for live_row, fresh_row in zip_longest(_rows(live, table), _rows(fresh, table)):
        if live_row != fresh_row:
            problems.append(f"{table.name}: live {live_row} != replayed {fresh_row}")
            if len(problems) >= limit:
                problems.append(f"{table.name}: (more differences not shown)")
                break
    return problems
