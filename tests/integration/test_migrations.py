"""Schema versioning: the packaged Alembic migrations build today's schema and upgrade old databases in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from modelog.application.bootstrap import database_status, open_registry, upgrade_database
from modelog.projections import tables as view_tables
from modelog.projections.queries import ReadModel
from modelog.projections.rebuild import verify as verify_views
from modelog.projections.temporal import DERIVED, HISTORY_TABLES
from modelog.registry import commands as cmd
from modelog.registry.database import create_engine_for, transaction
from modelog.registry.errors import IntegrityError, SchemaVersionError, StorageError
from modelog.registry.guards import guard_problems, install_guards
from modelog.registry.migrations.runner import MIGRATIONS_DIR, applied_revision, revision_id
from modelog.registry.schema import SCHEMA_VERSION, event_signatures, events
from modelog.registry.schema import metadata as log_metadata
from modelog.registry.service import CommandService
from modelog.registry.store import EventStore
from sqlalchemy import inspect, text
from sqlalchemy.schema import CreateTable

from tests import backends
from tests.integration.store_support import drop_guards_on

ALEMBIC_TABLE = "alembic_version"


def _second_url(backend: str, tmp_path: Path) -> str:
    """A second empty database (PostgreSQL: the test database, emptied again)."""
    return backends.reset_postgres() if backend == "postgres" else f"sqlite:///{tmp_path / 'second.db'}"


def _triggers(conn: Any) -> list[str]:
    if conn.dialect.name == "postgresql":
        query = "SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass AND NOT tgisinternal"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    return sorted(row[0] for row in conn.exec_driver_sql(query))


def _table_layout(inspector: Any, table: str) -> dict[str, Any]:
    return {
        "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
        "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
        "unique": sorted((u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)),
        "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                          for i in inspector.get_indexes(table)),
    }


def dump_schema(url: str) -> dict[str, Any]:
    """Tables, columns, keys, indexes, triggers and bookkeeping rows of the database at ``url``."""
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            tables = sorted(t for t in inspector.get_table_names() if t != ALEMBIC_TABLE)
            views = sorted(inspector.get_view_names())
            return {
                "tables": {table: _table_layout(inspector, table) for table in tables},
                "views": {view: [column["name"] for column in inspector.get_columns(view)] for view in views},
                "triggers": _triggers(conn),
                "schema_rows": conn.exec_driver_sql("SELECT component, version FROM modelog_schema").all(),
                "checkpoints": conn.exec_driver_sql("SELECT name, position FROM view_checkpoints").all(),
            }
    finally:
        engine.dispose()


def log_rows(url: str) -> list[tuple[Any, ...]]:
    """Every stored event row, verbatim, in position order."""
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(events.select().order_by(events.c.position))]
    finally:
        engine.dispose()


def make_pre_versioning_log(url: str) -> None:
    """A "version 0" database: only the events table (no version record, guards or read models), with real events."""
    engine = create_engine_for(url)
    try:
        with transaction(engine, write=True) as conn:
            events.create(conn)
            event_signatures.create(conn)  # today's code asks it whether the log is signed; dropped again below
            install_guards(conn)  # today's code writes only onto a guarded log; the guards go again below
        service = CommandService(EventStore(engine), actor="old-modelog")
        service.execute(cmd.RegisterModel(name="churn", fields={"description": "from before versioning"}))
        for _ in range(3):
            service.execute(cmd.CreateVersion(model="churn"))
        service.execute(cmd.SetStage(model="churn", version=2, stage="production"))
        service.execute(cmd.SetAlias(model="churn", version=3, alias="champion"))
        with transaction(engine, write=True) as conn:
            drop_guards_on(conn)
            event_signatures.drop(conn)
    finally:
        engine.dispose()


def test_migrations_ship_inside_the_package() -> None:
    assert MIGRATIONS_DIR.parent.name == "registry"
    assert (MIGRATIONS_DIR / "env.py").is_file() and (MIGRATIONS_DIR / "script.py.mako").is_file()
    revisions = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))
    assert [name[:4] for name in revisions] == [revision_id(v) for v in range(1, SCHEMA_VERSION + 1)]


def test_migrations_build_exactly_the_schema_a_fresh_registry_creates(backend: str, db_url: str, home: Path,
                                                                      tmp_path: Path) -> None:
    open_registry(db_url, home=home).close()
    created = dump_schema(db_url)
    migrated_url = _second_url(backend, tmp_path)
    assert upgrade_database(migrated_url, home=home) == (None, SCHEMA_VERSION)
    migrated = dump_schema(migrated_url)
    assert migrated == created
    expected_tables = set(log_metadata.tables) | set(view_tables.metadata.tables)
    assert set(migrated["tables"]) == expected_tables
    assert migrated["schema_rows"] == [("registry", SCHEMA_VERSION)]


def test_pre_versioning_log_is_refused_then_upgraded_in_place_keeping_every_event(db_url: str, home: Path) -> None:
    make_pre_versioning_log(db_url)
    before = log_rows(db_url)
    with pytest.raises(SchemaVersionError, match="modelog db upgrade"):
        open_registry(db_url, home=home)
    assert database_status(db_url, home=home)["state"] == "upgrade needed"

    assert upgrade_database(db_url, home=home) == (0, SCHEMA_VERSION)

    assert log_rows(db_url) == before
    with open_registry(db_url, home=home) as registry:
        assert registry.store.verify().ok
        assert verify_views(registry.engine, registry.store).ok
        model = registry.reads.get_model("churn")
        assert model.description == "from before versioning"
        versions = registry.reads.list_versions("churn")
        assert [(v.number, v.stage, v.aliases) for v in versions] == [
            (1, "none", ()), (2, "production", ()), (3, "none", ("champion",))]
        registry.commands.execute(cmd.CreateVersion(model="churn"))
        assert registry.store.head() == len(before) + 1
    status = database_status(db_url, home=home)
    assert (status["state"], status["schema_version"], status["alembic_revision"]) == (
        "current", SCHEMA_VERSION, revision_id(SCHEMA_VERSION))


def test_upgraded_database_is_append_only(backend: str, db_url: str, home: Path) -> None:
    make_pre_versioning_log(db_url)
    upgrade_database(db_url, home=home)
    before = log_rows(db_url)
    statements = ["UPDATE events SET data = '{}'", "DELETE FROM events"]
    statements += ["TRUNCATE events"] if backend == "postgres" else []
    engine = create_engine_for(db_url)
    try:
        for statement in statements:
            with pytest.raises(StorageError, match="append-only"), transaction(engine, write=True) as conn:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()
    assert log_rows(db_url) == before


def test_registry_created_without_alembic_is_stamped_not_rebuilt(db_url: str, home: Path) -> None:
    with open_registry(db_url, home=home) as registry:
        registry.commands.execute(cmd.RegisterModel(name="fraud"))
    before = log_rows(db_url)
    assert database_status(db_url, home=home)["alembic_revision"] is None

    assert upgrade_database(db_url, home=home) == (SCHEMA_VERSION, SCHEMA_VERSION)
    assert upgrade_database(db_url, home=home) == (SCHEMA_VERSION, SCHEMA_VERSION)

    assert log_rows(db_url) == before
    engine = create_engine_for(db_url)
    try:
        with engine.connect() as conn:
            assert applied_revision(conn) == revision_id(SCHEMA_VERSION)
    finally:
        engine.dispose()


def test_newer_database_is_refused_by_open_and_by_upgrade_and_left_untouched(db_url: str, home: Path) -> None:
    with open_registry(db_url, home=home) as registry:
        registry.commands.execute(cmd.RegisterModel(name="fraud"))
    engine = create_engine_for(db_url)
    try:
        with transaction(engine, write=True) as conn:
            conn.execute(text("UPDATE modelog_schema SET version = :v"), {"v": SCHEMA_VERSION + 1})
    finally:
        engine.dispose()
    before = dump_schema(db_url), log_rows(db_url)

    with pytest.raises(SchemaVersionError, match="newer than this modelog supports"):
        open_registry(db_url, home=home)
    with pytest.raises(SchemaVersionError, match="newer than this modelog supports"):
        upgrade_database(db_url, home=home)

    assert (dump_schema(db_url), log_rows(db_url)) == before
    assert database_status(db_url, home=home)["state"] == "newer than this modelog"


def test_status_of_a_missing_sqlite_registry_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELOG_DATABASE_URL", raising=False)
    status = database_status(home=tmp_path / "nowhere")
    assert (status["state"], status["schema_version"], status["backend"]) == ("empty", None, "sqlite")
    assert not (tmp_path / "nowhere").exists()


def _make_version_1(db_url: str, home: Path) -> None:
    """A registry as schema version 1 left it: model rows without the version count columns."""
    with open_registry(db_url, home=home) as registry:
        run = registry.commands.execute
        run(cmd.RegisterModel(name="churn"))
        run(cmd.RegisterModel(name="empty"))
        for _ in range(3):
            run(cmd.CreateVersion(model="churn"))
        run(cmd.DeleteVersion(model="churn", version=3))
    engine = create_engine_for(db_url)
    try:
        with transaction(engine, write=True) as conn:
            for column in ("latest_version", "version_count"):
                conn.exec_driver_sql(f"ALTER TABLE view_models DROP COLUMN {column}")
            for table in ("view_principals", "view_tokens"):  # schema version 3
                conn.exec_driver_sql(f"DROP TABLE {table}")
            conn.exec_driver_sql("UPDATE modelog_schema SET version = 1")
    finally:
        engine.dispose()


def test_version_1_registry_gets_its_model_counts_filled_in_place(db_url: str, home: Path) -> None:
    _make_version_1(db_url, home)
    before = log_rows(db_url)
    with pytest.raises(SchemaVersionError, match="modelog db upgrade"):
        open_registry(db_url, home=home)

    assert upgrade_database(db_url, home=home) == (1, SCHEMA_VERSION)

    assert log_rows(db_url) == before
    engine = create_engine_for(db_url)
    try:
        with transaction(engine) as conn:  # filled by the migration itself, not by a replay at the next open
            rows = conn.exec_driver_sql("SELECT name, version_count, latest_version FROM view_models").all()
            found = {name: (count, latest) for name, count, latest in rows}
            checkpoint = conn.exec_driver_sql("SELECT position FROM view_checkpoints").scalar_one()
    finally:
        engine.dispose()
    assert found == {"churn": (2, 2), "empty": (0, None)}
    assert checkpoint == len(before)
    with open_registry(db_url, home=home) as registry:
        assert verify_views(registry.engine, registry.store).ok


def test_version_2_registry_gets_the_chain_guard(backend: str, db_url: str, home: Path) -> None:
    """Issue 12.3: a registry from before the chain guard is refused until upgraded; then gaps are refused."""
    with open_registry(db_url, home=home) as registry:
        registry.commands.execute(cmd.RegisterModel(name="churn"))
    engine = create_engine_for(db_url)
    try:
        with transaction(engine, write=True) as conn:
            conn.exec_driver_sql("DROP TRIGGER events_chain" + (" ON events" if backend == "postgres" else ""))
            conn.exec_driver_sql("UPDATE modelog_schema SET version = 2")
        before = log_rows(db_url)
        with pytest.raises(SchemaVersionError, match="modelog db upgrade"):
            open_registry(db_url, home=home)

        assert upgrade_database(db_url, home=home) == (2, SCHEMA_VERSION)

        assert log_rows(db_url) == before
        with transaction(engine) as conn:
            assert "events_chain" in _triggers(conn)
            assert guard_problems(conn) == []
        with pytest.raises(StorageError, match="hash chain"), transaction(engine, write=True) as conn:
            conn.exec_driver_sql("INSERT INTO events SELECT position + 5, stream_id, stream_version + 5, event_type, "
                                 "schema_version, data, meta, recorded_at, hash, hash FROM events "
                                 "WHERE position = (SELECT max(position) FROM events)")
    finally:
        engine.dispose()
    with open_registry(db_url, home=home) as registry:
        registry.commands.execute(cmd.CreateVersion(model="churn"))
        assert registry.store.verify().ok and registry.store.head() == len(before) + 1


def test_upgrade_reinstalls_guards_dropped_on_a_current_registry(backend: str, db_url: str, home: Path) -> None:
    """Issue 12.2: writes refuse an unguarded log; 'modelog db upgrade' puts the guards back."""
    with open_registry(db_url, home=home) as registry:
        registry.commands.execute(cmd.RegisterModel(name="churn"))
        engine = create_engine_for(db_url)
        try:
            with transaction(engine, write=True) as conn:
                conn.exec_driver_sql("DROP TRIGGER events_no_update" if backend == "sqlite" else
                                     "ALTER TABLE events DISABLE TRIGGER events_no_change")
        finally:
            engine.dispose()
        with pytest.raises(IntegrityError, match="guards are not intact"):
            registry.commands.execute(cmd.CreateVersion(model="churn"))
    assert "disabled" in str(database_status(db_url, home=home)["guards"]) or "missing" in str(
        database_status(db_url, home=home)["guards"])
    assert upgrade_database(db_url, home=home) == (SCHEMA_VERSION, SCHEMA_VERSION)
    assert database_status(db_url, home=home)["guards"] == "intact"
    with open_registry(db_url, home=home) as registry:
        registry.commands.execute(cmd.CreateVersion(model="churn"))


def _churn_with_versions(registry: Any, versions: int) -> Any:
    """Register model ``churn`` with ``versions`` versions; the registry's command runner."""
    run = registry.commands.execute
    run(cmd.RegisterModel(name="churn"))
    for _ in range(versions):
        run(cmd.CreateVersion(model="churn"))
    return run


