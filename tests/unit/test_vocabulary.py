"""The domain words are spelled once, and agree with the event classes, the catalogue and the read tables."""

from __future__ import annotations

from dataclasses import fields

import pytest
from modelog.projections import tables as t
from modelog.projections.views import ModelView
from modelog.registry import events as ev
from modelog.registry.catalog import CURRENT_SCHEMA
from modelog.registry.values import ArtifactKind, RunStatus
from modelog.registry.vocabulary import (
    MODEL_TEXT_FIELDS,
    EventType,
    StreamKind,
    artifact_stream,
    model_id_of,
    model_stream,
    name_stream,
    principal_stream,
    run_id_of,
    run_stream,
    token_stream,
)


def test_every_event_type_has_a_class_and_a_schema_version_and_nothing_else_does() -> None:
    names = {member.value for member in EventType}
    assert names == set(ev.EVENT_CLASSES) == set(CURRENT_SCHEMA)
    assert all(ev.EVENT_CLASSES[member].event_type == member for member in EventType)


def test_stream_ids_are_built_and_parsed_by_kind() -> None:
    assert model_stream("m-1") == "model-m-1" and model_id_of(model_stream("m-1")) == "m-1"
    assert run_stream("run-7") == "run-run-7" and run_id_of(run_stream("run-7")) == "run-7"
    assert name_stream("Démo") == "name-démo" and artifact_stream("Weights") == "artifact-weights"
    assert [kind.prefix for kind in StreamKind] == ["name-", "model-", "run-", "artifact-", "principal-", "token-",
                                                   "policy-"]
    assert principal_stream("Alice") == "principal-alice" and token_stream("0a1b") == "token-0a1b"


def test_model_text_fields_are_the_event_fields_the_columns_and_the_view_fields() -> None:
    text = set(MODEL_TEXT_FIELDS)
    assert text <= set(ev.ModelRegistered.model_fields) and text <= set(t.models.columns.keys())
    assert text <= {f.name for f in fields(ModelView)}
    assert len(MODEL_TEXT_FIELDS) == len(text) == 7


@pytest.mark.parametrize(("enum", "column"), [(RunStatus, t.runs.c.status), (ArtifactKind, t.artifact_links.c.kind)])
def test_enumerated_values_fit_their_columns(enum: type[RunStatus] | type[ArtifactKind], column: object) -> None:
    assert max(len(member.value) for member in enum) <= column.type.length  # type: ignore[attr-defined]
