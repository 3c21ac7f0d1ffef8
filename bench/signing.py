"""What signing the log costs: batch appends signed vs unsigned, and ``log verify --public-key`` per event.

``python -m bench.signing [EVENTS]``: SQLite scratch registries (synchronous NORMAL, so the figure is the
CPU the append path spends, not fsync), CPU time of this process, median of interleaved rounds.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from modelog.registry.database import create_engine_for, transaction
from modelog.registry.recorder import AppendRequest, NewEvent
from modelog.registry.schema import create_log_schema
from modelog.registry.signing import KeyFileSigner, check_signatures, generate_key_file
from modelog.registry.store import EventStore

from bench.common import median

BATCH = 500


def _append_cpu_us(root: Path, key: Path | None, events: int) -> tuple[float, float | None]:
    """CPU µs per event of ``events`` appended in batches of BATCH; with a key, CPU µs per event verified."""
    engine = create_engine_for(f"sqlite:///{root / 'r.db'}", synchronous="NORMAL")
    with transaction(engine, write=True) as conn:
        create_log_schema(conn)
    store = EventStore(engine, signer=None if key is None else KeyFileSigner(key))
    store.append("warm-up", None, [NewEvent("ModelUpdated", 1, {"changes": {}})])
    started = time.process_time()
    for j in range(events // BATCH):
        news = [NewEvent("ModelUpdated", 1, {"changes": {"description": f"d{i}"}}) for i in range(BATCH)]
        store.append_batch([AppendRequest(f"s-{j}", None, news)])
    append = (time.process_time() - started) / events * 1e6
    verify = None
    if key is not None:
        started = time.process_time()
        assert check_signatures(store.read_signed(), [KeyFileSigner(key).public_key]).ok
        verify = (time.process_time() - started) / store.head() * 1e6
    engine.dispose()
    return append, verify


def main(events: int = 20_000, rounds: int = 3) -> dict[str, float]:
    """Interleaved rounds of unsigned and signed appends; the medians."""
    plain: list[float] = []
    signed: list[float] = []
    verified: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        key = Path(scratch) / "key.pem"
        generate_key_file(key)
        for round_ in range(rounds):
            for with_key in (False, True):
                root = Path(scratch) / f"{round_}-{with_key}"
                root.mkdir()
                append, verify = _append_cpu_us(root, key if with_key else None, events)
                (signed if with_key else plain).append(append)
                if verify is not None:
                    verified.append(verify)
    result = {"events": events, "append_unsigned_us_per_event": round(median(plain), 1),
              "append_signed_us_per_event": round(median(signed), 1),
              "verify_signatures_us_per_event": round(median(verified), 1)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
