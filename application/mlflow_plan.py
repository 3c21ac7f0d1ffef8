"""Plan an MLflow import: what the registry lacks of an MLflow registry, as a list of steps.

The plan is a diff against the registry as it is now (read through :class:`RegistryAPI` only), so
running the import again plans nothing for what is already there.

* **Recognising imported versions**: every version the import creates carries the metadata key
  ``mlflow.version`` (MLflow's number), logged in the same transaction as its creation. A version
  of the same model carrying it is already imported and is skipped (or finished, below).
* **Numbers**: versions are created in MLflow's order. While the model's next modelog number is the
  MLflow number, numbers stay equal: an MLflow number that is missing (a version deleted in MLflow;
  a server shows only gaps, a database shows them as deleted) is recorded as a version created and
  deleted (``mlflow.deleted``), so the next one keeps its number. A model that already had versions
  of its own gets the next free numbers instead: the summary lists every version whose number differs.
* **Stages**: modelog keeps at most one version in staging and one in production. When MLflow has
  several, the highest-numbered keeps the stage and the others are imported as archived (listed in the
  summary; MLflow's stage stays in ``mlflow.current_stage``).
* **Finishing an interrupted import**: a version's stage and aliases are set right after its creation;
  if the import stopped between the two, the next run sets the stage of a recognised version that is
  still in stage none and the aliases the model does not have at all, and deletes a recognised version
  MLflow has deleted. It never changes anything else that is already there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from modelog.application.api import RegistryAPI
from modelog.application.mlflow_records import MlflowModel, MlflowSnapshot, MlflowVersion
from modelog.registry.errors import InvalidInputError, NotFoundError
from modelog.registry.metadata_values import MAX_STRING, MAX_VALUE_BYTES
from modelog.registry.validation import (
    MAX_NAME_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    clean_alias,
    clean_name,
    name_key,
)
from modelog.registry.vocabulary import EventType

#: The metadata key that marks a version as imported from MLflow: MLflow's version number.
MARKER = "mlflow.version"
#: MLflow's tag marking a registered model as a prompt (MLflow 3), which is not a model.
PROMPT_TAG = "mlflow.prompt.is_prompt"
#: MLflow's stages as modelog's.
STAGES = {"none": "none", "staging": "staging", "production": "production", "archived": "archived"}
EXCLUSIVE = ("production", "staging")


@dataclass(frozen=True)
class RegisterStep:
    """Register an MLflow model (its description and tags; MLflow's times as ``mlflow.*`` tags)."""

    model: str
    description: str | None
    tags: tuple[str, ...]


@dataclass(frozen=True)
class VersionStep:
    """Create a version for MLflow version ``mlflow_number`` (or finish one created before: ``create`` False).

    ``number``: the modelog number it is expected to get (or has). ``deleted``: MLflow deleted it,
    so it is recorded as created and deleted. ``stage`` / ``aliases``: set after its creation.
    """

    model: str
    mlflow_number: int
    number: int
    create: bool = True
    deleted: bool = False
    description: str | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    stage: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refusal:
    """Something of MLflow's that is not imported, and why (``mlflow_number`` None: the whole model)."""

    model: str
    mlflow_number: int | None
    reason: str


@dataclass(frozen=True)
class Note:
    """A difference the import makes on purpose (a demoted stage, a number that differs, a dropped tag)."""

    model: str
    mlflow_number: int | None
    text: str


@dataclass
class ImportPlan:
    """Every step to take, in order, and what is skipped, refused or changed on the way."""

    source: str
    steps: list[RegisterStep | VersionStep] = field(default_factory=list)
    models_present: int = 0
    versions_present: int = 0
    refused: list[Refusal] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


@dataclass
class _Existing:
    """What the registry holds of one model: the highest number ever allocated, and imported versions."""

    next_number: int = 1
    imported: dict[int, int] = field(default_factory=dict)  # MLflow number -> modelog number
    live: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # number -> (stage, aliases)
    aliases: set[str] = field(default_factory=set)


def _existing(api: RegistryAPI, name: str) -> _Existing | None:
    try:
        model = api.get_model(name)
    except NotFoundError:
        return None
    found = _Existing()
    deleted: set[int] = set()
    for entry in api.history(name):
        if entry.model_id not in (None, model.id):
            continue  # an earlier model that held the name
        number = entry.data.get("number")
        if entry.event_type == EventType.MODEL_VERSION_CREATED and isinstance(number, int):
            found.next_number = max(found.next_number, number + 1)
        elif entry.event_type == EventType.MODEL_VERSION_DELETED and isinstance(number, int):
            deleted.add(number)
        elif entry.event_type == EventType.MODEL_VERSION_METADATA_LOGGED and isinstance(number, int):
            marker = (entry.data.get("values") or {}).get(MARKER)
            if isinstance(marker, int) and not isinstance(marker, bool):
                found.imported.setdefault(marker, number)
    for version in api.list_versions(name):
        found.live[version.number] = (version.stage, version.aliases)
        found.aliases.update(version.aliases)
    return found


def _tag(key: str, value: str) -> str:
    return f"{key}={value}" if value else key


def _valid_tag(tag: str) -> bool:
    try:
        clean_name(tag, "tag", MAX_TAG_LENGTH)
    except InvalidInputError:
        return False
    return True


def _split_tags(pairs: Iterable[tuple[str, str]]) -> tuple[list[str], list[tuple[str, str]]]:
    """MLflow's tags as modelog tags ``KEY=VALUE``, and those a modelog tag cannot hold."""
    kept: list[str] = []
    dropped: list[tuple[str, str]] = []
    for key, value in pairs:
        tag = _tag(key, value)
        if _valid_tag(tag) and len(kept) < MAX_TAGS:
            kept.append(tag)
        else:
            dropped.append((key, value))
    return kept, dropped


def _version_metadata(version: MlflowVersion, source: str, dropped: list[tuple[str, str]]) -> dict[str, Any]:
    facts: dict[str, Any] = {
        MARKER: version.number, "mlflow.creation_timestamp": version.creation_timestamp,
        "mlflow.last_updated_timestamp": version.last_updated_timestamp, "mlflow.user_id": version.user_id,
        "mlflow.source": version.source, "mlflow.run_id": version.run_id, "mlflow.run_link": version.run_link,
        "mlflow.status": version.status, "mlflow.status_message": version.status_message,
        "mlflow.current_stage": None if version.deleted else version.stage, "mlflow.imported_from": source,
    }
    if version.deleted:
        facts["mlflow.deleted"] = True
    if dropped:  # kept whole here, as MLflow's own JSON has them
        facts["mlflow.tags"] = [{"key": k, "value": v} for k, v in dropped]
    return {k: v for k, v in facts.items() if v is not None}


def _fitting(pairs: list[tuple[str, str]], model: str, number: int, plan: ImportPlan) -> list[tuple[str, str]]:
    """The tags that fit in one metadata value (``mlflow.tags``); the others are noted, not imported."""
    kept: list[tuple[str, str]] = []
    room = MAX_VALUE_BYTES - 512  # beside the other facts, well inside one event's bounds
    for key, value in pairs:
        size = len(json.dumps({"key": key, "value": value}, ensure_ascii=False).encode()) + 1
        if size <= room and len(value) <= MAX_STRING and len(key) <= MAX_NAME_LENGTH:
            kept.append((key, value))
            room -= size
        else:
            plan.notes.append(Note(model, number, f"version tag {key[:100]!r} not imported: its value is too large "
                                                  f"to record ({len(value)} characters)"))
    return kept


def _stages(model: MlflowModel, plan: ImportPlan) -> dict[int, str]:
    """Each live version's modelog stage: the highest-numbered holder of an exclusive stage keeps it."""
    stages = {v.number: STAGES.get(v.stage.casefold(), "none") for v in model.versions if not v.deleted}
    for stage in EXCLUSIVE:
        holders = sorted(n for n, s in stages.items() if s == stage)
        for number in holders[:-1]:
            stages[number] = "archived"
            plan.notes.append(Note(model.name, number, f"MLflow stage {stage.title()} imported as archived: "
                                                       f"version {holders[-1]} holds {stage}"))
    return stages


def _aliases(model: MlflowModel, plan: ImportPlan) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for alias, number in model.aliases:
        try:
            found.setdefault(number, []).append(clean_alias(alias))
        except InvalidInputError as error:
            plan.notes.append(Note(model.name, number, f"alias {alias!r} not imported: {error}"))
    return found


def _model_tags(model: MlflowModel, plan: ImportPlan) -> tuple[str, ...]:
    facts = [("mlflow.creation_timestamp", str(model.creation_timestamp or "")),
             ("mlflow.last_updated_timestamp", str(model.last_updated_timestamp or ""))]
    kept, dropped = _split_tags([*model.tags, *((k, v) for k, v in facts if v)])
    for key, value in dropped:
        plan.notes.append(Note(model.name, None, f"model tag {_tag(key, value)[:120]!r} not imported: not a valid "
                                                 f"modelog tag (at most {MAX_TAG_LENGTH} characters, no '/', "
                                                 f"at most {MAX_TAGS} tags)"))
    return tuple(kept)


def _plan_model(api: RegistryAPI, model: MlflowModel, plan: ImportPlan) -> None:
    """Plan one model's steps; its notes are kept only for what this plan imports (not what is already there)."""
    notes_before, steps_before = len(plan.notes), len(plan.steps)
    _plan_steps(api, model, plan)
    planned = {s.mlflow_number if isinstance(s, VersionStep) else None for s in plan.steps[steps_before:]}
    plan.notes[notes_before:] = [n for n in plan.notes[notes_before:] if n.mlflow_number in planned]


def _plan_steps(api: RegistryAPI, model: MlflowModel, plan: ImportPlan) -> None:
    existing = _existing(api, model.name)
    if existing is None:
        plan.steps.append(RegisterStep(model.name, model.description, _model_tags(model, plan)))
        existing = _Existing()
    else:
        plan.models_present += 1
    stages, aliases = _stages(model, plan), _aliases(model, plan)
    by_number = {v.number: v for v in model.versions}
    next_number = existing.next_number
    for mlflow_number in range(1, max(by_number, default=0) + 1):
        version = by_number.get(mlflow_number) or MlflowVersion(number=mlflow_number, deleted=True)
        wanted_stage = stages.get(mlflow_number, "none")
        wanted_aliases = tuple(aliases.get(mlflow_number, ()))
        if mlflow_number in existing.imported:
            plan.versions_present += 1
            _finish(model.name, version, existing, wanted_stage, wanted_aliases, plan)
            continue
        if version.deleted and next_number != mlflow_number:
            continue  # the numbers differ already: nothing to keep aligned
        kept, dropped = _split_tags(version.tags)
        if next_number != mlflow_number:
            plan.notes.append(Note(model.name, mlflow_number, f"imported as version {next_number}: the model's "
                                                              "numbers were taken by versions of its own"))
        plan.steps.append(VersionStep(
            model=model.name, mlflow_number=mlflow_number, number=next_number, deleted=version.deleted,
            description=version.description, tags=tuple(kept),
            metadata=_version_metadata(version, plan.source, _fitting(dropped, model.name, mlflow_number, plan)),
            stage=None if wanted_stage == "none" else wanted_stage, aliases=wanted_aliases,
        ))
        next_number += 1


def _finish(model: str, version: MlflowVersion, existing: _Existing, stage: str, aliases: tuple[str, ...],
            plan: ImportPlan) -> None:
    """Finish a recognised version an interrupted import left without its stage, aliases or deletion."""
    number = existing.imported[version.number]
    if number not in existing.live:
        return  # deleted in modelog: nothing to finish
    if version.deleted:
        plan.steps.append(VersionStep(model, version.number, number, create=False, deleted=True))
        return
    current, _ = existing.live[number]
    missing_stage = stage if stage != "none" and current == "none" else None
    missing_aliases = tuple(a for a in aliases if a not in existing.aliases)
    if missing_stage or missing_aliases:
        plan.steps.append(VersionStep(model, version.number, number, create=False, stage=missing_stage,
                                      aliases=missing_aliases))


def plan_import(api: RegistryAPI, registry: MlflowSnapshot) -> ImportPlan:
    """What importing ``registry`` would do to the registry behind ``api`` now (reads only)."""
    plan = ImportPlan(source=registry.source)
    seen: dict[str, str] = {}
    for model in sorted(registry.models, key=lambda m: m.name):
        if any(k == PROMPT_TAG and v.casefold() == "true" for k, v in model.tags):
            plan.refused.append(Refusal(model.name, None, "an MLflow prompt, not a model"))
            continue
        try:
            clean_name(model.name, "model name")
        except InvalidInputError as error:
            plan.refused.append(Refusal(model.name, None, str(error)))
            continue
        twin = seen.setdefault(name_key(model.name), model.name)
        if twin != model.name:
            plan.refused.append(Refusal(model.name, None, f"its name is the same as MLflow model {twin!r} "
                                                          "for modelog (names ignore case and width)"))
            continue
        _plan_model(api, model, plan)
    return plan
