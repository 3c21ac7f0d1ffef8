"""The projector builds rows positionally: each value must land in the column of its name."""

from __future__ import annotations

import pytest
from modelog.projections import handlers, projector, queries
from modelog.projections import tables as t
from modelog.projections.table_rows import TableRows
from modelog.registry._sql.raw_events import RowEvent

META = '{"actor":"ada","run_id":"run-9"}'


def event(stream: str, data: str) -> RowEvent:
    return RowEvent((7, stream, "Anything", 1, data, META, "2026-01-02T03:04:05.000006Z"))


def named(table: str, row: object) -> dict[str, object]:
    columns = projector._INSERTS[table].columns
    assert len(columns) == len(row)  # type: ignore[arg-type]
    return dict(zip(columns, row, strict=True))  # type: ignore[call-overload]


def test_model_row() -> None:
    data = ('{"model_id":"m1","name":"Churn","license":"L","description":"D","audience":"A","use_cases":"U",'
            '"limitations":"Li","trade_offs":"T","ethics":"E","tags":["x"],"implicit":true}')
    row = named(t.models.name, projector._model_row(event("model-m1", data), event("model-m1", data).data))
    assert row == {"model_id": "m1", "name": "Churn", "name_key": "churn", "license": "L", "description": "D",
                   "audience": "A", "use_cases": "U", "limitations": "Li", "trade_offs": "T", "ethics": "E",
                   "tags": '["x"]', "implicit": True, "created_at": "2026-01-02T03:04:05.000006Z",
                   "updated_at": "2026-01-02T03:04:05.000006Z", "created_by": "ada", "version_count": 0,
                   "latest_version": None}


def test_version_row() -> None:
    e = event("model-m1", '{"number":3,"name":"Cand","description":"d","tags":[]}')
    row = named(t.versions.name, projector._version_row(e, e.data))
    assert row == {"model_id": "m1", "number": 3, "name": "Cand", "name_key": "cand", "description": "d",
                   "tags": "[]", "stage": "none", "created_at": e.recorded_at, "updated_at": e.recorded_at,
                   "created_by": "ada", "created_run_id": "run-9"}


def test_link_and_run_link_rows() -> None:
    e = event("model-m1", '{"number":3,"pipeline":"p","step":"s","name":"n","kind":"data","link_version":2,'
                          '"artifact_id":"a","artifact_name":"an","artifact_version":4,"content_hash":"h",'
                          '"run_id":"r","run_pipeline":"rp"}')
    writes = projector._Writes(None, history=False)  # type: ignore[arg-type]  # queuing a row needs no connection
    projector._queue_link(writes, e, e.data)  # without twins: the view's own row
    assert named(t.artifact_links.name, writes.rows[t.artifact_links.name][0]) == {
        "model_id": "m1", "number": 3, "pipeline": "p", "step": "s", "name": "n", "kind": "data", "link_version": 2,
        "artifact_id": "a", "artifact_name": "an", "artifact_version": 4, "content_hash": "h", "run_id": "r",
        "created_at": e.recorded_at, "position": 7}
    assert named(t.run_links.name, projector._run_link_row(e, e.data)) == {
        "model_id": "m1", "number": 3, "run_id": "r", "pipeline": "p", "created_at": e.recorded_at, "position": 7}


def test_run_and_artifact_rows() -> None:
    e = event("run-r", '{"run_id":"r","pipeline":"p","model_id":"m1","model_name":"M","version_number":3,'
                       '"created_version":true}')
    assert named(t.runs.name, projector._run_row(e, e.data)) == {
        "run_id": "r", "pipeline": "p", "status": "running", "model_id": "m1", "model_name": "M",
        "version_number": 3, "created_version": True, "started_at": e.recorded_at, "finished_at": None,
        "steps_completed": 0, "failed_step": None, "error_type": None, "error_message": None, "started_by": "ada"}
    a = event("artifact-w", '{"artifact_id":"a","name":"W","version":2,"uri":"u","content_hash":"h",'
                            '"data_type":"dt","materializer":"mat","run_id":"r","step":"s"}')
    assert named(t.artifacts.name, projector._artifact_row(a, a.data)) == {
        "artifact_id": "a", "name": "W", "name_key": "w", "version": 2, "uri": "u", "content_hash": "h",
        "data_type": "dt", "materializer": "mat", "run_id": "r", "step": "s", "created_at": a.recorded_at}


