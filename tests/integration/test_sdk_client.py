"""Client: models, versions by every selector, as_of reads, stages and history."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from modelog.registry.errors import ConflictError, NotFoundError
from modelog.registry.selectors import parse_selector
from modelog.sdk.errors import ArtifactNotFoundError

from modelog import Client, ModelStages


@pytest.fixture
def client(registry: Any) -> Iterator[Client]:
    with Client(registry=registry) as active:
        yield active


def test_register_update_list_delete_models(client: Client) -> None:
    model = client.register_model("m", license="MIT", tags=["a"])
    assert (model.name, model.license, model.tags) == ("m", "MIT", ("a",))
    updated = client.update_model("m", add_tags=["b"], remove_tags=["a"], ethics="fine")
    assert (updated.tags, updated.ethics) == (("b",), "fine")
    assert [m.name for m in client.list_models().items] == ["m"]
    assert [m.name for m in client.list_models(tag="b").items] == ["m"]
    with pytest.raises(ConflictError):
        client.register_model("M")
    client.delete_model("m")
    assert client.list_models().total == 0
    assert [e.event_type for e in client.history("m")][-1] == "ModelDeleted"


def test_versions_by_number_name_stage_latest_and_alias(client: Client) -> None:
    client.register_model("m")
    client.create_model_version("m")
    named = client.create_model_version("m", name="candidate")
    named.set_stage(ModelStages.STAGING)
    client.set_alias("m", 1, "best")
    assert client.get_model_version("m", 1).number == 1
    assert client.get_model_version("m", "1").number == 1
    assert client.get_model_version("m", "candidate").number == 2
    assert client.get_model_version("m", ModelStages.STAGING).number == 2
    assert client.get_model_version("m", ModelStages.LATEST).number == 2
    assert client.get_model_version("m").number == 2
    assert client.get_model_version("m", "@best").number == 1
    assert [v.number for v in client.list_model_versions("m", stage=ModelStages.STAGING)] == [2]
    assert named.name == "candidate" and named.stage is ModelStages.STAGING
    with pytest.raises(NotFoundError):
        client.get_model_version("m", 7)
    assert parse_selector(ModelStages.PRODUCTION).value == "production"


def test_set_stage_with_force_archives_the_holder(client: Client) -> None:
    client.register_model("m")
    one, two = client.create_model_version("m"), client.create_model_version("m")
    one.set_stage("production")
    with pytest.raises(ConflictError, match="use force"):
        two.set_stage(ModelStages.PRODUCTION)
    two.set_stage(ModelStages.PRODUCTION, force=True)
    assert (one.stage, two.stage) == (ModelStages.ARCHIVED, ModelStages.PRODUCTION)
    summaries = [e.summary for e in two.history()]
    assert summaries[-1].startswith("version 2 stage none -> production")
    assert not [s for s in summaries if s.startswith("version 1")]


def test_as_of_reads_see_the_past(client: Client) -> None:
    client.register_model("m", description="old")
    client.create_model_version("m")
    time.sleep(0.05)
    moment = datetime.now(UTC)
    time.sleep(0.05)
    client.update_model("m", description="new")
    client.create_model_version("m")
    client.get_model_version("m", 1).set_stage("staging")
    assert client.get_model("m", as_of=moment).description == "old"
    assert [v.number for v in client.list_model_versions("m", as_of=moment)] == [1]
    past = client.get_model_version("m", as_of=moment)
    assert past.number == 1 and past.stage is ModelStages.NONE and past.position is not None
    assert client.get_model_version("m", 1).stage is ModelStages.STAGING
    assert [m.description for m in client.list_models(as_of=moment).items] == ["old"]
    assert client.list_artifact_links("m", 1, as_of=moment) == []
    assert client.list_version_runs("m", 1, as_of=moment) == []
    assert [e.event_type for e in client.history("m", as_of=moment)][-1] == "ModelVersionCreated"


def test_missing_artifact_name_lists_what_is_linked(client: Client) -> None:
    client.register_model("m")
    version = client.create_model_version("m")
    with pytest.raises(ArtifactNotFoundError, match="has no artifact 'nope'; linked: none"):
        version.load_artifact("nope")


def test_deleting_a_version(client: Client) -> None:
    client.register_model("m")
    client.create_model_version("m")
    client.delete_model_version("m", 1)
    assert client.list_model_versions("m") == []
