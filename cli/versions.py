"""``modelog model version ...``: list versions, their linked artifacts and runs, update and delete them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from modelog.application.api import RegistryAPI
from modelog.cli.approvals_cmd import approve, reject, request_stage, requests
from modelog.cli.common import ask, confirm, point_in_time, read_options, registry_api, yes_option
from modelog.cli.completion import complete_models, complete_versions
from modelog.cli.describe_cmd import compare, show_version, shown
from modelog.cli.output import echo, echo_json, echo_table, escape_controls, when
from modelog.cli.strict import StrictGroup
from modelog.registry.errors import InvalidInputError, NotFoundError
from modelog.registry.metadata_values import parse_assignment
from modelog.registry.selectors import parse_selector
from modelog.registry.values import EXCLUSIVE_STAGES, ArtifactKind, Stage

if TYPE_CHECKING:
    from modelog.application.results import VersionUpdate
    from modelog.projections.views import VersionView

VERSION_COLUMNS = ("NAME", "NUMBER", "DESCRIPTION", "STAGE", "ALIASES", "DATA_ARTIFACTS_COUNT",
                   "MODEL_ARTIFACTS_COUNT", "DEPLOYMENTS_COUNT", "PIPELINE_RUNS_COUNT", "UPDATED")
LINK_COLUMNS = ("PIPELINE", "STEP", "NAME", "LINK_VERSION", "ARTIFACT", "CREATED")
RUN_COLUMNS = ("PIPELINE", "RUN_ID", "STATUS", "STEPS", "STARTED", "FINISHED")
STAGES = tuple(stage.value for stage in Stage)
VERSION_HELP = "VERSION is a number, a name, a stage, 'latest' (the default) or '@alias'."
LINK_JSON = ("JSON: a list of {\"pipeline\", \"step\", \"name\", \"kind\", \"link_version\", \"artifact_id\", "
             "\"artifact_name\", \"artifact_version\", \"content_hash\", \"run_id\", \"created_at\"}.")


@click.group(cls=StrictGroup)
def version() -> None:
    """List, inspect, promote and delete the versions of a model.

    \b
    Example:
      modelog model version list demo
    """


version.add_command(show_version)
version.add_command(compare)
for _command in (request_stage, approve, reject, requests):
    version.add_command(_command)


def _describe(model: str, selector: str | None) -> str:
    return f"{parse_selector(selector).describe()} of model {model!r}"


@version.command("list")
@click.argument("model", shell_complete=complete_models)
@click.option("--stage", type=click.Choice(STAGES, case_sensitive=False), help="Only versions in this stage.")
@click.option("--sort-by", metavar="KEY", default="number", show_default=True,
              help="number, created, updated, metric:KEY (highest first) or metadata:KEY.")
@click.option("--filter", "filters", multiple=True, metavar="EXPR",
              help="Only versions whose metadata matches, e.g. 'metric:accuracy>0.9' or 'metadata:framework=sklearn' "
                   "(repeatable: all must match).")
@read_options
def list_versions(model: str, stage: str | None, sort_by: str, filters: tuple[str, ...], as_of: datetime | None,
                  at_position: int | None, output: str) -> None:
    """List the versions of MODEL with their link counts (and the metrics sorted or filtered by).

    JSON: a list of {"model_id", "model_name", "number", "name", "description", "tags", "stage", "aliases",
    "data_count", "model_count", "deployment_count", "run_count", "created_at", "updated_at", "created_by",
    "created_run_id", "metadata"}.

    \b
    Example:
      modelog model version list demo --stage production
      modelog model version list demo --sort-by metric:accuracy --filter 'metric:accuracy>0.9'
    """
    with registry_api() as api:
        found = api.search_versions(model, stage=stage.lower() if stage else None, sort_by=sort_by, filters=filters,
                                    **point_in_time(as_of, at_position))
    if output == "json":
        echo_json([row.as_dict() for row in found])
        return
    keys = _metadata_keys(sort_by, filters)
    rows = [(v.name, v.number, v.description, v.stage, ["@" + a for a in v.aliases], v.data_count, v.model_count,
             v.deployment_count, v.run_count, when(v.updated_at), *(shown(row.metadata.get(k)) for k in keys))
            for row in found for v in [row.version]]
    headers = (*VERSION_COLUMNS, *(escape_controls(k.upper()) for k in keys))
    echo_table(headers, rows, f"No versions found for model {model!r}.")


def _metadata_keys(sort_by: str, filters: tuple[str, ...]) -> list[str]:
    """The metadata keys a listing sorts or filters by: shown as extra columns."""
    keys = [sort_by.partition(":")[2]] if ":" in sort_by else []
    for text in filters:
        key = re.split(r"[<>=!]", text.partition(":")[2], maxsplit=1)[0].strip()
        if key and key not in keys:
            keys.append(key)
    return keys


def _link_command(name: str, kind: str, what: str) -> click.Command:
    @read_options
    def command(model: str, version: str | None, as_of: datetime | None, at_position: int | None,
                output: str) -> None:
        with registry_api() as api:
            links = api.list_links(model, version, kind=kind, **point_in_time(as_of, at_position))
        if output == "json":
            echo_json([link.as_dict() for link in links])
            return
        rows = [(link.pipeline, link.step, link.name, link.link_version,
                 f"{link.artifact_name}:{link.artifact_version}", when(link.created_at)) for link in links]
        echo_table(LINK_COLUMNS, rows, f"No {what} linked to {_describe(model, version)}.")

    command.__doc__ = (f"List the {what} linked to a version of MODEL. {VERSION_HELP}\n\n{LINK_JSON}\n\n"
                       f"\b\nExample:\n  modelog model version {name} demo 1")
    command = click.argument("version", required=False, shell_complete=complete_versions)(command)
    command = click.argument("model", shell_complete=complete_models)(command)
    return version.command(name)(command)


artifacts = _link_command("artifacts", ArtifactKind.DATA, "data artifacts")
model_objects = _link_command("model_objects", ArtifactKind.MODEL, "model objects")
deployments = _link_command("deployments", ArtifactKind.DEPLOYMENT, "deployments")


@version.command("runs")
@click.argument("model", shell_complete=complete_models)
@click.argument("version", required=False, shell_complete=complete_versions)
@read_options
def runs(model: str, version: str | None, as_of: datetime | None, at_position: int | None, output: str) -> None:
    """List the pipeline runs linked to a version of MODEL.

    VERSION is a number, a name, a stage, 'latest' (the default) or '@alias'.

    JSON: a list of {"run_id", "pipeline", "status", "started_at", "finished_at", "steps_completed", "error",
    "linked_at", "model_name", "version_number"}.

    \b
    Example:
      modelog model version runs demo production
    """
    with registry_api() as api:
        found = api.list_version_runs(model, version, **point_in_time(as_of, at_position))
    if output == "json":
        echo_json([r.as_dict() for r in found])
        return
    rows = [(r.pipeline, r.run_id, r.status, r.steps_completed, when(r.started_at), when(r.finished_at))
            for r in found]
    echo_table(RUN_COLUMNS, rows, f"No runs linked to {_describe(model, version)}.")


@version.command("update")
@click.argument("model", shell_complete=complete_models)
@click.argument("version", shell_complete=complete_versions)
@click.option("-s", "--stage", type=click.Choice(STAGES, case_sensitive=False), help="Move the version to STAGE.")
@click.option("-f", "--force", is_flag=True, help="Archive the version currently holding staging/production.")
@click.option("-n", "--name", metavar="NAME", help="Rename the version.")
@click.option("-d", "--description", metavar="TEXT", help="New description of the version.")
@click.option("--alias", "aliases", multiple=True, metavar="ALIAS",
              help="Point ALIAS at this version, moving it from another version (repeatable).")
@click.option("--remove-alias", "remove_aliases", multiple=True, metavar="ALIAS", help="Remove ALIAS (repeatable).")
@click.option("-t", "--tag", "tags", multiple=True, metavar="TAG", help="Add a tag to the version (repeatable).")
@click.option("--remove-tag", "remove_tags", multiple=True, metavar="TAG", help="Remove a tag (repeatable).")
@click.option("-m", "--metadata", "metadata", multiple=True, metavar="KEY=VALUE",
              help="Log metadata; VALUE is JSON when it parses (0.93, true, {\"a\": 1}), else text (repeatable).")
@yes_option
def update(model: str, version: str, stage: str | None, force: bool, name: str | None, description: str | None,
           aliases: tuple[str, ...], remove_aliases: tuple[str, ...], tags: tuple[str, ...],
           remove_tags: tuple[str, ...], metadata: tuple[str, ...], yes: bool) -> None:
    """Promote, rename, describe, alias, tag or log metadata on a version of MODEL; all changes are written
    together or not at all.

    VERSION is a number, a name, a stage, 'latest' or '@alias'. Promoting into an occupied staging or
    production stage without --force shows the holder and asks (-y/--yes: archive it without asking).

    \b
    Example:
      modelog model version update demo 2 -s production --alias champion
      modelog model version update demo 2 --tag reviewed --metadata accuracy=0.93
    """
    if not (stage or name or description is not None or aliases or remove_aliases or tags or remove_tags
            or metadata):
        raise click.UsageError("nothing to update: give -s/--stage, -n/--name, -d/--description, --alias, "
                               "--remove-alias, --tag, --remove-tag or --metadata")
    values = _metadata_values(metadata)
    with registry_api(writable=True) as api:
        current = api.get_version(model, version)
        if stage:
            force = _settle_stage(api, current, stage.lower(), force or yes)
        done = api.update_version(current.model_name, current.number, stage=stage.lower() if stage else None,
                                  force=force, name=name, description=description, set_aliases=aliases,
                                  remove_aliases=remove_aliases, add_tags=tags, remove_tags=remove_tags,
                                  metadata=values or None)
    for line in _update_report(current, done):
        echo(line)


def _metadata_values(assignments: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` options as metadata (a malformed one is a usage error)."""
    values: dict[str, Any] = {}
    for text in assignments:
        try:
            key, value = parse_assignment(text)
        except InvalidInputError as error:
            raise click.BadParameter(str(error), param_hint="'-m' / '--metadata'") from None
        values[key] = value
    return values


