"""The permission table covers every use case, agrees with the documented matrix, and the rules know the new events."""

from __future__ import annotations

import inspect

import pytest
from modelog.application.api import RegistryAPI
from modelog.application.permissions import MODEL, REGISTRY, RULES, SELF
from modelog.registry import events as ev
from modelog.registry.rules import RuleBreach, RuleCheck
from modelog.registry.values import Role, Stage, parse_role

from tests.integration.test_permission_matrix import MATRIX

LIFECYCLE = {"close", "__enter__", "__exit__"}


def test_every_use_case_of_the_api_has_a_rule() -> None:
    use_cases = {name for name, _ in inspect.getmembers(RegistryAPI, inspect.isfunction)
                 if not name.startswith("_")} - LIFECYCLE
    assert set(RULES) == use_cases, set(RULES) ^ use_cases


def test_the_table_is_the_documented_matrix() -> None:
    assert {name: rule.role.value for name, rule in RULES.items()} == {k: v[0] for k, v in MATRIX.items()}
    assert {name for name, rule in RULES.items() if rule.scope not in (REGISTRY, SELF)} == \
        {name for name, (_, on_model) in MATRIX.items() if on_model}
    assert RULES["set_stage"].scope == MODEL and RULES["describe_principal"].scope == SELF  # oneself: no role


def test_each_role_includes_the_lower_ones() -> None:
    order = [Role.VIEWER, Role.CONTRIBUTOR, Role.MAINTAINER, Role.ADMIN]
    for i, higher in enumerate(order):
        for j, lower in enumerate(order):
            assert higher.includes(lower) is (i >= j)
    assert parse_role(" Admin ") is Role.ADMIN
    with pytest.raises(ValueError, match="unknown role 'root'; roles are viewer, contributor, maintainer, admin"):
        parse_role("root")


def _model_stream() -> tuple[RuleCheck, str]:
    check, stream = RuleCheck(), "model-m1"
    check.check(1, stream, 1, ev.ModelRegistered(model_id="m1", name="demo"))
    check.check(2, stream, 2, ev.ModelVersionCreated(number=1, name="1"))
    check.check(3, stream, 3, ev.StageChangeRequested(request=1, number=1, stage=Stage.PRODUCTION,
                                                      requested_by="alice", expires_at="2999-01-01T00:00:00.000000Z",
                                                      approvals=1))
    return check, stream


def test_the_rules_refuse_a_self_approval_or_an_approval_of_a_decided_request() -> None:
    check, stream = _model_stream()
    with pytest.raises(RuleBreach, match="'Alice' cannot approve request 1"):
        check.check(4, stream, 4, ev.StageChangeApproved(request=1, number=1, stage=Stage.PRODUCTION,
                                                         approved_by="Alice"))
    check.check(4, stream, 4, ev.StageChangeApproved(request=1, number=1, stage=Stage.PRODUCTION, approved_by="bob"))
    with pytest.raises(RuleBreach, match="request 1 is approved already"):
        check.check(5, stream, 5, ev.StageChangeRejected(request=1, number=1, stage=Stage.PRODUCTION,
                                                         rejected_by="carol"))
    with pytest.raises(RuleBreach, match="request 2 does not exist"):
        check.check(5, stream, 5, ev.StageChangeApproved(request=2, number=1, stage=Stage.PRODUCTION,
                                                         approved_by="carol"))


def test_the_rules_know_grants_and_policies() -> None:
    check = RuleCheck()
    with pytest.raises(RuleBreach, match="never added"):
        check.check(1, "principal-bob", 1, ev.RoleGranted(name="bob", role=Role.ADMIN))
    check = RuleCheck()
    check.check(1, "principal-bob", 1, ev.PrincipalAdded(name="bob"))
    check.check(2, "principal-bob", 2, ev.RoleGranted(name="bob", role=Role.ADMIN))
    check.check(3, "principal-bob", 3, ev.RoleRevoked(name="bob", role=Role.ADMIN))
    with pytest.raises(RuleBreach, match="does not hold admin"):
        check.check(4, "principal-bob", 4, ev.RoleRevoked(name="bob", role=Role.ADMIN))
    check.check(5, "policy-stages", 1, ev.StagePolicySet(stage=Stage.PRODUCTION, approvals=2))
