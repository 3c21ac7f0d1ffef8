"""The server's structured logs: one access line per request, through structlog, off the request's path.

Every line goes through structlog, with the level and the ISO UTC timestamp its processors add, as
console text or JSON lines (``modelog --log-format``, passed to the workers in
``$MODELOG_SERVER_LOG_FORMAT``). The access line is the one logged on every request, and rendering
and writing it cost a hot GET more server CPU than answering it (the renderers' code and a write,
run cold between two requests of a loaded machine). So a request only queues its raw fields
(:class:`AccessLog`, :meth:`AccessLines.add`), and a writer thread renders the queued events in
batches through a logger built once (a bound filtering logger whose chain holds only what an access
event needs) and writes them in one write. Its renderers format the plain values an access event
has (text, numbers, None) directly: the same line as structlog's ``JSONRenderer`` /
``ConsoleRenderer(colors=False)`` (``tests/unit/test_access_log.py`` renders the same events both
ways), handing anything else to them; the timestamp is the request's end, as before.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any, TextIO

from modelog.registry.logs import configure_when_used
from modelog.server.http import BodyCut
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: How log lines are written: ``console`` or ``json`` (``modelog --log-format`` sets it for workers).
LOG_FORMAT_ENV = "MODELOG_SERVER_LOG_FORMAT"
#: Where the admitted principal's name is recorded in a request's ASGI scope (for its access line).
PRINCIPAL_KEY = "modelog.principal"
_QUOTED = frozenset(" \t=\r\n\"'")
_SPECIAL = frozenset({"logger", "logger_name", "stack", "exception", "exc_info"})
_PLAIN = (str, int, float, bool, type(None))
_LEVEL_WIDTH = len("exception")  # ConsoleRenderer pads levels to its longest level name
_EVENT_WIDTH = 30  # and events to 30 characters
#: Seconds the access log writer gathers lines before rendering and writing them. It holds the interpreter while it
#: renders a batch (~5 us a line), so a request arriving then waits for it: short batches keep that wait short.
INTERVAL = 0.02
#: Most access events waiting to be written.
QUEUED = 100_000


class JsonLine:
    """Render an event as structlog's ``JSONRenderer()`` does (the same text); values json cannot encode go to it."""

    def __init__(self) -> None:
        import structlog

        self._encode = json.JSONEncoder().encode  # json.dumps' defaults, built once (the C encoder)
        self._fallback = structlog.processors.JSONRenderer()

    def __call__(self, logger: Any, name: str, event_dict: dict[str, Any]) -> str:
        try:
            return self._encode(event_dict)
        except (TypeError, ValueError):  # an object it cannot encode: JSONRenderer's fallback (repr, ...) decides
            return str(self._fallback(logger, name, event_dict))


class ConsoleLine:
    """Render an event as structlog's ``ConsoleRenderer(colors=False)`` does, for events of plain values (text,
    numbers, booleans, None) with a timestamp, level and event; anything else goes to it."""

    def __init__(self) -> None:
        import structlog

        self._fallback = structlog.dev.ConsoleRenderer(colors=False)

    def __call__(self, logger: Any, name: str, event_dict: dict[str, Any]) -> str:
        stamp, level, event = event_dict.get("timestamp"), event_dict.get("level"), event_dict.get("event")
        if not (isinstance(stamp, str) and stamp and isinstance(level, str) and isinstance(event, str)) \
                or not _SPECIAL.isdisjoint(event_dict) \
                or not all(isinstance(value, _PLAIN) for value in event_dict.values()):
            return str(self._fallback(logger, name, event_dict))
        pairs = " ".join(f"{key}={_text(event_dict[key])}" for key in sorted(event_dict)
                         if key not in ("timestamp", "level", "event"))
        return f"{stamp} [{level:<{_LEVEL_WIDTH}}] {event:<{_EVENT_WIDTH}} {pairs}".rstrip(" ")


def _text(value: object) -> str:
    """A value as ConsoleRenderer shows it: text as it is unless it holds a space, quote, ``=`` or line break; and,
    unlike it, escaped (``repr``) when it holds anything unprintable: a request path is the client's text, and an
    escape sequence or a bidi override must not reach the operator's terminal as it is."""
    if isinstance(value, str) and _QUOTED.isdisjoint(value) and value.isprintable():
        return value
    return repr(value)


