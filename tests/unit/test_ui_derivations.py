"""The UI's derivations without a server: the stage timeline, the diff, the lineage, and the escaping of
every log text in the SVG drawings."""

from __future__ import annotations

from typing import Any

import pytest
from modelog.application.timeline import lineage, model_diff, stage_timeline
from modelog.projections.history import HistoryEntry
from modelog.projections.views import LinkView, RunView, VersionView

pytest.importorskip("jinja2")
from modelog.ui.render import visible  # noqa: E402
from modelog.ui.svg import lineage_svg, timeline_svg  # noqa: E402

_MODEL = "m-1"


def _entry(position: int, kind: str, actor: str = "alice", **data: Any) -> HistoryEntry:
    return HistoryEntry(position, f"2026-01-01T00:00:{position:02d}.000000Z", actor, kind, f"{kind} {data}", None,
                        data, _MODEL)


HISTORY = [
    _entry(1, "ModelRegistered", name="m"),
    _entry(2, "ModelVersionCreated", number=1, name="1"),
    _entry(3, "ModelVersionStageChanged", number=1, from_stage="none", to_stage="staging"),
    _entry(4, "ModelVersionCreated", number=2, name="2"),
    _entry(5, "ModelVersionStageChanged", actor="bob", number=1, from_stage="staging", to_stage="production"),
    _entry(6, "ModelVersionAliasSet", number=2, alias="candidate"),
    _entry(7, "ModelVersionMetadataLogged", number=1, values={"accuracy": 0.9}),
    _entry(8, "ModelVersionCreated", number=3, name="3"),
    _entry(9, "ModelVersionDeleted", number=3, reason="user"),
]


def _version(number: int, stage: str, run: str | None = None) -> VersionView:
    return VersionView(_MODEL, "m", number, str(number), None, (), stage, (), 0, 0, 0, 0, "t", "t", "alice", run)


def test_the_timeline_has_one_lane_per_version_ever_created_with_its_stages() -> None:
    found = stage_timeline(HISTORY)
    assert [lane.number for lane in found.lanes] == [1, 2, 3] and (found.first, found.last) == (1, 9)
    one = found.lanes[0]
    assert [(s.stage, s.start, s.end) for s in one.spans] == [("none", 2, 3), ("staging", 3, 5),
                                                               ("production", 5, None)]
    assert one.spans[2].actor == "bob" and [m.position for m in one.markers] == [3, 5]
    assert [(m.kind, m.position) for m in found.lanes[1].markers] == [("alias", 6)]
    three = found.lanes[2]
    assert three.deleted and three.spans[-1].end == 9 and three.markers[-1].kind == "deleted"


def test_the_diff_sorts_events_between_two_positions() -> None:
    found = model_diff("m", 4, 9, [_version(1, "staging"), _version(2, "none")],
                       [_version(1, "production"), _version(2, "none")], HISTORY)
    assert found.created == (3,) and found.deleted == (3,)
    assert [(m.number, m.before, m.after) for m in found.stage_moves] == [(1, "staging", "production")]
    assert [e.position for e in found.aliases] == [6] and [e.position for e in found.edits] == [7]
    assert not model_diff("m", 9, 9, [], [], HISTORY).created and model_diff("m", 9, 9, [], [], HISTORY).empty


def _link(name: str, kind: str, run: str) -> LinkView:
    return LinkView("p", "s", name, kind, 1, f"id-{name}", name, 1, "ab" * 32, run, "t")


def test_lineage_splits_the_producing_run_from_the_consumers() -> None:
    runs = [RunView("r-train", "train", "completed", None, None, 2, None), RunView("r-pred", "predict",
                                                                                   "completed", None, None, 1, None)]
    links = [_link("train_dataset", "data", "r-train"), _link("classifier", "model", "r-train"),
             _link("predictions", "data", "r-pred")]
    found = lineage(_version(1, "production", run="r-train"), links, runs)
    assert found.producer is not None and found.producer.run_id == "r-train"
    assert [x.name for x in found.inputs] == ["train_dataset"] and [x.name for x in found.outputs] == ["classifier"]
    assert [r.run_id for r in found.consumers] == ["r-pred"] and [x.name for x in found.products] == ["predictions"]
    drawn = str(lineage_svg(found, "m", 1, None))
    assert drawn.count('class="node ') == 6 and 'href="/ui/runs/r-pred"' in drawn


def test_the_drawings_escape_every_text_of_the_log() -> None:
    hostile = '"><script>alert(1)</script>\u202e\x1b[31m'
    history = [_entry(1, "ModelVersionCreated", actor=hostile, number=1, name="1"),
               _entry(2, "ModelVersionAliasSet", actor=hostile, number=1, alias="a")]
    drawn = str(timeline_svg(stage_timeline(history)))
    assert "<script>" not in drawn and "\u202e" not in drawn and "\x1b" not in drawn
    assert "&lt;script&gt;" in drawn and "&lt;U+202E&gt;" in drawn and "&#34;&gt;" in drawn
    assert visible("a\u2066b\x00c\x9bd\ne\tf") == "a<U+2066>b<U+0000>c<U+009B>d\ne\tf"  # line breaks and tabs stay


def test_the_page_cache_keeps_answers_only_while_the_head_stands_still() -> None:
    from modelog.ui.cache import PageCache

    cache, calls = PageCache(capacity=2), []

    def compute(value: str) -> Any:
        return lambda: calls.append(value) or value

    assert cache.answer(5, "a", compute("a1")) == "a1" and cache.answer(5, "a", compute("a2")) == "a1"
    assert cache.answer(6, "a", compute("a3")) == "a3" and len(cache) == 1  # the head moved: all dropped
    assert cache.answer(5, "a", compute("old")) == "old" and cache.answer(6, "a", compute("a4")) == "a3"
    cache.answer(6, "b", compute("b")), cache.answer(6, "c", compute("c"))
    assert len(cache) == 2 and cache.answer(6, "a", compute("a5")) == "a5"  # the oldest went first
    assert calls == ["a1", "a3", "old", "b", "c", "a5"]


def test_the_page_cache_computes_again_once_an_answer_goes_stale_with_the_clock() -> None:
    from dataclasses import dataclass

    from modelog.ui.cache import PageCache

    @dataclass(frozen=True)
    class Answer:
        value: int
        stale_after: str | None

    cache, count = PageCache(), [0]

    def compute(stale_after: str | None) -> Any:
        def run() -> Answer:
            count[0] += 1
            return Answer(count[0], stale_after)
        return run

    assert cache.answer(3, "k", compute("2999-01-01T00:00:00.000000Z")).value == 1
    assert cache.answer(3, "k", compute(None)).value == 1  # its request has not expired yet: kept
    assert cache.answer(3, "p", compute("2000-01-01T00:00:00.000000Z")).value == 2
    assert cache.answer(3, "p", compute(None)).value == 3  # expired since: computed again, then kept
    assert cache.answer(3, "p", compute(None)).value == 3
