"""``modelog grant``, ``modelog revoke`` and ``modelog policy ...``: roles and protected stages.

Locally (the database itself) the operator grants the first admin; through a server
(MODELOG_URL, MODELOG_TOKEN) only an admin may grant, revoke or set policies (docs/permissions.md).
"""

from __future__ import annotations

from datetime import datetime

import click
from modelog.cli.common import point_in_time, read_options, registry_api
from modelog.cli.completion import complete_models
from modelog.cli.output import echo, echo_json, echo_table, when
from modelog.cli.strict import StrictCommand, StrictGroup
from modelog.registry.values import EXCLUSIVE_STAGES, Role

ROLES = tuple(role.value for role in Role)
PROTECTED = tuple(sorted(stage.value for stage in EXCLUSIVE_STAGES))
POLICY_COLUMNS = ("SCOPE", "STAGE", "APPROVALS", "SET", "SET_BY")
MODEL_OPTION_HELP = "Only on MODEL (default: registry-wide)."


def _scope(model: str | None) -> str:
    return f"on model {model!r}" if model else "registry-wide"


@click.command(cls=StrictCommand)
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES, case_sensitive=False))
@click.option("--model", metavar="MODEL", default=None, shell_complete=complete_models, help=MODEL_OPTION_HELP)
def grant(name: str, role: str, model: str | None) -> None:
    """Grant principal NAME a ROLE (viewer < contributor < maintainer < admin, each including the lower ones).

    \b
    Example:
      modelog grant alice maintainer --model demo
    """
    with registry_api(writable=True) as api:
        done = api.grant_role(name, role, model=model)
    echo(f"Role {done.role} {_scope(done.model)} granted to {done.name!r}." if done.changed
         else f"{done.name!r} already holds role {done.role} {_scope(done.model)}: nothing recorded.")


@click.command(cls=StrictCommand)
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES, case_sensitive=False))
@click.option("--model", metavar="MODEL", default=None, shell_complete=complete_models, help=MODEL_OPTION_HELP)
def revoke(name: str, role: str, model: str | None) -> None:
    """Revoke a ROLE principal NAME holds (registry-wide, or on --model MODEL).

    \b
    Example:
      modelog revoke alice maintainer --model demo
    """
    with registry_api(writable=True) as api:
        done = api.revoke_role(name, role, model=model)
    echo(f"Role {done.role} {_scope(done.model)} revoked from {done.name!r}.")


@click.group(cls=StrictGroup)
def policy() -> None:
    """Protect stages: how many approvals a move into staging or production needs.

    \b
    Example:
      modelog policy set demo --stage production --approvals 1
    """


@policy.command("set")
@click.argument("model", required=False, shell_complete=complete_models)
@click.option("--stage", type=click.Choice(PROTECTED, case_sensitive=False), required=True,
              help="The stage to protect.")
@click.option("--approvals", type=click.IntRange(0, 10), required=True,
              help="Approvals needed from principals other than the requester (0: unprotected).")
def set_policy(model: str | None, stage: str, approvals: int) -> None:
    """Require APPROVALS approvals for moves into STAGE of MODEL (without MODEL: of every model that has no policy
    of its own).

    \b
    Example:
      modelog policy set --stage production --approvals 1
    """
    with registry_api(writable=True) as api:
        done = api.set_stage_policy(stage, approvals, model=model)
    needs = f"needs {done.approvals} approval(s)" if done.approvals else "needs no approval"
    echo(f"Stage {done.stage} {_scope(done.model)} {needs}." + ("" if done.changed else " (unchanged)"))


@policy.command("show")
@read_options
def show_policies(as_of: datetime | None, at_position: int | None, output: str) -> None:
    """List the stage policies in force (a model's own policy overrides the registry-wide one).

    JSON: a list of {"stage", "approvals", "model", "model_id", "set_at", "set_by"}.

    \b
    Example:
      modelog policy show
    """
    with registry_api() as api:
        found = api.list_stage_policies(**point_in_time(as_of, at_position))
    if output == "json":
        echo_json([p.as_dict() for p in found])
        return
    rows = [(f"model {p.model}" if p.model else "registry", p.stage, str(p.approvals), when(p.set_at),
             p.set_by or "") for p in found]
    echo_table(POLICY_COLUMNS, rows, "No stage policies: every stage move needs no approval.")
