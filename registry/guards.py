"""The log's guards inside the database, and the check that they are still there before every write.

Three guards, as triggers on ``events`` on both backends:

* append-only: UPDATE, DELETE (and TRUNCATE on PostgreSQL) are refused;
* chain: an inserted row must sit at ``head + 1`` with the head's hash as ``prev_hash`` (position 1
  and the genesis hash on an empty log), whoever inserts it;
* clock: its ``recorded_at`` is not earlier than the head's and at most ``MAX_CLOCK_LEAD`` after the
  database's clock (the server's on PostgreSQL, the inserting process's on SQLite).

``event_signatures`` (``registry.signing``) is append-only the same way: UPDATE, DELETE (and TRUNCATE on
PostgreSQL) are refused, and the same fingerprint covers its triggers. (An attacker who removes a signature
gains nothing: the event is then named as unsigned by ``modelog log verify --public-key``.)

Someone with the database's owner rights can drop, disable (``ALTER TABLE … DISABLE TRIGGER``) or
replace them. Every append therefore first reads their fingerprint (name, enabled state, kind and
body, one catalogue query that on PostgreSQL also reads the server's clock) and refuses to write on a
log whose guards are not exactly these; ``modelog log verify`` and ``modelog db status`` name what
is missing. ``modelog db upgrade`` reinstalls them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from modelog.registry._sql.driver import DriverStatement
from modelog.registry.errors import IntegrityError
from modelog.registry.hashing import GENESIS_HASH
from modelog.registry.recorder import MAX_CLOCK_LEAD
from sqlalchemy import text
from sqlalchemy.engine import Connection

#: Words the clock guard's refusal contains (the chain guard's means a lost race, as a duplicate position does).
CLOCK_GUARD_MARKER = "recorded in time order"
_LEAD_SECONDS = int(MAX_CLOCK_LEAD.total_seconds())
_PG_TIME = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"  # recorder.TIME_FORMAT in to_char's words

_SQLITE_TRIGGERS = {
    "events_chain": (
        "CREATE TRIGGER events_chain BEFORE INSERT ON events BEGIN "
        "SELECT RAISE(ABORT, 'events must continue the hash chain: position = head + 1 and prev_hash = the "
        "head''s hash') WHERE NEW.position IS NOT coalesce((SELECT max(position) FROM events), 0) + 1 "
        f"OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM events WHERE position = NEW.position - 1), "
        f"'{GENESIS_HASH}'); "
        "SELECT RAISE(ABORT, 'events must be recorded in time order and not ahead of the clock') "
        "WHERE NEW.recorded_at < coalesce((SELECT recorded_at FROM events WHERE position = NEW.position - 1), '') "
        f"OR NEW.recorded_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+{_LEAD_SECONDS} seconds'); END"
    ),
    "events_no_delete": ("CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
                         "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"),
    "events_no_update": ("CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
                         "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"),
    "event_signatures_no_delete": ("CREATE TRIGGER event_signatures_no_delete BEFORE DELETE ON event_signatures "
                                   "BEGIN SELECT RAISE(ABORT, 'event signatures are append-only'); END"),
    "event_signatures_no_update": ("CREATE TRIGGER event_signatures_no_update BEFORE UPDATE ON event_signatures "
                                   "BEGIN SELECT RAISE(ABORT, 'event signatures are append-only'); END"),
    "event_signatures_known": ("CREATE TRIGGER event_signatures_known BEFORE INSERT ON event_signatures BEGIN "
                               "SELECT RAISE(ABORT, 'a signature must name an event of the log') WHERE NOT EXISTS "
                               "(SELECT 1 FROM events WHERE position = NEW.position); END"),
}
#: The guards on ``event_signatures`` (installed and checked only where that table exists: a pre-0007 log has none).
SIGNATURE_GUARDS = frozenset({"event_signatures_no_delete", "event_signatures_no_update", "event_signatures_known",
                              "event_signatures_no_change", "event_signatures_no_truncate"})
SIGNATURES_TABLE = "event_signatures"

_APPEND_ONLY_BODY = " BEGIN RAISE EXCEPTION 'events are append-only (% refused)', TG_OP; END "
_CHAIN_BODY = (
    " DECLARE head_position bigint; head_hash text; head_time text; "
    "BEGIN "
    "SELECT e.position, e.hash, e.recorded_at INTO head_position, head_hash, head_time "
    "FROM events e ORDER BY e.position DESC LIMIT 1; "
    f"IF NOT FOUND THEN head_position := 0; head_hash := '{GENESIS_HASH}'; head_time := ''; END IF; "
    "IF NEW.position IS DISTINCT FROM head_position + 1 OR NEW.prev_hash IS DISTINCT FROM head_hash THEN "
    "RAISE EXCEPTION 'events must continue the hash chain: position = head + 1 and prev_hash = the head''s hash "
    "(got position %, the head is at %)', NEW.position, head_position USING ERRCODE = 'check_violation'; "
    "END IF; "
    "IF NEW.recorded_at COLLATE \"C\" < head_time OR NEW.recorded_at COLLATE \"C\" > "
    f"to_char((clock_timestamp() AT TIME ZONE 'UTC') + interval '{_LEAD_SECONDS} seconds', {_PG_TIME}) THEN "
    "RAISE EXCEPTION 'events must be recorded in time order and not ahead of the clock (got %, the head has %)', "
    "NEW.recorded_at, head_time USING ERRCODE = 'check_violation'; "
    "END IF; "
    "RETURN NEW; END "
)
_SIGNATURES_APPEND_ONLY_BODY = " BEGIN RAISE EXCEPTION 'event signatures are append-only (% refused)', TG_OP; END "
# A signature may only name an event already in the log: nobody can occupy a future position's signature first.
_SIGNATURES_KNOWN_BODY = (
    " BEGIN IF NOT EXISTS (SELECT 1 FROM events e WHERE e.position = NEW.position) THEN "
    "RAISE EXCEPTION 'a signature must name an event of the log (position % is not one)', NEW.position "
    "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END "
)
_PG_FUNCTIONS = {"modelog_events_append_only": _APPEND_ONLY_BODY, "modelog_events_chain": _CHAIN_BODY,
                 "modelog_signatures_append_only": _SIGNATURES_APPEND_ONLY_BODY,
                 "modelog_signatures_known": _SIGNATURES_KNOWN_BODY}
# name: (pg_trigger.tgtype bits: 1 row, 2 before, 4 insert, 8 delete, 16 update, 32 truncate), function, when
_PG_TRIGGERS = {
    "events_chain": (7, "modelog_events_chain", "BEFORE INSERT", "ROW"),
    "events_no_change": (27, "modelog_events_append_only", "BEFORE UPDATE OR DELETE", "ROW"),
    "events_no_truncate": (34, "modelog_events_append_only", "BEFORE TRUNCATE", "STATEMENT"),
    "event_signatures_no_change": (27, "modelog_signatures_append_only", "BEFORE UPDATE OR DELETE", "ROW"),
    "event_signatures_no_truncate": (34, "modelog_signatures_append_only", "BEFORE TRUNCATE", "STATEMENT"),
    "event_signatures_known": (7, "modelog_signatures_known", "BEFORE INSERT", "ROW"),
}
#: What each guard stops, for the one line that reports it missing.
PURPOSE = {
    "events_chain": "inserts that do not continue the chain",
    "events_no_delete": "deleting events", "events_no_update": "editing events",
    "events_no_change": "editing and deleting events", "events_no_truncate": "emptying the log",
    "event_signatures_no_delete": "deleting event signatures", "event_signatures_no_update": "editing event signatures",
    "event_signatures_no_change": "editing and deleting event signatures",
    "event_signatures_no_truncate": "emptying the event signatures",
    "event_signatures_known": "signatures of positions the log does not hold",
}

_SQLITE_FINGERPRINT = ("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                       "AND tbl_name IN ('events', 'event_signatures') ORDER BY name")
_PG_FINGERPRINT = (
    "SELECT clock_timestamp(), coalesce(string_agg(t.tgname::text || ':' || t.tgenabled::text || ':' "
    "|| t.tgtype::text || ':' || md5(p.prosrc), '|' ORDER BY t.tgname COLLATE \"C\"), '') "
    "FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
    "WHERE t.tgrelid IN ('events'::regclass, to_regclass('event_signatures')) AND NOT t.tgisinternal"
)


_PG_CHECK = DriverStatement(text(_PG_FINGERPRINT))
_SQLITE_CHECK = DriverStatement(text(_SQLITE_FINGERPRINT))
# An append's check also reads the first signed position (``registry.signing``), in the same round trip: a row
# with a NULL name (sorted first) on SQLite, a third column on PostgreSQL.
_FIRST_SIGNED = "(SELECT position FROM event_signatures ORDER BY position LIMIT 1)"
_SQLITE_APPEND_CHECK = DriverStatement(text(
    _SQLITE_FINGERPRINT.removesuffix(" ORDER BY name") + f" UNION ALL SELECT NULL, {_FIRST_SIGNED} ORDER BY 1"))
_PG_APPEND_CHECK = DriverStatement(text(
    _PG_FINGERPRINT.replace(" FROM pg_trigger ", f", {_FIRST_SIGNED} FROM pg_trigger ")))


def _pg_expected() -> dict[str, str]:
    return {name: f"O:{kind}:{hashlib.md5(_PG_FUNCTIONS[function].encode()).hexdigest()}"  # noqa: S324 - a fingerprint
            for name, (kind, function, _, _) in _PG_TRIGGERS.items()}


_PG_EXPECTED = "|".join(f"{name}:{value}" for name, value in sorted(_pg_expected().items()))


def _table_of(name: str) -> str:
    return SIGNATURES_TABLE if name in SIGNATURE_GUARDS else "events"


def install_guards(conn: Connection) -> None:
    """(Re)install every guard on ``events`` and ``event_signatures``: whatever stood under their names is replaced."""
    signed = conn.dialect.has_table(conn, SIGNATURES_TABLE)
    if conn.dialect.name == "postgresql":
        for function, body in _PG_FUNCTIONS.items():
            conn.exec_driver_sql(f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql "
                                 f"AS $${body.replace('%', '%%')}$$")
        for name, (_, function, when, each) in _PG_TRIGGERS.items():
            if name in SIGNATURE_GUARDS and not signed:
                continue
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {_table_of(name)}")
            conn.exec_driver_sql(f"CREATE TRIGGER {name} {when} ON {_table_of(name)} FOR EACH {each} "
                                 f"EXECUTE FUNCTION {function}()")
        return
    for name, statement in _SQLITE_TRIGGERS.items():
        if name in SIGNATURE_GUARDS and not signed:
            continue
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        conn.exec_driver_sql(statement)


def guard_problems(conn: Connection) -> list[str]:
    """One line per guard that is missing, disabled or not modelog's own (empty: all intact)."""
    if conn.dialect.name == "postgresql":
        found = _pg_found(conn)
        expected = _pg_expected()
    else:
        found = {name: sql for name, sql in conn.exec_driver_sql(_SQLITE_FINGERPRINT).all()}
        expected = dict(_SQLITE_TRIGGERS)
    if not conn.dialect.has_table(conn, SIGNATURES_TABLE):  # a log from before signatures (schema < 7)
        expected = {name: value for name, value in expected.items() if name not in SIGNATURE_GUARDS}
    problems = []
    for name, wanted in expected.items():
        have = found.get(name)
        if have is None:
            problems.append(f"the guard against {PURPOSE[name]} (trigger {name}) is missing")
        elif have != wanted and have.startswith(_DISABLED):
            problems.append(f"the guard against {PURPOSE[name]} (trigger {name}) is disabled")
        elif have != wanted:
            problems.append(f"the guard against {PURPOSE[name]} (trigger {name}) is not modelog's (replaced)")
    problems += [f"an unknown trigger {name} sits on the log's tables" for name in sorted(set(found) - set(expected))]
    return problems


