"""``modelog import-mlflow --from URI``: copy an MLflow model registry into the log."""

from __future__ import annotations

import os
import sys
from typing import Any

import click
from modelog.application.mlflow_import import ImportReport, import_mlflow
from modelog.application.mlflow_plan import RegisterStep, VersionStep
from modelog.application.mlflow_records import redacted
from modelog.cli.common import output_option, registry_api
from modelog.cli.output import echo, echo_json, echo_table
from modelog.cli.strict import StrictCommand

STEP_COLUMNS = ("STEP", "MODEL", "MLFLOW", "VERSION", "DETAILS")


def _step_row(step: RegisterStep | VersionStep, number: int | None = None) -> tuple[Any, ...]:
    if isinstance(step, RegisterStep):
        details = ", ".join(filter(None, [step.description and "description", ", ".join(step.tags)]))
        return ("register model", step.model, "", "", details)
    if step.create and step.deleted:
        what = "record deleted version"
    elif step.create:
        what = "create version"
    else:
        what = "delete version" if step.deleted else "finish version"
    parts = [f"stage {step.stage}" if step.stage else "", *(f"@{a}" for a in step.aliases), *step.tags]
    return (what, step.model, step.mlflow_number, number if number is not None else step.number,
            ", ".join(p for p in parts if p))


def _as_json(report: ImportReport) -> dict[str, Any]:
    steps = [(d.step, d.number) for d in report.done] if not report.dry_run else \
        [(s, None) for s in report.plan.steps]
    return {
        "source": report.source, "dry_run": report.dry_run, "ok": report.ok,
        "models_registered": report.count("models"), "versions_created": report.count("versions"),
        "deleted_versions_recorded": report.count("deleted"), "versions_finished": report.count("finished"),
        "models_present": report.plan.models_present, "versions_present": report.plan.versions_present,
        "steps": [dict(zip(("step", "model", "mlflow_version", "version", "details"), _step_row(s, n), strict=True))
                  for s, n in steps],
        "not_imported": [{"model": r.model, "mlflow_version": r.mlflow_number, "reason": r.reason}
                         for r in report.plan.refused],
        "notes": [{"model": n.model, "mlflow_version": n.mlflow_number, "note": n.text} for n in report.notes],
        "failed": [{"model": r.model, "mlflow_version": r.mlflow_number, "reason": r.reason} for r in report.failed],
    }


def _where(model: str, mlflow_number: int | None) -> str:
    return f"{model!r}" if mlflow_number is None else f"{model!r} version {mlflow_number}"


def _summary(report: ImportReport) -> None:
    verb = "Would import" if report.dry_run else "Imported"
    echo(f"{verb} from {report.source}: {report.count('models')} model(s) registered, {report.count('versions')} "
         f"version(s) created, {report.count('deleted')} deleted version(s) recorded, {report.count('finished')} "
         f"version(s) finished; already imported: {report.plan.models_present} model(s), "
         f"{report.plan.versions_present} version(s).")
    for refusal in report.plan.refused:
        echo(f"Not imported: {_where(refusal.model, refusal.mlflow_number)}: {refusal.reason}")
    for note in report.notes:
        echo(f"Note: {_where(note.model, note.mlflow_number)}: {note.text}")
    for failure in report.failed:
        echo(f"Failed: {_where(failure.model, failure.mlflow_number)}: {failure.reason}", err=True)


@click.command(cls=StrictCommand, name="import-mlflow")
@click.option("--from", "uri", required=True, metavar="URI",
              help="The MLflow tracking URI: a server URL (http://host:5000) or its database URL "
                   "(sqlite:///path/mlflow.db, postgresql://user@host/db).")
@click.option("--token", metavar="TOKEN", envvar="MLFLOW_TRACKING_TOKEN", show_envvar=True,
              help="Bearer token for the MLflow server (else basic auth from MLFLOW_TRACKING_USERNAME and "
                   "MLFLOW_TRACKING_PASSWORD, if set).")
@click.option("--dry-run", is_flag=True, help="List what would be imported; write nothing.")
@output_option
def import_mlflow_cmd(uri: str, token: str | None, dry_run: bool, output: str) -> None:
    """Copy an MLflow model registry (models, versions, tags, aliases, stages) into the log.

    Each item becomes ordinary events, recorded by you now; MLflow's own times, users, sources and
    run ids are kept as version metadata (mlflow.creation_timestamp, mlflow.user_id, mlflow.source,
    mlflow.run_id, mlflow.version, ...). Version numbers stay MLflow's where the model has no versions
    of its own (a version MLflow deleted is recorded as created and deleted). Where MLflow has several
    versions in production (or staging), the highest-numbered keeps it and the others are archived.
    Running it again imports only what is new: imported versions are recognised by their
    mlflow.version metadata. Each item is its own transaction: if the import stops half-way, run it
    again to resume. Exits 1 when an item was refused (listed, the rest imported).

    JSON keys: source, dry_run, ok, models_registered, versions_created, deleted_versions_recorded,
    versions_finished, models_present, versions_present, steps, not_imported, notes, failed.

    \b
    Example:
      modelog import-mlflow --from http://mlflow.example:5000 --dry-run
      modelog import-mlflow --from sqlite:///mlruns/mlflow.db
    """
    echo(f"Reading the MLflow registry at {redacted(uri)} ...", err=True)
    username = os.environ.get("MLFLOW_TRACKING_USERNAME") or None
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD") or None
    with registry_api(writable=not dry_run) as api:
        if dry_run:
            report = import_mlflow(api, uri, token=token or None, username=username, password=password, dry_run=True)
        else:
            with click.progressbar(length=1, label="Importing from MLflow", file=sys.stderr) as bar:
                def advance(done: int, total: int) -> None:
                    bar.length = max(total, 1)
                    bar.update(done - bar.pos)

                report = import_mlflow(api, uri, token=token or None, username=username, password=password,
                                       progress=advance)
    if output == "json":
        echo_json(_as_json(report))
    else:
        if report.dry_run:
            echo_table(STEP_COLUMNS, [_step_row(s) for s in report.plan.steps], "Nothing to import.",
                       wide=("DETAILS",))
        _summary(report)
    if not report.ok:
        raise click.ClickException(f"{len(report.failed)} item(s) could not be imported (listed above); everything "
                                   "else was, and running the command again resumes")
