"""The hot read paths are recognised exactly where the API's routes send a GET to the same read, with its arguments."""

from __future__ import annotations

import pytest
from modelog.server.hot_reads import hot_key
from modelog.server.routes import ENDPOINTS
from starlette.routing import Match, Route

ROUTES = [Route(e.path, e.handler, methods=[e.method]) for e in ENDPOINTS]
PATHS = [
    "/api/v1/models/m", "/api/v1/models/m/versions/@champion", "/api/v1/models/m/versions/production",
    "/api/v1/models/a b/versions/3", "/api/v1/models/m/versions", "/api/v1/models/m/versions/1/links",
    "/api/v1/models/m/versions/1/describe", "/api/v1/models/m/history", "/api/v1/models/m/describe",
    "/api/v1/models/m/aliases/champion", "/api/v1/models/", "/api/v1/models//versions/1", "/api/v1/models/m/",
    "/api/v1/models/m/versions/", "/api/v1/models", "/api/v1/models/versions/1", "/api/v2/models/m",
    "/api/v1/models/m/requests", "/api/v1/models/m/versions/1/runs", "/ui/models/m", "/api/v1/runs/r",
]


def _routed(path: str) -> tuple[str, ...] | None:
    """What the ordinary path does with a live GET of ``path``: the read and its arguments when it is a hot read."""
    scope = {"type": "http", "method": "GET", "path": path, "root_path": ""}
    for route in ROUTES:
        match, child = route.matches(scope)
        if match == Match.FULL:
            params = child["path_params"]
            if route.endpoint.__name__ == "_get_version":
                return ("get_version", params["model"], params["version"])
            if route.endpoint.__name__ == "_get_model":
                return ("get_model", params["model"])
            return None
    return None


@pytest.mark.parametrize("path", PATHS)
def test_a_path_is_hot_exactly_when_its_route_is_a_hot_read_with_the_same_arguments(path: str) -> None:
    assert hot_key(path) == _routed(path)


def test_the_sample_has_hot_and_cold_paths() -> None:
    assert sum(hot_key(p) is not None for p in PATHS) == 4
