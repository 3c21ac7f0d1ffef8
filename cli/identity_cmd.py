"""``modelog principal ...`` and ``modelog token ...``: who may use the team server, and their API tokens.

Both work on the configured registry: locally (the database itself; how an operator creates the
first principal and token) or, with MODELOG_URL and MODELOG_TOKEN set, through the server.
"""

from __future__ import annotations

from datetime import datetime

import click
from modelog.cli.common import point_in_time, read_options, registry_api
from modelog.cli.output import echo, echo_json, echo_table, when
from modelog.cli.strict import StrictGroup

PRINCIPAL_COLUMNS = ("NAME", "STATUS", "CREATED", "CREATED_BY", "DISABLED", "DISABLED_BY")
TOKEN_COLUMNS = ("ID", "PRINCIPAL", "STATUS", "EXPIRES", "CREATED", "CREATED_BY", "REVOKED", "REVOKED_BY")


@click.group(cls=StrictGroup)
def principal() -> None:
    """Add, list and disable principals: the identities API tokens belong to.

    \b
    Example:
      modelog principal add alice
    """


@principal.command("add")
@click.argument("name")
def add_principal(name: str) -> None:
    """Add a principal (a person or a pipeline) that API tokens can be issued to.

    \b
    Example:
      modelog principal add ci-pipeline
    """
    with registry_api(writable=True) as api:
        done = api.add_principal(name)
    echo(f"Principal {done.name!r} added.")


@principal.command("list")
@read_options
def list_principals(as_of: datetime | None, at_position: int | None, output: str) -> None:
    """List principals and whether they are disabled.

    JSON: a list of {"name", "disabled", "created_at", "created_by", "disabled_at", "disabled_by"}.

    \b
    Example:
      modelog principal list -o json
    """
    with registry_api() as api:
        found = api.list_principals(**point_in_time(as_of, at_position))
    if output == "json":
        echo_json([p.as_dict() for p in found])
        return
    rows = [(p.name, "disabled" if p.disabled else "active", when(p.created_at), p.created_by or "",
             when(p.disabled_at), p.disabled_by or "") for p in found]
    echo_table(PRINCIPAL_COLUMNS, rows, "No principals.")


@principal.command("show")
@click.argument("name")
@read_options
def show_principal(name: str, as_of: datetime | None, at_position: int | None, output: str) -> None:
    """Show principal NAME: the roles it holds (from the log) and its API tokens.

    JSON: {"name", "disabled", "roles": [{"role", "model", "model_id", "granted_at", "granted_by"}], "tokens": [...]}.

    \b
    Example:
      modelog principal show alice
    """
    with registry_api() as api:
        found = api.describe_principal(name, **point_in_time(as_of, at_position))
    if output == "json":
        echo_json(found.as_dict())
        return
    echo(f"Principal {found.name!r} ({'disabled' if found.disabled else 'active'})")
    roles = [(g.role, f"model {g.model}" if g.model else "registry", when(g.granted_at), g.granted_by or "")
             for g in found.roles]
    echo_table(("ROLE", "SCOPE", "GRANTED", "GRANTED_BY"), roles, "No roles.")
    tokens = [(t.token_id, t.status(), when(t.expires_at) or "never", when(t.created_at)) for t in found.tokens]
    echo_table(("TOKEN", "STATUS", "EXPIRES", "CREATED"), tokens, "No tokens.")


@principal.command("disable")
@click.argument("name")
def disable_principal(name: str) -> None:
    """Disable a principal: its tokens are refused from the next request on, and it gets no new ones.

    \b
    Example:
      modelog principal disable alice
    """
    with registry_api(writable=True) as api:
        done = api.disable_principal(name)
    echo(f"Principal {done.name!r} disabled.")


@click.group(cls=StrictGroup)
def token() -> None:
    """Create, list and revoke API tokens for the team server (MODELOG_TOKEN).

    \b
    Example:
      modelog token create alice --expires 30d
    """


@token.command("create")
@click.argument("name")
@click.option("--expires", metavar="DURATION", default=None,
              help="Expire after DURATION (90s, 45m, 12h, 30d, 2w); default: never.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="The token alone on a line for people, or JSON {\"token\", \"id\"} for machines.")
def create_token(name: str, expires: str | None, output: str) -> None:
    """Issue an API token to principal NAME and print it once (only its SHA-256 is recorded).

    JSON: {"token", "id", "principal", "expires_at"}.

    \b
    Example:
      export MODELOG_TOKEN=$(modelog token create alice --expires 30d -o json | jq -r .token)
    """
    with registry_api(writable=True) as api:
        done = api.create_token(name, expires=expires)
    if output == "json":
        echo_json({"token": done.token, "id": done.token_id, "principal": done.principal,
                   "expires_at": done.expires_at})
        return
    expiry = f", expires {when(done.expires_at)}" if done.expires_at else ", never expires"
    echo(f"Token {done.token_id} for {done.principal!r}{expiry}. It is shown only now:", err=True)
    echo(done.token or "")


@token.command("list")
@click.option("--principal", "of_principal", metavar="NAME", default=None, help="Only the tokens of NAME.")
@read_options
def list_tokens(of_principal: str | None, as_of: datetime | None, at_position: int | None, output: str) -> None:
    """List API tokens (ids and states; never the tokens themselves).

    JSON: a list of {"token_id", "principal", "status", "expires_at", "created_at", "created_by",
    "revoked_at", "revoked_by"}.

    \b
    Example:
      modelog token list --principal alice
    """
    with registry_api() as api:
        found = api.list_tokens(principal=of_principal, **point_in_time(as_of, at_position))
    if output == "json":
        echo_json([{**t.as_dict(), "status": t.status()} for t in found])
        return
    rows = [(t.token_id, t.principal, t.status(), when(t.expires_at) or "never", when(t.created_at),
             t.created_by or "", when(t.revoked_at), t.revoked_by or "") for t in found]
    echo_table(TOKEN_COLUMNS, rows, "No tokens.")


@token.command("revoke")
@click.argument("token_id", metavar="ID")
def revoke_token(token_id: str) -> None:
    """Revoke an API token by ID (see 'modelog token list'): it is refused from the next request on.

    \b
    Example:
      modelog token revoke 3f2a9c0d4b1e8a77
    """
    with registry_api(writable=True) as api:
        done = api.revoke_token(token_id)
    echo(f"Token {done.token_id} of {done.principal!r} revoked.")
