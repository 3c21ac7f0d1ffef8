"""The one permission check: which role every use case of the service API needs, and the guard enforcing it.

:data:`RULES` maps each use case of :class:`~modelog.application.api.RegistryAPI` to the role it
needs and where (registry-wide, or on the model the call names). :class:`GuardedRegistry` is how
a caller acting as an authenticated principal reaches the registry (the server's request scope,
and so the HTTP API, the remote CLI and SDK, and the web UI): every use case goes through
:meth:`Guard.check` first, and a use case missing from the table is refused (default deny; a
test checks the table covers the API). Roles come from the log (the grants the
:class:`~modelog.application.access.Authenticator` replays from the principals' streams, and
model names resolved through their ``name-`` streams), never from a view.

In-process use without a principal (the CLI or SDK pointed at the database itself) is the
operator's and is not guarded: whoever holds the database can write to it anyway. Stage policies
and the four-eyes rule are the command layer's, so they hold there too (docs/permissions.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelog.registry.errors import PermissionDeniedError
from modelog.registry.validation import name_key
from modelog.registry.values import Role

if TYPE_CHECKING:
    from modelog.application.access import Authenticator
    from modelog.application.local import LocalRegistry

#: Where a rule's role must be held.
REGISTRY = "registry"  # registry-wide
MODEL = "model"  # on the model named by the first argument (or a registry-wide grant)
MODEL_OPTION = "model-option"  # on the model of the ``model`` keyword when given, else registry-wide
RUN_CONTEXT = "run-context"  # on the model of a run's model context when given, else registry-wide
RUN = "run"  # on the model the run (first argument) belongs to, else registry-wide
SELF = "self"  # the principal named by the first argument is the caller, else registry-wide


@dataclass(frozen=True)
class Rule:
    """The role a use case needs, and where."""

    role: Role
    scope: str = REGISTRY


V, C, M, A = Role.VIEWER, Role.CONTRIBUTOR, Role.MAINTAINER, Role.ADMIN
#: Every use case of the service API and the role it needs (see docs/permissions.md for the matrix).
RULES: Mapping[str, Rule] = {
    # reads of the whole registry
    "resolve_point": Rule(V), "list_models": Rule(V), "list_model_summaries": Rule(V), "list_runs": Rule(V),
    "get_run": Rule(V, RUN), "list_run_steps": Rule(V, RUN), "find_cached_step": Rule(V), "get_artifact": Rule(V),
    "list_artifacts": Rule(V), "open_artifact": Rule(V), "verify_artifacts": Rule(V),
    "log_events": Rule(V),
    "log_head": Rule(V), "log_checkpoint": Rule(V), "verify_log": Rule(V), "export_log": Rule(V),
    "export_bundle": Rule(V),
    "verify_projections": Rule(V), "complete": Rule(V), "list_stage_policies": Rule(V),
    # reads of one model
    "get_model": Rule(V, MODEL), "history": Rule(V, MODEL), "list_versions": Rule(V, MODEL),
    "get_version": Rule(V, MODEL), "list_links": Rule(V, MODEL), "list_version_runs": Rule(V, MODEL),
    "describe_model": Rule(V, MODEL), "describe_version": Rule(V, MODEL), "compare_versions": Rule(V, MODEL),
    "search_versions": Rule(V, MODEL), "list_stage_requests": Rule(V, MODEL), "history_page": Rule(V, MODEL),
    "stage_timeline": Rule(V, MODEL),
    # running pipelines
    "register_model": Rule(C), "store_blob": Rule(C), "start_run": Rule(C, RUN_CONTEXT),
    "complete_step": Rule(C, RUN), "finish_run": Rule(C, RUN), "fail_run": Rule(C, RUN),
    "create_version": Rule(C, MODEL), "link_artifact": Rule(C, MODEL), "log_metadata": Rule(C, MODEL),
    # curating a model
    "update_model": Rule(M, MODEL), "rename_model": Rule(M, MODEL), "update_version": Rule(M, MODEL),
    "set_stage": Rule(M, MODEL),
    "set_alias": Rule(M, MODEL), "remove_alias": Rule(M, MODEL), "delete_version": Rule(M, MODEL),
    "request_stage": Rule(M, MODEL), "approve_stage_request": Rule(M, MODEL),
    "reject_stage_request": Rule(M, MODEL),
    # administration
    "delete_model": Rule(A, MODEL), "add_principal": Rule(A), "disable_principal": Rule(A),
    "list_principals": Rule(A), "create_token": Rule(A), "list_tokens": Rule(A), "revoke_token": Rule(A),
    "describe_principal": Rule(A, SELF), "grant_role": Rule(A, MODEL_OPTION), "revoke_role": Rule(A, MODEL_OPTION),
    "set_stage_policy": Rule(A, MODEL_OPTION), "import_log": Rule(A), "import_bundle": Rule(A),
    "rebuild_projections": Rule(A),
}
del V, C, M, A

#: What a refusal names as the use case (the CLI's words where they differ from the API's).
_WORDS = {"set_stage": "change stages", "update_version": "update versions", "request_stage": "request stage moves",
          "approve_stage_request": "approve stage moves", "reject_stage_request": "reject stage moves"}


def _first(args: tuple[Any, ...], kwargs: Mapping[str, Any], *names: str) -> Any:
    if args:
        return args[0]
    return next((kwargs[n] for n in names if n in kwargs), None)


class Guard:
    """Checks one principal's calls against :data:`RULES`, with the grants the log records."""

    def __init__(self, authenticator: Authenticator, principal: str) -> None:
        self.authenticator = authenticator
        self.principal = principal

    def allowed_everywhere(self, use_case: str) -> bool:
        """True when the principal holds ``use_case``'s role registry-wide: no model to resolve, memory only (safe on
        another thread than the registry's, e.g. a server's event loop answering from its cache)."""
        rule = RULES.get(use_case)
        return rule is not None and self.authenticator.holds_registry_wide(self.principal, rule.role)

    def check(self, use_case: str, args: tuple[Any, ...] = (), kwargs: Mapping[str, Any] | None = None) -> None:
        """Raise PermissionDeniedError unless the principal may run ``use_case`` with these arguments."""
        rule = RULES.get(use_case)
        if rule is None:
            raise PermissionDeniedError(f"{use_case} is not a use case the registry offers to principals")
        if self.authenticator.holds(self.principal, rule.role):  # registry-wide: no model to resolve
            return
        kwargs = kwargs or {}
        model: str | None = None
        model_id: str | None = None
        if rule.scope == MODEL:
            model = _first(args, kwargs, "model", "name")
        elif rule.scope == MODEL_OPTION:
            model = kwargs.get("model")
        elif rule.scope == RUN_CONTEXT:
            context = kwargs.get("model")
            model = getattr(context, "name", None)
        elif rule.scope == RUN:
            model_id = self.authenticator.model_of_run(str(_first(args, kwargs, "run_id")))
        elif rule.scope == SELF and name_key(str(_first(args, kwargs, "name"))) == name_key(self.principal):
            return
        if isinstance(model, str):
            model_id = self.authenticator.model_id(model)
        if self.authenticator.holds(self.principal, rule.role, model_id):
            return
        where = f" on model {model!r}" if isinstance(model, str) else ""
        grant = f"modelog grant {self.principal} {rule.role.value}" + (f" --model {model}" if where else "")
        raise PermissionDeniedError(
            f"permission denied: {self.principal!r} needs the {rule.role.value} role{where} to "
            f"{_WORDS.get(use_case, use_case.replace('_', ' '))} (an admin can run '{grant}')")


