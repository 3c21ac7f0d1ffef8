"""One rule for lengths (issue 12.10, 12.16): every limit of the domain fits the columns that store it.

SQLite does not enforce ``VARCHAR(n)``, PostgreSQL does: a value the domain allows but a column
cannot hold would work on one backend and fail on the other (and a SQLite export would not import
into PostgreSQL). Every bounded text column is listed here with the domain limit of what it holds;
a new column must be added, so the two cannot drift apart again.
"""

from __future__ import annotations

import pytest
from modelog.projections import tables
from modelog.registry import schema
from modelog.registry.errors import InvalidInputError
from modelog.registry.validation import (
    MAX_ACTOR_LENGTH,
    MAX_HASH_LENGTH,
    MAX_ID_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_NAME_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    clean_actor,
    clean_name,
    clean_tags,
    name_key,
)
from modelog.registry.vocabulary import StreamKind
from sqlalchemy import String, Text

UUID, STAGE, TIME, SHA = 36, len("production"), len("2024-05-01T12:00:00.000000+00:00"), 64
LONGEST_PREFIX = max(len(kind.prefix) for kind in StreamKind)
EVENT_TYPE = max(len("ModelVersionStageChanged"), len("ArtifactVersionStored"))

#: table.column -> the longest value the domain lets into it.
COLUMN_LIMITS = {
    "events.stream_id": LONGEST_PREFIX + max(MAX_NAME_LENGTH, MAX_ID_LENGTH, UUID),
    "events.event_type": EVENT_TYPE, "events.recorded_at": TIME, "events.prev_hash": SHA, "events.hash": SHA,
    "modelog_schema.component": len("registry"),
    "view_models.model_id": UUID, "view_models.name": MAX_NAME_LENGTH, "view_models.name_key": MAX_NAME_LENGTH,
    "view_models.created_at": TIME, "view_models.updated_at": TIME, "view_models.created_by": MAX_ACTOR_LENGTH,
    "view_versions.model_id": UUID, "view_versions.name": MAX_NAME_LENGTH, "view_versions.name_key": MAX_NAME_LENGTH,
    "view_versions.stage": STAGE, "view_versions.created_at": TIME, "view_versions.updated_at": TIME,
    "view_versions.created_by": MAX_ACTOR_LENGTH, "view_versions.created_run_id": MAX_ID_LENGTH,
    "view_aliases.model_id": UUID, "view_aliases.alias": MAX_NAME_LENGTH,
    "view_artifact_links.model_id": UUID, "view_artifact_links.pipeline": MAX_NAME_LENGTH,
    "view_artifact_links.step": MAX_NAME_LENGTH, "view_artifact_links.name": MAX_NAME_LENGTH,
    "view_artifact_links.kind": len("deployment"), "view_artifact_links.artifact_id": MAX_ID_LENGTH,
    "view_artifact_links.artifact_name": MAX_NAME_LENGTH, "view_artifact_links.content_hash": MAX_HASH_LENGTH,
    "view_artifact_links.run_id": MAX_ID_LENGTH, "view_artifact_links.created_at": TIME,
    "view_run_links.model_id": UUID, "view_run_links.run_id": MAX_ID_LENGTH,
    "view_run_links.pipeline": MAX_NAME_LENGTH, "view_run_links.created_at": TIME,
    "view_runs.run_id": MAX_ID_LENGTH, "view_runs.pipeline": MAX_NAME_LENGTH, "view_runs.status": len("completed"),
    "view_runs.model_id": UUID, "view_runs.model_name": MAX_NAME_LENGTH, "view_runs.started_at": TIME,
    "view_runs.finished_at": TIME, "view_runs.failed_step": MAX_LABEL_LENGTH,
    "view_runs.error_type": MAX_LABEL_LENGTH,
    "view_runs.started_by": MAX_ACTOR_LENGTH,
    "view_step_runs.run_id": MAX_ID_LENGTH, "view_step_runs.step": MAX_NAME_LENGTH,
    "view_step_runs.cache_key": MAX_HASH_LENGTH,
    "view_step_runs.completed_at": TIME,
    "view_artifacts.artifact_id": MAX_ID_LENGTH, "view_artifacts.name": MAX_NAME_LENGTH,
    "view_artifacts.name_key": MAX_NAME_LENGTH, "view_artifacts.content_hash": MAX_HASH_LENGTH,
    "view_artifacts.data_type": MAX_LABEL_LENGTH, "view_artifacts.materializer": MAX_LABEL_LENGTH,
    "view_artifacts.run_id": MAX_ID_LENGTH, "view_artifacts.step": MAX_NAME_LENGTH,
    "view_artifacts.created_at": TIME,
    "view_checkpoints.name": len("registry"),
    "hist_stamps.model_id": UUID, "hist_stamps.updated_at": TIME,
    "view_version_metadata.model_id": UUID, "view_version_metadata.key": MAX_NAME_LENGTH,
    "view_principals.name_key": MAX_NAME_LENGTH, "view_principals.name": MAX_NAME_LENGTH,
    "view_principals.created_at": TIME, "view_principals.created_by": MAX_ACTOR_LENGTH,
    "view_principals.disabled_at": TIME, "view_principals.disabled_by": MAX_ACTOR_LENGTH,
    "view_tokens.token_id": MAX_ID_LENGTH, "view_tokens.principal": MAX_NAME_LENGTH, "view_tokens.expires_at": TIME,
    "view_tokens.created_at": TIME, "view_tokens.created_by": MAX_ACTOR_LENGTH, "view_tokens.revoked_at": TIME,
    "view_tokens.revoked_by": MAX_ACTOR_LENGTH,
    "view_version_metadata.recorded_at": TIME, "view_version_metadata.actor": MAX_ACTOR_LENGTH,
    "event_signatures.key_id": 16, "event_signatures.signature": 128,  # registry.signing: key ids, Ed25519 in hex
}


