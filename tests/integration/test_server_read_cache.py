"""The server's cached live reads: fresh after every write (through the server or beside it), bounded, exact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from modelog.application.local import LocalRegistry, connect
from modelog.server.http import encode
from modelog.server.read_cache import ReadCache, is_live

from tests.server_support import ServerProcess


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    running = ServerProcess(db_url, tmp_path / "server-home")
    try:
        yield running
    finally:
        running.stop()


def _number(http: httpx.Client, selector: str) -> int:
    response = http.get(f"/models/m/versions/{selector}")
    assert response.status_code == 200, response.text
    return int(response.json()["number"])


def test_a_client_reads_its_own_writes_through_the_cached_path(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30, headers=server.auth()) as http:
        assert http.post("/models", json={"name": "m"}).status_code == 200
        for _ in range(3):
            assert http.post("/models/m/versions", json={}).status_code == 200
        assert http.put("/models/m/aliases/champion", json={"version": 1}).status_code == 200
        assert [_number(http, "%40champion") for _ in range(3)] == [1, 1, 1]
        for target in (2, 3, 1):  # each move is seen by the very next read on the same connection
            assert http.put("/models/m/aliases/champion", json={"version": target}).status_code == 200
            assert _number(http, "%40champion") == target
        assert http.put("/models/m/versions/2/stage", json={"stage": "production"}).status_code == 200
        assert _number(http, "production") == 2
        assert http.delete("/models/m/versions/2").status_code == 200
        assert http.get("/models/m/versions/production").status_code == 404
        assert http.get("/models/m/versions/latest").json()["number"] == 3


def test_writes_by_a_local_client_beside_the_server_are_seen_at_once(server: ServerProcess, db_url: str,
                                                                      tmp_path: Path) -> None:
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30, headers=server.auth()) as http:
        assert http.post("/models", json={"name": "m"}).status_code == 200
        assert http.post("/models/m/versions", json={}).status_code == 200
        assert http.get("/models/m").json()["description"] in (None, "")
        assert _number(http, "latest") == 1
        with connect(db_url, home=tmp_path / "local-home", actor="local", writable=True) as local:
            local.create_version("m")
            local.update_model("m", changes={"description": "set beside the server"})
        assert _number(http, "latest") == 2
        assert http.get("/models/m").json()["description"] == "set beside the server"


def test_past_reads_bypass_the_cache_and_answer_as_of_their_point(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30, headers=server.auth()) as http:
        assert http.post("/models", json={"name": "m"}).status_code == 200
        assert http.post("/models/m/versions", json={}).status_code == 200
        position = http.get("/log/head").json()["position"]
        assert http.post("/models/m/versions", json={}).status_code == 200
        assert _number(http, "latest") == 2
        assert http.get("/models/m/versions/latest", params={"at_position": position}).json()["number"] == 1


def test_the_cache_keeps_exact_answers_drops_them_when_the_log_moves_and_stays_bounded(db_url: str,
                                                                                        tmp_path: Path) -> None:
    with connect(db_url, home=tmp_path / "home", actor="t", writable=True) as api:
        assert isinstance(api, LocalRegistry)
        api.register_model("m")
        api.create_version("m")
        cache = ReadCache(capacity=2)
        computed: list[str] = []

        def read(selector: str) -> bytes:
            def compute() -> object:
                computed.append(selector)
                return api.get_version("m", selector)
            return cache.answer(api.head_position(), ("get_version", "m", selector), compute)

        first = read("latest")
        assert first == encode(api.get_version("m", "latest"))
        assert read("latest") is first  # kept: the head has not moved
        api.create_version("m")
        second = read("latest")
        assert second != first and second == encode(api.get_version("m", "latest"))
        for selector in ("1", "2", "latest"):  # a third answer drops the oldest ("latest")
            read(selector)
        assert len(cache) == 2 and cache.position == api.head_position()
        assert computed == ["latest", "latest", "1", "2", "latest"]


def test_only_reads_without_a_point_in_time_are_live() -> None:
    assert is_live({})
    assert is_live({"as_of": "", "at_position": ""})
    assert not is_live({"at_position": "3"})
    assert not is_live({"as_of": "2026-01-01T00:00:00+00:00"})