def test_rows_are_built_by_column_name_in_the_table_order() -> None:
    for name, rows in projector.ROWS.items():
        table = rows.table
        assert rows.columns == tuple(c.name for c in table.columns) == projector._INSERTS[name].columns
        values = {column: f"value of {column}" for column in rows.columns}
        assert rows.make(**values) == [f"value of {column}" for column in (c.name for c in table.columns)]
        with pytest.raises(TypeError):  # a column left out
            rows.make(**{k: v for k, v in values.items() if k != rows.columns[-1]})
        with pytest.raises(TypeError):  # a column the table does not have
            rows.make(**values, colour="red")


def test_version_rows_are_read_by_column_name() -> None:
    rows = TableRows(t.versions)
    row = rows.make(model_id="m1", number=3, name="Cand", name_key="cand", description="d", tags='["x"]',
                    stage="staging", created_at="c", updated_at="u", created_by="ada", created_run_id="r")
    view = queries._version_view(tuple(row), "Churn", {(3, "model"): 2}, {3: 1}, {3: ["best"]})
    assert (view.model_id, view.number, view.name, view.description, view.tags, view.stage) == \
        ("m1", 3, "Cand", "d", ("x",), "staging")
    assert (view.created_at, view.updated_at, view.created_by, view.created_run_id) == ("c", "u", "ada", "r")
    assert (view.model_count, view.data_count, view.run_count, view.aliases) == (2, 0, 1, ("best",))


def test_no_handler_reads_or_writes_a_view_that_is_its_twins_open_rows() -> None:
    from modelog.projections.temporal import DERIVED_NAMES, REVISIONS

    assert DERIVED_NAMES and not any(DERIVED_NAMES & tables for tables in handlers.READS.values())
    assert not DERIVED_NAMES & {t.models.name, t.versions.name, t.aliases.name, t.runs.name, t.step_runs.name}
    # Every event whose scratch replay deletes derived rows closes them through its revision when there are twins.
    assert set(handlers.PRESENT_DELETIONS) <= set(REVISIONS)


@pytest.mark.parametrize("bulk", [True, False])
def test_a_replay_with_twins_queues_a_link_for_its_twin_alone(bulk: bool) -> None:
    from modelog.projections import temporal

    e = event("model-m1", '{"number":3,"pipeline":"p","step":"s","name":"n","kind":"data","link_version":2,'
                          '"artifact_id":"a","artifact_name":"an","artifact_version":4,"content_hash":"h",'
                          '"run_id":null}')
    writes = projector._Writes(None, bulk=bulk)  # type: ignore[arg-type]  # queuing a row needs no connection
    projector._queue_link(writes, e, e.data)
    assert t.artifact_links.name not in writes.rows
    assert writes.history is not None
    # A whole-log replay copies the stamp from the twin's row afterwards; an append queues it.
    assert writes.history.stamps == ([] if bulk else [("m1", 7, 3, e.recorded_at)])
    twin = [c.name for c in temporal.artifact_links.columns]
    assert dict(zip(twin, writes.history.rows[t.artifact_links.name][0], strict=True)) == {
        "model_id": "m1", "number": 3, "pipeline": "p", "step": "s", "name": "n", "kind": "data", "link_version": 2,
        "artifact_id": "a", "artifact_name": "an", "artifact_version": 4, "content_hash": "h", "run_id": None,
        "created_at": e.recorded_at, "position": 7, "valid_from": 7, "valid_to": temporal.OPEN}


def test_a_scratch_replay_without_twins_writes_the_link_view_itself() -> None:
    e = event("model-m1", '{"number":3,"pipeline":"p","step":"s","name":"n","kind":"data","link_version":2,'
                          '"artifact_id":"a","artifact_name":"an","artifact_version":4,"content_hash":"h",'
                          '"run_id":null}')
    writes = projector._Writes(None, history=False)  # type: ignore[arg-type]
    projector._queue_link(writes, e, e.data)
    assert writes.history is None and len(writes.rows[t.artifact_links.name]) == 1
