"""Read models of principals and API tokens: rows from the identity events, and the queries over them.

These tables list who exists and which tokens were issued, for ``modelog principal list`` and
``modelog token list``. They are never used to authenticate: a row here grants nothing
(:mod:`modelog.application.access` decides from the log itself).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from modelog.projections import tables as t
from modelog.registry.recorder import TIME_FORMAT
from modelog.registry.validation import name_key
from modelog.registry.vocabulary import EventType
from sqlalchemy import update
from sqlalchemy.engine import Connection, Row

if TYPE_CHECKING:
    from modelog.projections.handlers import Handler, ProjectedEvent


@dataclass(frozen=True)
class PrincipalView:
    """A principal as the read side sees it."""

    name: str
    disabled: bool
    created_at: str
    created_by: str | None
    disabled_at: str | None
    disabled_by: str | None

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return asdict(self)


@dataclass(frozen=True)
class TokenView:
    """An issued API token (never its secret nor its hash)."""

    token_id: str
    principal: str
    expires_at: str | None
    created_at: str
    created_by: str | None
    revoked_at: str | None
    revoked_by: str | None

    def status(self, now: datetime | None = None) -> str:
        """``revoked``, ``expired`` (at ``now``, default: this moment) or ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC)).strftime(TIME_FORMAT):
            return "expired"
        return "active"

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return asdict(self)


def _on_principal_added(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    conn.execute(t.principals.insert().values(
        name_key=name_key(data["name"]), name=data["name"], disabled=False, created_at=event.recorded_at,
        created_by=event.meta.get("actor"), disabled_at=None, disabled_by=None))


def _on_principal_disabled(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    conn.execute(update(t.principals).where(t.principals.c.name_key == name_key(data["name"])).values(
        disabled=True, disabled_at=event.recorded_at, disabled_by=event.meta.get("actor")))


def _on_token_created(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    conn.execute(t.tokens.insert().values(
        token_id=data["token_id"], principal=data["principal"], expires_at=data.get("expires_at"),
        created_at=event.recorded_at, created_by=event.meta.get("actor"), revoked_at=None, revoked_by=None))


def _on_token_revoked(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    conn.execute(update(t.tokens).where(t.tokens.c.token_id == data["token_id"]).values(
        revoked_at=event.recorded_at, revoked_by=event.meta.get("actor")))


#: The projector's handlers of the identity events (one event at a time: there are few).
HANDLERS: dict[str, Handler] = {
    EventType.PRINCIPAL_ADDED.value: _on_principal_added,
    EventType.PRINCIPAL_DISABLED.value: _on_principal_disabled,
    EventType.TOKEN_CREATED.value: _on_token_created,
    EventType.TOKEN_REVOKED.value: _on_token_revoked,
}


def principal_views(conn: Connection) -> list[PrincipalView]:
    """Every principal, by name."""
    rows = conn.execute(t.principals.select().order_by(t.principals.c.name_key)).all()
    return [PrincipalView(**_fields(PrincipalView, row)) for row in rows]


def token_views(conn: Connection, principal: str | None = None) -> list[TokenView]:
    """Every token (optionally of one principal), oldest first."""
    query = t.tokens.select().order_by(t.tokens.c.created_at, t.tokens.c.token_id)
    rows = conn.execute(query).all()
    key = None if principal is None else name_key(principal)
    return [TokenView(**_fields(TokenView, row)) for row in rows if key is None or name_key(row.principal) == key]


def _fields(kind: type[PrincipalView] | type[TokenView], row: Row[Any]) -> dict[str, Any]:
    values = {f.name: row._mapping[f.name] for f in fields(kind)}
    if "disabled" in values:
        values["disabled"] = bool(values["disabled"])
    return values
