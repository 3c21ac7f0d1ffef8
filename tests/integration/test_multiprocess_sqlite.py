"""Several OS processes writing one SQLite registry file at the same time."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
from modelog.projections.rebuild import verify
from modelog.registry.commands import CreateVersion, RegisterModel

PROCESSES = 4
VERSIONS_EACH = 12


def _open(url: str, home: str) -> Any:
    from modelog.application.bootstrap import open_registry

    return open_registry(url, home=home, actor="worker", synchronous="NORMAL")


def _create_versions(url: str, home: str, barrier: Barrier, results: Any) -> None:
    reg = _open(url, home)
    try:
        barrier.wait(timeout=60)
        numbers = [reg.commands.execute(CreateVersion(model="shared")).number for _ in range(VERSIONS_EACH)]
        results.put(("ok", numbers))
    except BaseException as error:  # noqa: BLE001 - reported to the parent
        results.put(("error", f"{type(error).__name__}: {error}"))
    finally:
        reg.close()


def _register(url: str, home: str, name: str, barrier: Barrier, results: Any) -> None:
    reg = _open(url, home)
    try:
        barrier.wait(timeout=60)
        results.put(("ok", reg.commands.execute(RegisterModel(name=name)).model_id))
    except BaseException as error:  # noqa: BLE001 - reported to the parent
        results.put((type(error).__name__, str(error)))
    finally:
        reg.close()


def _run_all(target: Any, args_for: list[tuple[Any, ...]]) -> list[tuple[str, Any]]:
    context = multiprocessing.get_context("fork")  # the parent holds no open connection
    barrier, results = context.Barrier(len(args_for)), context.Queue()
    processes = [context.Process(target=target, args=(*args, barrier, results)) for args in args_for]
    for process in processes:
        process.start()
    found = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return found


@pytest.fixture
def shared(tmp_path: Path) -> tuple[str, str]:
    url, home = f"sqlite:///{tmp_path / 'registry.db'}", str(tmp_path)
    reg = _open(url, home)
    reg.commands.execute(RegisterModel(name="shared"))
    reg.close()
    return url, home


def test_processes_creating_versions_get_distinct_gap_free_numbers(shared: tuple[str, str]) -> None:
    url, home = shared
    results = _run_all(_create_versions, [(url, home)] * PROCESSES)
    assert [status for status, _ in results] == ["ok"] * PROCESSES, results
    per_process = [numbers for _, numbers in results]
    assert all(numbers == sorted(numbers) for numbers in per_process)
    every = sorted(n for numbers in per_process for n in numbers)
    assert every == list(range(1, PROCESSES * VERSIONS_EACH + 1))
    reg = _open(url, home)
    try:
        assert [v.number for v in reg.reads.list_versions("shared")] == every
        created = [e for e in reg.store.read_all() if e.event_type == "ModelVersionCreated"]
        assert sorted(e.data["number"] for e in created) == every
        assert [e.position for e in reg.store.read_all()] == list(range(1, reg.store.head() + 1))
        assert reg.store.verify().ok
        assert verify(reg.engine, reg.store).ok
    finally:
        reg.close()


def test_processes_registering_one_name_make_exactly_one_model(tmp_path: Path) -> None:
    url, home = f"sqlite:///{tmp_path / 'registry.db'}", str(tmp_path)
    _open(url, home).close()
    names = ["contested", "Contested", "CONTESTED", "contested", "ContestEd", "contested"]
    results = _run_all(_register, [(url, home, name) for name in names])
    winners = [r for r in results if r[0] == "ok"]
    assert len(winners) == 1, results
    assert all(r[0] == "ConflictError" and "already exists" in r[1] for r in results if r[0] != "ok")
    reg = _open(url, home)
    try:
        models = reg.reads.list_models().items
        assert [m.id for m in models] == [winners[0][1]]
        assert reg.store.head() == 2 and reg.store.verify().ok
    finally:
        reg.close()
