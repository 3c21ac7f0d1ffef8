"""``modelog artifacts verify``: every stored artifact file checked against the hash the log recorded;
``modelog artifacts download``: one artifact version's bytes to a file, streamed and checked."""

from __future__ import annotations

from pathlib import Path

import click
from modelog.cli.common import registry_api
from modelog.cli.output import echo, echo_json
from modelog.cli.strict import StrictGroup


@click.group(cls=StrictGroup, name="artifacts")
def artifacts() -> None:
    """Check the artifact store against the log; download an artifact.

    \b
    Example:
      modelog artifacts verify
      modelog artifacts download 3f2a9c model.joblib
    """


@artifacts.command("download")
@click.argument("artifact_id")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def download(artifact_id: str, path: Path) -> None:
    """Write the bytes of artifact version ARTIFACT_ID (an id or a unique prefix) to PATH.

    Location and hash come from the log. The bytes stream from the store (or the server) into a
    temporary file beside PATH, hashed as they come, and are renamed to PATH only once they match the
    logged SHA-256 (never held whole in memory). A modified file or a cut transfer: one line, exit 1,
    PATH untouched and no temporary file left.

    \b
    Example:
      modelog artifacts download 3f2a9c model.joblib
    """
    with registry_api() as api, api.open_artifact(artifact_id) as content:
        size = content.save_as(path)
        found = content.artifact
    echo(f"Downloaded artifact {found.name!r} v{found.version} ({size} bytes, sha256 {found.content_hash}) to {path}.")


@artifacts.command("verify")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Lines for people, or JSON for machines (e.g. jq).")
def verify(output: str) -> None:
    """Hash every artifact file the log refers to; exit 1 naming each missing or modified one.

    Locations and hashes come from the log, never from the read models; a read-model row that differs
    from the log (view-differs) or that the log does not know (not-in-log) is reported too. Statuses:
    missing, corrupt, bad-uri, outside-store (a link out of the store), not-a-file, view-differs, not-in-log.
    JSON: {"root", "checked", "files", "ok", "problems": [{"artifact_id", "name", "version", "uri",
    "expected_hash", "status", "detail"}]}.

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
            echo(problem.describe(), err=True)
    if not report.ok:
        failed = len({p.artifact_id for p in report.problems})
        raise click.ClickException(f"{failed} of {report.checked} artifact versions failed the check in {report.root}")
    if output != "json":
        echo(f"Artifacts intact: {report.checked} versions in {report.files} files match the log.")
