"""``modelog model show``, ``model version show`` and ``model version compare``: describe views for people.

Each command calls one use case (``describe_model``, ``describe_version``, ``compare_versions``)
and prints labelled lines and small tables (or ``-o json``). Every user-provided string is
escaped before it reaches the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from modelog.cli.common import point_in_time, read_options, registry_api
from modelog.cli.completion import complete_models, complete_versions
from modelog.cli.output import echo, echo_json, escape_controls, render_table, when
from modelog.cli.strict import StrictCommand

if TYPE_CHECKING:
    from modelog.projections.describe import ModelDescription, VersionDescription

VERSION_HELP = "VERSION is a number, a name, a stage, 'latest' or '@alias'."
_LABEL_WIDTH = 14
#: The latest versions ``model show`` lists (``model version list`` lists them all).
SHOWN_VERSIONS = 20
_STAGE_LABELS = {"none": "No stage"}


def shown(value: Any) -> str:
    """A value for a person: texts as they are, other values as compact JSON; control characters escaped."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return escape_controls(text)


def _line(label: str, value: Any) -> str:
    return f"{label + ':':<{_LABEL_WIDTH}}{shown(value)}".rstrip()


def _section(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> list[str]:
    if not rows:
        return ["", f"{title}: {empty}"]
    escaped = [[shown(cell) if isinstance(cell, str) else cell for cell in row] for row in rows]
    table = render_table(headers, escaped)
    return ["", f"{title}:", *("  " + line for line in table.splitlines())]


def model_lines(found: ModelDescription) -> list[str]:
    """The lines of ``model show``."""
    m = found.model
    lines = [_line("Model", m.name), _line("ID", m.id)]
    lines += [_line(label, value) for label, value in (
        ("Description", m.description), ("License", m.license), ("Audience", m.audience),
        ("Use cases", m.use_cases), ("Limitations", m.limitations), ("Trade-offs", m.trade_offs),
        ("Ethics", m.ethics)) if value]
    if m.tags:
        lines.append(_line("Tags", ", ".join(m.tags)))
    lines.append(_line("Versions", f"{m.version_count} (latest {m.latest_version})" if m.version_count else "none"))
    stages = found.by_stage()
    lines += [_line(_STAGE_LABELS.get(stage, stage.capitalize()), ", ".join(str(n) for n in numbers))
              for stage, numbers in stages.items()]
    if found.aliases:
        lines.append(_line("Aliases", ", ".join(f"@{a} -> {n}" for a, n in found.aliases.items())))
    lines.append(_line("Created", f"{when(m.created_at)} by {m.created_by or 'unknown'}"))
    last = found.last_event
    if last is not None:
        lines.append(_line("Last change", f"{when(last.recorded_at)} by {last.actor or 'unknown'}: {last.summary}"))
    shown_versions = found.versions[-SHOWN_VERSIONS:]
    rows = [(v.number, v.name, v.stage, ["@" + a for a in v.aliases], v.tags, when(v.updated_at))
            for v in shown_versions]
    lines += _section("Versions", ("NUMBER", "NAME", "STAGE", "ALIASES", "TAGS", "UPDATED"), rows, "none")
    earlier = len(found.versions) - len(shown_versions)
    if earlier:
        lines.append(f"  ... and {earlier} earlier version(s): modelog model version list {shown(m.name)}")
    return lines


def _metadata_rows(found: VersionDescription) -> list[tuple[Any, ...]]:
    counts: dict[str, int] = {}
    for entry in found.metadata_history:
        counts[entry.key] = counts.get(entry.key, 0) + 1
    latest = {entry.key: entry for entry in found.metadata_history}
    return [(key, shown(value), counts[key], when(latest[key].recorded_at), latest[key].actor)
            for key, value in sorted(found.metadata.items())]


def version_lines(found: VersionDescription) -> list[str]:
    """The lines of ``model version show``."""
    v = found.version
    lines = [_line("Model", v.model_name), _line("Version", v.number if v.name == str(v.number)
                                                  else f"{v.number} ({v.name})"),
             _line("Stage", v.stage)]
    lines += [_line(label, value) for label, value in (
        ("Description", v.description), ("Aliases", ", ".join("@" + a for a in v.aliases)),
        ("Tags", ", ".join(v.tags))) if value]
    created = f"{when(v.created_at)} by {v.created_by or 'unknown'}"
    lines.append(_line("Created", created + (f" (run {v.created_run_id})" if v.created_run_id else "")))
    lines.append(_line("Updated", when(v.updated_at)))
    lines += _section("Metadata", ("KEY", "VALUE", "LOGGED", "LAST_LOGGED", "BY"), _metadata_rows(found), "none")
    links = [(link.kind, link.name, link.link_version, f"{link.artifact_name}:{link.artifact_version}",
              link.pipeline, link.step) for link in found.links]
    lines += _section("Artifacts", ("KIND", "NAME", "LINK_VERSION", "ARTIFACT", "PIPELINE", "STEP"), links, "none")
    runs = [(r.run_id, r.pipeline, r.status, when(r.started_at)) for r in found.runs]
    lines += _section("Runs", ("RUN_ID", "PIPELINE", "STATUS", "STARTED"), runs, "none")
    stages = [(h.position, when(h.recorded_at), h.actor, f"{h.data['from_stage']} -> {h.data['to_stage']}")
              for h in found.stage_history]
    return lines + _section("Stage history", ("POSITION", "TIME", "ACTOR", "CHANGE"), stages, "never moved")


def _side_by_side(title: str, labels: Sequence[str], values: Iterable[Sequence[Any]]) -> list[str]:
    rows = [row for row in values if any(cell not in ("", None) for cell in row[1:])]
    return _section(title, ("", *labels), rows, "none")


def comparison_lines(described: Sequence[VersionDescription]) -> list[str]:
    """The lines of ``model version compare``: one column per version."""
    labels = [f"VERSION {d.version.number}" for d in described]
    summary = [("stage", *(d.version.stage for d in described)),
               ("name", *(d.version.name for d in described)),
               ("aliases", *(", ".join("@" + a for a in d.version.aliases) for d in described)),
               ("tags", *(", ".join(d.version.tags) for d in described)),
               ("created", *(when(d.version.created_at) for d in described))]
    keys = sorted({key for d in described for key in d.metadata})
    metadata = [(key, *(shown(d.metadata.get(key)) for d in described)) for key in keys]
    names = sorted({(link.kind, link.name) for d in described for link in d.links})
    artifacts = [(f"{kind} {name}", *(", ".join(f"{link.artifact_name}:{link.artifact_version}"
                                                for link in d.links if (link.kind, link.name) == (kind, name))
                                      for d in described)) for kind, name in names]
    moves = [("moves", *(" | ".join(f"{when(h.recorded_at)} {h.data['from_stage']}->{h.data['to_stage']}"
                                    for h in d.stage_history) for d in described))]
    return [f"Model {shown(described[0].version.model_name)}: versions "
            + ", ".join(str(d.version.number) for d in described)] \
        + _side_by_side("Version", labels, summary) + _side_by_side("Metadata", labels, metadata) \
        + _side_by_side("Artifacts", labels, artifacts) + _side_by_side("Stage history", labels, moves)


def _print(found: Any, output: str, lines: Callable[[Any], Iterable[str]]) -> None:
    """``found`` as JSON (its ``as_dict()``) or as the lines ``lines`` makes of it."""
    if output == "json":
        echo_json(found.as_dict())
        return
    for line in lines(found):
        echo(line)


@click.command(cls=StrictCommand, name="show")
@click.argument("name", shell_complete=complete_models)
@read_options
def show_model(name: str, as_of: datetime | None, at_position: int | None, output: str) -> None:
    """Describe a model: its fields, versions by stage, aliases, counts and latest activity.

    JSON: {"model", "versions", "stages", "aliases", "last_event"}.

    \b
    Example:
      modelog model show demo
    """
    with registry_api() as api:
        found = api.describe_model(name, **point_in_time(as_of, at_position))
    _print(found, output, model_lines)


@click.command(cls=StrictCommand, name="show")
@click.argument("model", shell_complete=complete_models)
@click.argument("version", required=False, shell_complete=complete_versions)
@read_options
def show_version(model: str, version: str | None, as_of: datetime | None, at_position: int | None,
                 output: str) -> None:
    """Describe a version of MODEL: metadata and metrics, tags, artifacts, runs and stage history.

    VERSION is a number, a name, a stage, 'latest' (the default) or '@alias'.

    JSON: {"version", "metadata", "metrics", "metadata_history", "links", "runs", "stage_history"}.

    \b
    Example:
      modelog model version show demo production
    """
    with registry_api() as api:
        found = api.describe_version(model, version, **point_in_time(as_of, at_position))
    _print(found, output, version_lines)


@click.command(cls=StrictCommand, name="compare")
@click.argument("model", shell_complete=complete_models)
@click.argument("versions", nargs=-1, required=True, shell_complete=complete_versions)
@read_options
def compare(model: str, versions: tuple[str, ...], as_of: datetime | None, at_position: int | None,
            output: str) -> None:
    """Compare two or more versions of MODEL side by side: metadata, artifacts and stage history.

    Each VERSION is a number, a name, a stage, 'latest' or '@alias'.

    JSON: {"model_name", "versions": [described version...]} (each as 'model version show -o json').

    \b
    Example:
      modelog model version compare demo 1 production
    """
    if len(versions) < 2:
        raise click.UsageError("give at least two versions to compare")
    with registry_api() as api:
        found = api.compare_versions(model, list(versions), **point_in_time(as_of, at_position))
    _print(found, output, lambda compared: comparison_lines(compared.versions))
