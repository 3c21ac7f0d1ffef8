"""eventsourcing 9.x append throughput, same workload shape as peer-benchmarks.md (B1).

Usage: python es_append.py sqlite PATH N | python es_append.py postgres DBNAME N
N/10 aggregates x 10 events, appended round-robin; once with one event per transaction
(``app.save(agg)`` after each event) and once with 100 events per transaction. SQLite uses the
library default (WAL, synchronous=FULL). Prints one JSON line.
"""

import json
import os
import sys
import time
from importlib.metadata import version

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

META = {"framework": "sklearn", "metrics": {"acc": 0.91}}


class Model(Aggregate):
    """A registered model that gains versions."""

    @event("Registered")
    def __init__(self, name: str):
        self.name = name

    @event("VersionAdded")
    def add_version(self, source: str, meta: dict):
        """Add one version."""


def _env(backend: str, target: str) -> dict:
    if backend == "sqlite":
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": target}
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 dbname={target} user=postgres", autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS registry_events, registry_tracking CASCADE")
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": target, "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": "5432", "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "postgres"}


def _workload(app: Application, n: int, batch: int) -> float:
    started = time.perf_counter()
    pending, aggregates = [], []

    def save(agg):
        pending.append(agg)
        if len(pending) >= batch:
            app.save(*pending)
            pending.clear()

    for i in range(n // 10):
        aggregates.append(Model(name=f"m{i}"))
        save(aggregates[-1])
    for r in range(9):
        for agg in aggregates:
            agg.add_version(source=f"/models/{agg.name}/{r}", meta=META)
            save(agg)
    if pending:
        app.save(*pending)
    return n / (time.perf_counter() - started)


def main() -> None:
    """Measure 1/txn and 100/txn on fresh stores."""
    backend, target, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    out = {"eventsourcing": version("eventsourcing")}
    for batch in (1, 100):
        path = f"{target}.{batch}" if backend == "sqlite" else target
        if backend == "sqlite" and os.path.exists(path):
            os.remove(path)
        app = Application(env=_env(backend, path))
        out[f"events_per_s_{batch}_per_txn"] = _workload(app, n, batch)
        app.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
