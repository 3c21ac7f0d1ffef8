"""What a model's history means over time: its stage timeline, the lineage of a version, the diff of two moments.

Pure derivations from the typed answers of the read use cases (a model's history entries, a
version's links and runs, its versions at two points); nothing here reads a table. The web UI
draws them; their JSON twins are these same dataclasses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelog.projections.activity import Lane, StageSpan, Timeline, TimelineMarker, number_of
from modelog.projections.history import HistoryEntry
from modelog.projections.views import LinkView, RunView, VersionView
from modelog.registry.vocabulary import EventType

#: The events each diff section lists (the rest go under "other").
_LINK_EVENTS = frozenset({EventType.ARTIFACT_LINKED, EventType.ARTIFACT_UNLINKED, EventType.PIPELINE_RUN_LINKED})
_EDIT_EVENTS = frozenset({EventType.MODEL_VERSION_METADATA_LOGGED, EventType.MODEL_VERSION_UPDATED,
                          EventType.MODEL_UPDATED})
_ALIAS_EVENTS = frozenset({EventType.MODEL_VERSION_ALIAS_SET, EventType.MODEL_VERSION_ALIAS_REMOVED})


def stage_timeline(history: Sequence[HistoryEntry]) -> Timeline:
    """The stage timeline of one model's history (one lane per version ever created, in number order).

    The reference derivation, from every event: the model page reads the same timeline from the
    version twin (``RegistryAPI.stage_timeline``) without reading the whole history.
    """
    spans: dict[int, list[StageSpan]] = {}
    markers: dict[int, list[TimelineMarker]] = {}
    deleted: set[int] = set()
    model_id = next((e.model_id for e in reversed(history) if e.model_id), None)
    own = [e for e in history if model_id is None or e.model_id in (None, model_id)]

    def close(number: int, position: int) -> None:
        found = spans.get(number)
        if found and found[-1].end is None:
            last = found[-1]
            found[-1] = StageSpan(last.stage, last.start, position, last.recorded_at, last.actor)

    def mark(kind: str, number: int, entry: HistoryEntry) -> None:
        markers.setdefault(number, []).append(
            TimelineMarker(kind, entry.position, entry.recorded_at, entry.actor, entry.summary))

    for entry in own:
        number = number_of(entry)
        if number is None:
            continue
        kind = entry.event_type
        if kind == EventType.MODEL_VERSION_CREATED:
            spans[number] = [StageSpan("none", entry.position, None, entry.recorded_at, entry.actor)]
        elif kind == EventType.MODEL_VERSION_STAGE_CHANGED and number in spans:
            close(number, entry.position)
            spans[number].append(StageSpan(str(entry.data.get("to_stage")), entry.position, None,
                                           entry.recorded_at, entry.actor))
            mark("stage", number, entry)
        elif kind in _ALIAS_EVENTS:
            mark("alias", number, entry)
        elif kind == EventType.MODEL_VERSION_DELETED and number in spans:
            close(number, entry.position)
            deleted.add(number)
            mark("deleted", number, entry)
    lanes = tuple(Lane(n, tuple(spans[n]), tuple(markers.get(n, ())), n in deleted) for n in sorted(spans))
    if not own:
        return Timeline(0, 0, lanes, None, None)
    return Timeline(own[0].position, own[-1].position, lanes, own[0].recorded_at, own[-1].recorded_at)


@dataclass(frozen=True)
class Lineage:
    """Where a version came from and where it went: datasets -> producing run -> version -> consuming runs ->
    what they produced."""

    inputs: tuple[LinkView, ...]
    producer: RunView | None
    outputs: tuple[LinkView, ...]
    consumers: tuple[RunView, ...]
    products: tuple[LinkView, ...]


def lineage(version: VersionView, links: Sequence[LinkView], runs: Sequence[RunView]) -> Lineage:
    """The lineage of ``version`` from its links and runs: the creating run's data are its inputs, its model and
    deployment objects its outputs; every other run consumed it, and what those runs linked they produced."""
    producer_id = version.created_run_id
    producer = next((r for r in runs if r.run_id == producer_id), None)
    made = [link for link in links if producer_id is not None and link.run_id == producer_id]
    consumers = tuple(r for r in runs if r.run_id != producer_id)
    consumer_ids = {r.run_id for r in consumers}
    others = [link for link in links if link.run_id in consumer_ids]
    unknown = [link for link in links if link not in made and link not in others]
    return Lineage(inputs=tuple(link for link in [*made, *unknown] if link.kind == "data"),
                   producer=producer,
                   outputs=tuple(link for link in [*made, *unknown] if link.kind != "data"),
                   consumers=consumers, products=tuple(others))


@dataclass(frozen=True)
class StageMove:
    """A version whose stage differs between the two moments of a diff (None: it did not exist then)."""

    number: int
    before: str | None
    after: str | None


@dataclass(frozen=True)
class ModelDiff:
    """What changed in one model between two log positions (``before`` < events <= ``after``)."""

    model: str
    before: int
    after: int
    created: tuple[int, ...]
    deleted: tuple[int, ...]
    stage_moves: tuple[StageMove, ...]
    aliases: tuple[HistoryEntry, ...]
    links: tuple[HistoryEntry, ...]
    edits: tuple[HistoryEntry, ...]
    other: tuple[HistoryEntry, ...]

    @property
    def empty(self) -> bool:
        """True when nothing happened to the model between the two moments."""
        return not (self.created or self.deleted or self.stage_moves or self.aliases or self.links or self.edits
                    or self.other)


def model_diff(model: str, before: int, after: int, versions_before: Sequence[VersionView],
               versions_after: Sequence[VersionView], history_after: Sequence[HistoryEntry]) -> ModelDiff:
    """The diff of a model between positions ``before`` and ``after`` from its versions at both and its history."""
    between = [e for e in history_after if before < e.position <= after]
    stages_before = {v.number: v.stage for v in versions_before}
    stages_after = {v.number: v.stage for v in versions_after}
    created = tuple(n for e in between if e.event_type == EventType.MODEL_VERSION_CREATED
                    for n in [number_of(e)] if n is not None)
    deleted = tuple(n for e in between if e.event_type == EventType.MODEL_VERSION_DELETED
                    for n in [number_of(e)] if n is not None)
    moves = tuple(StageMove(n, stages_before.get(n), stages_after.get(n))
                  for n in sorted(set(stages_before) | set(stages_after))
                  if stages_before.get(n) != stages_after.get(n) and n in stages_before and n in stages_after
                  or (n in stages_after and n not in stages_before and stages_after[n] != "none"))
    sections: dict[str, list[HistoryEntry]] = {"aliases": [], "links": [], "edits": [], "other": []}
    for entry in between:
        if entry.event_type in _ALIAS_EVENTS:
            sections["aliases"].append(entry)
        elif entry.event_type in _LINK_EVENTS:
            sections["links"].append(entry)
        elif entry.event_type in _EDIT_EVENTS:
            sections["edits"].append(entry)
        elif entry.event_type not in (EventType.MODEL_VERSION_CREATED, EventType.MODEL_VERSION_DELETED,
                                      EventType.MODEL_VERSION_STAGE_CHANGED):
            sections["other"].append(entry)
    return ModelDiff(model, before, after, created, deleted, moves, tuple(sections["aliases"]),
                     tuple(sections["links"]), tuple(sections["edits"]), tuple(sections["other"]))


__all__ = ["Lane", "Lineage", "ModelDiff", "StageMove", "StageSpan", "Timeline", "TimelineMarker", "lineage",
           "model_diff", "stage_timeline"]
