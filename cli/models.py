"""``modelog model ...``: list, register, update, rename, delete and the history of models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click
from modelog.cli.common import confirm, point_in_time, read_options, registry_api, yes_option
from modelog.cli.completion import complete_models
from modelog.cli.describe_cmd import show_model
from modelog.cli.output import echo, echo_json, echo_table, short_id, when
from modelog.cli.strict import StrictGroup
from modelog.cli.versions import version

if TYPE_CHECKING:
    from modelog.projections.describe import ModelSummary

F = TypeVar("F", bound=Callable[..., Any])

#: Every column ``model list --columns`` can show, and those it shows by default.
MODEL_COLUMNS = ("ID", "NAME", "PRODUCTION", "STAGING", "LATEST", "VERSIONS", "TAGS", "DESCRIPTION", "USE_CASES",
                 "AUDIENCE", "LIMITATIONS", "TRADE_OFFS", "ETHICS", "LICENSE", "CREATED", "CREATED_BY", "UPDATED",
                 "UPDATED_BY")
DEFAULT_MODEL_COLUMNS = ("NAME", "PRODUCTION", "STAGING", "LATEST", "VERSIONS", "TAGS", "UPDATED", "UPDATED_BY")
#: Default columns left out when no model on the page has a value in them.
HIDDEN_WHEN_EMPTY = frozenset({"TAGS"})
HISTORY_COLUMNS = ("POSITION", "TIME", "ACTOR", "EVENT", "CHANGE", "RUN")
#: CLI option -> model text field.
FIELD_OPTIONS = (
    (("-l", "--license"), "license", "License of the model."),
    (("-d", "--description"), "description", "What the model does."),
    (("-a", "--audience"), "audience", "Who the model is for."),
    (("-u", "--use-cases"), "use_cases", "What the model may be used for."),
    (("--tradeoffs", "--trade-offs"), "trade_offs", "Trade-offs made by the model."),
    (("-e", "--ethical"), "ethics", "Ethical implications of the model."),
    (("--limitations",), "limitations", "Known limitations of the model."),
)


@click.group(cls=StrictGroup)
def model() -> None:
    """Register, list, update, rename and delete models, and see their history.

    \b
    Example:
      modelog model register -n demo -l Apache -t cli
    """


model.add_command(version)
model.add_command(show_model)


def model_fields(func: F) -> F:
    """Add the model text-field options and -t/--tag."""
    func = click.option("-t", "--tag", "tags", multiple=True, metavar="TAG", help="Tag to add (repeatable).")(func)
    for flags, field, text in reversed(FIELD_OPTIONS):
        func = click.option(*flags, field, metavar="TEXT", default=None, help=text)(func)
    return func


def given_fields(options: dict[str, Any]) -> dict[str, str]:
    """The text fields the user actually gave (only those change)."""
    return {field: options[field] for _, field, _ in FIELD_OPTIONS if options.get(field) is not None}


@model.command("list")
@click.option("--name", metavar="TEXT", help="Only models whose name contains TEXT (case-insensitive).")
@click.option("--tag", metavar="TAG", help="Only models with this tag.")
@click.option("--sort-by", type=click.Choice(["name", "created", "updated"]), default="name", show_default=True,
              help="Order of the listing.")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True, metavar="N", help="Page number.")
@click.option("--size", type=click.IntRange(1, 10_000), default=50, show_default=True, metavar="N",
              help="Models per page.")
@click.option("--columns", metavar="COLUMNS",
              help=f"Comma-separated columns to show, from {', '.join(MODEL_COLUMNS)} "
                   f"(default: {','.join(DEFAULT_MODEL_COLUMNS)}, empty TAGS hidden).")
@read_options
def list_models(name: str | None, tag: str | None, sort_by: str, page: int, size: int, columns: str | None,
                as_of: datetime | None, at_position: int | None, output: str) -> None:
    """List models (one page at a time): which version is in production and staging, the latest, who changed it.

    JSON: {"items": [model...], "total", "page", "size"}; a model has the keys id, name, license,
    description, audience, use_cases, limitations, trade_offs, ethics, tags, latest_version,
    version_count, created_at, updated_at, created_by, production, staging, updated_by.

    \b
    Example:
      modelog model list --tag cli --as-of 2024-05-01T12:00:00Z
      modelog model list --columns NAME,PRODUCTION,DESCRIPTION,LICENSE
    """
    chosen = _chosen_columns(columns)
    with registry_api() as api:
        found = api.list_model_summaries(name=name, tag=tag, sort_by=sort_by, page=page, size=size,
                                         **point_in_time(as_of, at_position))
    if output == "json":
        echo_json({"items": [m.as_dict() for m in found.items], "total": found.total, "page": found.page,
                   "size": found.size})
        return
    rows = [[_model_cell(summary, column) for column in chosen] for summary in found.items]
    if columns is None:  # the default view hides metadata columns no model on the page fills
        keep = [i for i, column in enumerate(chosen) if column not in HIDDEN_WHEN_EMPTY or any(r[i] for r in rows)]
        chosen, rows = [chosen[i] for i in keep], [[r[i] for i in keep] for r in rows]
    echo_table(chosen, rows, "No models found.")
    pages = -(-found.total // found.size)
    if pages > 1:
        echo(f"Page {found.page} of {pages} ({found.total} models).")


def _chosen_columns(columns: str | None) -> list[str]:
    if columns is None:
        return list(DEFAULT_MODEL_COLUMNS)
    chosen = [c.strip().upper().replace("-", "_") for c in columns.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in MODEL_COLUMNS]
    if unknown or not chosen:
        raise click.BadParameter(f"unknown column(s) {', '.join(unknown) or '(none given)'}; choose from "
                                 f"{', '.join(MODEL_COLUMNS)}", param_hint="'--columns'")
    return chosen


def _model_cell(summary: ModelSummary, column: str) -> Any:
    m = summary.model
    values = {
        "ID": short_id(m.id), "NAME": m.name, "PRODUCTION": summary.production, "STAGING": summary.staging,
        "LATEST": m.latest_version, "VERSIONS": m.version_count, "TAGS": m.tags, "UPDATED": when(m.updated_at),
        "UPDATED_BY": summary.updated_by, "CREATED": when(m.created_at), "CREATED_BY": m.created_by,
    }
    return values[column] if column in values else getattr(m, column.lower())


@model.command("register")
@click.option("-n", "--name", required=True, metavar="NAME", help="Name of the new model.")
@model_fields
def register(name: str, tags: tuple[str, ...], **options: Any) -> None:
    """Register a new model.

    \b
    Example:
      modelog model register -n demo_cli -d "created from cli" -t cli
    """
    with registry_api(writable=True) as api:
        result = api.register_model(name, fields=given_fields(options), tags=tags)
    echo(f"Model {result.model_name!r} registered (id {result.model_id}).")


@model.command("update")
@click.argument("name", shell_complete=complete_models)
@model_fields
@click.option("-r", "--remove-tag", "remove_tags", multiple=True, metavar="TAG", help="Tag to remove (repeatable).")
def update(name: str, tags: tuple[str, ...], remove_tags: tuple[str, ...], **options: Any) -> None:
    """Update a model: only the fields given change.

    \b
    Example:
      modelog model update demo -t tag1 -t tag2 -e "some ethical implications"
    """
    with registry_api(writable=True) as api:
        result = api.update_model(name, changes=given_fields(options), add_tags=tags, remove_tags=remove_tags)
    echo(f"Model {result.model_name!r} updated." if result.changed else
               f"Model {result.model_name!r} unchanged (nothing to update).")


@model.command("rename")
@click.argument("name", shell_complete=complete_models)
@click.argument("new_name", metavar="NEW_NAME")
def rename(name: str, new_name: str) -> None:
    """Rename a model: its versions, stages, aliases, tags, grants and history go with it; NAME is freed.

    'model history NEW_NAME' shows the whole history, the rename included. NAME no longer finds
    the model (another model may take it), but with --as-of or --at-position before the rename,
    reads still find it by NAME. Changing only the case of the name is a rename too.

    \b
    Example:
      modelog model rename demo fraud-detector
    """
    with registry_api(writable=True) as api:
        result = api.rename_model(name, new_name)
    echo(f"Model {name!r} renamed to {result.model_name!r} (id {result.model_id}).")


@model.command("delete")
@click.argument("name", shell_complete=complete_models)
@yes_option
def delete(name: str, yes: bool) -> None:
    """Delete a model and all its versions (asks first; its history stays in the log).

    \b
    Example:
      modelog model delete demo_cli -y
    """
    with registry_api(writable=True) as api:
        found = api.get_model(name)
        confirm(f"delete model {found.name!r} and its {found.version_count} version(s)", yes)
        api.delete_model(found.name)
    echo(f"Model {found.name!r} deleted.")


@model.command("history")
@click.argument("name", shell_complete=complete_models)
@click.option("--runs", is_flag=True, help="Include the events of the pipeline runs linked to the model.")
@read_options
def history(name: str, runs: bool, as_of: datetime | None, at_position: int | None, output: str) -> None:
    """Show the full event history of a model (deleted models too): position, time, actor, event, change, run.

    Every model that has held NAME is shown, one section each (a model deleted, then the name
    registered again, makes two). A renamed model's whole history, from before the rename too, is
    shown under its new name; under its old name only as of a moment before the rename.

    JSON: a list of {"position", "recorded_at", "actor", "event", "summary", "run_id", "data", "model_id"}.

    \b
    Example:
      modelog model history demo --runs
    """
    with registry_api() as api:
        entries = api.history(name, include_runs=runs, **point_in_time(as_of, at_position))
    if output == "json":
        echo_json([e.as_dict() for e in entries])
        return
    from modelog.projections.history import incarnations  # only the history command needs it

    found = incarnations(entries)
    if not found:
        echo(f"No history for model {name!r}.")
    for part in found:
        if len(found) > 1:  # a name held by several models in turn: one section per model
            state = "deleted" if part.deleted else "current"
            if part.number > 1:
                echo("")
            echo(f"== Model {name!r} #{part.number} of {len(found)} (id {part.model_id}, {state}) ==")
        rows = [(e.position, when(e.recorded_at), e.actor, e.event_type, e.summary, e.run_id) for e in part.entries]
        echo_table(HISTORY_COLUMNS, rows, "", wide=("CHANGE", "RUN"))