def printable_values(logger: Any, name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """(A structlog processor for console lines.) Text values holding anything unprintable (a client's path with an
    escape sequence, a bidi override) shown escaped, as ``repr`` escapes them; printable text, however foreign, as
    it is. Tracebacks (``exception``) keep their line breaks."""
    for key, value in event_dict.items():
        if isinstance(value, str) and key != "exception" and not value.isprintable():
            event_dict[key] = repr(value)[1:-1]
    return event_dict


class Stamp:
    """Add ``timestamp`` as structlog's ``TimeStamper(fmt="iso", utc=True)`` writes it (``datetime.isoformat()``
    in UTC, ``Z`` for ``+00:00``), for the moment in ``_at_us`` (Unix microseconds, removed) when the event carries
    one (an access event, rendered after its request ended), else now. The date and time of day are formatted once
    per second."""

    def __init__(self) -> None:
        self._second, self._prefix = -1, ""

    def __call__(self, logger: Any, name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        at = event_dict.pop("_at_us", None)
        second, micro = divmod(time.time_ns() // 1000 if at is None else at, 1_000_000)
        if second != self._second:
            self._second, self._prefix = second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        event_dict["timestamp"] = f"{self._prefix}.{micro:06d}Z" if micro else f"{self._prefix}Z"
        return event_dict


class _Lines:
    """The access logger's output: rendered lines collected for one write (structlog calls ``info``)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)


class AccessLines:
    """Access events of finished requests, rendered through structlog and written by a thread of their own.

    The event loop only queues a request's raw fields (:meth:`add`); every :data:`INTERVAL` seconds
    while there are any, the writer renders them (through a structlog bound logger: add_log_level,
    :class:`Stamp`, then :class:`JsonLine` or :class:`ConsoleLine`) and writes them in one write
    (structlog's ``PrintLogger``, which locks the file against the other loggers' lines). So the loop
    never waits on the log's file or pipe, and rendering runs in batches. :meth:`close` (the app's
    shutdown, and at exit) writes whatever is queued; a process killed outright loses at most the
    last interval's lines. At most :data:`QUEUED` events wait (the oldest are dropped beyond it, should
    the output stall).
    """

    def __init__(self, fmt: str, out: TextIO | None = None, *, interval: float = INTERVAL) -> None:
        import structlog

        self._out = structlog.PrintLogger(out or sys.stderr)
        self._lines = _Lines()
        render = JsonLine() if fmt == "json" else ConsoleLine()
        bound: type[Any] = structlog.make_filtering_bound_logger(logging.INFO)
        self.log = bound(self._lines, [structlog.processors.add_log_level, Stamp(), render], {})
        self.enabled: bool = self.log.is_enabled_for(logging.INFO)
        self._queue: deque[tuple[Any, ...]] = deque(maxlen=QUEUED)
        self._wake, self._stop = threading.Event(), threading.Event()
        self._flushing = threading.Lock()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, name="modelog-access-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def add(self, scope: Scope, status: int, seconds: float) -> None:
        """(On the event loop.) Queue the access event of the request ``scope`` answered with ``status`` after
        ``seconds``."""
        if self.enabled:
            self._queue.append((scope["method"], scope["path"], status, seconds, scope.get("client"),
                                scope["headers"], scope.get(PRINCIPAL_KEY), time.time_ns() // 1000))
            if not self._wake.is_set():
                self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._stop.wait(self._interval)  # gather the interval's lines (returns at once on close)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Render and write every queued event (on the writer's thread; on close, the caller's)."""
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        queue, lines = self._queue, self._lines.lines
        while queue:
            method, path, status, seconds, client, headers, principal, at = queue.popleft()
            found = dict(headers)
            command_id, claimed = found.get(b"x-modelog-command-id"), found.get(b"x-modelog-actor")
            self.log.info("request", method=method, path=path, status=int(status), duration_ms=round(seconds * 1000, 2),
                          client=f"{client[0]}:{client[1]}" if client else None,
                          command_id=command_id.decode("latin-1") or None if command_id else None,
                          principal=principal,
                          claimed_actor=claimed.decode("latin-1") or None if claimed else None, _at_us=at)
        if lines:
            text = "\n".join(lines)
            lines.clear()
            with contextlib.suppress(OSError, ValueError):  # the output is gone (closed, a broken pipe): nowhere
                self._out.msg(text)                             # left to say so

    def close(self) -> None:
        """Stop the writer and write what is queued (idempotent)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self.flush()


def configure_access_logs(fmt: str | None = None) -> AccessLines:
    """Structured logs on stderr at INFO, as console text or JSON lines: structlog's configuration for every logger
    of the process, and the access lines (see :class:`AccessLines`)."""
    import structlog

    chosen = fmt or os.environ.get(LOG_FORMAT_ENV) or "console"

    def configure() -> None:
        json_lines = chosen == "json"  # JSON escapes control characters itself
        renderer: Any = (structlog.processors.JSONRenderer() if json_lines
                         else structlog.dev.ConsoleRenderer(colors=False))
        shown: list[Any] = [] if json_lines else [printable_values]
        structlog.configure(
            processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
                        structlog.processors.format_exc_info, *shown, renderer],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
            cache_logger_on_first_use=False,
        )

    configure_when_used(configure)
    return AccessLines(chosen)


class AccessLog:
    """ASGI middleware: one structured line per request (method, path, status, duration, client, command id,
    principal, claimed actor), queued on ``lines`` once the request is answered."""

    def __init__(self, app: ASGIApp, lines: AccessLines) -> None:
        self.app = app
        self.lines = lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except BodyCut:
            # Returning with the body short makes the ASGI server close the connection (one line in its log);
            # raising would add two tracebacks for a cut that was decided and logged on purpose.
            pass
        finally:
            self.lines.add(scope, status, time.perf_counter() - started)
