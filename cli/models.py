"""``modelog model ...``: list, register, update, delete and the history of models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click
from modelog.cli.common import confirm, point_in_time, read_options, registry_api, yes_option
from modelog.cli.output import echo, echo_json, echo_table, short_id, when
from modelog.cli.versions import version

F = TypeVar("F", bound=Callable[..., Any])

MODEL_COLUMNS = ("ID", "NAME", "LATEST_VERSION", "DESCRIPTION", "TAGS", "USE_CASES", "AUDIENCE", "LIMITATIONS",
                 "TRADE_OFFS", "ETHICS", "LICENSE", "UPDATED")
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


@click.group()
def model() -> None:
    """Register, list, update and delete models, and see their history.

    \b
    Example:
      modelog model register -n demo -l Apache -t cli
    """


model.add_command(version)


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
@read_options
def list_models(name: str | None, tag: str | None, sort_by: str, page: int, size: int, as_of: datetime | None,
                at_position: int | None, output: str) -> None:
    """List models (one page at a time).

    JSON: {"items": [model...], "total", "page", "size"}; a model has the keys id, name, license,
    description, audience, use_cases, limitations, trade_offs, ethics, tags, latest_version,
    version_count, created_at, updated_at, created_by.

    \b
    Example:
      modelog model list --tag cli --as-of 2024-05-01T12:00:00Z
    """
    with registry_api() as api:
        found = api.list_models(name=name, tag=tag, sort_by=sort_by, page=page, size=size,
                                **point_in_time(as_of, at_position))
    if output == "json":
        echo_json({"items": [m.as_dict() for m in found.items], "total": found.total, "page": found.page,
                   "size": found.size})
        return
    rows = [(short_id(m.id), m.name, m.latest_version, m.description, m.tags, m.use_cases, m.audience,
             m.limitations, m.trade_offs, m.ethics, m.license, when(m.updated_at)) for m in found.items]
    echo_table(MODEL_COLUMNS, rows, "No models found.")
    pages = -(-found.total // found.size)
    if pages > 1:
        echo(f"Page {found.page} of {pages} ({found.total} models).")


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
@click.argument("name")
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


@model.command("delete")
@click.argument("name")
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
@click.argument("name")
@click.option("--runs", is_flag=True, help="Include the events of the pipeline runs linked to the model.")
@read_options
def history(name: str, runs: bool, as_of: datetime | None, at_position: int | None, output: str) -> None:
    """Show the full event history of a model (deleted models too): position, time, actor, event, change, run.

    Every model that has held NAME is shown, one section each (a model deleted, then the name
    registered again, makes two).

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
