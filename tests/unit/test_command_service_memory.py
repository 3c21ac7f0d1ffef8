"""The command layer on the in-memory recorder: decisions, appends, retries and refusals, no database.

Assertions look at what the recorder holds (the appended events) and at the aggregates replayed
from it, not at the outcome objects a command returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import pytest
from modelog.registry import commands as cmd
from modelog.registry.aggregates import Aggregate, ModelState, NameClaim, RunState
from modelog.registry.errors import ConcurrencyError, ConflictError, InvalidInputError, NotFoundError
from modelog.registry.events import decode_event
from modelog.registry.memory import InMemoryRecorder
from modelog.registry.recorder import AppendRequest, LogHead, StoredEvent
from modelog.registry.service import CommandService
from modelog.registry.values import Stage
from modelog.registry.vocabulary import model_stream, name_stream

A = TypeVar("A", bound=Aggregate)


@pytest.fixture
def recorder() -> InMemoryRecorder:
    """An empty in-memory log."""
    return InMemoryRecorder()


@pytest.fixture
def service(recorder: InMemoryRecorder) -> CommandService:
    """A command service writing to ``recorder``."""
    return CommandService(recorder, actor="tester", attempts=3)


def replayed(recorder: InMemoryRecorder, cls: type[A], stream_id: str) -> A:
    """The aggregate of ``stream_id`` as the log has it (a fresh replay, no cache)."""
    aggregate = cls()
    for stored in recorder.read_stream(stream_id):
        aggregate.apply(decode_event(stored.event_type, stored.schema_version, stored.data))
    return aggregate


def model_of(recorder: InMemoryRecorder, name: str) -> ModelState:
    """The model holding ``name``, replayed from the log."""
    holder = replayed(recorder, NameClaim, name_stream(name)).holder
    assert holder is not None
    return replayed(recorder, ModelState, model_stream(holder))


def types(events: Sequence[StoredEvent]) -> list[str]:
    """The event types, in order."""
    return [e.event_type for e in events]


def test_register_claims_the_name_and_registers_the_model_in_one_append(recorder: InMemoryRecorder,
                                                                       service: CommandService) -> None:
    service.execute(cmd.RegisterModel(name="Demo", fields={"description": "d"}, tags=("a",)))
    log = list(recorder.read_all())
    assert types(log) == ["ModelNameClaimed", "ModelRegistered"]
    assert [e.position for e in log] == [1, 2] and log[0].recorded_at == log[1].recorded_at
    assert log[0].meta == log[1].meta and log[0].meta["actor"] == "tester"
    assert log[0].meta["command"] == "RegisterModel"
    model = model_of(recorder, "demo")
    assert (model.name, model.fields["description"], model.tags, model.exists) == ("Demo", "d", ["a"], True)
    assert recorder.verify().ok


def test_versions_are_numbered_in_the_model_stream(recorder: InMemoryRecorder, service: CommandService) -> None:
    service.execute(cmd.RegisterModel(name="m"))
    for _ in range(3):
        service.execute(cmd.CreateVersion(model="m"))
    service.execute(cmd.DeleteVersion(model="m", version=3))
    service.execute(cmd.CreateVersion(model="m"))
    model = model_of(recorder, "m")
    assert sorted(model.versions) == [1, 2, 3, 4] and model.versions[3].deleted and model.max_number == 4
    assert types(recorder.read_stream(model_stream(model.model_id)))[-2:] == [
        "ModelVersionDeleted", "ModelVersionCreated"]


def test_a_held_stage_needs_force_and_archives_its_holder(recorder: InMemoryRecorder,
                                                          service: CommandService) -> None:
    service.execute(cmd.RegisterModel(name="m"))
    service.execute(cmd.CreateVersion(model="m"))
    service.execute(cmd.CreateVersion(model="m"))
    service.execute(cmd.SetStage(model="m", version=1, stage=Stage.PRODUCTION))
    head = recorder.head()
    with pytest.raises(ConflictError, match="force"):
        service.execute(cmd.SetStage(model="m", version=2, stage=Stage.PRODUCTION))
    assert recorder.head() == head  # refused: nothing written
    service.execute(cmd.SetStage(model="m", version=2, stage=Stage.PRODUCTION, force=True))
    last = list(recorder.read_all(from_position=head + 1))
    assert types(last) == ["ModelVersionStageChanged", "ModelVersionStageChanged"]
    model = model_of(recorder, "m")
    assert (model.versions[1].stage, model.versions[2].stage) == (Stage.ARCHIVED, Stage.PRODUCTION)


def test_aliases_move_and_are_removed(recorder: InMemoryRecorder, service: CommandService) -> None:
    service.execute(cmd.RegisterModel(name="m"))
    service.execute(cmd.CreateVersion(model="m"))
    service.execute(cmd.CreateVersion(model="m"))
    service.execute(cmd.SetAlias(model="m", version=1, alias="champion"))
    service.execute(cmd.SetAlias(model="m", version=2, alias="champion"))
    assert model_of(recorder, "m").aliases == {"champion": 2}
    service.execute(cmd.RemoveAlias(model="m", alias="champion"))
    assert model_of(recorder, "m").aliases == {}
    assert types(list(recorder.read_all()))[-3:] == [
        "ModelVersionAliasSet", "ModelVersionAliasSet", "ModelVersionAliasRemoved"]


def test_a_run_creates_its_version_records_steps_and_completes(recorder: InMemoryRecorder,
                                                               service: CommandService) -> None:
    context = cmd.ModelContext(name="m", create_new_version=True)
    service.execute(cmd.StartRun(run_id="r1", pipeline="train", model=context))
    service.execute(cmd.CompleteStep(run_id="r1", step="fit"))
    service.execute(cmd.FinishRun(run_id="r1"))
    run = replayed(recorder, RunState, "run-r1")
    assert (run.status, run.steps, run.version_number, run.created_version) == ("completed", ["fit"], 1, True)
    model = model_of(recorder, "m")
    assert model.versions[1].runs == {"r1"}
    run_events = [e for e in recorder.read_all() if e.stream_id == "run-r1"]
    assert all(e.meta.get("run_id") == "r1" for e in run_events)
    with pytest.raises(ConflictError, match="not running"):
        service.execute(cmd.CompleteStep(run_id="r1", step="late"))


def test_a_failed_command_writes_nothing(recorder: InMemoryRecorder, service: CommandService) -> None:
    service.execute(cmd.RegisterModel(name="m"))
    head = recorder.log_head()
    with pytest.raises(ConflictError):
        service.execute(cmd.RegisterModel(name="M"))  # the same name, folded
    with pytest.raises(NotFoundError):  # the first command decided fine; the batch fails whole
        service.execute_all([cmd.CreateVersion(model="m"), cmd.SetStage(model="m", version=7, stage=Stage.STAGING)])
    assert recorder.log_head() == head
    service.execute(cmd.CreateVersion(model="m"))  # the cache kept nothing of the failed attempts
    assert sorted(model_of(recorder, "m").versions) == [1]


def test_a_batch_of_commands_is_one_append(recorder: InMemoryRecorder, service: CommandService) -> None:
    service.execute_all([cmd.RegisterModel(name="m"), cmd.CreateVersion(model="m"), cmd.CreateVersion(model="m")])
    log = list(recorder.read_all())
    assert len({e.recorded_at for e in log}) == 1 and len({e.meta["correlation_id"] for e in log}) == 1
    assert sorted(model_of(recorder, "m").versions) == [1, 2]


class _LosesTheFirstRace(InMemoryRecorder):
    """A log where another writer gets in first once: the first append meets a stream that moved on."""

    races_left = 1

    def write(self, requests: Sequence[AppendRequest], meta: dict[str, Any], head: LogHead) -> list[StoredEvent]:
        """Refuse the first append as the recorder refuses any append decided on a stale version."""
        if self.races_left:
            self.races_left -= 1
            first = requests[0]
            raise ConcurrencyError(first.stream_id, first.expected_version or 0, (first.expected_version or 0) + 1)
        return super().write(requests, meta, head)


def test_a_concurrency_conflict_is_retried_on_fresh_state() -> None:
    recorder = _LosesTheFirstRace()
    service = CommandService(recorder, actor="tester", attempts=3)
    service.execute(cmd.RegisterModel(name="m"))
    assert types(list(recorder.read_all())) == ["ModelNameClaimed", "ModelRegistered"]
    assert recorder.races_left == 0 and recorder.verify().ok


def test_a_conflict_on_every_attempt_gives_up_having_written_nothing(recorder: InMemoryRecorder) -> None:
    racing = _LosesTheFirstRace()
    racing.races_left = 5
    service = CommandService(racing, actor="tester", attempts=2)
    with pytest.raises(ConcurrencyError):
        service.execute(cmd.RegisterModel(name="m"))
    assert racing.head() == 0 and racing.races_left == 3


def test_a_second_service_sees_the_first_ones_writes(recorder: InMemoryRecorder, service: CommandService) -> None:
    other = CommandService(recorder, actor="other")
    service.execute(cmd.RegisterModel(name="m"))
    service.execute(cmd.CreateVersion(model="m"))  # cached by ``service`` now
    other.execute(cmd.CreateVersion(model="m"))
    service.execute(cmd.CreateVersion(model="m"))  # catches up with ``other``'s version, does not reuse 2
    model = model_of(recorder, "m")
    assert sorted(model.versions) == [1, 2, 3]
    assert [e.meta["actor"] for e in recorder.read_stream(model_stream(model.model_id))] == [
        "tester", "tester", "other", "tester"]
    service.close()
    other.close()


def test_a_rename_moves_the_claim_and_renames_the_model_in_one_append(recorder: InMemoryRecorder,
                                                                     service: CommandService) -> None:
    service.execute(cmd.RegisterModel(name="demo"))
    service.execute(cmd.CreateVersion(model="demo"))
    model_id = model_of(recorder, "demo").model_id
    head = recorder.head()
    done = service.execute(cmd.RenameModel(model="DEMO", new_name="fraud"))
    assert types(done.events) == ["ModelNameReleased", "ModelRenamed", "ModelNameClaimed"]
    assert {e.position for e in done.events} == {head + 1, head + 2, head + 3}
    assert {e.meta["span"][0] for e in done.events} == {head + 1}  # one transaction
    assert replayed(recorder, NameClaim, name_stream("demo")).holder is None
    renamed = model_of(recorder, "fraud")
    assert (renamed.model_id, renamed.name, sorted(renamed.versions)) == (model_id, "fraud", [1])
    service.execute(cmd.RegisterModel(name="demo"))  # the old name is free
    assert model_of(recorder, "demo").model_id != model_id

    case_only = service.execute(cmd.RenameModel(model="fraud", new_name="Fraud"))  # the same key: no claim moves
    assert types(case_only.events) == ["ModelRenamed"]
    assert model_of(recorder, "FRAUD").name == "Fraud"

    head = recorder.head()
    with pytest.raises(ConflictError, match="^a model named 'DEMO' already exists$"):
        service.execute(cmd.RenameModel(model="Fraud", new_name="DEMO"))
    with pytest.raises(NotFoundError, match="^model 'ghost' does not exist$"):
        service.execute(cmd.RenameModel(model="ghost", new_name="x"))
    with pytest.raises(InvalidInputError, match="already named"):
        service.execute(cmd.RenameModel(model="fraud", new_name="Fraud"))
    with pytest.raises(InvalidInputError, match="model name"):
        cmd.RenameModel(model="fraud", new_name="a/b")
    assert recorder.head() == head  # every refusal wrote nothing
