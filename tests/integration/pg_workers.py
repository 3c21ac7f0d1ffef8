"""Worker processes for the multi-process PostgreSQL tests: ``python -m tests.integration.pg_workers ROLE ...``.

Each worker is a separate OS process with its own registry and connection pool, like
separate users or pipelines on separate machines. Workers start, open the registry, say
they are ready and then wait for a go file, so that they all hit the server at once.
Results go to a JSON file.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from modelog.application.bootstrap import open_registry
from modelog.registry import commands as cmd
from modelog.registry.database import create_engine_for
from modelog.registry.errors import ConflictError
from modelog.registry.store import EventStore


def wait_for(path: Path, timeout: float = 120.0) -> None:
    """Poll until ``path`` exists."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.01)


def create_versions(url: str, model: str, worker: int, count: int, go: Path, ready: Path) -> dict[str, Any]:
    """Create ``count`` versions of ``model``; force every fourth one (offset by worker) into production."""
    created, promoted = [], []
    with open_registry(url, actor=f"writer-{worker}") as registry:
        ready.touch()
        wait_for(go)
        for i in range(count):
            number = registry.commands.execute(cmd.CreateVersion(model=model)).number
            created.append(number)
            if i % 4 == worker % 4:
                registry.commands.execute(cmd.SetStage(model=model, version=number, stage="production", force=True))
                promoted.append(number)
    return {"created": created, "promoted": promoted}


def register(url: str, name: str, worker: int, go: Path, ready: Path) -> dict[str, Any]:
    """Try to register a model called ``name``; report whether this process won."""
    with open_registry(url, actor=f"registrar-{worker}") as registry:
        ready.touch()
        wait_for(go)
        try:
            result = registry.commands.execute(cmd.RegisterModel(name=name))
        except ConflictError as error:
            return {"outcome": "conflict", "message": str(error)}
        return {"outcome": "registered", "model_id": result.model_id}


def follow(url: str, stop: Path, ready: Path) -> dict[str, Any]:
    """Follow the log by position until ``stop`` appears, then sweep once more; report what was seen."""
    engine = create_engine_for(url)
    store = EventStore(engine)
    seen: list[list[Any]] = []
    ready.touch()
    try:
        while True:
            stopping = stop.exists()  # checked before reading so the last sweep covers every append
            for event in store.read_all(from_position=len(seen) + 1, batch_size=100):
                if event.position != len(seen) + 1:
                    return {"seen": seen, "problem": f"saw {event.position} before {len(seen) + 1} was visible"}
                seen.append([event.position, event.hash])
            if stopping:
                return {"seen": seen, "problem": None}
            time.sleep(0.005)
    finally:
        engine.dispose()


def main(argv: list[str]) -> None:
    """Dispatch on the role and write the result as JSON to the last argument."""
    role, url, *rest, out = argv
    if role == "versions":
        model, worker, count, go, ready = rest
        result = create_versions(url, model, int(worker), int(count), Path(go), Path(ready))
    elif role == "register":
        name, worker, go, ready = rest
        result = register(url, name, int(worker), Path(go), Path(ready))
    elif role == "follow":
        stop, ready = rest
        result = follow(url, Path(stop), Path(ready))
    else:
        raise SystemExit(f"unknown role {role!r}")
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
