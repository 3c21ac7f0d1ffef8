"""``modelog model version request-stage | approve | reject | requests``: four-eyes moves into protected stages."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click
from modelog.cli.common import point_in_time, read_options, registry_api
from modelog.cli.completion import complete_models, complete_versions
from modelog.cli.output import echo, echo_json, echo_table, when
from modelog.cli.strict import StrictCommand
from modelog.registry.values import EXCLUSIVE_STAGES

if TYPE_CHECKING:
    from modelog.application.results import StageRequestChanged

PROTECTED = tuple(sorted(stage.value for stage in EXCLUSIVE_STAGES))
STATUSES = ("pending", "approved", "rejected", "expired")
REQUEST_COLUMNS = ("REQUEST", "VERSION", "STAGE", "STATUS", "REQUESTED_BY", "APPROVALS", "APPROVED_BY", "REQUESTED",
                   "EXPIRES", "DECIDED_BY")
STAGE_HELP = "The stage of the request (needed only when the version has pending requests for both)."


def _report(done: StageRequestChanged, verb: str) -> str:
    head = f"Request {done.request} (version {done.number} of model {done.model_name!r} to {done.stage}) {verb}"
    if done.stage_change is not None:
        moved = "moved" if done.stage_change.moved else "was there already"
        archived = "".join(f"; version {n} archived" for n in done.stage_change.archived)
        return f"{head}: version {done.number} {moved} to {done.stage}{archived}."
    if done.status == "pending":
        return f"{head}: {len(done.approved_by)} of {done.approvals} approval(s), expires {when(done.expires_at)}."
    return f"{head}."


@click.command("request-stage", cls=StrictCommand)
@click.argument("model", shell_complete=complete_models)
@click.argument("version", shell_complete=complete_versions)
@click.argument("stage", type=click.Choice(PROTECTED, case_sensitive=False))
@click.option("-f", "--force", is_flag=True, help="On approval, archive the version holding STAGE.")
@click.option("--expires", metavar="DURATION", default=None,
              help="Expire after DURATION (90s, 45m, 12h, 30d, 2w); default 7d.")
def request_stage(model: str, version: str, stage: str, force: bool, expires: str | None) -> None:
    """Request moving VERSION of MODEL into the protected STAGE; it moves once others approve.

    \b
    Example:
      modelog model version request-stage demo 3 production --force
    """
    with registry_api(writable=True) as api:
        done = api.request_stage(model, version, stage, force=force, expires=expires)
    echo(_report(done, "recorded"))


@click.command("approve", cls=StrictCommand)
@click.argument("model", shell_complete=complete_models)
@click.argument("version", shell_complete=complete_versions)
@click.option("--stage", type=click.Choice(PROTECTED, case_sensitive=False), default=None, help=STAGE_HELP)
def approve(model: str, version: str, stage: str | None) -> None:
    """Approve the pending stage change request of VERSION (never your own); the last approval needed moves it.

    \b
    Example:
      modelog model version approve demo 3
    """
    with registry_api(writable=True) as api:
        done = api.approve_stage_request(model, version, stage=stage)
    echo(_report(done, "approved" if done.stage_change is not None else "approval recorded"))


@click.command("reject", cls=StrictCommand)
@click.argument("model", shell_complete=complete_models)
@click.argument("version", shell_complete=complete_versions)
@click.option("--stage", type=click.Choice(PROTECTED, case_sensitive=False), default=None, help=STAGE_HELP)
@click.option("--reason", metavar="TEXT", default=None, help="Why (recorded with the rejection).")
def reject(model: str, version: str, stage: str | None, reason: str | None) -> None:
    """Reject the pending stage change request of VERSION (as its requester: withdraw it).

    \b
    Example:
      modelog model version reject demo 3 --reason "metrics regressed"
    """
    with registry_api(writable=True) as api:
        done = api.reject_stage_request(model, version, stage=stage, reason=reason)
    echo(_report(done, "rejected"))


@click.command("requests", cls=StrictCommand)
@click.argument("model", shell_complete=complete_models)
@click.option("--version", "number", type=click.IntRange(min=1), default=None, metavar="N",
              help="Only the requests of version N.")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only requests in this status.")
@read_options
def requests(model: str, number: int | None, status: str | None, as_of: datetime | None, at_position: int | None,
             output: str) -> None:
    """List the stage change requests of MODEL, oldest first (as they stood then, with --as-of / --at-position).

    JSON: a list of {"model_name", "request", "number", "stage", "force", "status", "requested_by", "requested_at",
    "expires_at", "approvals", "approved_by", "decided_by", "decided_at", "reason"}.

    \b
    Example:
      modelog model version requests demo --status pending
    """
    with registry_api() as api:
        found = api.list_stage_requests(model, version=number, status=status, **point_in_time(as_of, at_position))
    if output == "json":
        echo_json([r.as_dict() for r in found])
        return
    rows = [(str(r.request), str(r.number), r.stage + (" (force)" if r.force else ""), r.status, r.requested_by,
             f"{len(r.approved_by)}/{r.approvals}", ", ".join(r.approved_by), when(r.requested_at),
             when(r.expires_at), r.decided_by or "") for r in found]
    echo_table(REQUEST_COLUMNS, rows, "No stage change requests.")