def _make_version_2(db_url: str, home: Path) -> None:
    """A registry as schema version 2 left it: read models without their history twins."""
    with open_registry(db_url, home=home) as registry:
        run = _churn_with_versions(registry, 3)
        run(cmd.SetStage(model="churn", version=2, stage="production"))
        run(cmd.DeleteVersion(model="churn", version=3))
    engine = create_engine_for(db_url)
    try:
        with transaction(engine, write=True) as conn:
            _derived_views_as_tables(conn)  # schema version 10
            for table in HISTORY_TABLES:
                conn.exec_driver_sql(f"DROP TABLE {table.name}")
            conn.exec_driver_sql("UPDATE modelog_schema SET version = 2")
    finally:
        engine.dispose()


def _derived_views_as_tables(conn: Any) -> None:
    """Each derived view replaced by a table of its own holding the same rows, as before schema version 10."""
    for view in DERIVED:
        rows = [dict(row._mapping) for row in conn.execute(view.select())]
        conn.exec_driver_sql(f"DROP VIEW {view.name}")
        conn.execute(CreateTable(view))
        if rows:
            conn.execute(view.insert(), rows)


def test_version_2_registry_gets_its_history_built_from_the_log(db_url: str, home: Path) -> None:
    _make_version_2(db_url, home)
    before = log_rows(db_url)
    with pytest.raises(SchemaVersionError, match="modelog db upgrade"):
        open_registry(db_url, home=home)

    assert upgrade_database(db_url, home=home) == (2, SCHEMA_VERSION)

    assert log_rows(db_url) == before
    with open_registry(db_url, home=home) as registry:
        assert verify_views(registry.engine, registry.store).ok  # the twins too
        replayed = ReadModel(registry.engine, registry.store, temporal=False)
        try:
            for position in range(len(before) + 1):
                assert registry.reads.list_models(at_position=position) == replayed.list_models(
                    at_position=position), f"at_position={position}"
            assert registry.reads.list_versions("churn", at_position=len(before) - 1)[-1].number == 3
        finally:
            replayed.close()