class _Checked:
    """A use case of the guarded registry: checked, then run."""

    def __init__(self, guard: Guard, name: str, call: Callable[..., Any]) -> None:
        self.guard, self.__name__, self._call = guard, name, call

    def authorize(self, *args: Any, **kwargs: Any) -> None:
        """Only the check (for a caller that may answer from a cache)."""
        self.guard.check(self.__name__, args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.guard.check(self.__name__, args, kwargs)
        return self._call(*args, **kwargs)


class GuardedRegistry:
    """The registry as one principal may use it: each use case of :data:`RULES` checked before it runs.

    Other attributes (the artifact store, the head position a cache keys on) are the registry's own;
    a caller using them directly checks first with :meth:`authorize`.
    """

    def __init__(self, registry: LocalRegistry, guard: Guard) -> None:
        self.registry = registry
        self.guard = guard

    def authorize(self, use_case: str, *args: Any, **kwargs: Any) -> None:
        """Raise PermissionDeniedError unless the principal may run ``use_case`` with these arguments."""
        self.guard.check(use_case, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.registry, name)
        if name in RULES:
            return _Checked(self.guard, name, found)
        if callable(found) and not name.startswith("_") and name not in _UNGUARDED:
            raise PermissionDeniedError(f"{name} is not a use case the registry offers to principals")
        return found


#: Attributes of the registry that are not use cases: lifecycle and what the server's plumbing reads.
_UNGUARDED = frozenset({"close", "head_position", "acting_as"})
