"""``modelog run list|show|fail``: pipeline runs, their steps and outputs, and closing abandoned runs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from modelog.application.api import ABANDONED, DEFAULT_ABANDON_REASON
from modelog.cli.common import confirm, point_in_time, read_options, registry_api, yes_option
from modelog.cli.completion import complete_runs
from modelog.cli.output import echo, echo_json, echo_table, when
from modelog.cli.strict import StrictGroup
from modelog.registry.values import RunStatus

if TYPE_CHECKING:
    from modelog.projections.views import RunView, StepView

RUN_COLUMNS = ("RUN_ID", "PIPELINE", "STATUS", "MODEL", "VERSION", "STEPS", "STARTED", "FINISHED")
STEP_COLUMNS = ("STEP", "CACHED", "OUTPUT", "ARTIFACT", "HASH", "COMPLETED")
STATUSES = tuple(s.value for s in RunStatus if s is not RunStatus.UNKNOWN)


@click.group(cls=StrictGroup, name="run")
def run() -> None:
    """List and inspect pipeline runs; close a run whose process died.

    \b
    Example:
      modelog run list --status running
    """


@run.command("list")
@click.option("--pipeline", metavar="P", help="Only runs of pipeline P.")
@click.option("--status", type=click.Choice(STATUSES), help="Only runs with this status.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True, metavar="N",
              help="Most runs to show (newest first).")
@read_options
def list_runs(pipeline: str | None, status: str | None, limit: int, as_of: datetime | None,
              at_position: int | None, output: str) -> None:
    """List pipeline runs, newest first.

    JSON: a list of {"run_id", "pipeline", "status", "started_at", "finished_at", "steps_completed", "error",
    "linked_at", "model_name", "version_number"}.

    \b
    Example:
      modelog run list --pipeline training --status failed -o json
    """
    with registry_api() as api:
        found = api.list_runs(pipeline=pipeline, status=status, limit=limit, **point_in_time(as_of, at_position))
    if output == "json":
        echo_json([r.as_dict() for r in found])
        return
    rows = [(r.run_id, r.pipeline, r.status, r.model_name, r.version_number, r.steps_completed, when(r.started_at),
             when(r.finished_at)) for r in found]
    echo_table(RUN_COLUMNS, rows, "No runs found.", wide=("RUN_ID",))


@run.command("show")
@click.argument("run_id", shell_complete=complete_runs)
@read_options
def show(run_id: str, as_of: datetime | None, at_position: int | None, output: str) -> None:
    """Show a run: status, model version, error, and each step with its outputs (artifact name:version, hash).

    JSON: {"run_id", "pipeline", "status", "started_at", "finished_at", "steps_completed", "error",
    "linked_at", "model_name", "version_number", "steps"}; a step is {"run_id", "step", "cached", "cache_key",
    "duration_ms", "completed_at", "outputs"}, an output {"name", "artifact_id", "artifact_name",
    "artifact_version", "content_hash"}.

    \b
    Example:
      modelog run show 0b7e4f1c-9a51-4c2e-8d8e-3f1f2a6c9d10
    """
    point = point_in_time(as_of, at_position)
    with registry_api() as api:
        found = api.get_run(run_id, **point)
        steps = api.list_run_steps(run_id, **point)
    if output == "json":
        echo_json({**found.as_dict(), "steps": [s.as_dict() for s in steps]})
        return
    _echo_run(found)
    echo_table(STEP_COLUMNS, [row for s in steps for row in _step_rows(s)], "No steps completed.", wide=("HASH",))


def _echo_run(found: RunView) -> None:
    version = f"{found.model_name} version {found.version_number}" if found.model_name else "-"
    for label, value in (("Run", found.run_id), ("Pipeline", found.pipeline), ("Status", found.status),
                         ("Model", version), ("Started", when(found.started_at)),
                         ("Finished", when(found.finished_at) or "-"), ("Error", found.error or "-")):
        echo(f"{label + ':':<10}{value}")
    echo("")


def _step_rows(step: StepView) -> list[tuple[Any, ...]]:
    cached = "yes" if step.cached else "no"
    if not step.outputs:
        return [(step.step, cached, "-", "-", "-", when(step.completed_at))]
    return [(step.step, cached, o["name"], f"{o['artifact_name']}:{o['artifact_version']}", o["content_hash"],
             when(step.completed_at)) for o in step.outputs]


@run.command("fail")
@click.argument("run_id", shell_complete=complete_runs)
@click.option("--reason", metavar="TEXT", help="Why the run is being closed (recorded in the log).")
@yes_option
def fail(run_id: str, reason: str | None, yes: bool) -> None:
    """Mark a run that is still 'running' as failed (error type Abandoned), e.g. after its process was killed.

    Only a running run can be closed, and nothing else changes: the model version the run
    created stays (delete it with 'modelog model version delete' if it should go). Make sure
    the process really is gone: its later steps would then be refused.

    \b
    Example:
      modelog run fail 0b7e4f1c-9a51-4c2e-8d8e-3f1f2a6c9d10 --reason "node lost" -y
    """
    message = reason or DEFAULT_ABANDON_REASON
    with registry_api(writable=True) as api:
        found = api.get_run(run_id)
        confirm(f"mark run {found.run_id} of pipeline {found.pipeline!r} ({found.status}) as failed", yes)
        api.fail_run(found.run_id, error_type=ABANDONED, error_message=message)
    echo(f"Run {found.run_id} marked failed ({ABANDONED}: {message}).")
