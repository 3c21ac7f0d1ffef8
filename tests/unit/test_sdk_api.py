"""The SDK's public surface: names, lazy imports, configuration validation, output declarations."""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated

import pytest
from modelog.registry.errors import InvalidInputError, RegistryError
from modelog.sdk.config import ArtifactConfig, DeploymentArtifactConfig, ModelArtifactConfig, ModelConfig, ModelStages
from modelog.sdk.errors import ConfigError, SDKError, StepContextError, StepOutputError
from modelog.sdk.steps import Step, step

import modelog as sdk

PUBLIC = ["ArtifactConfig", "Client", "DeploymentArtifactConfig", "ModelArtifactConfig", "ModelConfig",
          "ModelStages", "get_step_context", "pipeline", "step"]


def test_public_api_is_exactly_the_documented_sorted_names() -> None:
    assert sdk.__all__ == sorted(sdk.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(sdk, name).__doc__


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sdk.nope  # noqa: B018


def test_importing_sdk_loads_no_heavy_library() -> None:
    code = ("import sys, modelog, modelog.application.bootstrap; from modelog import *; "
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('sklearn', 'pandas', 'numpy')]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_sdk_errors_form_one_tree_with_the_core() -> None:
    assert issubclass(SDKError, RegistryError)
    assert issubclass(ConfigError, InvalidInputError) and issubclass(ConfigError, ValueError)
    assert issubclass(StepContextError, SDKError)


def test_model_stages_are_the_registry_stages_plus_latest() -> None:
    assert [s.value for s in ModelStages] == ["none", "staging", "production", "archived", "latest"]


@pytest.mark.parametrize("version", [1, "1", ModelStages.PRODUCTION, "staging", "latest", "@best"])
def test_new_version_with_a_stage_number_or_alias_is_refused(version: object) -> None:
    with pytest.raises(ConfigError, match="create_new_model_version=True cannot be combined"):
        ModelConfig(name="demo", version=version, create_new_model_version=True)


def test_new_version_may_be_named() -> None:
    context = ModelConfig(name="demo", version="candidate", create_new_model_version=True).to_context()
    assert context.create_new_version and context.version_name == "candidate"


@pytest.mark.parametrize(("version", "kind", "value"), [
    (None, "latest", None), (3, "number", 3), ("3", "number", 3), ("prod-1", "name", "prod-1"),
    ("@best", "alias", "best"), (ModelStages.PRODUCTION, "stage", "production"), ("latest", "latest", None),
])
def test_existing_version_selectors(version: object, kind: str, value: object) -> None:
    selector = ModelConfig(name="demo", version=version).to_context().version
    assert (selector.kind.value, selector.value) == (kind, value)


def test_model_metadata_is_validated_at_construction() -> None:
    with pytest.raises(ConfigError, match="model name"):
        ModelConfig(name="a/b")
    with pytest.raises(ValueError, match="version number 0 is out of range"):
        ModelConfig(name="demo", version=0)
    register = ModelConfig(name="demo", license="Apache", tags=["x"]).to_context().register
    assert register is not None and register.fields == {"license": "Apache"} and register.tags == ("x",)


def test_artifact_config_kinds() -> None:
    assert (ArtifactConfig.kind, ModelArtifactConfig.kind, DeploymentArtifactConfig.kind) == (
        "data", "model", "deployment")


def test_step_works_bare_and_with_arguments() -> None:
    @step
    def bare() -> int:
        return 1

    @step(name="renamed", enable_cache=False)
    def configured(x: int) -> int:
        return x + 1

    assert isinstance(bare, Step) and bare.name == "bare" and bare() == 1
    assert configured.name == "renamed" and configured.enable_cache is False and configured(1) == 2


def test_output_declarations() -> None:
    @step
    def unannotated():  # noqa: ANN202
        return 1

    @step
    def nothing() -> None:
        return None

    @step
    def named() -> Annotated[int, "score", ModelArtifactConfig()]:
        return 1

    @step
    def pair() -> tuple[Annotated[int, "a"], Annotated[int, "b", ArtifactConfig(overwrite=True)]]:
        return 1, 2

    @step
    def by_config() -> Annotated[int, ArtifactConfig(name="preds")]:
        return 1

    assert unannotated.outputs is None and [d.name for d, _ in unannotated.split_outputs(5)] == ["output"]
    assert nothing.outputs == ()
    assert named.outputs[0].name == "score" and named.outputs[0].config.kind == "model"
    assert [d.name for d in pair.outputs] == ["a", "b"] and pair.outputs[1].config.overwrite
    assert by_config.outputs[0].name == "preds"
    with pytest.raises(StepOutputError, match="declares 2 outputs"):
        pair.split_outputs(1)


def test_duplicate_output_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="repeated: a"):
        @step
        def twice() -> tuple[Annotated[int, "a"], Annotated[int, "a"]]:
            return 1, 2


def test_get_step_context_outside_a_step_is_a_clear_error() -> None:
    with pytest.raises(StepContextError, match="only be called inside a step"):
        sdk.get_step_context()
