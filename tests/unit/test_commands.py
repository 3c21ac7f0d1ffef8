"""Commands take raw user values and carry parsed, typed ones; every refusal is an InvalidInputError."""

from __future__ import annotations

from typing import Any

import pytest
from modelog.registry import commands as cmd
from modelog.registry.errors import InvalidInputError
from modelog.registry.selectors import LATEST, SelectorKind, VersionSelector
from modelog.registry.values import ArtifactKind, DeleteReason, Stage
from pydantic import ValidationError

LINK = {"model": "demo", "version": 1, "pipeline": "p", "step": "s", "name": "n", "artifact_id": "a1",
        "artifact_name": "an", "content_hash": "h"}


def test_raw_values_are_parsed_into_their_types() -> None:
    stage = cmd.SetStage(model="demo", version="2", stage="Production", force=True)
    assert stage.version == stage.selector == VersionSelector(SelectorKind.NUMBER, 2)
    assert stage.stage is Stage.PRODUCTION and stage.force is True
    link = cmd.LinkArtifact(**{**LINK, "kind": "MODEL", "version": "@champion"})
    assert link.kind is ArtifactKind.MODEL and link.selector == VersionSelector(SelectorKind.ALIAS, "champion")
    assert cmd.DeleteVersion(model="demo", version="latest", reason="Pipeline_Failure", run_id="r").reason \
        is DeleteReason.PIPELINE_FAILURE
    assert cmd.RegisterModel(name="m", tags=["b", "a", "b"]).tags == ("b", "a")
    assert cmd.RegisterModel(name="m", tags="solo").tags == ("solo",)
    assert cmd.UpdateModel(model="m", changes={"license": "MIT"}).changes == {"license": "MIT"}
    assert cmd.ModelContext(name="demo").version is LATEST
    assert cmd.CreateVersion(model="e\u0301").model == "\u00e9"  # names are stored in NFC


def test_an_output_artifact_is_named_after_the_output_unless_named() -> None:
    spec = {"uri": "u", "content_hash": "h", "data_type": "d", "materializer": "m"}
    assert cmd.OutputSpec(name="weights", **spec).artifact_name == "weights"
    assert cmd.OutputSpec(name="weights", artifact_name="w2", **spec).artifact_name == "w2"
    assert cmd.OutputSpec(name="weights", kind=None, **spec).kind is None
    assert cmd.CompleteStep(run_id="r", step="s", outputs=[cmd.OutputSpec(name="o", **spec)]).outputs[0].name == "o"


@pytest.mark.parametrize(("build", "message"), [
    (lambda: cmd.SetStage(model="demo", version=1, stage="gold"), "^unknown stage 'gold'; stages are none, staging, "
                                                                  "production, archived$"),
    (lambda: cmd.SetStage(model="demo", version=True), "^a version selector cannot be a boolean$"),
    (lambda: cmd.SetStage(model=" demo", version=1), "must not start or end with white space"),
    (lambda: cmd.LinkArtifact(**{**LINK, "artifact_version": 0}),
     "^artifact version must be a whole number from 1 to 2147483647, got 0$"),
    (lambda: cmd.LinkArtifact(**{**LINK, "artifact_version": True}), "whole number from 1 to 2147483647, got True"),
    (lambda: cmd.LinkArtifact(**{k: v for k, v in LINK.items() if k != "pipeline"}), "^pipeline must not be empty$"),
    (lambda: cmd.LinkArtifact(**{**LINK, "kind": "weights"}), "kinds are data, model, deployment"),
    (lambda: cmd.SetAlias(model="demo", version=1), "^alias must not be empty$"),
    (lambda: cmd.LinkRun(model="demo", version=1, pipeline="p"), "^run id must not be empty$"),
    (lambda: cmd.DeleteVersion(model="demo", version=1, reason="pipeline_failure"), "must name the failed run"),
    (lambda: cmd.DeleteVersion(model="demo", version=1, reason="boredom"), "unknown delete reason 'boredom'"),
    (lambda: cmd.RegisterModel(name="m", fields={"colour": "red"}), r"^unknown field\(s\) colour; allowed: license"),
    (lambda: cmd.CreateVersion(model="m", name="42"), "is all digits"),
    (lambda: cmd.ModelContext(name="m", version_name="latest"), "is reserved"),
    (lambda: cmd.OutputSpec(name="o/x", uri="u", content_hash="h", data_type="d", materializer="m"),
     "output name 'o/x' must not contain path separators"),
])
def test_refusals_keep_their_messages(build: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build()


@pytest.mark.parametrize("build", [
    lambda: cmd.SetStage(model="demo"),  # version missing
    lambda: cmd.SetStage(model="demo", version=1, colour="red"),  # unknown field
    lambda: cmd.FinishRun(run_id=3),  # not text
    lambda: cmd.CompleteStep(run_id="r", step="s", outputs=["not an output"]),
])
def test_pydantic_errors_surface_as_invalid_input(build: Any) -> None:
    with pytest.raises(InvalidInputError) as raised:
        build()
    assert not isinstance(raised.value, ValidationError)


def test_commands_are_frozen() -> None:
    command = cmd.SetStage(model="demo", version=1, stage="staging")
    with pytest.raises(ValidationError):  # pydantic's frozen-instance error: a programming mistake, not input
        command.stage = Stage.PRODUCTION
    assert command.stage is Stage.STAGING