def _bounded_columns() -> dict[str, int]:
    found = {}
    for metadata in (schema.metadata, tables.metadata):
        for table in metadata.tables.values():
            for column in table.columns:
                if isinstance(column.type, String) and not isinstance(column.type, Text) and column.type.length:
                    found[f"{table.name}.{column.name}"] = column.type.length
    return found


def test_every_bounded_column_is_as_wide_as_the_domain_allows() -> None:
    columns = _bounded_columns()
    for name in [n for n in columns if n.startswith("hist_")]:  # a history twin holds its view's values
        twin = "view_" + name.removeprefix("hist_")
        if twin in COLUMN_LIMITS:
            COLUMN_LIMITS.setdefault(name, COLUMN_LIMITS[twin])
    assert sorted(set(columns) - set(COLUMN_LIMITS)) == [], "a new bounded column: add its domain limit here"
    too_narrow = {name: (width, COLUMN_LIMITS[name]) for name, width in columns.items() if width < COLUMN_LIMITS[name]}
    assert too_narrow == {}


@pytest.mark.parametrize("name", ["\ufdfa" * 20, "\u00df" * 150, "\u3300" * 60])
def test_a_name_is_bounded_by_its_normalised_key_too(name: str) -> None:
    assert len(name) <= MAX_NAME_LENGTH < len(name_key(name))  # short as typed, long once normalised
    with pytest.raises(InvalidInputError, match="once normalised"):
        clean_name(name, "model name")


def test_tags_actor_and_identifiers_are_bounded() -> None:
    assert clean_tags(["t"] * 100 + [f"t{i}" for i in range(MAX_TAGS - 1)])  # duplicates collapse first
    with pytest.raises(InvalidInputError, match=f"{MAX_TAGS + 1} tags; the limit is {MAX_TAGS}"):
        clean_tags([f"t{i}" for i in range(MAX_TAGS + 1)])
    with pytest.raises(InvalidInputError, match=f"tag is {MAX_TAG_LENGTH + 1} characters long"):
        clean_tags(["x" * (MAX_TAG_LENGTH + 1)])
    with pytest.raises(InvalidInputError, match=f"actor is {MAX_ACTOR_LENGTH + 1} characters long"):
        clean_actor("a" * (MAX_ACTOR_LENGTH + 1))
    with pytest.raises(InvalidInputError, match=r"actor contains the control or invisible character U\+001B"):
        clean_actor("bob\x1b[2J")
