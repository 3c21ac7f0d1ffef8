"""The event-store contract: every recorder (SQLite file, PostgreSQL, in memory) must pass all of it.

The generic tests take ``store``, parametrised over the recorders; they append through the path
production runs (a write session: read the head and versions, append after them, commit). Tests of
what only a database has (its append-only triggers, projectors in the append transaction, schema
versions) take ``sql_store`` or ``registry``, parametrised over the database backends.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from modelog.registry import transfer
from modelog.registry.commands import CreateVersion, RegisterModel
from modelog.registry.database import transaction
from modelog.registry.errors import (
    ConcurrencyError,
    ConflictError,
    EventSchemaError,
    IntegrityError,
    InvalidInputError,
    SchemaVersionError,
    StorageError,
)
from modelog.registry.events import decode_event
from modelog.registry.hashing import GENESIS_HASH, canonical_json
from modelog.registry.memory import InMemoryRecorder
from modelog.registry.recorder import (
    EMPTY_LOG,
    MAX_CLOCK_LEAD,
    AppendRequest,
    LogHead,
    NewEvent,
    Recorder,
    StoredEvent,
    append_checked,
    parse_time,
    utc_now,
)
from modelog.registry.schema import SCHEMA_VERSION
from modelog.registry.service import CommandService
from modelog.registry.signing import KeyFileSigner, PublicKey, check_signatures, generate_key_file
from modelog.registry.store import EventStore
from modelog.registry.transfer import export_log, import_log
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from tests import backends
from tests.integration.store_support import drop_guards, fill, log_engine, new

AnyRecorder = EventStore | InMemoryRecorder
MakeStore = Callable[..., AnyRecorder]
RECORDERS = [*backends.selected_backends(), "memory"]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A fresh database holding only the log tables."""
    eng = log_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sql_store(engine: Engine) -> EventStore:
    """A bare SQL event store (no projectors) on the database backend under test."""
    return EventStore(engine)


@pytest.fixture(params=RECORDERS)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """Recorders of one kind over one (fresh) log: ``make_store(clock=...)``."""
    if request.param == "memory":
        memory = InMemoryRecorder()

        def make_memory(clock: Callable[[], datetime] = utc_now) -> AnyRecorder:
            memory.clock = clock
            return memory

        yield make_memory
        return
    if request.param == "postgres":
        backends.require_postgres()
        url = backends.reset_postgres()
    else:
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    eng = log_engine(url)
    yield lambda clock=utc_now: EventStore(eng, clock=clock)
    eng.dispose()


@pytest.fixture
def store(make_store: MakeStore) -> AnyRecorder:
    """A recorder of the kind under test, on an empty log."""
    return make_store()


def positions(store: AnyRecorder) -> list[int]:
    return [e.position for e in store.read_all()]


def test_every_recorder_implements_the_port() -> None:
    engine = log_engine("sqlite://")
    recorders: list[Recorder] = [InMemoryRecorder(), EventStore(engine)]  # the assignment is what mypy checks
    assert all(r.head() == 0 for r in recorders)
    engine.dispose()


# --- append / read ------------------------------------------------------------------------


def test_append_and_read_round_trip(store: AnyRecorder) -> None:
    first = store.append("s-1", 0, [new(1), new(2)], {"actor": "ann", "correlation_id": "c1"})
    second = store.append("s-2", 0, [new(3, "ModelDeleted")])
    assert [(e.position, e.stream_version) for e in first] == [(1, 1), (2, 2)]
    assert (second[0].position, second[0].stream_version) == (3, 1)
    read = store.read_stream("s-1")
    assert read == first
    assert read[0].data == {"changes": {"description": "d1"}}
    assert read[0].meta == {"actor": "ann", "correlation_id": "c1"}
    assert read[1].prev_hash == read[0].hash and read[0].prev_hash == GENESIS_HASH
    assert store.read_stream("s-2")[0].event_type == "ModelDeleted"
    assert list(store.read_all()) == [*first, *second]
    assert store.head() == 3
    assert store.log_head() == LogHead(3, second[0].hash, second[0].recorded_at)
    assert store.stream_versions(["s-1", "s-2", "nothing"]) == {"s-1": 2, "s-2": 1, "nothing": 0}
    assert store.read_stream("s-1", after_version=1) == first[1:]
    assert store.read_stream("s-1", to_position=1) == first[:1]
    assert store.read_stream("nothing") == []


def test_the_same_events_get_the_same_chain_on_every_recorder(store: AnyRecorder) -> None:
    fixed = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    reference = InMemoryRecorder(clock=lambda: fixed)
    for recorder in (store, reference):
        recorder.clock = lambda: fixed
        recorder.append_batch([AppendRequest("s-a", 0, [new(1)]), AppendRequest("s-b", 0, [new(2), new(3)])],
                              {"actor": "ann"})
        recorder.append("s-a", 1, [new(4)])
    assert list(store.read_all()) == list(reference.read_all())


