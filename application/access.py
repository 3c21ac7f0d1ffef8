"""Who may call the registry: API tokens (made, hashed, checked) and the one permission hook.

Tokens look like ``mlg_<id>_<secret>``: a recognisable prefix, a public 16-hex-digit id (what
``modelog token list`` shows and ``token revoke`` takes) and 32 random bytes (``secrets``,
URL-safe). The log records only the SHA-256 of the whole token.

Authentication trusts only the log. :class:`Authenticator` keeps the principals and tokens it
read from the ``principal-*`` and ``token-*`` streams, with the log position it read up to; on
every check it asks the log's head (one indexed query) and, when the head moved, reads just the
identity events appended since. So a token revoked or a principal disabled by any process (this
server, another worker, a local ``modelog token revoke``) is refused on the very next request,
and the read models (``view_tokens``...) play no part: a row inserted or edited there grants
nothing. The comparison of hashes is constant-time (``hmac.compare_digest``). The same replay
keeps the roles granted to each principal (``RoleGranted`` / ``RoleRevoked`` on its stream), which
the one permission check (:mod:`modelog.application.permissions`) asks.

A caller that has just read the head itself (the server, once per request) asks
:meth:`Authenticator.authenticate_at` instead: the decision from memory when the identity events
read so far stand exactly at that head, with the decisions already made at that position kept
by token (so a token seen before costs a dictionary look-up and its expiry check, no hashing).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from modelog.registry.errors import AuthenticationError, InvalidInputError
from modelog.registry.recorder import TIME_FORMAT, Recorder, StoredEvent
from modelog.registry.validation import name_key
from modelog.registry.values import Role
from modelog.registry.vocabulary import (
    NAME_PREFIX,
    PRINCIPAL_PREFIX,
    TOKEN_PREFIX,
    EventType,
    name_stream,
    run_stream,
)

#: What every API token starts with (so a leaked one is recognisable, e.g. by secret scanners).
TOKEN_PREFIX_TEXT = "mlg_"
_TOKEN = re.compile(r"^mlg_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DUMMY_HASH = "0" * 64
#: Most accepted tokens an Authenticator keeps decided at one log position (all dropped beyond it).
ACCEPTED_KEPT = 1024
#: Up to this many events appended since the last check are read in one go (more: only the identity streams').
FEW_EVENTS = 64


@dataclass(frozen=True)
class NewToken:
    """A freshly drawn token: the secret to hand out once, its public id and the hash the log keeps."""

    token: str
    token_id: str
    sha256: str


def new_token() -> NewToken:
    """Draw a token: 8 random bytes of id, 32 of secret."""
    token_id = secrets.token_hex(8)
    token = f"{TOKEN_PREFIX_TEXT}{token_id}_{secrets.token_urlsafe(32)}"
    return NewToken(token, token_id, token_sha256(token))


def token_sha256(token: str) -> str:
    """The SHA-256 of a token's text, as the log records it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def expiry_after(duration: str | None, now: datetime | None = None) -> str | None:
    """When a token given ``duration`` (``90s``, ``45m``, ``12h``, ``30d``, ``2w``) expires, as log time text."""
    if duration is None or duration == "":
        return None
    found = _DURATION.match(str(duration))
    if found is None or int(found.group(1)) == 0:
        raise InvalidInputError(f"expiry {duration!r} is not a duration like 90s, 45m, 12h, 30d or 2w")
    seconds = int(found.group(1)) * _UNITS[found.group(2)]
    try:
        moment = (now or datetime.now(UTC)) + timedelta(seconds=seconds)
    except OverflowError:
        raise InvalidInputError(f"expiry {duration!r} is too far in the future") from None
    return moment.strftime(TIME_FORMAT)


@dataclass(frozen=True)
class Principal:
    """Who an authenticated request comes from."""

    name: str


@dataclass
class _Token:
    principal_key: str
    sha256: str
    expires_at: str | None
    revoked: bool = False


