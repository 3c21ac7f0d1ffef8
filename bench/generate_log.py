"""Generate a valid, hash-chained modelog export (JSON Lines) of a large registry, fast.

Usage: python -m bench.generate_log OUT.jsonl [--models 10000] [--versions 10] [--links 10]

Layout: a model ``demo`` with 100 versions (10 links each), a model ``big`` whose stream
holds 1,000 events (999 versions, no links), then ``--models - 2`` models named
``model-000001``... each with ``--versions`` versions and ``--links`` artifact links per
version. Defaults give 10,000 models, ~101,000 versions, ~1,000,000 links and ~1.12 million
events. Event data has exactly the fields ``Event.to_data()`` writes, so the imported log is
indistinguishable from one written through the command path. Timestamps start at
2026-01-01 and advance 1 ms per event, so ``--as-of`` any point in between is meaningful.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from modelog.registry.transfer import END_KEY

GENESIS_HASH = "0" * 64
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
START = datetime(2026, 1, 1, tzinfo=UTC)
MODEL_FIELDS = ("audience", "description", "ethics", "license", "limitations", "trade_offs", "use_cases")
META = {"actor": "bench", "command": "Import", "correlation_id": "00000000-0000-0000-0000-000000000000"}

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_chain = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _uuid(kind: int, n: int) -> str:
    return str(uuid.UUID(int=(kind << 96) | n))


def registered(model_id: str, name: str) -> dict[str, Any]:
    """Data of a ModelRegistered event with every default field."""
    return {"model_id": model_id, "name": name, **{f: None for f in MODEL_FIELDS}, "tags": [], "implicit": False}


def version_created(number: int) -> dict[str, Any]:
    """Data of a ModelVersionCreated event."""
    return {"number": number, "name": str(number), "description": None, "tags": []}


def artifact_linked(number: int, k: int, serial: int) -> dict[str, Any]:
    """Data of an ArtifactLinked event (link ``k`` of version ``number``)."""
    kind = ("data", "model", "deployment")[k % 3]
    return {"number": number, "pipeline": "train", "step": f"step{k}", "name": f"out{k}", "kind": kind,
            "link_version": 1, "artifact_id": _uuid(3, serial), "artifact_name": f"art{k}",
            "artifact_version": 1, "content_hash": f"sha256:{serial:064x}", "run_id": None}


def model_events(name: str, model_id: str, versions: int, links: int, serial: list[int]) -> Iterator[tuple]:
    """(stream_id, event_type, data) of one model's life: claim, registration, versions and links."""
    stream = f"model-{model_id}"
    yield f"name-{name}", "ModelNameClaimed", {"name": name, "model_id": model_id}
    yield stream, "ModelRegistered", registered(model_id, name)
    for number in range(1, versions + 1):
        yield stream, "ModelVersionCreated", version_created(number)
        for k in range(links):
            serial[0] += 1
            yield stream, "ArtifactLinked", artifact_linked(number, k, serial[0])


def registry_events(models: int, versions: int, links: int) -> Iterator[tuple]:
    """Every (stream_id, event_type, data) of the generated registry, in log order."""
    serial = [0]
    yield from model_events("demo", _uuid(1, 1), 100, 10, serial)
    yield from model_events("big", _uuid(1, 2), 999, 0, serial)
    for i in range(1, models - 1):
        yield from model_events(f"model-{i:06d}", _uuid(2, i), versions, links, serial)


def sealed_lines(models: int, versions: int, links: int) -> Iterator[tuple[str, str]]:
    """(line, hash) of each event: the event with its position, stream version, timestamp and chain hash."""
    prev, meta_text = GENESIS_HASH, _dumps(META)
    stream_versions: dict[str, int] = {}
    for position, (stream, event_type, data) in enumerate(registry_events(models, versions, links), start=1):
        version = stream_versions[stream] = stream_versions.get(stream, 0) + 1
        recorded_at = (START + timedelta(milliseconds=position)).strftime(TIME_FORMAT)
        data_text = _dumps(data)
        body = _chain([prev, position, stream, version, event_type, 1, data_text, meta_text, recorded_at])
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
        yield _dumps({"data": data, "event_type": event_type, "hash": digest, "meta": META, "position": position,
                      "prev_hash": prev, "recorded_at": recorded_at, "schema_version": 1, "stream_id": stream,
                      "stream_version": version}), digest
        prev = digest


def expected_events(models: int, versions: int, links: int) -> int:
    """How many events the generated log holds."""
    return (2 + 100 + 1000) + (2 + 999) + (models - 2) * (2 + versions + versions * links)


def write_log(path: str, models: int = 10_000, versions: int = 10, links: int = 10) -> int:
    """Write the log and its end record (as ``modelog export`` does) to ``path``; return the number of events."""
    count, last_hash = 0, GENESIS_HASH
    with open(path, "w", encoding="utf-8") as out:
        for line, digest in sealed_lines(models, versions, links):
            out.write(line + "\n")
            count, last_hash = count + 1, digest
        out.write(_dumps({END_KEY: {"events": count, "last_hash": last_hash}}) + "\n")
    return count


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=10, help="versions per ordinary model")
    parser.add_argument("--links", type=int, default=10, help="artifact links per version of an ordinary model")
    args = parser.parse_args(argv)
    count = write_log(args.out, args.models, args.versions, args.links)
    print(json.dumps({"events": count, "path": args.out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