def test_unicode_and_nested_data_survive(store: AnyRecorder) -> None:
    data = {"name": "modèle ☃ 模型", "nested": {"list": [1, 2.5, None, True], "empty": {}}}
    store.append("s-u", 0, [NewEvent("ModelRegistered", 1, data)])
    assert store.read_stream("s-u")[0].data == data
    assert store.verify().ok


def test_batch_appends_to_several_streams_atomically(store: AnyRecorder) -> None:
    stored = store.append_batch([AppendRequest("s-a", 0, [new(1)]), AppendRequest("s-b", 0, [new(2), new(3)])])
    assert [(e.stream_id, e.stream_version, e.position) for e in stored] == [
        ("s-a", 1, 1), ("s-b", 1, 2), ("s-b", 2, 3)]
    assert len({e.recorded_at for e in stored}) == 1


def test_concurrency_error_on_second_stream_leaves_nothing(store: AnyRecorder) -> None:
    store.append("s-a", 0, [new(1)])
    with pytest.raises(ConcurrencyError) as caught:
        store.append_batch([AppendRequest("s-b", 0, [new(2)]), AppendRequest("s-a", 0, [new(3)])])
    assert (caught.value.stream_id, caught.value.expected, caught.value.actual) == ("s-a", 0, 1)
    assert store.head() == 1 and store.read_stream("s-b") == []


def test_a_session_that_fails_after_appending_writes_nothing(store: AnyRecorder) -> None:
    store.append("s-a", 0, [new(1)])
    with pytest.raises(RuntimeError, match="decided wrong"), store.writer().session() as session:
        session.append([AppendRequest("s-a", 1, [new(2)]), AppendRequest("s-b", 0, [new(3)])], {},
                       session.log_head())
        assert session.stream_versions(["s-a", "s-b"]) == {"s-a": 2, "s-b": 1}  # the session sees its own writes
        raise RuntimeError("decided wrong")
    assert store.head() == 1 and store.read_stream("s-b") == [] and store.verify().ok


def test_a_session_reads_what_a_command_decides_on(store: AnyRecorder) -> None:
    first = store.append("s-a", 0, [new(1), new(2)])
    writer = store.writer()
    with writer.session() as session:
        head = session.log_head()
        assert head == LogHead(2, first[-1].hash, first[-1].recorded_at)
        assert session.read_stream("s-a", 1) == first[1:]
        assert session.moved_since(head, 10) == (head, set())
    store.append("s-b", 0, [new(3)])
    store.append("s-a", 2, [new(4)])
    with writer.session() as session:
        moved = session.moved_since(head, 10)
        assert moved is not None and moved[0].position == 4 and moved[1] == {"s-a", "s-b"}
        assert session.moved_since(head, 1) is None  # more than the limit followed it
        assert session.moved_since(LogHead(2, "not-the-hash", None), 10) is None  # a different log
        appended = session.append([AppendRequest("s-a", 3, [new(5)])], {"actor": "ann"}, moved[0])
    writer.close()
    assert [e.position for e in appended] == [5] and store.read_stream("s-a")[-1] == appended[0]


class _FailingProjector:
    def project(self, conn: Connection, events: Sequence[StoredEvent]) -> None:
        raise RuntimeError("projector broke")


class _SideTableProjector:
    def project(self, conn: Connection, events: Sequence[StoredEvent]) -> None:
        for event in events:
            conn.execute(text("INSERT INTO side_effects (position) VALUES (:p)"), {"p": event.position})


def test_failing_projector_rolls_back_events_and_earlier_projector_writes(engine: Engine) -> None:
    with transaction(engine, write=True) as conn:
        conn.execute(text("CREATE TABLE side_effects (position INTEGER)"))
    good = EventStore(engine, [_SideTableProjector()])
    good.append("s-a", 0, [new(1)])
    broken = EventStore(engine, [_SideTableProjector(), _FailingProjector()])
    with pytest.raises(RuntimeError, match="projector broke"):
        broken.append_batch([AppendRequest("s-a", 1, [new(2)]), AppendRequest("s-b", 0, [new(3)])])
    assert good.head() == 1 and good.read_stream("s-b") == []
    with transaction(engine) as conn:
        assert conn.execute(text("SELECT position FROM side_effects")).scalars().all() == [1]


