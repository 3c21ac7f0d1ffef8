"""Who holds PostgreSQL's append lock: the one line a writer that gave up waiting for it prints.

A writer waits for the append lock at most ``lock_timeout`` (``MODELOG_LOCK_TIMEOUT_MS``). When the
wait runs out, its own transaction is aborted, so the holder is looked up on a fresh connection, in
``pg_locks`` (an advisory lock on one bigint key is classid 0, objid = the key, objsubid 1) joined
with ``pg_stat_activity``: process id, application, user, client, state and for how long.
"""

from __future__ import annotations

from typing import Any

from modelog.registry.database import APPEND_LOCK_KEY, milliseconds_setting
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Engine

_HOLDER = text(
    "SELECT a.pid, a.application_name, a.usename, host(a.client_addr), a.state, "
    "extract(epoch FROM now() - a.state_change), extract(epoch FROM now() - a.xact_start) "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = :key AND l.objsubid = 1 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def _shown(value: Any) -> str:
    """A value from another session (its application name, say) as one safe, quoted line fragment."""
    return ascii(str(value)) if value is not None else "unknown"


def describe_holder(row: Any) -> str:
    """``pid N (application 'x', user 'y', from z, idle in transaction for 12.0 s, transaction open 15.0 s)``."""
    pid, application, user, client, state, in_state, in_transaction = row
    parts = [f"application {_shown(application)}", f"user {_shown(user)}", f"from {client or 'a local socket'}"]
    if state is not None:
        parts.append(f"{_shown(state)[1:-1]} for {float(in_state or 0):.1f} s")
    if in_transaction is not None:
        parts.append(f"transaction open {float(in_transaction):.1f} s")
    return f"pid {int(pid)} ({', '.join(parts)})"


def append_lock_refusal(engine: Engine) -> str:
    """Why a write gave up: the append lock's holder, named, or that it is gone by now."""
    waited = milliseconds_setting("MODELOG_LOCK_TIMEOUT_MS", 10_000)
    head = f"gave up after {waited} ms waiting for the registry's append lock (lock timeout, MODELOG_LOCK_TIMEOUT_MS)"
    try:
        with engine.connect() as conn:
            rows = conn.execute(_HOLDER, {"key": APPEND_LOCK_KEY}).all()
    except sa_exc.DBAPIError:
        rows = []
    if not rows:
        return f"{head}; its holder has let go since: try again; nothing was written"
    holders = "; ".join(describe_holder(row) for row in rows)
    return (f"{head}: it is held by {holders}; a writer stalled inside a transaction is cut off after "
            f"MODELOG_IDLE_TRANSACTION_TIMEOUT_MS, or end it with pg_terminate_backend; nothing was written")
