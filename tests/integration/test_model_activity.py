"""The model page's reads in SQL (a page of history, the stage timeline from the version twin) agree, at every
log position, with the same answers derived from the model's whole history; on every backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from modelog.application.api import RegistryAPI
from modelog.application.local import connect
from modelog.application.timeline import stage_timeline
from modelog.registry.errors import InvalidInputError, NotFoundError


def _seed(db_url: str, home: Path) -> None:
    with connect(db_url, home=home, actor="alice") as registry:
        registry.register_model("demo", fields={"description": "churn"})
        registry.create_version("demo")
        registry.set_stage("demo", 1, "staging")
        registry.create_version("demo")
        registry.set_alias("demo", 2, "candidate")
        registry.register_model("other")
        registry.create_version("other")
    with connect(db_url, home=home, actor="bob") as registry:
        registry.set_stage("demo", 1, "production")
        registry.log_metadata("demo", 1, {"accuracy": 0.93})
        registry.set_alias("demo", 1, "candidate")  # moved from version 2
        registry.create_version("demo")
        registry.set_stage("demo", 3, "production", force=True)  # displaces version 1
        registry.update_version("demo", 2, description="second")
        registry.remove_alias("demo", "candidate")
        registry.delete_version("demo", 2)
        registry.create_version("demo")
    with connect(db_url, home=home, actor="alice") as registry:  # a name held by two models in turn
        registry.delete_model("other")
        registry.register_model("other")
        registry.create_version("other")


def _reference(api: RegistryAPI, model: str, position: int | None) -> list[object]:
    found = api.get_model(model, at_position=position)
    return [e for e in api.history(model, at_position=position) if e.model_id in (None, found.id)]


def test_the_timeline_and_history_pages_agree_with_the_whole_history_at_every_position(
        db_url: str, home: Path) -> None:
    _seed(db_url, home)
    with connect(db_url, home=home) as api:
        head = api.log_head().position
        compared = 0
        for model in ("demo", "other"):
            for position in [None, *range(1, head + 1)]:
                try:
                    history = _reference(api, model, position)
                except NotFoundError:
                    continue
                assert api.stage_timeline(model, at_position=position) == stage_timeline(history)  # type: ignore[arg-type]
                newest_first = list(reversed(history))
                page = api.history_page(model, at_position=position, size=3, page=2)
                assert list(page.entries) == newest_first[3:6] and page.total == len(history)
                assert page.actors == tuple(sorted({e.actor for e in history if e.actor}))  # type: ignore[attr-defined]
                assert page.kinds == tuple(sorted({e.event_type for e in history}))  # type: ignore[attr-defined]
                for actor, kind in (("bob", None), (None, "ModelVersionCreated"), ("alice", "ModelVersionCreated")):
                    chosen = [e for e in newest_first if (actor is None or e.actor == actor)  # type: ignore[attr-defined]
                              and (kind is None or e.event_type == kind)]  # type: ignore[attr-defined]
                    filtered = api.history_page(model, actor=actor, kind=kind, at_position=position)
                    assert list(filtered.entries) == chosen and filtered.total == len(chosen)
                compared += 1
        assert compared > 30


def test_the_timeline_can_be_read_for_a_range_of_versions(db_url: str, home: Path) -> None:
    _seed(db_url, home)
    with connect(db_url, home=home) as api:
        whole = api.stage_timeline("demo")
        assert [lane.number for lane in whole.lanes] == [1, 2, 3, 4]
        two = whole.lanes[1]
        assert two.deleted and [m.kind for m in two.markers] == ["alias", "deleted"]
        one = whole.lanes[0]
        assert [s.stage for s in one.spans] == ["none", "staging", "production", "archived"]
        assert [m.actor for m in one.markers if m.kind == "stage"] == ["alice", "bob", "bob"]
        part = api.stage_timeline("demo", low=2, high=3)
        assert part.lanes == whole.lanes[1:3] and (part.first, part.last) == (whole.first, whole.last)


def test_bad_pages_and_unknown_models_are_refused(db_url: str, home: Path) -> None:
    _seed(db_url, home)
    with connect(db_url, home=home) as api:
        for bad in ({"page": 0}, {"size": 0}, {"size": 1001}, {"page": True}):
            with pytest.raises(InvalidInputError):
                api.history_page("demo", **bad)  # type: ignore[arg-type]
        with pytest.raises(NotFoundError):
            api.history_page("nope")
        with pytest.raises(NotFoundError):
            api.stage_timeline("nope")
        with pytest.raises(InvalidInputError):
            api.stage_timeline("demo", low="1")  # type: ignore[arg-type]


def test_the_remote_client_answers_the_same_through_the_server(db_url: str, home: Path) -> None:
    from modelog.application.remote import RemoteRegistry

    from tests.server_support import serving

    _seed(db_url, home)
    with connect(db_url, home=home) as api:
        middle = api.log_head().position // 2
        local = [api.history_page("demo", actor="bob", size=2, page=2), api.stage_timeline("demo", low=1, high=3),
                 api.stage_timeline("demo", at_position=middle), api.history_page("demo", at_position=middle)]
    with serving(db_url, home) as server, RemoteRegistry(server.url, token=server.token) as remote:
        assert [remote.history_page("demo", actor="bob", size=2, page=2), remote.stage_timeline("demo", low=1, high=3),
                remote.stage_timeline("demo", at_position=middle),
                remote.history_page("demo", at_position=middle)] == local
        with pytest.raises(InvalidInputError):
            remote.history_page("demo", size=5000)
        with pytest.raises(NotFoundError):
            remote.stage_timeline("nope")
