"""Issue 12.2 and 12.3: the log's guards in the database, and writes refused when they are not intact.

12.3: whoever inserts into ``events`` (the attacker's own SQL here), a row must continue the chain
(position = head + 1, prev_hash = the head's hash; the genesis hash at position 1) and be dated between
the head's time and the database clock + 60 s. 12.2: a guard dropped, disabled (PostgreSQL's
``ALTER TABLE … DISABLE TRIGGER``) or replaced is named by ``guard_problems`` and every append and
import refuses to write; reinstalling the guards (``modelog db upgrade``) lets writes through again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from modelog.registry.database import transaction
from modelog.registry.errors import IntegrityError, StorageError
from modelog.registry.guards import guard_problems, install_guards
from modelog.registry.hashing import GENESIS_HASH, chain_hash
from modelog.registry.recorder import EventRow
from modelog.registry.store import EventStore
from sqlalchemy.engine import Engine

from tests.integration.store_support import fill, log_engine


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A fresh database holding only the log tables and guards."""
    eng = log_engine(db_url)
    yield eng
    eng.dispose()


def _row(position: int, prev_hash: str, recorded_at: str = "2024-05-01T12:00:00.000000Z") -> EventRow:
    """A well-sealed row (its own hash is right): only its place in the chain or its time can be wrong."""
    data, meta = '{"x":1}', "{}"
    digest = chain_hash(prev_hash, position, "s-evil", position, "ModelUpdated", 1, data, meta, recorded_at)
    return EventRow(position, "s-evil", position, "ModelUpdated", 1, data, meta, recorded_at, prev_hash, digest)


def _insert(engine: Engine, row: EventRow) -> None:
    with transaction(engine, write=True) as conn:
        marks = ", ".join(["?" if conn.dialect.name == "sqlite" else "%s"] * len(row))
        conn.exec_driver_sql(f"INSERT INTO events VALUES ({marks})", tuple(row))


@pytest.mark.parametrize(("case", "message"), [
    ("gap", "hash chain"),
    ("same position", "hash chain"),
    ("wrong prev_hash", "hash chain"),
    ("genesis again", "hash chain"),
    ("before the head", "time order"),
    ("far future", "time order"),
])
def test_the_database_refuses_inserts_that_do_not_continue_the_chain(engine: Engine, case: str,
                                                                     message: str) -> None:
    store = EventStore(engine)
    fill(store, 3)
    head = store.log_head()
    rows = {
        "gap": _row(head.position + 2, head.hash),
        "same position": _row(head.position, head.hash),
        "wrong prev_hash": _row(head.position + 1, "f" * 64),
        "genesis again": _row(1, GENESIS_HASH),
        "before the head": _row(head.position + 1, head.hash, "2000-01-01T00:00:00.000000Z"),
        "far future": _row(head.position + 1, head.hash, "9999-12-31T23:59:59.999999Z"),
    }
    with pytest.raises(StorageError, match=message):
        _insert(engine, rows[case])
    assert store.head() == 3 and store.verify().ok


def test_a_well_formed_insert_passes_the_guard(engine: Engine) -> None:
    store = EventStore(engine)
    with pytest.raises(StorageError, match="hash chain"):  # the first event must start from the genesis hash
        _insert(engine, _row(1, "a" * 64))
    _insert(engine, _row(1, GENESIS_HASH))
    head = store.log_head()
    _insert(engine, _row(2, head.hash, head.recorded_at))
    assert store.head() == 2 and store.verify().ok
    fill(store, 1)  # the registry's own appends pass it too
    assert store.verify().ok and store.verify().checked == 3


def _drop(conn: Any, name: str) -> None:
    on = " ON events" if conn.dialect.name == "postgresql" else ""
    conn.exec_driver_sql(f"DROP TRIGGER {name}{on}")


def _attacks(backend: str) -> list[tuple[str, str, str]]:
    """(what the attacker runs, the trigger it hits, the word the report uses)."""
    if backend == "postgres":
        return [
            ("DROP TRIGGER events_no_change ON events", "events_no_change", "missing"),
            ("DROP TRIGGER events_chain ON events", "events_chain", "missing"),
            ("ALTER TABLE events DISABLE TRIGGER events_no_change", "events_no_change", "disabled"),
            ("ALTER TABLE events DISABLE TRIGGER ALL", "events_no_truncate", "disabled"),
            ("ALTER TABLE events ENABLE REPLICA TRIGGER events_chain", "events_chain", "disabled"),
            ("CREATE OR REPLACE FUNCTION modelog_events_append_only() RETURNS trigger LANGUAGE plpgsql "
             "AS $$ BEGIN RETURN OLD; END $$", "events_no_change", "replaced"),
            ("DROP TRIGGER event_signatures_no_change ON event_signatures", "event_signatures_no_change", "missing"),
            ("ALTER TABLE event_signatures DISABLE TRIGGER event_signatures_no_truncate",
             "event_signatures_no_truncate", "disabled"),
        ]
    return [
        ("DROP TRIGGER events_no_delete", "events_no_delete", "missing"),
        ("DROP TRIGGER events_chain", "events_chain", "missing"),
        ("DROP TRIGGER events_no_update\nCREATE TRIGGER events_no_update BEFORE UPDATE ON events "
         "BEGIN SELECT 1; END", "events_no_update", "replaced"),
        ("DROP TRIGGER event_signatures_no_delete", "event_signatures_no_delete", "missing"),
    ]


def test_every_weakened_guard_is_named_and_refuses_appends_and_imports(engine: Engine, backend: str) -> None:
    store = EventStore(engine)
    fill(store, 2)
    for attack, trigger, word in _attacks(backend):
        with engine.begin() as conn:
            for statement in attack.split("\n"):
                conn.exec_driver_sql(statement)
            problems = guard_problems(conn)
        assert any(trigger in p and word in p for p in problems), (attack, problems)
        with pytest.raises(IntegrityError, match=f"guards are not intact.*{trigger}.*modelog db upgrade"):
            fill(store, 1)
        assert store.head() == 2
        with transaction(engine, write=True) as conn:
            install_guards(conn)  # what 'modelog db upgrade' does
            assert guard_problems(conn) == []
        fill(store, 1)
        assert store.head() == 3
        _reset_to(store, 2, backend)  # the next attack starts from the same two events


def _reset_to(store: EventStore, count: int, backend: str) -> None:
    """Drop the guards, cut the log back to ``count`` events, reinstall them (test set-up only)."""
    with store.engine.begin() as conn:
        names = ("events_no_change", "events_no_truncate", "events_chain") if backend == "postgres" else (
            "events_no_update", "events_no_delete", "events_chain")
        for name in names:
            _drop(conn, name)
        conn.exec_driver_sql(f"DELETE FROM events WHERE position > {count}")
        install_guards(conn)


def test_an_import_into_an_unguarded_log_is_refused(engine: Engine, backend: str) -> None:
    store = EventStore(engine)
    with engine.begin() as conn:
        _drop(conn, "events_chain")
    with pytest.raises(IntegrityError, match="events_chain"):
        store.import_rows([[_row(1, GENESIS_HASH)]])
    assert store.head() == 0