class Authenticator:
    """Checks API tokens against the principals and tokens the log records (see the module's docstring).

    ``head`` reads the log's last position (default: the store's, one transaction per check); ``between(after,
    upto)``, the events after position ``after`` up to ``upto`` (default: the store's ``read_all``), is how a few
    events appended since the last check are read (a server passes the kept connection its ``head`` reads on).
    """

    def __init__(self, store: Recorder, head: Callable[[], int] | None = None,
                 between: Callable[[int, int], Iterable[StoredEvent]] | None = None) -> None:
        self.store = store
        self.head = head or store.head
        self.between = between or (lambda after, upto: store.read_all(from_position=after + 1, to_position=upto))
        self.position = 0
        self.principals: dict[str, tuple[str, bool]] = {}  # name key -> (name, disabled)
        self.tokens: dict[str, _Token] = {}
        #: Roles held, by principal name key: (role, model id or None for registry-wide).
        self.grants: dict[str, set[tuple[Role, str | None]]] = {}
        self._model_ids: dict[str, str | None] = {}  # name key -> live model id, at ``position``
        self._run_models: dict[str, str | None] = {}  # run id -> model id (fixed once the run started)
        # Token -> (principal, token id, expiry) of tokens accepted at ``position``; emptied when it moves.
        self._accepted: dict[str, tuple[Principal, str, str | None]] = {}
        # (principal, role) -> held registry-wide, decided at ``position``; emptied when it moves.
        self._everywhere: dict[tuple[str, Role], bool] = {}
        self._lock = threading.Lock()

    @property
    def principal_count(self) -> int:
        """How many principals the log has added (after the last refresh)."""
        return len(self.principals)

    def refresh(self) -> None:
        """Read the identity events appended since the last check (everything again if the log was replaced)."""
        head = self.head()
        if head == self.position:
            return
        self._accepted, self._model_ids, self._everywhere = {}, {}, {}
        if head < self.position:
            self.position, self.principals, self.tokens, self.grants = 0, {}, {}, {}
            self._run_models = {}
        if head - self.position <= FEW_EVENTS:  # the usual step (a command or two): one read, filtered here
            for event in self.between(self.position, head):
                if event.stream_id.startswith((PRINCIPAL_PREFIX, TOKEN_PREFIX)):
                    self._apply(event.event_type, event.data)
        else:
            for prefix in (PRINCIPAL_PREFIX, TOKEN_PREFIX):
                for event in self.store.read_all(from_position=self.position + 1, to_position=head,
                                                 stream_prefix=prefix):
                    self._apply(event.event_type, event.data)
        self.position, self._everywhere = head, {}

    def advance(self, events: Sequence[StoredEvent]) -> None:
        """Take the events a command of this process has just appended (in log order) as read, without reading the
        log: when they continue exactly where this stands (nothing else was appended in between: positions are
        gap-free and assigned under the append lock), apply their identity events and stand after them.
        Otherwise do nothing; the next check reads the log as usual."""
        with self._lock:
            if not events or events[0].position != self.position + 1 \
                    or events[-1].position != self.position + len(events):
                return
            for event in events:
                if event.stream_id.startswith((PRINCIPAL_PREFIX, TOKEN_PREFIX)):
                    self._apply(event.event_type, event.data)
                    self._accepted = {}
                elif event.stream_id.startswith(NAME_PREFIX):
                    self._model_ids = {}
            self.position = events[-1].position

    def _apply(self, event_type: str, data: dict[str, object]) -> None:
        if event_type == EventType.PRINCIPAL_ADDED:
            self.principals[name_key(str(data["name"]))] = (str(data["name"]), False)
        elif event_type == EventType.PRINCIPAL_DISABLED:
            self.principals[name_key(str(data["name"]))] = (str(data["name"]), True)
        elif event_type == EventType.TOKEN_CREATED:
            expires = data.get("expires_at")
            self.tokens[str(data["token_id"])] = _Token(name_key(str(data["principal"])), str(data["token_sha256"]),
                                                        None if expires is None else str(expires))
        elif event_type == EventType.TOKEN_REVOKED:
            found = self.tokens.get(str(data["token_id"]))
            if found is not None:
                found.revoked = True
        elif event_type in (EventType.ROLE_GRANTED, EventType.ROLE_REVOKED):
            held = self.grants.setdefault(name_key(str(data["name"])), set())
            grant = (Role(str(data["role"])), None if data.get("model_id") is None else str(data["model_id"]))
            if event_type == EventType.ROLE_GRANTED:
                held.add(grant)
            else:
                held.discard(grant)

    def holds(self, principal: str, role: Role, model_id: str | None = None) -> bool:
        """True when ``principal`` holds ``role`` (or a higher one) registry-wide, or on model ``model_id``."""
        held = self.grants.get(name_key(principal), set())
        return any(r.includes(role) and (scope is None or (model_id is not None and scope == model_id))
                   for r, scope in held)

    def model_id(self, name: str) -> str | None:
        """The id of the live model named ``name``, from its ``name-`` stream in the log (None: no such model)."""
        key = name_key(name)
        if key not in self._model_ids:
            holder: str | None = None
            for event in self.store.read_stream(name_stream(name)):
                claimed = event.event_type == EventType.MODEL_NAME_CLAIMED
                holder = str(event.data["model_id"]) if claimed else None
            self._model_ids[key] = holder
        return self._model_ids[key]

    def model_of_run(self, run_id: str) -> str | None:
        """The id of the model a run works on, from the run's first event in the log (None: none, or no run)."""
        if run_id not in self._run_models:
            started = self.store.read_stream(run_stream(run_id), to_position=self.position)[:1]
            model = started[0].data.get("model_id") if started else None
            if not started:
                return None  # not cached: the run may start later
            self._run_models[run_id] = None if model is None else str(model)
        return self._run_models[run_id]

    def holds_registry_wide(self, principal: str, role: Role) -> bool:
        """As :meth:`holds` registry-wide, safe from another thread than the one refreshing (memory only; decided
        once per principal and role at each position)."""
        with self._lock:
            found = self._everywhere.get((principal, role))
            if found is None:
                found = self._everywhere[principal, role] = self.holds(principal, role)
            return found


    def authenticate(self, token: str | None, now: datetime | None = None) -> Principal:
        """The principal ``token`` belongs to, or AuthenticationError (missing, malformed, unknown, wrong, expired,
        revoked, or its principal disabled)."""
        with self._lock:
            self.refresh()
            return self._decide(token, now)

    def authenticate_at(self, head: int, token: str | None, now: datetime | None = None) -> Principal | None:
        """As :meth:`authenticate` for a caller that read the log's head (``head``) itself, without reading the log:
        None when the identity events read so far do not stand at ``head`` (then call :meth:`authenticate`)."""
        with self._lock:
            return self._decide(token, now) if head == self.position else None

    def _decide(self, token: str | None, now: datetime | None) -> Principal:
        if not token:
            raise AuthenticationError("no API token: send 'Authorization: Bearer <token>' (clients: set MODELOG_TOKEN "
                                      "to a token from 'modelog token create NAME')")
        # Keyed by the text of a token that passed the constant-time check below (no hashing on the hot path). A
        # look-up's timing tells nothing about a kept token: dict compares two strings only once their hashes
        # (SipHash under this process's random key) are equal, which a presented token cannot be made to be.
        accepted = self._accepted.get(token)
        if accepted is not None:
            principal, token_id, expires_at = accepted
            _check_expiry(token_id, expires_at, now)
            return principal
        parsed = _TOKEN.match(token)
        found = self.tokens.get(parsed.group(1)) if parsed else None
        expected = found.sha256 if found is not None else _DUMMY_HASH
        matches = hmac.compare_digest(expected, token_sha256(token))
        if found is None or not matches:
            raise AuthenticationError("the API token is not valid (unknown or mistyped; see 'modelog token list')")
        token_id = parsed.group(1) if parsed else ""
        principal = self._holder(token_id, found, now)
        if len(self._accepted) >= ACCEPTED_KEPT:
            self._accepted.clear()
        self._accepted[token] = (principal, token_id, found.expires_at)
        return principal

    def _holder(self, token_id: str, found: _Token, now: datetime | None) -> Principal:
        if found.revoked:
            raise AuthenticationError(f"API token {token_id} has been revoked")
        _check_expiry(token_id, found.expires_at, now)
        name, disabled = self.principals.get(found.principal_key, ("", True))
        if disabled:
            raise AuthenticationError(f"principal {name!r} of API token {token_id} is disabled")
        return Principal(name)


def _check_expiry(token_id: str, expires_at: str | None, now: datetime | None) -> None:
    if expires_at is not None and expires_at <= (now or datetime.now(UTC)).strftime(TIME_FORMAT):
        raise AuthenticationError(f"API token {token_id} expired at {expires_at}")
