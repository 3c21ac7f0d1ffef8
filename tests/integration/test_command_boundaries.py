"""Issue 12.6: point-in-time reads stand on command boundaries, and say which boundary they used.

A forced promotion appends two events in one transaction: the old production version archived, then
the new one promoted. Reading at the position between them used to show both versions out of
production, a state that was never committed. A position inside a command now resolves down to the
end of the command before it; the CLI says so on stderr, the API and the SDK return the position used.
Logs written before the rule (no ``span`` in the meta) are grouped by identical meta and time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from modelog.projections.boundaries import command_boundary
from modelog.registry import commands as cmd
from modelog.registry.recorder import AppendRequest

from modelog import Client
from tests.cli_support import run
from tests.integration.store_support import new


def _forced_promotion(registry: Any) -> int:
    """demo v1 in production, v2 created, then v2 promoted by force; the position of the archiving event."""
    run_ = registry.commands.execute
    run_(cmd.RegisterModel(name="demo"))
    run_(cmd.CreateVersion(model="demo"))
    run_(cmd.CreateVersion(model="demo"))
    run_(cmd.SetStage(model="demo", version=1, stage="production"))
    before = registry.store.head()
    done = run_(cmd.SetStage(model="demo", version=2, stage="production", force=True))
    assert [e.position for e in done.events] == [before + 1, before + 2]
    return before + 1


def test_a_position_inside_a_command_resolves_to_the_end_of_the_command_before(registry: Any) -> None:
    inside = _forced_promotion(registry)
    reads = registry.reads
    assert reads.resolve_point(at_position=inside) == inside - 1
    assert reads.resolve_point(at_position=inside + 1) == inside + 1  # the command's last event: a boundary
    assert reads.resolve_point(at_position=1) == 0  # inside RegisterModel (name claimed, model registered)
    stages = {v.number: v.stage for v in reads.list_versions("demo", at_position=inside)}
    assert stages == {1: "production", 2: "none"}  # committed; never "both out of production"
    assert {v.number: v.stage for v in reads.list_versions("demo", at_position=inside + 1)} == {
        1: "archived", 2: "production"}
    spans = {tuple(e.meta["span"]) for e in registry.store.read_all(from_position=inside, to_position=inside + 1)}
    assert spans == {(inside, inside + 1)}


def test_the_cli_notes_the_boundary_it_used(registry: Any) -> None:
    inside = _forced_promotion(registry)
    listed = run("model", "version", "list", "demo", "--at-position", str(inside), "-o", "json")
    assert listed.exit_code == 0
    assert listed.stderr == (f"Note: log position {inside} is inside one command's events; answered as of position "
                             f"{inside - 1}, where the command before it ended.\n")
    assert '"stage": "production"' in listed.stdout and '"stage": "archived"' not in listed.stdout
    exact = run("model", "version", "list", "demo", "--at-position", str(inside + 1))
    assert exact.exit_code == 0 and exact.stderr == ""
    shown = run("log", "show", "--at-position", str(inside), "-o", "json")  # the log itself: event by event
    assert shown.exit_code == 0 and shown.stderr == "" and f'"position": {inside},' in shown.stdout


def test_the_sdk_handle_carries_the_position_it_stands_on(registry: Any) -> None:
    inside = _forced_promotion(registry)
    client = Client(registry=registry)
    version = client.get_model_version("demo", "production", at_position=inside)
    assert (version.number, version.position) == (1, inside - 1)


def test_old_events_without_a_span_are_grouped_by_meta_and_time(registry: Any) -> None:
    store = registry.store
    old = {"actor": "old", "command": "SetStage", "correlation_id": "c-1"}
    store.clock = lambda: datetime(2024, 5, 1, 12, 0, tzinfo=UTC)  # one instant: the old grouping's worst case
    store.append_batch([AppendRequest("s-a", 0, [new(1), new(2)]), AppendRequest("s-b", 0, [new(3)])], old)
    store.append_batch([AppendRequest("s-a", 2, [new(4), new(5)])], {**old, "correlation_id": "c-2"})
    store.append_batch([AppendRequest("s-c", 0, [new(6)]), AppendRequest("s-d", 0, [new(7)])], {})
    assert [command_boundary(store, p) for p in range(8)] == [0, 0, 0, 3, 3, 5, 6, 7]
