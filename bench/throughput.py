"""Durable command throughput (one command per transaction) and its floors, one mode per process.

Usage: python -m bench.throughput command|plain|floor URL N
  command : N x CreateVersion then N x LinkArtifact through CommandService.execute (decide, append with
            hash chain, inline projections; one command = one write transaction).
  plain   : the same writes each of those commands makes (event row, view row, touch updates,
            history twin row and stamp, checkpoint; a link's view is its twin's open rows, so a link
            writes the twin row alone), issued as plain SQL, one transaction per command on one
            kept connection (as the command service keeps one); no decide, no hashing.
  writers : (usage: writers URL K M) K processes at once, M CreateVersion each on their own model.
  floor   : plain SQLAlchemy one-row insert per transaction into an events-like table, and 100 rows
            per transaction (executemany), the peers' raw floor (peer-benchmarks.md, B2).
SQLite runs use WAL + synchronous=FULL (modelog's default) in every mode.
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench.common import emit

SYNC = "FULL"


def _link(i: int) -> dict[str, Any]:
    return {"pipeline": "train", "step": "fit", "name": f"out{i}", "kind": "data",
            "artifact_id": str(uuid.UUID(int=i + 1)), "artifact_name": "weights", "artifact_version": 1,
            "content_hash": f"sha256:{i:064x}"}


def run_command(url: str, n: int) -> dict[str, float]:
    """Versions/s and links/s through the full command path."""
    from modelog.application.bootstrap import open_registry
    from modelog.registry import commands as cmd

    registry = open_registry(url, synchronous=SYNC, actor="bench")
    execute = registry.commands.execute
    execute(cmd.RegisterModel(name="m"))
    started = time.perf_counter()
    for _ in range(n):
        execute(cmd.CreateVersion(model="m"))
    versions_s = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(n):
        execute(cmd.LinkArtifact(model="m", version=1 + i % n, **_link(i)))
    links_s = time.perf_counter() - started
    assert len(registry.reads.list_versions("m")) == n
    registry.close()
    return {"versions_per_s": n / versions_s, "links_per_s": n / links_s}


def _event_row(position: int, stream: str, version: int, event_type: str, data: str, now: str,
               prev_hash: str) -> tuple:
    # The database's chain guard checks continuity (prev_hash = the head's hash), not the hash itself: the
    # position as the row's "hash" keeps the chain continuous without hashing (the baseline does no hashing).
    return (position, stream, version, event_type, 1, data, '{"actor":"bench"}', now, prev_hash, f"{position:064x}")


INSERT_EVENT = ("INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, data, meta, "
                "recorded_at, prev_hash, hash) VALUES (%s)")
INSERT_VERSION = ("INSERT INTO view_versions (model_id, number, name, name_key, description, tags, stage, created_at, "
                  "updated_at, created_by, created_run_id) VALUES (%s)")
TOUCH_MODEL = "UPDATE view_models SET updated_at = {p} WHERE model_id = {p}"
ADD_VERSION = ("UPDATE view_models SET updated_at = {p}, version_count = version_count + 1, latest_version = {p} "
               "WHERE model_id = {p}")
TOUCH_VERSION = "UPDATE view_versions SET updated_at = {p} WHERE model_id = {p} AND number = {p}"
CHECKPOINT = "UPDATE view_checkpoints SET position = {p} WHERE name = {p}"
# The history twins (projections/temporal.py): the row inserted, valid from its event on, and the event's stamp
# (``view_artifact_links`` is the open rows of ``hist_artifact_links``: a link writes its twin row alone).
OPEN = 2**62
HIST_VERSION = ("INSERT INTO hist_versions (model_id, number, name, name_key, description, tags, stage, created_at, "
                "created_by, created_run_id, valid_from, valid_to) VALUES (%s)")
HIST_LINK = ("INSERT INTO hist_artifact_links (model_id, number, pipeline, step, name, kind, link_version, "
             "artifact_id, artifact_name, artifact_version, content_hash, run_id, created_at, position, valid_from, "
             "valid_to) VALUES (%s)")
STAMP = "INSERT INTO hist_stamps (model_id, position, number, updated_at) VALUES (%s)"


def _sql(template: str, width: int, marker: str) -> str:
    return template % ", ".join([marker] * width) if "%s" in template else template.format(p=marker)


def run_plain(url: str, n: int) -> dict[str, float]:
    """The same writes as the command path, as plain SQL, one transaction per command."""
    from modelog.application.bootstrap import open_registry
    from modelog.registry import commands as cmd
    from modelog.registry.database import WriterConnection

    registry = open_registry(url, synchronous=SYNC, actor="bench")
    writer = WriterConnection(registry.engine)  # one connection for every transaction, as the command service
    registry.commands.execute(cmd.RegisterModel(name="m"))
    model_id = registry.reads.get_model("m").id
    marker = "?" if registry.engine.dialect.name == "sqlite" else "%s"
    sql = {k: _sql(v, w, marker) for k, v, w in (("event", INSERT_EVENT, 10), ("version", INSERT_VERSION, 11),
           ("model", TOUCH_MODEL, 0), ("touch", TOUCH_VERSION, 0), ("added", ADD_VERSION, 0),
           ("checkpoint", CHECKPOINT, 0), ("hist_version", HIST_VERSION, 12), ("hist_link", HIST_LINK, 16),
           ("stamp", STAMP, 4))}
    position = registry.store.head()
    with registry.engine.connect() as conn:
        prev_hash = conn.exec_driver_sql(
            f"SELECT hash FROM events WHERE position = {int(position)}").scalar_one()
    stream = f"model-{model_id}"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data = '{"description":null,"name":"1","number":1,"tags":[]}'
    started = time.perf_counter()
    for k in range(1, n + 1):
        position += 1
        with writer.transaction() as conn:
            conn.exec_driver_sql(sql["event"], _event_row(position, stream, 1 + k, "ModelVersionCreated", data, now,
                                                            prev_hash))
            prev_hash = f"{position:064x}"
            conn.exec_driver_sql(sql["version"], (model_id, k, str(k), str(k), None, "[]", "none", now, now,
                                                  "bench", None))
            conn.exec_driver_sql(sql["added"], (now, k, model_id))
            conn.exec_driver_sql(sql["hist_version"], (model_id, k, str(k), str(k), None, "[]", "none", now,
                                                       "bench", None, position, OPEN))
            conn.exec_driver_sql(sql["stamp"], (model_id, position, k, now))
            conn.exec_driver_sql(sql["checkpoint"], (position, "registry_views"))
    versions_s = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(n):
        position += 1
        link = _link(i)
        with writer.transaction() as conn:
            conn.exec_driver_sql(sql["event"], _event_row(position, stream, 2 + n + i, "ArtifactLinked", data, now,
                                                            prev_hash))
            prev_hash = f"{position:064x}"
            conn.exec_driver_sql(sql["touch"], (now, model_id, 1 + i % n))
            conn.exec_driver_sql(sql["model"], (now, model_id))
            conn.exec_driver_sql(sql["hist_link"], (model_id, 1 + i % n, link["pipeline"], link["step"],
                                                    link["name"], "data", 1, link["artifact_id"],
                                                    link["artifact_name"], 1, link["content_hash"], None, now,
                                                    position, position, OPEN))
            conn.exec_driver_sql(sql["stamp"], (model_id, position, 1 + i % n, now))
            conn.exec_driver_sql(sql["checkpoint"], (position, "registry_views"))
    links_s = time.perf_counter() - started
    writer.close()
    registry.close()
    return {"versions_per_s": n / versions_s, "links_per_s": n / links_s}


def _floor_engine(url: str) -> Any:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    if url.startswith("sqlite"):
        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={SYNC}")
            cursor.close()
    return engine


def _floor_table() -> Any:
    import sqlalchemy as sa

    md = sa.MetaData()
    return md, sa.Table(
        "floor_events", md,
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("stream_id", sa.String(64), nullable=False), sa.Column("stream_version", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False), sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("stream_id", "stream_version"), sqlite_autoincrement=True,
    )


def _floor_rows(n: int, offset: int = 0) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    payload = {"source": "/models/m/1", "framework": "sklearn", "metrics": {"acc": 0.91}}
    return [{"stream_id": f"model-{(offset + i) % 1000}", "stream_version": offset + i, "type": "VersionAdded",
             "payload": payload, "ts": now} for i in range(n)]


def run_floor(url: str, n: int) -> dict[str, float]:
    """Raw SQLAlchemy Core inserts: one row per transaction, and 100 rows per transaction."""
    engine = _floor_engine(url)
    md, table = _floor_table()
    md.drop_all(engine)
    md.create_all(engine)
    insert = table.insert()
    rows = _floor_rows(n)
    started = time.perf_counter()
    for row in rows:
        with engine.begin() as conn:
            conn.execute(insert, row)
    one_s = time.perf_counter() - started
    batched = _floor_rows(10 * n, offset=n)
    started = time.perf_counter()
    for i in range(0, len(batched), 100):
        with engine.begin() as conn:
            conn.execute(insert, batched[i:i + 100])
    batch_s = time.perf_counter() - started
    md.drop_all(engine)
    engine.dispose()
    return {"rows_per_s_1_per_txn": n / one_s, "rows_per_s_100_per_txn": len(batched) / batch_s}




def _writer(url: str, model: str, m: int, start_at: float, spans: Any) -> None:
    from modelog.application.bootstrap import open_registry
    from modelog.registry import commands as cmd

    registry = open_registry(url, synchronous=SYNC, actor="bench")
    time.sleep(max(0.0, start_at - time.time()))
    began = time.time()
    for _ in range(m):
        registry.commands.execute(cmd.CreateVersion(model=model))
    spans.put((began, time.time()))
    registry.close()


def run_writers(url: str, k: int, m: int) -> dict[str, float]:
    """Aggregate CreateVersion/s of ``k`` processes writing concurrently, ``m`` commands each, own model each.

    The clock runs from the first writer's first command to the last writer's last command
    (each writer reports its own span), so process start and exit are not counted.
    """
    import multiprocessing

    from modelog.application.bootstrap import open_registry
    from modelog.registry import commands as cmd

    registry = open_registry(url, synchronous=SYNC, actor="bench")
    for i in range(k):
        registry.commands.execute(cmd.RegisterModel(name=f"w{i}"))
    registry.close()
    context = multiprocessing.get_context("spawn")
    spans = context.Queue()
    start_at = time.time() + 2.0  # every writer has opened its registry before the clock starts
    workers = [context.Process(target=_writer, args=(url, f"w{i}", m, start_at, spans)) for i in range(k)]
    for worker in workers:
        worker.start()
    found = [spans.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    if any(worker.exitcode != 0 for worker in workers):
        raise RuntimeError("a writer failed")
    seconds = max(end for _, end in found) - min(began for began, _ in found)
    return {"writers": k, "commands_per_s": k * m / seconds}


MODES = {"command": run_command, "plain": run_plain, "floor": run_floor}


if __name__ == "__main__":
    if sys.argv[1] == "writers":
        emit(run_writers(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    else:
        emit(MODES[sys.argv[1]](sys.argv[2], int(sys.argv[3])))