#: pg_trigger.tgenabled of a trigger that does not fire in an ordinary session (D: disabled, R: replica only).
_DISABLED = ("D:", "R:")


def _pg_found(conn: Connection) -> dict[str, str]:
    row = conn.exec_driver_sql(_PG_FINGERPRINT).one()
    found = {}
    for entry in filter(None, str(row[1]).split("|")):
        name, _, rest = entry.partition(":")
        found[name] = "O" + rest[1:] if rest.startswith("A:") else rest  # A (always) fires too
    return found


def check_before_write(conn: Connection) -> datetime | None:
    """Refuse (IntegrityError) to write on a log whose guards are not intact; PostgreSQL's clock, else None.

    One catalogue read per write transaction. On PostgreSQL the same query reads ``clock_timestamp()``:
    the time of record for the events about to be appended.
    """
    if conn.dialect.name == "postgresql":
        now, fingerprint = _PG_CHECK.fetchall(conn, prepare=True)[0]  # prepared: the catalogue join is planned once
        return _checked(conn, now, fingerprint == _PG_EXPECTED)
    rows = _SQLITE_CHECK.fetchall(conn)  # on the driver's cursor: SQLAlchemy's result costs more than the read
    return _checked(conn, None, _sqlite_intact(rows))


def check_before_append(conn: Connection) -> tuple[datetime | None, int | None]:
    """:func:`check_before_write` for an append, and the log's first signed position (None: never signed).

    The same catalogue read also reads the first signature, so an append makes one round trip for both
    checks (the caller refuses an unsigned append on a signed log: ``store.refuse_unsigned_append``).
    """
    if conn.dialect.name == "postgresql":
        now, fingerprint, first = _PG_APPEND_CHECK.fetchall(conn, prepare=True)[0]
        return _checked(conn, now, fingerprint == _PG_EXPECTED), first
    signed, *rows = _SQLITE_APPEND_CHECK.fetchall(conn)  # the row with the NULL name sorts first
    return _checked(conn, None, _sqlite_intact(rows)), signed[1]


def _sqlite_intact(rows: list[Any]) -> bool:
    return len(rows) == len(_SQLITE_TRIGGERS) and all(_SQLITE_TRIGGERS.get(name) == sql for name, sql in rows)


def _checked(conn: Connection, now: datetime | None, intact: bool) -> datetime | None:
    """``now`` when the fingerprint matched or a closer look finds every guard in place; else IntegrityError."""
    if not intact:
        problems = guard_problems(conn)
        if problems:
            raise IntegrityError(refusal(problems))
    return now


def refusal(problems: list[str]) -> str:
    """The one line every write on an unguarded log fails with."""
    return (f"refusing to write: the log's guards are not intact ({'; '.join(problems)}); the log may have been "
            "tampered with: run 'modelog log verify', then 'modelog db upgrade' to reinstall the guards")
