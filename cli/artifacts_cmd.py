"""``modelog artifacts verify``: every stored artifact file checked against the hash the log recorded."""

from __future__ import annotations

import click
from modelog.cli.common import registry_api
from modelog.cli.output import echo_json


@click.group("artifacts")
def artifacts() -> None:
    """Check the artifact store against the log.

    \b
    Example:
      modelog artifacts verify
    """


@artifacts.command("verify")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Lines for people, or JSON for machines (e.g. jq).")
def verify(output: str) -> None:
    """Hash every artifact file the log refers to; exit 1 naming each missing or modified one.

    JSON: {"root", "checked", "files", "ok", "problems": [{"artifact_id", "name", "version", "uri",
    "expected_hash", "status"}]}.

    \b
    Example:
      modelog artifacts verify
    """
    with registry_api() as api:
        report = api.verify_artifacts()
    if output == "json":
        echo_json(report.as_dict())
    else:
        for problem in report.problems:
            click.echo(problem.describe(), err=True)
    if not report.ok:
        raise click.ClickException(f"{len(report.problems)} of {report.checked} artifact versions failed the check "
                                   f"in {report.root}")
    if output != "json":
        click.echo(f"Artifacts intact: {report.checked} versions in {report.files} files match the log.")
