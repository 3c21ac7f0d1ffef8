"""Principals and API tokens: the aggregate rules, the token format, expiries, and authentication from the log."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from modelog.application.access import Authenticator, expiry_after, new_token, token_sha256
from modelog.registry import identity
from modelog.registry.errors import AuthenticationError, ConflictError, InvalidInputError, NotFoundError
from modelog.registry.memory import InMemoryRecorder
from modelog.registry.outcomes import TokenChanged
from modelog.registry.service import CommandService


@pytest.fixture
def service() -> CommandService:
    return CommandService(InMemoryRecorder(), actor="operator")


def _issue(service: CommandService, principal: str, expires_at: str | None = None) -> str:
    drawn = new_token()
    service.execute(identity.CreateToken(principal=principal, token_id=drawn.token_id, token_sha256=drawn.sha256,
                                         expires_at=expires_at))
    return drawn.token


def test_tokens_are_prefixed_high_entropy_and_stored_only_as_hashes(service: CommandService) -> None:
    drawn = new_token()
    prefix, token_id, secret = drawn.token.split("_", 2)
    assert prefix == "mlg" and token_id == drawn.token_id and len(token_id) == 16 and len(secret) == 43
    assert drawn.sha256 == hashlib.sha256(drawn.token.encode()).hexdigest() == token_sha256(drawn.token)
    assert len({new_token().token for _ in range(100)}) == 100
    service.execute(identity.AddPrincipal(name="alice"))
    done = service.execute(identity.CreateToken(principal="alice", token_id=drawn.token_id,
                                                token_sha256=drawn.sha256))
    assert isinstance(done, TokenChanged) and done.token is None  # the secret is the application layer's to show
    assert secret not in json.dumps([e.data for e in done.events]) + json.dumps([e.meta for e in done.events])


def test_each_refusal_is_one_registry_error_and_writes_nothing(service: CommandService) -> None:
    service.execute(identity.AddPrincipal(name="Alice"))
    head = service.store.head()
    with pytest.raises(ConflictError, match="^principal 'Alice' already exists$"):
        service.execute(identity.AddPrincipal(name="alice"))
    with pytest.raises(NotFoundError, match="^principal 'bob' does not exist"):
        _issue(service, "bob")
    with pytest.raises(NotFoundError, match="^principal 'bob' does not exist"):
        service.execute(identity.DisablePrincipal(name="bob"))
    with pytest.raises(NotFoundError, match="^token 0123456789abcdef does not exist"):
        service.execute(identity.RevokeToken(token_id="0123456789abcdef"))
    with pytest.raises(InvalidInputError, match="token id must be 16 hexadecimal characters"):
        identity.RevokeToken(token_id="mlg_secret")
    with pytest.raises(InvalidInputError, match="must not be empty"):
        identity.AddPrincipal(name=" ")
    assert service.store.head() == head
    token = _issue(service, "alice")
    token_id = token.split("_")[1]
    service.execute(identity.RevokeToken(token_id=token_id))
    with pytest.raises(ConflictError, match=f"^token {token_id} is already revoked$"):
        service.execute(identity.RevokeToken(token_id=token_id))
    service.execute(identity.DisablePrincipal(name="ALICE"))
    assert not service.execute(identity.DisablePrincipal(name="alice")).events  # already disabled: nothing to do
    with pytest.raises(ConflictError, match="^principal 'Alice' is disabled: no tokens can be created for it$"):
        _issue(service, "alice")


def test_expiries_are_durations_from_now() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert expiry_after("30d", now) == (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert expiry_after(" 12h ", now) == "2026-01-01T12:00:00.000000Z"
    assert expiry_after("2w", now) == "2026-01-15T00:00:00.000000Z" and expiry_after(None) is None
    for bad in ("30", "0d", "-1d", "1y", "d30", "1.5h"):
        with pytest.raises(InvalidInputError, match="is not a duration like 90s, 45m, 12h, 30d or 2w"):
            expiry_after(bad, now)


def test_authentication_follows_the_log_to_the_next_request(service: CommandService) -> None:
    authenticator = Authenticator(service.store)
    with pytest.raises(AuthenticationError, match="^no API token"):
        authenticator.authenticate(None)
    service.execute(identity.AddPrincipal(name="alice"))
    token = _issue(service, "alice")
    assert authenticator.authenticate(token).name == "alice"
    token_id = token.split("_")[1]
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "mlg_" + token_id, "Bearer " + token, "x" * 80):
        with pytest.raises(AuthenticationError, match="^the API token is not valid"):
            authenticator.authenticate(wrong)
    service.execute(identity.RevokeToken(token_id=token_id))
    with pytest.raises(AuthenticationError, match=f"^API token {token_id} has been revoked$"):
        authenticator.authenticate(token)
    other = _issue(service, "alice")
    assert authenticator.authenticate(other).name == "alice"
    service.execute(identity.DisablePrincipal(name="alice"))
    with pytest.raises(AuthenticationError, match="^principal 'alice' of API token .* is disabled$"):
        authenticator.authenticate(other)


def test_an_expired_token_is_refused(service: CommandService) -> None:
    service.execute(identity.AddPrincipal(name="ci"))
    soon = expiry_after("1h")
    token = _issue(service, "ci", soon)
    authenticator = Authenticator(service.store)
    assert authenticator.authenticate(token).name == "ci"
    with pytest.raises(AuthenticationError, match=f"expired at {soon}$"):
        authenticator.authenticate(token, now=datetime.now(UTC) + timedelta(hours=1, seconds=1))


def test_a_caller_that_read_the_head_is_decided_from_memory_only_at_that_head(service: CommandService) -> None:
    reads: list[int] = []

    def head() -> int:
        reads.append(service.store.head())
        return reads[-1]

    authenticator = Authenticator(service.store, head=head)
    service.execute(identity.AddPrincipal(name="alice"))
    token = _issue(service, "alice", expiry_after("1h"))
    at = service.store.head()
    assert authenticator.authenticate_at(at, token) is None  # the log moved since the last read: not from memory
    assert authenticator.authenticate(token).name == "alice" and len(reads) == 1
    for _ in range(3):  # decided again at the same position from the kept decision, the log not read
        assert authenticator.authenticate_at(at, token) == authenticator.authenticate(token)
    assert len(reads) == 4 and authenticator.authenticate_at(at - 1, token) is None
    with pytest.raises(AuthenticationError, match="expired at"):  # a kept decision still expires on time
        authenticator.authenticate_at(at, token, now=datetime.now(UTC) + timedelta(hours=2))
    with pytest.raises(AuthenticationError, match="^the API token is not valid"):
        authenticator.authenticate_at(at, token[:-1] + ("A" if token[-1] != "A" else "B"))
    service.execute(identity.RevokeToken(token_id=token.split("_")[1]))  # the kept decision goes with the move
    assert authenticator.authenticate_at(service.store.head(), token) is None
    with pytest.raises(AuthenticationError, match="has been revoked$"):
        authenticator.authenticate(token)
    with pytest.raises(AuthenticationError, match="has been revoked$"):
        authenticator.authenticate_at(service.store.head(), token)


def test_the_events_a_command_appended_are_taken_as_read_only_when_nothing_came_between(
        service: CommandService) -> None:
    service.execute(identity.AddPrincipal(name="alice"))
    token = _issue(service, "alice")
    authenticator = Authenticator(service.store)
    assert authenticator.authenticate(token).name == "alice"
    revoked = service.execute(identity.RevokeToken(token_id=token.split("_")[1]))
    authenticator.advance(revoked.events)  # this process's own command: applied without reading the log
    assert authenticator.position == service.store.head()
    with pytest.raises(AuthenticationError, match="has been revoked$"):
        authenticator.authenticate_at(service.store.head(), token)
    other = _issue(service, "alice")
    service.execute(identity.AddPrincipal(name="bob"))  # another writer's event between: a gap
    late = service.execute(identity.DisablePrincipal(name="alice"))
    authenticator.advance(late.events)
    assert authenticator.position < service.store.head()  # not taken: the next check reads the log instead
    assert authenticator.authenticate_at(service.store.head(), other) is None
    with pytest.raises(AuthenticationError, match="is disabled$"):
        authenticator.authenticate(other)
