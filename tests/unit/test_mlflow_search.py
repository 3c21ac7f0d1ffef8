"""MLflow's search language translated: filters, order_by and page tokens (pure, no server)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from modelog.application import mlflow_search as s
from modelog.application.mlflow import modelog_stage, split_tag, tag_text, version_number
from modelog.registry.errors import InvalidInputError


@dataclass(frozen=True)
class Rec:
    name: str
    version_number: int = 1
    run_id: str | None = None
    source_path: str = ""
    last_updated_timestamp: int = 0
    tags: dict[str, str] = field(default_factory=dict)

    def search_field(self, key: str) -> str | int | None:
        return getattr(self, key, None)  # type: ignore[no-any-return]

    def tag_value(self, key: str) -> str | None:
        return self.tags.get(key)


def _keep(text: str, records: list[Rec]) -> list[str]:
    clauses = s.parse_filter(text, s.VERSION_ATTRIBUTES)
    return [f"{r.name}/{r.version_number}" for r in records if s.matches(r, clauses)]


RECORDS = [
    Rec("fraud", 1, run_id="r1", source_path="s3://b/fraud/1", tags={"team": "risk"}),
    Rec("fraud", 2, run_id="r2", source_path="s3://b/fraud/2", tags={"team": "Risk", "mlflow.prompt": "x"}),
    Rec("Churn_v2", 1, source_path="file:///m/churn"),
]


@pytest.mark.parametrize(("text", "expected"), [
    ("", ["fraud/1", "fraud/2", "Churn_v2/1"]),
    ("name = 'fraud'", ["fraud/1", "fraud/2"]),
    ("name != 'fraud'", ["Churn_v2/1"]),
    ("name LIKE 'fr%'", ["fraud/1", "fraud/2"]),
    ("name LIKE 'FR%'", []),
    ("name ILIKE 'FR%'", ["fraud/1", "fraud/2"]),
    ("name LIKE 'Churn_v_'", ["Churn_v2/1"]),
    ("tags.team = 'risk'", ["fraud/1"]),
    ("tags.team ILIKE 'risk'", ["fraud/1", "fraud/2"]),
    ("tag.`mlflow.prompt` != 'x'", ["fraud/1", "Churn_v2/1"]),  # a missing tag differs from every value
    ("run_id = 'r2'", ["fraud/2"]),
    ("run_id IN ('r1', 'r2')", ["fraud/1", "fraud/2"]),
    ("source_path LIKE 's3://b/fraud/%'", ["fraud/1", "fraud/2"]),
    ("name = 'fraud' and version_number > 1", ["fraud/2"]),
    ("version_number <= 1", ["fraud/1", "Churn_v2/1"]),
    ('name = "fraud" AND tags.team = "Risk"', ["fraud/2"]),
])
def test_filters_keep_what_mlflow_keeps(text: str, expected: list[str]) -> None:
    assert _keep(text, RECORDS) == expected


@pytest.mark.parametrize("text", [
    "name = fraud", "nmae = 'x'", "name ~ 'x'", "name = 'a' OR name = 'b'", "name =", "name",
    "version_number = 'x'", "run_id IN 'x'", "run_id IN ('a'", "name LIKE 'x' AND", "tags.team > 'a'",
    "name = 'unterminated",
])
def test_malformed_filters_are_refused_in_one_line(text: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid filter"):
        s.parse_filter(text, s.VERSION_ATTRIBUTES)


def test_model_filters_name_only_attributes() -> None:
    with pytest.raises(InvalidInputError, match="unknown attribute 'run_id'"):
        s.parse_filter("run_id = 'x'", s.MODEL_ATTRIBUTES)
    assert s.exact_name(s.parse_filter("tags.a = 'b' AND name = 'm'", s.MODEL_ATTRIBUTES)) == "m"
    assert s.exact_name(s.parse_filter("name LIKE 'm%'", s.MODEL_ATTRIBUTES)) is None


def test_order_by_sorts_by_each_term_first_most_significant() -> None:
    records = [Rec("b", 1, last_updated_timestamp=5), Rec("a", 2, last_updated_timestamp=5),
               Rec("a", 1, last_updated_timestamp=9)]
    orders = s.parse_order(["last_updated_timestamp DESC", "name", "version_number desc"],
                           frozenset(s.ORDER_FIELDS))
    assert [(r.name, r.version_number) for r in s.sort_records(records, orders)] == [("a", 1), ("a", 2), ("b", 1)]
    assert s.parse_order(["timestamp"], frozenset(s.ORDER_FIELDS)) == (s.Order("creation_timestamp", False),)
    with pytest.raises(InvalidInputError, match="invalid order_by"):
        s.parse_order(["name sideways"], frozenset(s.ORDER_FIELDS))
    with pytest.raises(InvalidInputError, match="invalid order_by"):
        s.parse_order(["run_id"], frozenset({"name"}))


def test_pages_walk_every_record_once_and_tokens_are_checked() -> None:
    records = [Rec(f"m{i:02}") for i in range(25)]
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page, token = s.page_of(records, 10, token)
        seen += [r.name for r in page]
        pages += 1
        if token is None:
            break
    assert seen == [r.name for r in records] and pages == 3
    for bad in ("not-a-token", s.encode_token(0)[:-3] + "!!!", "eyJvZmZzZXQiOiAtMX0="):  # the last is offset -1
        with pytest.raises(InvalidInputError, match="invalid page_token"):
            s.decode_token(bad)
    assert s.check_max_results(None, 100, 1000) == 100
    for bad_size in (0, 1001):
        with pytest.raises(InvalidInputError, match="max_results"):
            s.check_max_results(bad_size, 100, 1000)


def test_tags_stages_and_version_numbers_map_both_ways() -> None:
    assert tag_text("team", "risk") == "team=risk" and split_tag("team=risk") == ("team", "risk")
    assert tag_text("gold", "") == "gold" and split_tag("gold") == ("gold", "")
    assert split_tag("expr=a=b") == ("expr", "a=b")
    with pytest.raises(InvalidInputError, match="tag key"):
        tag_text("a=b", "c")
    assert [modelog_stage(x) for x in ("None", "staging", "PRODUCTION", "Archived")] == \
        ["none", "staging", "production", "archived"]
    with pytest.raises(InvalidInputError, match="stage"):
        modelog_stage("Canary")
    assert version_number("12") == 12
    for bad in ("0", "-1", "x", "1.5", True):
        with pytest.raises(InvalidInputError, match="model version"):
            version_number(bad)


def test_registry_refusals_become_mlflow_error_codes_and_statuses() -> None:
    import json

    from modelog.registry.errors import (
        AuthenticationError,
        ConcurrencyError,
        ConflictError,
        IntegrityError,
        NotFoundError,
        PermissionDeniedError,
        StorageError,
    )
    from modelog.server.mlflow_api import error_of

    def code(error: Exception, conflict: str = "INVALID_STATE") -> tuple[int, str, str]:
        response = error_of(error, conflict)  # type: ignore[arg-type]
        body = json.loads(bytes(response.body))
        return response.status_code, body["error_code"], body["message"]

    assert code(InvalidInputError("bad stage")) == (400, "INVALID_PARAMETER_VALUE", "bad stage")
    assert code(NotFoundError("no model"))[:2] == (404, "RESOURCE_DOES_NOT_EXIST")
    assert code(ConflictError("taken"), "RESOURCE_ALREADY_EXISTS")[:2] == (400, "RESOURCE_ALREADY_EXISTS")
    assert code(ConflictError("stage held"))[:2] == (400, "INVALID_STATE")
    assert code(ConcurrencyError("s", 1, 2))[:2] == (409, "ABORTED")
    assert code(AuthenticationError("no token"))[:2] == (401, "UNAUTHENTICATED")
    assert error_of(AuthenticationError("no token")).headers["WWW-Authenticate"].startswith("Bearer")
    assert code(PermissionDeniedError("not yours"))[:2] == (403, "PERMISSION_DENIED")
    assert code(StorageError("locked"))[:2] == (503, "TEMPORARILY_UNAVAILABLE")
    assert code(IntegrityError("chain broken"))[:2] == (500, "INTERNAL_ERROR")
