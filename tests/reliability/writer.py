"""A writer process for the kill -9 tests: executes random mixed commands and journals each one.

Usage: ``python -m tests.reliability.writer URL JOURNAL SEED``. Before a command it appends an
``intent`` line (correlation id, command class, arguments) to the journal; after it, a ``done``
line with the number of events appended, or ``refused`` when the registry said no. A journal
line is one ``write`` on an ``O_APPEND`` descriptor, so a kill leaves whole lines only.
"""

from __future__ import annotations

import json
import os
import random
import sys
import uuid
from typing import Any

MODEL_NAMES = [f"m{i}" for i in range(6)]
STAGES = ["staging", "production", "archived", "none"]


def _pick_version(rng: random.Random) -> Any:
    return rng.choice([1, 2, 3, 4, "latest", "@champion"])


def random_command(rng: random.Random) -> tuple[str, dict[str, Any]]:
    """One command class name and its keyword arguments, biased towards commands that succeed."""
    model = rng.choice(MODEL_NAMES)
    roll = rng.random()
    if roll < 0.15:
        return "RegisterModel", {"name": model, "fields": {"description": f"model {model}"}, "tags": ["rel"]}
    if roll < 0.40:
        return "CreateVersion", {"model": model, "description": "v", "tags": [f"t{rng.randrange(3)}"]}
    if roll < 0.58:
        return "SetStage", {"model": model, "version": _pick_version(rng), "stage": rng.choice(STAGES),
                            "force": rng.random() < 0.7}
    if roll < 0.68:
        return "SetAlias", {"model": model, "version": _pick_version(rng), "alias": rng.choice(["champion", "b"])}
    if roll < 0.80:
        return "LinkArtifact", {
            "model": model, "version": _pick_version(rng), "pipeline": "train", "step": "fit",
            "name": rng.choice(["model", "data"]), "kind": rng.choice(["model", "data"]),
            "artifact_id": str(uuid.UUID(int=rng.getrandbits(128))), "artifact_name": "clf",
            "artifact_version": rng.randrange(1, 5), "content_hash": f"{rng.getrandbits(256):064x}",
            "overwrite": rng.random() < 0.5,
        }
    if roll < 0.88:
        return "DeleteVersion", {"model": model, "version": _pick_version(rng)}
    if roll < 0.94:
        return "UpdateModel", {"model": model, "changes": {"license": "MIT"}, "add_tags": ["x"]}
    if roll < 0.97:
        return "RemoveAlias", {"model": model, "alias": "champion"}
    return "DeleteModel", {"model": model}


def build_command(name: str, kwargs: dict[str, Any]) -> Any:
    """The command object a journal line describes."""
    from modelog.registry import commands

    args = dict(kwargs)
    for key in ("tags", "add_tags", "remove_tags"):
        if key in args:
            args[key] = tuple(args[key])
    return getattr(commands, name)(**args)


def _journal(fd: int, record: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(record) + "\n").encode())


def run(url: str, journal: str, seed: int) -> None:
    """Execute commands until killed (or 100,000 commands, whichever comes first)."""
    from modelog.application.bootstrap import open_registry
    from modelog.registry.errors import RegistryError

    rng = random.Random(seed)
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    registry = open_registry(url, actor="writer")
    print("ready", flush=True)
    for _ in range(100_000):
        name, kwargs = random_command(rng)
        cid = str(uuid.uuid4())
        _journal(fd, {"cid": cid, "status": "intent", "command": name, "kwargs": kwargs})
        try:
            result = registry.commands.execute(build_command(name, kwargs), correlation_id=cid)
        except RegistryError as error:
            _journal(fd, {"cid": cid, "status": "refused", "error": type(error).__name__})
            continue
        _journal(fd, {"cid": cid, "status": "done", "events": len(result.events)})


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2], int(sys.argv[3]))