def _make_version_9(db_url: str, home: Path) -> None:
    """A registry as schema version 9 left it: links, run links and artifacts in tables of their own."""
    with open_registry(db_url, home=home) as registry:
        run = _churn_with_versions(registry, 2)
        for version, name in ((1, "a"), (1, "b"), (2, "keep")):
            run(cmd.LinkArtifact(model="churn", version=version, pipeline="p", step="s", name=name, kind="data",
                                 artifact_id="art-" + name, artifact_name=name, content_hash="h" + name))
        run(cmd.LinkRun(model="churn", version=2, run_id="r1", pipeline="p"))
        run(cmd.StartRun(run_id="r2", pipeline="p", model=cmd.ModelContext(name="churn", version=2)))
        run(cmd.CompleteStep(run_id="r2", step="train", outputs=(cmd.OutputSpec(
            name="model", uri="file:///m", content_hash="hm", data_type="pickle", materializer="m", kind="model"),)))
        run(cmd.DeleteVersion(model="churn", version=1))  # its links end here
    engine = create_engine_for(db_url)
    try:
        with transaction(engine, write=True) as conn:
            _derived_views_as_tables(conn)
            conn.exec_driver_sql("UPDATE modelog_schema SET version = 9")
    finally:
        engine.dispose()


def test_version_9_registry_gets_derived_views_over_its_twins_without_a_rebuild(
        db_url: str, home: Path, tmp_path: Path, backend: str) -> None:
    _make_version_9(db_url, home)
    before = log_rows(db_url)
    with pytest.raises(SchemaVersionError, match="modelog db upgrade"):
        open_registry(db_url, home=home)
    engine = create_engine_for(db_url)
    try:
        with transaction(engine) as conn:
            copies = {view.name: sorted(map(tuple, conn.execute(view.select()))) for view in DERIVED}
    finally:
        engine.dispose()
    assert all(copies.values())

    assert upgrade_database(db_url, home=home) == (9, SCHEMA_VERSION)

    assert log_rows(db_url) == before
    migrated = dump_schema(db_url)
    assert set(migrated["views"]) == {view.name for view in DERIVED}
    assert not {view.name for view in DERIVED} & set(migrated["tables"])
    assert migrated["checkpoints"] == [("registry_views", len(before))]  # no rebuild
    with open_registry(db_url, home=home) as registry:
        assert verify_views(registry.engine, registry.store).ok
        with transaction(registry.engine) as conn:
            assert {view.name: sorted(map(tuple, conn.execute(view.select()))) for view in DERIVED} == copies
        run = registry.commands.execute
        run(cmd.LinkArtifact(model="churn", version=2, pipeline="p", step="s", name="c", kind="data",
                             artifact_id="art-c", artifact_name="c", content_hash="hc"))
        assert [link.name for link in registry.reads.list_links("churn", 2)] == ["keep", "model", "c"]  # r2's output
        assert [link.name for link in registry.reads.list_links("churn", 1, at_position=len(before) - 1)] == \
            ["a", "b"]
    fresh_url = _second_url(backend, tmp_path)
    with open_registry(fresh_url, home=tmp_path / "fresh-home"):
        pass
    fresh = dump_schema(fresh_url)
    assert (migrated["tables"], migrated["views"]) == (fresh["tables"], fresh["views"])