def test_wrong_expected_version_raises_concurrency_error(store: AnyRecorder) -> None:
    store.append("s-a", 0, [new(1), new(2)])
    for wrong in (0, 1, 3):
        with pytest.raises(ConcurrencyError, match="expected"):
            store.append("s-a", wrong, [new(9)])
    assert store.head() == 2
    store.append("s-a", 2, [new(3)])
    store.append("s-a", None, [new(4)])  # None: append whatever the version
    assert [e.stream_version for e in store.read_stream("s-a")] == [1, 2, 3, 4]


def test_appending_after_a_stale_head_or_version_is_a_concurrency_error(store: AnyRecorder) -> None:
    store.append("s-a", 0, [new(1)])
    # A writer that read before a rival committed: its head and stream version are both stale.
    with store.writer().session() as session, pytest.raises(ConcurrencyError):
        session.append([AppendRequest("s-a", 0, [new(2)])], {}, EMPTY_LOG)
    # The head is current, the stream version is not.
    with store.writer().session() as session, pytest.raises(ConcurrencyError):
        session.append([AppendRequest("s-a", 0, [new(2)])], {}, session.log_head())
    assert store.head() == 1 and store.verify().ok


def test_a_session_append_needs_every_expected_version(store: AnyRecorder) -> None:
    with pytest.raises(InvalidInputError, match="expected version"), store.writer().session() as session:
        session.append([AppendRequest("s-a", None, [new(1)])], {}, session.log_head())
    assert store.head() == 0


def test_same_stream_twice_in_one_batch_is_refused(store: AnyRecorder) -> None:
    with pytest.raises(InvalidInputError):
        store.append_batch([AppendRequest("s-a", 0, [new(1)]), AppendRequest("s-a", 1, [new(2)])])
    assert store.head() == 0


def test_positions_are_gap_free_across_refusals(store: AnyRecorder) -> None:
    store.append("s-a", 0, [new(1)])
    with pytest.raises(ConcurrencyError):
        store.append("s-a", 0, [new(2)])
    with pytest.raises(RuntimeError), store.writer().session() as session:
        append_checked(session, [AppendRequest("s-b", 0, [new(3)])])
        raise RuntimeError("the command failed after appending")
    store.append("s-b", 0, [new(4), new(5)])
    assert positions(store) == [1, 2, 3]


def test_concurrent_writers_get_gap_free_positions_and_a_valid_chain(store: AnyRecorder) -> None:
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(8):
                store.append(f"w-{worker}", i, [new(i)])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert positions(store) == list(range(1, 33))
    assert all([e.stream_version for e in store.read_stream(f"w-{w}")] == list(range(1, 9)) for w in range(4))
    assert store.verify().ok


# --- reading the whole log ----------------------------------------------------------------


def test_read_all_batches_and_filters(store: AnyRecorder) -> None:
    fill(store, 25, ("s-a", "s-b", "x_c"))
    every = list(store.read_all())
    assert [e.position for e in every] == list(range(1, 26))
    assert list(store.read_all(batch_size=4)) == every
    assert list(store.read_all(batch_size=5)) == every  # batch size dividing the count exactly
    assert [e.position for e in store.read_all(from_position=10, to_position=14, batch_size=2)] == [10, 11, 12, 13, 14]
    assert [e.position for e in store.read_all(limit=7, batch_size=3)] == list(range(1, 8))
    assert [e.position for e in store.read_all(from_position=24, limit=10)] == [24, 25]
    assert {e.stream_id for e in store.read_all(stream_prefix="s-")} == {"s-a", "s-b"}
    assert list(store.read_all(stream_prefix="x%")) == []  # LIKE wildcards are literal
    assert len(list(store.read_all(stream_prefix="x_"))) == 8
    assert [e.position for e in store.read_all(stream_ids=["s-b"], batch_size=2)] == list(range(2, 26, 3))
    assert list(store.read_all(from_position=26)) == []


