"""Identity in the log: principals and their API tokens, as commands, aggregates and command handlers.

A principal (``principal-<key>`` stream) is added and may be disabled; a token (``token-<id>``
stream) is created for a live principal, carrying only the SHA-256 of its secret, an optional
expiry, and may be revoked. Every refusal is one :class:`RegistryError` line. The command
service registers :data:`HANDLERS`; authentication itself (reading these streams back) is the
application layer's (:mod:`modelog.application.access`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from modelog.registry import events as ev
from modelog.registry.aggregates import Aggregate
from modelog.registry.commands import Command
from modelog.registry.errors import ConflictError, InvalidInputError, NotFoundError
from modelog.registry.outcomes import Outcome, PrincipalChanged, TokenChanged
from modelog.registry.unit_of_work import UnitOfWork
from modelog.registry.validation import clean_name
from modelog.registry.vocabulary import principal_stream, token_stream
from pydantic import BeforeValidator

_TOKEN_ID = re.compile(r"^[0-9a-f]{16}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def clean_token_id(value: object) -> str:
    """A token id as ``modelog token list`` shows it: 16 lower-case hexadecimal characters."""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    if not _TOKEN_ID.match(text):
        raise InvalidInputError(f"token id must be 16 hexadecimal characters (see 'modelog token list'), "
                                f"got {value!r}")
    return text


def _check_sha256(value: object) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise InvalidInputError("token hash must be a lower-case hexadecimal SHA-256")
    return value


PrincipalName = Annotated[str, BeforeValidator(lambda value: clean_name(value, "principal name"))]
TokenId = Annotated[str, BeforeValidator(clean_token_id)]
Sha256 = Annotated[str, BeforeValidator(_check_sha256)]


class AddPrincipal(Command):
    """Add a principal that API tokens can be issued to."""

    name: PrincipalName


class DisablePrincipal(Command):
    """Disable a principal: its tokens are refused from then on."""

    name: PrincipalName


class CreateToken(Command):
    """Record a new API token of a live principal (its hash only; the application layer made the secret)."""

    principal: PrincipalName
    token_id: TokenId
    token_sha256: Sha256
    expires_at: str | None = None


class RevokeToken(Command):
    """Revoke an API token by id."""

    token_id: TokenId


@dataclass
class PrincipalState(Aggregate):
    """One principal: whether it exists and whether it is disabled."""

    name: str = ""
    disabled: bool = False
    #: Held roles: (role, model id), the model id None for a registry-wide grant.
    roles: set[tuple[str, str | None]] = field(default_factory=set)
    version: int = 0

    def require(self, name: str) -> None:
        """Refuse a principal that was never added."""
        if not self.version:
            raise NotFoundError(f"principal {name!r} does not exist (add it with 'modelog principal add')")

    def add(self, name: str) -> list[ev.Event]:
        """Add the principal; refused when one with that name (case-insensitively) exists."""
        if self.version:
            raise ConflictError(f"principal {self.name!r} already exists")
        return [ev.PrincipalAdded(name=name)]

    def disable(self, name: str) -> list[ev.Event]:
        """Disable the principal (nothing to do when it already is)."""
        self.require(name)
        return [] if self.disabled else [ev.PrincipalDisabled(name=self.name)]

    def issue(self, name: str) -> None:
        """Refuse to issue a token to a missing or disabled principal."""
        self.require(name)
        if self.disabled:
            raise ConflictError(f"principal {self.name!r} is disabled: no tokens can be created for it")

    def _on_PrincipalAdded(self, event: ev.PrincipalAdded) -> None:
        self.name = event.name

    def _on_PrincipalDisabled(self, event: ev.PrincipalDisabled) -> None:
        self.disabled = True

    def _on_RoleGranted(self, event: ev.RoleGranted) -> None:
        self.roles.add((event.role.value, event.model_id))

    def _on_RoleRevoked(self, event: ev.RoleRevoked) -> None:
        self.roles.discard((event.role.value, event.model_id))


@dataclass
class TokenState(Aggregate):
    """One API token: its principal and whether it was revoked."""

    principal: str = ""
    revoked: bool = False
    version: int = 0

    def create(self, command: CreateToken, principal: str) -> list[ev.Event]:
        """The token's creation; refused when the id is taken (the caller draws another)."""
        if self.version:
            raise ConflictError(f"token id {command.token_id} is already in use")
        return [ev.TokenCreated(token_id=command.token_id, principal=principal, token_sha256=command.token_sha256,
                                expires_at=command.expires_at)]

    def revoke(self, token_id: str) -> list[ev.Event]:
        """Revoke the token; refused when it does not exist or is revoked already."""
        if not self.version:
            raise NotFoundError(f"token {token_id} does not exist (see 'modelog token list')")
        if self.revoked:
            raise ConflictError(f"token {token_id} is already revoked")
        return [ev.TokenRevoked(token_id=token_id, principal=self.principal)]

    def _on_TokenCreated(self, event: ev.TokenCreated) -> None:
        self.principal = event.principal

    def _on_TokenRevoked(self, event: ev.TokenRevoked) -> None:
        self.revoked = True


def _add_principal(uow: UnitOfWork, command: AddPrincipal) -> Outcome:
    stream = principal_stream(command.name)
    principal = uow.load(PrincipalState, stream)
    uow.record(stream, principal, principal.add(command.name))
    return PrincipalChanged(name=command.name)


def _disable_principal(uow: UnitOfWork, command: DisablePrincipal) -> Outcome:
    stream = principal_stream(command.name)
    principal = uow.load(PrincipalState, stream)
    uow.record(stream, principal, principal.disable(command.name))
    return PrincipalChanged(name=principal.name, disabled=True)


def _create_token(uow: UnitOfWork, command: CreateToken) -> Outcome:
    principal = uow.load(PrincipalState, principal_stream(command.principal))
    principal.issue(command.principal)
    stream = token_stream(command.token_id)
    token = uow.load(TokenState, stream)
    uow.record(stream, token, token.create(command, principal.name))
    return TokenChanged(token_id=command.token_id, principal=principal.name, expires_at=command.expires_at)


def _revoke_token(uow: UnitOfWork, command: RevokeToken) -> Outcome:
    stream = token_stream(command.token_id)
    token = uow.load(TokenState, stream)
    uow.record(stream, token, token.revoke(command.token_id))
    return TokenChanged(token_id=command.token_id, principal=token.principal, revoked=True)


#: The identity commands and the handler deciding each (registered by the command service).
HANDLERS: dict[type[Command], Callable[[UnitOfWork, Any], Outcome]] = {
    AddPrincipal: _add_principal,
    DisablePrincipal: _disable_principal,
    CreateToken: _create_token,
    RevokeToken: _revoke_token,
}
