"""Point-in-time reads (``as_of`` a timestamp, ``at_position`` a log position) on every backend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from modelog.projections.queries import ReadModel
from modelog.registry import commands as cmd
from modelog.registry.errors import InvalidInputError, NotFoundError
from modelog.registry.store import parse_time

from tests.integration.store_support import CountingStore


class Ticking:
    """One second per append, starting in 2022, so every append has its own instant."""

    def __init__(self) -> None:
        self.now = datetime(2022, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Story:
    """A registry with a known history and the log position after each chapter."""

    reg: Any
    at: dict[str, int]
    run_id: str = "run-1"

    def time_of(self, chapter: str) -> datetime:
        return parse_time(list(self.reg.store.read_all(from_position=self.at[chapter], limit=1))[0].recorded_at)


@pytest.fixture
def story(registry: Any) -> Story:
    registry.store.clock = Ticking()
    run, at = registry.commands.execute, {}

    def chapter(name: str, *commands: cmd.Command) -> None:
        for command in commands:
            run(command)
        at[name] = registry.store.head()

    chapter("other", cmd.RegisterModel(name="other"), *[cmd.CreateVersion(model="other") for _ in range(15)])
    chapter("registered", cmd.RegisterModel(name="demo", fields={"description": "first"}))
    chapter("v1", cmd.CreateVersion(model="demo"))
    chapter("v2", cmd.CreateVersion(model="demo", name="cand"))
    chapter("promoted", cmd.SetStage(model="demo", version=1, stage="production"))
    chapter("aliased", cmd.SetAlias(model="demo", version="cand", alias="champion"))
    chapter("linked", cmd.LinkArtifact(model="demo", version=1, pipeline="p", step="s", name="preds", kind="data",
                                       artifact_id="a1", artifact_name="preds", content_hash="h1"))
    chapter("run", cmd.StartRun(run_id="run-1", pipeline="train",
                                model=cmd.ModelContext(name="demo", version=1)))
    chapter("more-other", *[cmd.CreateVersion(model="other") for _ in range(10)])
    chapter("run-done", cmd.FinishRun(run_id="run-1"))
    chapter("forced", cmd.SetStage(model="demo", version="cand", stage="production", force=True))
    chapter("v2-deleted", cmd.DeleteVersion(model="demo", version=2))
    chapter("described", cmd.UpdateModel(model="demo", changes={"description": "second"}))
    chapter("deleted", cmd.DeleteModel(model="demo"))
    chapter("again", cmd.RegisterModel(name="Demo"))
    return Story(registry, at)


def names(page: Any) -> list[str]:
    return [m.name for m in page.items]


def test_models_at_each_point(story: Story) -> None:
    reads, at = story.reg.reads, story.at
    assert names(reads.list_models(at_position=0)) == []
    assert names(reads.list_models(at_position=at["other"])) == ["other"]
    assert names(reads.list_models(at_position=at["registered"])) == ["demo", "other"]
    assert names(reads.list_models(at_position=at["deleted"])) == ["other"]
    assert names(reads.list_models()) == ["Demo", "other"]
    assert reads.get_model("demo", at_position=at["registered"]).description == "first"
    assert reads.get_model("demo", at_position=at["described"]).description == "second"
    assert reads.get_model("demo", at_position=at["v2"]).version_count == 2


def test_version_count_and_latest_version_follow_creations_and_deletions(story: Story) -> None:
    reads, at = story.reg.reads, story.at
    counts = {chapter: (m.version_count, m.latest_version) for chapter in ("registered", "v1", "v2", "v2-deleted")
              for m in [reads.get_model("demo", at_position=at[chapter])]}
    assert counts == {"registered": (0, None), "v1": (1, 1), "v2": (2, 2), "v2-deleted": (1, 1)}
    page = reads.list_models(at_position=at["v2-deleted"])
    listed = {m.name: (m.version_count, m.latest_version) for m in page.items}
    assert listed == {"demo": (1, 1), "other": (25, 25)}
    assert (reads.get_model("other").version_count, reads.get_model("other").latest_version) == (25, 25)
    with pytest.raises(NotFoundError, match="did not exist at log position"):
        reads.get_model("demo", at_position=at["deleted"])
    with pytest.raises(NotFoundError):
        reads.get_model("demo", at_position=at["other"])
    assert reads.get_model("demo").id != reads.get_model("demo", at_position=at["registered"]).id


def test_versions_stages_and_aliases_at_each_point(story: Story) -> None:
    reads, at = story.reg.reads, story.at
    assert reads.list_versions("demo", at_position=at["registered"]) == []
    assert [(v.number, v.name) for v in reads.list_versions("demo", at_position=at["v2"])] == [(1, "1"), (2, "cand")]
    with pytest.raises(NotFoundError, match="has no production version"):
        reads.get_version("demo", "production", at_position=at["v2"])
    assert reads.get_version("demo", "production", at_position=at["promoted"]).number == 1
    assert reads.get_version("demo", "production", at_position=at["forced"]).number == 2
    assert reads.get_version("demo", 1, at_position=at["forced"]).stage == "archived"
    assert reads.get_version("demo", "@champion", at_position=at["aliased"]).number == 2
    assert reads.get_version("demo", "latest", at_position=at["v2"]).number == 2
    assert reads.get_version("demo", "latest", at_position=at["v2-deleted"]).number == 1
    assert [v.number for v in reads.list_versions("demo", stage="Production", at_position=at["forced"])] == [2]
    with pytest.raises(NotFoundError, match="has no version @champion"):
        reads.get_version("demo", "@champion", at_position=at["v2-deleted"])


def test_links_and_runs_at_each_point(story: Story) -> None:
    reads, at = story.reg.reads, story.at
    assert reads.list_links("demo", 1, at_position=at["aliased"]) == []
    assert [x.artifact_id for x in reads.list_links("demo", 1, at_position=at["linked"])] == ["a1"]
    assert reads.list_version_runs("demo", 1, at_position=at["linked"]) == []
    assert [r.status for r in reads.list_version_runs("demo", 1, at_position=at["run"])] == ["running"]
    assert [r.status for r in reads.list_version_runs("demo", 1, at_position=at["run-done"])] == ["completed"]
    assert reads.get_version("demo", 1, at_position=at["run"]).run_count == 1
    assert reads.get_run(story.run_id, at_position=at["more-other"]).status == "running"
    assert reads.get_run(story.run_id).status == "completed"
    with pytest.raises(NotFoundError, match="at log position"):
        reads.get_run(story.run_id, at_position=at["linked"])
    assert [r.status for r in reads.list_runs(at_position=at["run"])] == ["running"]
    assert reads.list_runs(at_position=at["linked"]) == []


def test_history_at_a_point_stops_there(story: Story) -> None:
    reads, at = story.reg.reads, story.at
    then = reads.history("demo", at_position=at["promoted"])
    assert [h.summary for h in then] == ["registered model 'demo'", "created version 1",
                                         "created version 2 named 'cand'", "version 1 stage none -> production"]
    assert all(h.position <= at["promoted"] for h in then)
    assert all(h.actor == "tester" for h in then)
    with_runs = reads.history("demo", at_position=at["run-done"], include_runs=True)
    assert sorted(h.summary for h in with_runs[-3:]) == [
        "linked run run-1 of pipeline 'train' to version 1", "run completed", "run of pipeline 'train' started"]
    assert [h.position for h in with_runs] == sorted(h.position for h in with_runs)
    assert reads.history("demo", at_position=at["run"], include_runs=True)[-1].run_id == story.run_id
    now = reads.history("demo")  # every model that held the name: the deleted one, then 'Demo' (issue 12.8)
    assert [h.summary for h in now if h.model_id == now[-1].model_id] == ["registered model 'Demo'"]
    assert [h.summary for h in now[:4]] == [h.summary for h in then] and len({h.model_id for h in now}) == 2


def test_as_of_a_timestamp_equals_at_the_position_then(story: Story) -> None:
    reads = story.reg.reads
    for chapter in ("registered", "v2", "promoted", "run", "forced", "deleted"):
        moment, position = story.time_of(chapter), story.at[chapter]
        assert reads.list_models(as_of=moment) == reads.list_models(at_position=position)
        if chapter != "deleted":
            assert reads.list_versions("demo", as_of=moment) == reads.list_versions("demo", at_position=position)
            assert reads.history("demo", as_of=moment) == reads.history("demo", at_position=position)
        assert reads.list_models(as_of=moment + timedelta(milliseconds=500)) == reads.list_models(
            at_position=position)
    first = story.time_of("other") - timedelta(seconds=30)
    assert reads.list_models(as_of=first).items == []
    local = story.time_of("v2").astimezone(datetime.now().astimezone().tzinfo).replace(tzinfo=None)
    assert reads.list_versions("demo", as_of=local) == reads.list_versions("demo", at_position=story.at["v2"])


def test_bad_points_in_time_are_refused(story: Story) -> None:
    reads, head = story.reg.reads, story.reg.store.head()
    with pytest.raises(InvalidInputError, match="beyond the end of the log"):
        reads.list_models(at_position=head + 1)
    with pytest.raises(InvalidInputError, match=">= 0"):
        reads.list_models(at_position=-1)
    with pytest.raises(InvalidInputError, match="either as_of or at_position"):
        reads.list_models(as_of=datetime.now(UTC), at_position=1)
    with pytest.raises(InvalidInputError, match="in the future"):
        reads.list_models(as_of=datetime.now(UTC) + timedelta(hours=1))


def test_a_query_about_one_model_replays_only_that_models_streams(story: Story) -> None:
    reg, at = story.reg, story.at
    counting = CountingStore(reg.engine)
    reads = ReadModel(reg.engine, counting, temporal=False)  # the replaying reference reads
    demo_id = reads.get_model("demo", at_position=at["forced"]).id
    point = at["forced"]
    for query in (lambda: reads.list_versions("demo", at_position=point),
                  lambda: reads.get_version("demo", "production", at_position=point),
                  lambda: reads.list_links("demo", 1, at_position=point),
                  lambda: reads.list_version_runs("demo", 1, at_position=point)):
        counting.reset_count()
        assert query()
        assert set(counting.streams_read) == {"name-demo", f"model-{demo_id}", "run-run-1"}
        expected = sum(len(reg.store.read_stream(s, to_position=point)) for s in set(counting.streams_read))
        # (the two events at the point that tell whether a command ends there are read apart, only their
        # meta and time: projections.boundaries)
        assert counting.events_read == expected and expected < point - 25  # none of model "other"'s 27 events
    counting.reset_count()
    reads.get_run("run-1", at_position=point)
    assert counting.streams_read == ["run-run-1"] and counting.events_read == 2


def test_point_in_time_reads_never_write(story: Story) -> None:
    reads, store = story.reg.reads, story.reg.store
    head = store.head()
    reads.list_versions("demo", at_position=story.at["v2"])
    reads.list_models(at_position=story.at["promoted"])
    assert store.head() == head and reads.list_models().total == 2


def test_temporal_reads_read_no_events_and_agree_with_replays(story: Story) -> None:
    reg = story.reg
    counting = CountingStore(reg.engine)
    temporal, replaying = ReadModel(reg.engine, counting), ReadModel(reg.engine, reg.store, temporal=False)
    for point in sorted({temporal.resolve_point(at_position=p) or 0 for p in range(reg.store.head() + 1)}):
        for reads in (temporal, replaying):
            counting.reset_count()
            found = (reads.list_models(at_position=point), reads.list_runs(at_position=point),
                     reads.list_artifacts(at_position=point))
            if reads is temporal:  # each read looks at the event at the position and the next (a command boundary?)
                assert counting.events_read <= 3 * 2, "a temporal read replayed events"
                answer = found
            else:
                assert found == answer, f"at_position={point}"