def test_read_all_uses_bounded_batches(store: AnyRecorder, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(store, 10)
    sizes: list[int] = []
    original = store._read_batch

    def recording(*args: Any, **kwargs: Any) -> list[StoredEvent]:
        batch = original(*args, **kwargs)
        sizes.append(len(batch))
        return batch

    monkeypatch.setattr(store, "_read_batch", recording)
    assert len(list(store.read_all(batch_size=3))) == 10
    assert sizes == [3, 3, 3, 1]


def test_position_at_finds_the_last_event_recorded_by_then(make_store: MakeStore) -> None:
    base = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    times = iter([base, base + timedelta(seconds=10), base + timedelta(seconds=10), base + timedelta(seconds=30)])
    store = make_store(clock=lambda: next(times))
    for i in range(4):
        store.append("s-a", i, [new(i)])
    assert store.position_at(base - timedelta(microseconds=1)) == 0
    assert store.position_at(base) == 1
    assert store.position_at(base + timedelta(seconds=10)) == 3
    assert store.position_at(base + timedelta(seconds=29)) == 3
    assert store.position_at(base + timedelta(days=1)) == 4
    assert store.position_at((base + timedelta(seconds=10)).astimezone(timezone(timedelta(hours=2)))) == 3
    assert parse_time(store.read_stream("s-a")[0].recorded_at) == base
    with pytest.raises(InvalidInputError, match="timezone"):
        store.position_at(datetime(2024, 5, 1, 12, 0))


def test_recorded_times_never_go_backwards(make_store: MakeStore) -> None:
    base = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    times = iter([base, base - timedelta(seconds=30), base + timedelta(seconds=1)])
    store = make_store(clock=lambda: next(times))
    for i in range(3):
        store.append("s-a", i, [new(i)])
    stamps = [e.recorded_at for e in store.read_all()]
    assert stamps == sorted(stamps) and stamps[0] == stamps[1]


def test_a_head_far_ahead_of_the_clock_is_refused_not_carried_forward(make_store: MakeStore) -> None:
    """Issue 12.5: the head may lead the clock by MAX_CLOCK_LEAD at most; later events are never dated after it."""
    base = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    times = iter([base, base - MAX_CLOCK_LEAD - timedelta(seconds=1), base + timedelta(seconds=1)])
    store = make_store(clock=lambda: next(times))
    store.append("s-a", 0, [new(0)])
    with pytest.raises(IntegrityError, match=r"more than 60 s after the clock of record"):
        store.append("s-a", 1, [new(1)])
    assert store.head() == 1
    store.append("s-a", 1, [new(1)])  # the clock caught up
    assert [parse_time(e.recorded_at) for e in store.read_all()] == [base, base + timedelta(seconds=1)]


# --- import of sealed events ----------------------------------------------------------------


def test_import_round_trips_between_recorders(store: AnyRecorder) -> None:
    source = InMemoryRecorder()
    _domain_history(source)
    exported = _export(source)
    assert import_log(store, io.StringIO(exported), parallel=False) == source.head() == 7
    assert list(store.read_all()) == list(source.read_all()) and store.verify().ok
    assert _export(store) == exported
    with pytest.raises(ConflictError, match="not empty"):
        import_log(store, io.StringIO(exported), parallel=False)
    assert store.head() == 7


def _domain_history(source: InMemoryRecorder) -> None:
    """Seven events the domain's rules accept (an import replays them through the rules)."""
    service = CommandService(source, actor="ann")
    for name in ("a", "b"):
        service.execute(RegisterModel(name=name))
    for model in ("a", "b", "a"):
        service.execute(CreateVersion(model=model))


def test_a_broken_import_leaves_the_log_empty(store: AnyRecorder) -> None:
    source = InMemoryRecorder()
    _domain_history(source)
    lines = _export(source).splitlines(keepends=True)
    with pytest.raises(IntegrityError, match="line 3"):
        import_log(store, io.StringIO("".join([*lines[:2], *lines[3:]])), batch_size=1, parallel=False)
    assert store.head() == 0 and list(store.read_all()) == []


def _signed_export(tmp_path: Path) -> tuple[str, PublicKey]:
    """The export of seven events appended with a signing key, and that key's public half."""
    public = generate_key_file(tmp_path / "signing.key")
    source = InMemoryRecorder(signer=KeyFileSigner(tmp_path / "signing.key"))
    _domain_history(source)
    return _export(source), public


def test_signatures_travel_with_an_export_and_its_import(store: AnyRecorder, tmp_path: Path) -> None:
    exported, public = _signed_export(tmp_path)
    records = [json.loads(line) for line in exported.splitlines()[:-1]]
    assert all(set(r["signature"]) == {"key_id", "signature"} for r in records)
    unsigned = "".join(canonical_json({k: v for k, v in r.items() if k != "signature"}) + "\n" for r in records)
    assert [json.loads(line)["hash"] for line in unsigned.splitlines()] == [r["hash"] for r in records]
    assert import_log(store, io.StringIO(exported), batch_size=3, parallel=False) == 7  # signatures across batches
    report = check_signatures(store.read_signed(), [public])
    assert report.ok and (report.signed_from, report.checked) == (1, 7), report.summary()
    assert _export(store) == exported and store.verify().ok


def test_an_export_without_signatures_imports_as_an_unsigned_log(store: AnyRecorder, tmp_path: Path) -> None:
    exported, public = _signed_export(tmp_path)
    lines = exported.splitlines()
    stripped = [canonical_json({k: v for k, v in json.loads(line).items() if k != "signature"}) for line in lines[:-1]]
    assert import_log(store, io.StringIO("\n".join([*stripped, lines[-1]]) + "\n"), parallel=False) == 7
    assert store.verify().ok and all(row.signature is None for row in store.read_signed())
    assert not check_signatures(store.read_signed(), [public]).ok


def test_a_tampered_signature_in_the_file_is_named_after_the_import(store: AnyRecorder, tmp_path: Path) -> None:
    exported, public = _signed_export(tmp_path)
    lines = exported.splitlines(keepends=True)
    record = json.loads(lines[3])
    digits = record["signature"]["signature"]
    record["signature"]["signature"] = ("0" if digits[0] != "0" else "1") + digits[1:]
    lines[3] = canonical_json(record) + "\n"
    assert import_log(store, io.StringIO("".join(lines)), parallel=False) == 7  # import has no key to verify with
    report = check_signatures(store.read_signed(), [public])
    assert not report.ok and [p.position for p in report.problems] == [4], report.summary()


@pytest.mark.parametrize(("signature", "message"), [
    ("not an object", "signature must be an object"),
    ({"key_id": "ab", "signature": "00"}, "128 lowercase hex digits"),
    ({"key_id": "XY", "signature": "0" * 128}, "key_id must be 1 to 64"),
    ({"key_id": "ab", "signature": "0" * 128, "extra": 1}, "signature must be an object"),
])
@pytest.mark.parametrize("parallel", [False, True], ids=["one process", "checked in a second process"])
def test_import_refuses_a_malformed_signature_and_writes_nothing(store: AnyRecorder, tmp_path: Path,
                                                                  signature: Any, message: str, parallel: bool,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "CHUNK_LINES", 1)
    monkeypatch.setattr(transfer, "CHUNKS_BEFORE_WORKER", 1)
    exported, _ = _signed_export(tmp_path)
    lines = exported.splitlines(keepends=True)
    record = json.loads(lines[4])
    record["signature"] = signature
    lines[4] = json.dumps(record) + "\n"
    with pytest.raises(InvalidInputError, match=f"line 5: .*{message}"):
        import_log(store, io.StringIO("".join(lines)), batch_size=2, parallel=parallel)
    assert store.head() == 0 and list(store.read_signed()) == []


# --- append-only guard and tamper detection -----------------------------------------------


@pytest.mark.parametrize("statement", [
    "UPDATE events SET data = '{}' WHERE position = 2",
    "DELETE FROM events WHERE position = 2",
    "DELETE FROM events",
])
def test_database_refuses_changes_to_events(sql_store: EventStore, statement: str) -> None:
    store = sql_store
    fill(store, 3)
    before = list(store.read_all())
    with pytest.raises(StorageError, match="append-only"), transaction(store.engine, write=True) as conn:
        conn.exec_driver_sql(statement)
    assert list(store.read_all()) == before


def test_postgres_refuses_truncate(sql_store: EventStore, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    store = sql_store
    fill(store, 2)
    with pytest.raises(StorageError, match="append-only"), transaction(store.engine, write=True) as conn:
        conn.exec_driver_sql("TRUNCATE events")
    assert store.head() == 2


def _attack(engine: Engine, *statements: str) -> None:
    drop_guards(engine)
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_verify_accepts_an_intact_log(store: AnyRecorder) -> None:
    assert store.verify().ok and store.verify().checked == 0
    fill(store, 6)
    report = store.verify()
    assert report.ok and report.checked == 6 and report.first_bad_position is None


@pytest.mark.parametrize(("attack", "first_bad", "problem"), [
    (["UPDATE events SET data = '{\"changes\":{\"description\":\"evil\"}}' WHERE position = 3"], 3, "contents"),
    (["UPDATE events SET meta = '{\"actor\":\"mallory\"}' WHERE position = 4"], 4, "contents"),
    (["UPDATE events SET recorded_at = '2000-01-01T00:00:00.000000Z' WHERE position = 5"], 5, "contents"),
    (["UPDATE events SET hash = prev_hash WHERE position = 6"], 6, "contents"),
    (["DELETE FROM events WHERE position = 3"], 3, "missing"),
    (["DELETE FROM events WHERE position = 1"], 1, "missing"),
    ([
        "UPDATE events SET position = -position WHERE position >= 3",
        "UPDATE events SET position = 1 - position WHERE position < 0",
        "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, data, meta, "
        "recorded_at, prev_hash, hash) SELECT 3, 'evil', 1, event_type, schema_version, data, meta, recorded_at, "
        "hash, hash FROM events WHERE position = 2",
    ], 3, "contents"),
    ([
        "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, data, meta, "
        "recorded_at, prev_hash, hash) SELECT 7, 'evil', 1, event_type, schema_version, data, meta, recorded_at, "
        "hash, hash FROM events WHERE position = 6",
    ], 7, "contents"),
    ([
        "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, data, meta, "
        "recorded_at, prev_hash, hash) SELECT 0, 'evil', 1, event_type, schema_version, data, meta, recorded_at, "
        "prev_hash, hash FROM events WHERE position = 1",
    ], 0, "unexpected"),
    ([
        "UPDATE events SET position = -2 WHERE position = 2",
        "UPDATE events SET position = 2 WHERE position = 3",
        "UPDATE events SET position = 3 WHERE position = -2",
    ], 2, "hash"),
])
def test_verify_names_the_first_tampered_position(sql_store: EventStore, attack: list[str], first_bad: int,
                                                  problem: str) -> None:
    store = sql_store
    fill(store, 6)
    _attack(store.engine, *attack)
    report = store.verify()
    assert not report.ok
    assert report.first_bad_position == first_bad, report
    assert problem in (report.problem or "")


# --- schema versions of the database and of events -----------------------------------------


def _open(url: str, home: Path) -> Any:
    from modelog.application.bootstrap import open_registry

    return open_registry(url, home=home, actor="tester")


@pytest.mark.parametrize(("stored", "message"), [
    (SCHEMA_VERSION + 1, "newer than this modelog supports"),
    (SCHEMA_VERSION - 1, "modelog db upgrade"),
])
def test_registry_refuses_a_database_of_another_schema_version(db_url: str, tmp_path: Path, stored: int,
                                                                message: str) -> None:
    _open(db_url, tmp_path).close()
    engine = log_engine(db_url)
    with transaction(engine, write=True) as conn:
        conn.execute(text("UPDATE modelog_schema SET version = :v WHERE component = 'registry'"), {"v": stored})
    engine.dispose()
    with pytest.raises(SchemaVersionError, match=message) as caught:
        _open(db_url, tmp_path)
    assert str(stored) in str(caught.value)


def test_unknown_event_type_fails_loudly_everywhere(sql_store: EventStore, tmp_path: Path) -> None:
    store = sql_store
    store.append("model-x", 0, [NewEvent("ModelTeleported", 1, {"to": "mars"})])
    with pytest.raises(EventSchemaError, match="unknown event type 'ModelTeleported'"):
        decode_event("ModelTeleported", 1, {"to": "mars"})
    with pytest.raises(EventSchemaError, match="ModelTeleported"):
        _open(str(store.engine.url.render_as_string(hide_password=False)), tmp_path)  # catch-up replays it


def test_newer_event_schema_version_fails_loudly(registry: Any) -> None:
    from modelog.registry.commands import CreateVersion, RegisterModel

    result = registry.commands.execute(RegisterModel(name="demo"))
    newer = NewEvent("ModelVersionCreated", 99, {"number": 1, "name": "1"})
    with pytest.raises(EventSchemaError, match="schema version 99, newer than supported 1"):
        registry.store.append(f"model-{result.model_id}", None, [newer])  # the projector refuses it
    assert registry.store.head() == 2
    EventStore(registry.engine).append(f"model-{result.model_id}", None, [newer])  # a newer writer did it
    fresh = type(registry.commands)(registry.store, actor="tester")
    with pytest.raises(EventSchemaError, match="upgrade modelog"):
        fresh.execute(CreateVersion(model="demo"))


# --- export / import ------------------------------------------------------------------------


def _populate(reg: Any) -> None:
    from modelog.registry.commands import CreateVersion, DeleteVersion, RegisterModel, SetAlias, SetStage

    run = reg.commands.execute
    run(RegisterModel(name="Démo", fields={"description": "a ☃ model"}, tags=("a", "b")))
    for _ in range(3):
        run(CreateVersion(model="démo"))
    run(SetStage(model="Démo", version=2, stage="production"))
    run(SetAlias(model="Démo", version="1", alias="champion"))
    run(DeleteVersion(model="Démo", version=3))
    run(RegisterModel(name="other"))


def _export(store: Recorder) -> str:
    out = io.StringIO()
    export_log(store, out)
    return out.getvalue()


def _snapshot(reg: Any) -> Any:
    models = reg.reads.list_models().items
    return [m.as_dict() for m in models], {m.name: [v.as_dict() for v in reg.reads.list_versions(m.name)]
                                           for m in models}


@pytest.mark.parametrize("parallel", [False, True], ids=["one process", "checked in a second process"])
def test_export_import_round_trip(registry: Any, tmp_path: Path, parallel: bool,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    source = _open(f"sqlite:///{tmp_path / 'source.db'}", tmp_path)
    _populate(source)
    text_out = _export(source.store)
    assert text_out.count("\n") == source.store.head() + 1
    if parallel:
        monkeypatch.setattr(transfer, "CHUNK_LINES", 3)
        monkeypatch.setattr(transfer, "CHUNKS_BEFORE_WORKER", 1)
    assert import_log(registry.store, io.StringIO(text_out), parallel=parallel) == source.store.head()
    assert list(registry.store.read_all()) == list(source.store.read_all())
    assert registry.store.verify().ok
    assert _snapshot(registry) == _snapshot(source)
    assert _export(registry.store) == text_out
    source.close()


def _exported(tmp_path: Path) -> list[str]:
    source = _open(f"sqlite:///{tmp_path / 'source.db'}", tmp_path)
    _populate(source)
    lines = _export(source.store).splitlines(keepends=True)
    source.close()
    return lines


def _tamper_data(lines: list[str]) -> list[str]:
    record = json.loads(lines[2])
    record["data"]["name"] = "evil"
    return [*lines[:2], json.dumps(record) + "\n", *lines[3:]]


@pytest.mark.parametrize(("edit", "error", "message"), [
    (_tamper_data, IntegrityError, "line 3"),
    (lambda lines: lines[:-1], IntegrityError, "no end record"),
    (lambda lines: [*lines[:-3], lines[-1]], IntegrityError, "truncated"),
    (lambda lines: [*lines[:-1], lines[-1][:-9]], InvalidInputError, "not valid JSON"),
    (lambda lines: [lines[0], *lines[2:]], IntegrityError, "line 2"),
    (lambda lines: [*lines, lines[0]], IntegrityError, "follows the end record"),
    (lambda lines: ["{\"hello\": 1}\n", *lines], InvalidInputError, "line 1 is not an exported event"),
])
@pytest.mark.parametrize("parallel", [False, True], ids=["one process", "checked in a second process"])
def test_import_refuses_a_tampered_or_truncated_file(registry: Any, tmp_path: Path, edit: Any, error: type,
                                                    message: str, parallel: bool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    lines = edit(_exported(tmp_path))
    if parallel:  # tiny chunks, and the second process from the second chunk on
        monkeypatch.setattr(transfer, "CHUNK_LINES", 2)
        monkeypatch.setattr(transfer, "CHUNKS_BEFORE_WORKER", 1)
    with pytest.raises(error, match=message):
        import_log(registry.store, io.StringIO("".join(lines)), parallel=parallel)
    assert registry.store.head() == 0
    assert registry.reads.list_models().total == 0


def test_import_refuses_unknown_event_types_even_with_a_valid_chain(registry: Any, tmp_path: Path) -> None:
    scratch = EventStore(log_engine(f"sqlite:///{tmp_path / 'odd.db'}"))
    scratch.append("model-x", 0, [NewEvent("ModelTeleported", 1, {})])
    with pytest.raises((EventSchemaError, IntegrityError), match="ModelTeleported"):
        import_log(registry.store, io.StringIO(_export(scratch)))
    assert registry.store.head() == 0
    scratch.engine.dispose()


def test_import_refuses_a_non_empty_registry(registry: Any, tmp_path: Path) -> None:
    from modelog.registry.commands import RegisterModel

    registry.commands.execute(RegisterModel(name="already-here"))
    with pytest.raises(ConflictError, match="not empty"):
        import_log(registry.store, io.StringIO("".join(_exported(tmp_path))))
    assert registry.store.head() == 2


def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "CHUNK_LINES", 2)
    monkeypatch.setattr(transfer, "CHUNKS_BEFORE_WORKER", 1)


def test_import_fails_whole_when_the_checking_process_dies(registry: Any, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _small_chunks(monkeypatch)
    real = transfer._start_checker

    def dying(errors: Any) -> Any:
        checker = real(errors)
        checker.kill()  # as the kernel's OOM killer would
        return checker

    monkeypatch.setattr(transfer, "_start_checker", dying)
    with pytest.raises(StorageError, match="stopped unexpectedly .*nothing was imported"):
        import_log(registry.store, io.StringIO("".join(_exported(tmp_path))), parallel=True)
    assert registry.store.head() == 0 and registry.reads.list_models().total == 0


def test_import_quotes_why_the_checking_process_failed(registry: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _small_chunks(monkeypatch)

    def failing(errors: Any) -> Any:  # a checker that says why it stops, on its stderr
        return subprocess.Popen([sys.executable, "-c", "import sys; sys.exit('checker refused: out of memory')"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)

    monkeypatch.setattr(transfer, "_start_checker", failing)
    with pytest.raises(StorageError, match="checker refused: out of memory"):
        import_log(registry.store, io.StringIO("".join(_exported(tmp_path))), parallel=True)
    assert registry.store.head() == 0


def test_an_unreadable_file_fails_the_same_with_a_second_process(registry: Any, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _small_chunks(monkeypatch)
    path = tmp_path / "log.jsonl"
    path.write_bytes("".join(_exported(tmp_path)).encode() + b"\xff\xfe not UTF-8\n")
    for parallel in (False, True):
        with pytest.raises(InvalidInputError, match="not UTF-8 text"), path.open(encoding="utf-8") as source:
            import_log(registry.store, source, parallel=parallel)
        assert registry.store.head() == 0


def test_a_small_file_never_starts_the_second_process(registry: Any, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(errors: Any) -> Any:
        raise AssertionError("a second process was started for a small file")

    monkeypatch.setattr(transfer, "_start_checker", refuse)
    lines = _exported(tmp_path)
    assert len(lines) < transfer.CHUNK_LINES * transfer.CHUNKS_BEFORE_WORKER
    assert import_log(registry.store, io.StringIO("".join(lines)), parallel=True) == len(lines) - 1


# --- signatures (registry.signing) ------------------------------------------------------------


@pytest.fixture
def signer(tmp_path: Path) -> Any:
    from modelog.registry.signing import KeyFileSigner, generate_key_file

    generate_key_file(tmp_path / "signing.pem")
    return KeyFileSigner(tmp_path / "signing.pem")


def test_a_signing_recorder_stores_one_valid_signature_per_event(store: AnyRecorder, signer: Any) -> None:
    from modelog.registry.signing import check_signatures, event_message

    fill(store, 2)
    store.signer = signer
    stored = store.append_batch([AppendRequest("s-x", None, [new(1), new(2)]), AppendRequest("s-y", None, [new(3)])])
    fill(store, 1)
    rows = list(store.read_signed())
    assert [(r.position, r.hash) for r in rows] == [(e.position, e.hash) for e in store.read_all()]
    assert [(r.key_id, r.signature) for r in rows[:2]] == [(None, None), (None, None)]
    for row in rows[2:]:
        assert row.key_id == signer.key_id and row.signature is not None
        assert signer.public_key.verifies(bytes.fromhex(row.signature), event_message(row.position, row.hash))
    assert [e.position for e in stored] == [3, 4, 5]
    assert [r.position for r in store.read_signed(from_position=4, batch_size=1)] == [4, 5, 6]
    report = check_signatures(store.read_signed(batch_size=2), [signer.public_key])
    assert report.ok and (report.signed_from, report.checked, report.before) == (3, 4, 2)


def test_a_failed_signed_session_leaves_neither_events_nor_signatures(store: AnyRecorder, signer: Any) -> None:
    store.signer = signer
    fill(store, 1)
    with pytest.raises(ConcurrencyError):
        store.append_batch([AppendRequest("s-x", None, [new(1)]), AppendRequest("s-a", 0, [new(2)])])
    with pytest.raises(RuntimeError), store.session() as session:
        session.append([AppendRequest("s-z", 0, [new(3)])], {}, session.log_head())
        raise RuntimeError("the command fails after appending")
    fill(store, 1)
    assert [(r.position, r.key_id) for r in store.read_signed()] == [(1, signer.key_id), (2, signer.key_id)]


def test_a_signing_key_that_cannot_be_read_writes_nothing(store: AnyRecorder, tmp_path: Path) -> None:
    from modelog.registry.signing import KeyFileSigner

    fill(store, 1)
    store.signer = KeyFileSigner(tmp_path / "missing.pem")
    with pytest.raises(InvalidInputError, match="cannot read the signing key file"):
        fill(store, 1)
    assert store.head() == 1 and [r.key_id for r in store.read_signed()] == [None]


@pytest.mark.parametrize("statement", [
    "UPDATE event_signatures SET signature = 'x' WHERE position = 1",
    "DELETE FROM event_signatures WHERE position = 1",
    "DELETE FROM event_signatures",
])
def test_database_refuses_changes_to_signatures(sql_store: EventStore, signer: Any, statement: str) -> None:
    sql_store.signer = signer
    fill(sql_store, 2)
    before = list(sql_store.read_signed())
    with pytest.raises(StorageError, match="append-only"), transaction(sql_store.engine, write=True) as conn:
        conn.exec_driver_sql(statement)
    assert list(sql_store.read_signed()) == before


def test_database_refuses_a_signature_of_a_position_the_log_does_not_hold(sql_store: EventStore, signer: Any) -> None:
    """Else anyone with INSERT could take a future position's signature first and block the signer's append."""
    sql_store.signer = signer
    fill(sql_store, 1)
    with pytest.raises(StorageError, match="a signature must name an event of the log"), \
            transaction(sql_store.engine, write=True) as conn:
        conn.exec_driver_sql("INSERT INTO event_signatures VALUES (2, 'k', 'x')")
    fill(sql_store, 1)
    assert [r.key_id for r in sql_store.read_signed()] == [signer.key_id, signer.key_id]