def _settle_stage(api: RegistryAPI, current: VersionView, stage: str, force: bool) -> bool:
    """Whether to force the promotion: the holder of an occupied stage is shown and the user asked."""
    if force or stage not in EXCLUSIVE_STAGES:
        return force
    try:
        holder = api.get_version(current.model_name, stage)
    except NotFoundError:
        return False
    if holder.number == current.number:
        return False
    held = f"{stage} of model {current.model_name!r} is held by version {holder.number} ({holder.name!r})"
    refusal = f"{held}; pass -f/--force to archive it and promote version {current.number}"
    if not ask(f"{held[0].upper()}{held[1:]}. Archive it and promote version {current.number}?", refusal):
        raise click.Abort()
    return True


def _update_report(current: VersionView, done: VersionUpdate) -> list[str]:
    """One line per change, in the order the changes were applied."""
    subject = f"Version {current.number} of model {current.model_name!r}"
    lines = []
    if done.stage is not None:
        staged = done.stage
        lines += [f"Version {n} archived (displaced from {staged.stage})." for n in staged.archived]
        lines.append(f"{subject} moved to stage {staged.stage}." if staged.moved
                     else f"{subject} is already in stage {staged.stage}.")
    for moved in done.aliases_set:
        if moved.alias in current.aliases:
            lines.append(f"Alias @{moved.alias} already points at version {current.number}.")
        elif moved.from_version is not None:
            lines.append(f"Alias @{moved.alias} moved from version {moved.from_version} to version {current.number}.")
        else:
            lines.append(f"Alias @{moved.alias} set on version {current.number}.")
    lines += [f"Alias @{gone.alias} removed from version {gone.from_version}." for gone in done.aliases_removed]
    if done.details is not None:
        lines.append(f"{subject} updated.")
    if done.metadata_logged is not None:
        lines.append(f"Metadata logged on version {current.number}.")
    return lines


@version.command("delete")
@click.argument("model", shell_complete=complete_models)
@click.argument("version", shell_complete=complete_versions)
@yes_option
def delete(model: str, version: str, yes: bool) -> None:
    """Delete a version of MODEL (asks first; its history stays in the log).

    VERSION is a number, a name, a stage, 'latest' or '@alias'.

    \b
    Example:
      modelog model version delete demo 2 -y
    """
    with registry_api(writable=True) as api:
        current = api.get_version(model, version)
        confirm(f"delete version {current.number} ({current.name!r}) of model {current.model_name!r}", yes)
        api.delete_version(current.model_name, current.number)
    echo(f"Version {current.number} of model {current.model_name!r} deleted.")
