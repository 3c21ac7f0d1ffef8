"""Human-readable history: what each event did, in one line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from modelog.registry.catalog import upcast
from modelog.registry.store import StoredEvent
from modelog.registry.vocabulary import EventType


@dataclass(frozen=True)
class HistoryEntry:
    """One event of a model's history: who did what, when, and in which run."""

    position: int
    recorded_at: str
    actor: str | None
    event_type: str
    summary: str
    run_id: str | None
    data: dict[str, Any]
    #: The model this entry belongs to: a name held by several models in turn has one history per model.
    model_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape of the entry."""
        return {
            "position": self.position, "recorded_at": self.recorded_at, "actor": self.actor,
            "event": self.event_type, "summary": self.summary, "run_id": self.run_id, "data": self.data,
            "model_id": self.model_id,
        }


@dataclass(frozen=True)
class Incarnation:
    """One model that held a name, and its part of the name's history (entries are in log order)."""

    model_id: str
    number: int
    entries: tuple[HistoryEntry, ...]

    @property
    def deleted(self) -> bool:
        """True when this model was deleted (its name was then free for a new model)."""
        return any(e.event_type == EventType.MODEL_DELETED and e.model_id == self.model_id for e in self.entries)


def incarnations(entries: list[HistoryEntry]) -> list[Incarnation]:
    """A name's history split by model, in the order the models first held the name."""
    order: dict[str, list[HistoryEntry]] = {}
    for entry in entries:
        order.setdefault(entry.model_id or "", []).append(entry)
    return [Incarnation(model_id, number, tuple(found))
            for number, (model_id, found) in enumerate(order.items(), start=1)]


def name_after(stream: Sequence[StoredEvent]) -> str:
    """The name a model's stream (read up to some position) leaves it with: the registered one, or the last rename's."""
    name = ""
    for event in stream:
        if event.event_type == EventType.MODEL_REGISTERED:
            name = str(event.data["name"])
        elif event.event_type == EventType.MODEL_RENAMED:
            name = str(event.data["new_name"])
    return name


def _fields(changes: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(changes.items()))


def _tags(data: dict[str, Any]) -> str:
    parts = [f"+tag {t!r}" for t in data.get("tags_added", ())] + [f"-tag {t!r}" for t in data.get("tags_removed", ())]
    return ", ".join(parts)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _link(d: dict[str, Any]) -> str:
    return (f"linked {d['kind']} {d['name']!r} v{d['link_version']} (artifact {d['artifact_name']!r} "
            f"v{d['artifact_version']}, {d['pipeline']}/{d['step']}) to version {d['number']}")


def _registered(d: dict[str, Any]) -> str:
    return f"registered model {d['name']!r}" + (" (implicitly, by a pipeline)" if d.get("implicit") else "")


def _stage_changed(d: dict[str, Any]) -> str:
    displaced = f" (displaced by version {d['displaced_by']})" if d.get("displaced_by") else ""
    forced = " [forced]" if d.get("forced") and not d.get("displaced_by") else ""
    return f"version {d['number']} stage {d['from_stage']} -> {d['to_stage']}{displaced}{forced}"


def _scope(d: dict[str, Any]) -> str:
    return f" on model {d['model']!r}" if d.get("model") else " registry-wide"


def _alias_set(d: dict[str, Any]) -> str:
    moved = f" (moved from version {d['previous_number']})" if d.get("previous_number") else ""
    return f"alias @{d['alias']} set on version {d['number']}{moved}"


