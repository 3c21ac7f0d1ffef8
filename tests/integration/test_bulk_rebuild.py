"""A whole-log replay's bulk path (``projections.bulk_replay``) leaves exactly the rows the projector wrote.

Artifact links, run links and artifacts are written to their history twins only (their views are the twins'
open rows); a rebuild builds the links' rows inside the database from the log (``links_in_database``),
copies the links' and run links' stamps from those rows at the end, and on PostgreSQL loads the other rows
with ``COPY``. Both backends: after a
history with every way such a row ends (an overwriting link, an unlink, a version deleted with its links
and run links, a model deleted, a failed run deleting the version it created), the rebuilt tables equal
the live ones, equal a plain replay (one executemany per table, both rows from Python), and ``verify``
(whose scratch replay takes the bulk path too) finds nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from modelog.projections import tables as t
from modelog.projections.bulk_replay import fast_deletes
from modelog.projections.links_in_database import LinksInDatabase
from modelog.projections.rebuild import rebuild, replay, reset_views, verify
from modelog.projections.temporal import DERIVED, HISTORY_TABLES, TWINS
from modelog.registry import commands as cmd
from modelog.registry.database import transaction
from sqlalchemy import func, select


def _dump(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
    with transaction(engine) as conn:
        return {table.name: sorted((tuple(r) for r in conn.execute(table.select())), key=repr)
                for table in (*t.VIEW_TABLES, *HISTORY_TABLES, t.checkpoints)}


def _link(model: str, version: Any, artifact: str, *, overwrite: bool = False, step: str = "s") -> cmd.LinkArtifact:
    return cmd.LinkArtifact(model=model, version=version, pipeline="p", step=step, name="out", kind="data",
                            artifact_id=artifact, artifact_name="out", content_hash="h" + artifact, overwrite=overwrite)


def _output(name: str) -> cmd.OutputSpec:
    return cmd.OutputSpec(name=name, uri=f"file:///{name}", content_hash="h" + name, data_type="pickle",
                          materializer="m", kind="model")


def _history(registry: Any) -> None:
    run = registry.commands.execute
    for name in ("alpha", "beta", "gamma"):
        run(cmd.RegisterModel(name=name))
        for _ in range(3):
            run(cmd.CreateVersion(model=name))
    run(_link("alpha", 1, "a1"))
    run(_link("alpha", 1, "a2"))  # a second link version under the same key
    run(_link("alpha", 1, "a3", overwrite=True))  # unlinks both, links again as link version 1: a reused key
    run(_link("alpha", 2, "a1", step="t"))
    run(_link("beta", 1, "a1"))
    run(_link("gamma", 3, "a2"))
    for run_id in ("r1", "r2"):
        run(cmd.LinkRun(model="alpha", version=2, run_id=run_id, pipeline="p"))
    run(cmd.LinkRun(model="beta", version=1, run_id="r1", pipeline="p"))
    run(cmd.StartRun(run_id="ok", pipeline="p", model=cmd.ModelContext(name="alpha", create_new_version=True)))
    run(cmd.CompleteStep(run_id="ok", step="train", outputs=(_output("model"), _output("data"))))
    run(cmd.FinishRun(run_id="ok"))
    run(cmd.StartRun(run_id="bad", pipeline="p", model=cmd.ModelContext(name="beta", create_new_version=True)))
    run(cmd.CompleteStep(run_id="bad", step="train", outputs=(_output("model"),)))
    run(cmd.FinishRun(run_id="bad", error_type="ValueError", error_message="boom", delete_created_version=True))
    run(cmd.DeleteVersion(model="alpha", version=2))  # its link and run links end here
    run(cmd.DeleteModel(model="gamma"))  # every link of the model ends here
    run(cmd.RegisterModel(name="gamma"))  # a new model under the old name
    run(cmd.CreateVersion(model="gamma"))
    run(_link("gamma", 1, "a2"))


def test_a_rebuild_writes_exactly_what_the_projector_wrote(registry: Any) -> None:
    _history(registry)
    live = _dump(registry.engine)
    with transaction(registry.engine) as conn:  # the history above ends rows of every derived view
        for view in DERIVED:
            twin = TWINS[view.name]
            closed = conn.execute(select(func.count()).select_from(twin).where(twin.c.valid_to < 2**62)).scalar()
            assert closed or view is t.artifacts, view.name  # artifacts are never deleted

    rebuild(registry.engine, registry.store)
    assert _dump(registry.engine) == live
    report = verify(registry.engine, registry.store)
    assert report.ok, report.differences

    with transaction(registry.engine, write=True) as conn:  # the plain replay: every row from Python
        reset_views(conn)
        replay(conn, registry.store)
    assert _dump(registry.engine) == live



def test_a_rebuild_builds_every_link_in_the_database(registry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _history(registry)
    live = _dump(registry.engine)
    ranges: list[tuple[int, int]] = []
    insert_through = LinksInDatabase.insert_through

    def recorded(self: LinksInDatabase, high: int) -> None:
        if high >= self.low:
            ranges.append((self.low, high))
        insert_through(self, high)

    monkeypatch.setattr(LinksInDatabase, "insert_through", recorded)
    rebuild(registry.engine, registry.store)
    assert _dump(registry.engine) == live
    links = [e.position for e in registry.store.read_all() if e.event_type == "ArtifactLinked"]
    assert sorted(p for p in links if any(low <= p <= high for low, high in ranges)) == links
    assert len(ranges) > 1  # the deletions and unlinks in between split the ranges


def test_fast_deletes_puts_the_connections_setting_back(registry: Any) -> None:
    if registry.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite setting")
    for setting in (0, 1):
        with transaction(registry.engine, write=True) as conn:
            conn.exec_driver_sql(f"PRAGMA secure_delete = {setting}")
            with fast_deletes(conn):
                assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 2  # FAST
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == setting