E = EventType
_DESCRIBERS: dict[str, Callable[[dict[str, Any]], str]] = {
    E.MODEL_NAME_CLAIMED: lambda d: f"name {d['name']!r} claimed",
    E.MODEL_NAME_RELEASED: lambda d: f"name {d['name']!r} released",
    E.MODEL_REGISTERED: _registered,
    E.MODEL_UPDATED: lambda d: "updated model: " + (_join(_fields(d.get("changes", {})), _tags(d)) or "no change"),
    E.MODEL_DELETED: lambda d: f"deleted model {d['name']!r}",
    E.MODEL_RENAMED: lambda d: f"renamed model {d['old_name']!r} to {d['new_name']!r}",
    E.MODEL_VERSION_CREATED: lambda d: f"created version {d['number']}"
                                       + (f" named {d['name']!r}" if d["name"] != str(d["number"]) else ""),
    E.MODEL_VERSION_UPDATED: lambda d: f"updated version {d['number']}: "
                                       + (_join(_fields(d.get("changes", {})), _tags(d)) or "no change"),
    E.MODEL_VERSION_STAGE_CHANGED: _stage_changed,
    E.MODEL_VERSION_ALIAS_SET: _alias_set,
    E.MODEL_VERSION_ALIAS_REMOVED: lambda d: f"alias @{d['alias']} removed from version {d['number']}",
    E.MODEL_VERSION_DELETED: lambda d: f"deleted version {d['number']} (reason: {d['reason']})",
    E.ARTIFACT_LINKED: _link,
    E.ARTIFACT_UNLINKED: lambda d: f"unlinked every {d['kind']} {d['name']!r} ({d['pipeline']}/{d['step']}) "
                                   f"from version {d['number']} (overwrite)",
    E.PIPELINE_RUN_LINKED: lambda d: f"linked run {d['run_id']} of pipeline {d['pipeline']!r} "
                                     f"to version {d['number']}",
    E.PIPELINE_RUN_STARTED: lambda d: f"run of pipeline {d['pipeline']!r} started",
    E.PIPELINE_STEP_COMPLETED: lambda d: f"step {d['step']!r} completed" + (" (cached)" if d.get("cached") else ""),
    E.PIPELINE_RUN_COMPLETED: lambda d: "run completed",
    E.PIPELINE_RUN_FAILED: lambda d: f"run failed: {d['error_type']}: {d['error_message']}",
    E.ARTIFACT_VERSION_STORED: lambda d: f"stored artifact {d['name']!r} v{d['version']} ({d['data_type']})",
    E.PRINCIPAL_ADDED: lambda d: f"principal {d['name']!r} added",
    E.PRINCIPAL_DISABLED: lambda d: f"principal {d['name']!r} disabled",
    E.TOKEN_CREATED: lambda d: f"API token {d['token_id']} created for {d['principal']!r}"
                               + (f", expires {d['expires_at']}" if d.get("expires_at") else ""),
    E.TOKEN_REVOKED: lambda d: f"API token {d['token_id']} of {d['principal']!r} revoked",
}
_DESCRIBERS.update({
    E.ROLE_GRANTED: lambda d: f"role {d['role']} granted to {d['name']!r}" + _scope(d),
    E.ROLE_REVOKED: lambda d: f"role {d['role']} revoked from {d['name']!r}" + _scope(d),
    E.STAGE_POLICY_SET: lambda d: f"stage {d['stage']} needs {d['approvals']} approval(s)" + _scope(d),
    E.STAGE_CHANGE_REQUESTED: lambda d: f"request {d['request']}: move version {d['number']} to {d['stage']}"
                                        + (" [force]" if d.get("force") else "")
                                        + f", by {d['requested_by']!r}, needs {d['approvals']} approval(s), "
                                          f"expires {d['expires_at']}",
    E.STAGE_CHANGE_APPROVED: lambda d: f"request {d['request']} (version {d['number']} to {d['stage']}) approved by "
                                       f"{d['approved_by']!r}",
    E.STAGE_CHANGE_REJECTED: lambda d: f"request {d['request']} (version {d['number']} to {d['stage']}) rejected by "
                                       f"{d['rejected_by']!r}" + (f": {d['reason']}" if d.get("reason") else ""),
})
_DESCRIBERS[E.MODEL_VERSION_METADATA_LOGGED] = lambda d: (
    f"logged metadata on version {d['number']}: " + ", ".join(f"{k}={v!r}" for k, v in sorted(d["values"].items())))
del E


def describe(event: StoredEvent, model_id: str | None = None) -> HistoryEntry:
    """The history entry of a stored event (``model_id``: the model whose history it is part of)."""
    data = upcast(event.event_type, event.schema_version, event.data)
    summary = _DESCRIBERS[event.event_type](data)
    run_id = event.meta.get("run_id") or data.get("run_id")
    return HistoryEntry(event.position, event.recorded_at, event.meta.get("actor"), event.event_type, summary,
                        run_id, data, model_id)
