"""Random command sequences (refused ones included) against a real SQLite file, and against PostgreSQL.

After every step: the live read models (and their history twins) equal a fresh replay, the
hash chain verifies, a refused command appended nothing, and domain invariants hold. Every
state the registry was in stays answerable: at the end, ``at_position`` and ``as_of`` at each
earlier step give exactly the snapshot taken then, the temporal answer (history twins) equals
the replayed one at every committed position, and ``rebuild()`` reproduces the live tables.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from modelog.application.access import Authenticator
from modelog.projections import governance as gov
from modelog.projections import tables as t
from modelog.projections.describe import version_metadata
from modelog.projections.queries import ReadModel
from modelog.projections.rebuild import rebuild, verify
from modelog.projections.temporal import HISTORY_TABLES
from modelog.registry import commands as cmd
from modelog.registry import governance, identity
from modelog.registry.database import transaction
from modelog.registry.errors import RegistryError
from modelog.registry.rules import first_breach
from modelog.registry.store import parse_time

from tests import backends

NAMES = st.sampled_from(["alpha", "alpha", "Alpha", "beta"])
#: Names a rename takes a model from and to: "gamma" only a rename reaches (and leaves); "Alpha" is alpha's key.
RENAMES = st.sampled_from(["alpha", "Alpha", "beta", "gamma"])
# Weighted towards selectors that resolve, so that sequences get deep; the rest exercise refusals.
SELECTORS = st.sampled_from([1, 1, "1", 2, "latest", "latest", 3, "production", "staging", "@champ", "cand", "Cand"])
VERSION_NAMES = st.sampled_from([None, None, "cand", "Cand", "rc"])
STAGES = st.sampled_from(["none", "staging", "production", "archived"])
ALIASES = st.sampled_from(["champ", "best"])
ARTIFACTS = st.sampled_from(["a1", "a2", "a3"])
RUNS = st.sampled_from(["r1", "r2", "r3"])
PRINCIPALS = st.sampled_from(["ana", "Ana", "ci"])
TOKEN_IDS = st.sampled_from(["0" * 16, "1" * 16, "2" * 16])
ROLES = st.sampled_from(["viewer", "maintainer", "admin"])
MODEL_SCOPES = st.sampled_from([None, "alpha", "beta"])
PROTECTED = st.sampled_from(["staging", "production"])
DECIDERS = st.sampled_from(["ana", "ci", "machine"])  # "machine" is every request's requester


class Ticking:
    """A clock that moves one second per reading, so every append has its own instant."""

    def __init__(self) -> None:
        self.now = datetime(2021, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def snapshot(reads: Any, **point: Any) -> dict[str, Any]:
    """Everything the read side says about every model (at a point, or live)."""
    found: dict[str, Any] = {}
    for model in reads.list_models(size=1000, **point).items:
        versions = reads.list_versions(model.name, **point)
        found[model.name] = {
            "model": model.as_dict(),
            "model_alone": reads.get_model(model.name, **point).as_dict(),  # a past read replays just model rows
            "versions": [v.as_dict() for v in versions],
            "links": {v.number: [x.as_dict() for x in reads.list_links(model.name, v.number, **point)]
                      for v in versions},
            "runs": {v.number: [r.as_dict() for r in reads.list_version_runs(model.name, v.number, **point)]
                     for v in versions},
            "history": [h.as_dict() for h in reads.history(model.name, **point)],
            "metadata": {number: [m.as_dict() for m in logged] for number, logged in version_metadata(
                reads, model.name, None, reads.resolve_point(**point)).items()},
        }
    found[" principals"] = [p.as_dict() for p in reads.list_principals(**point)]
    found[" tokens"] = [token.as_dict() for token in reads.list_tokens(**point)]
    return found


def past_snapshot(reads: Any, position: int) -> dict[str, Any]:
    """:func:`snapshot` plus every other past read (filters, sorting, paging, runs, artifacts) at ``position``."""
    at = {"at_position": position}
    found: dict[str, Any] = {"models": snapshot(reads, **at)}
    for sort_by in ("name", "created", "updated"):
        for page in (1, 2):
            listed = reads.list_models(sort_by=sort_by, page=page, size=1, **at)
            found[f"{sort_by}/{page}"] = ([m.as_dict() for m in listed.items], listed.total)
    found["filtered"] = [reads.list_models(name="ph", **at), reads.list_models(tag="x", **at)]
    runs = reads.list_runs(limit=100, **at)
    found["runs"] = [r.as_dict() for r in runs] + [reads.list_runs(status="failed", pipeline="p", **at)]
    found["run"] = {r.run_id: (reads.get_run(r.run_id, **at), reads.list_run_steps(r.run_id, **at)) for r in runs}
    artifacts = reads.list_artifacts(**at)
    found["artifacts"] = [a.as_dict() for a in artifacts] + [reads.get_artifact(a.artifact_id, **at)
                                                            for a in artifacts]
    for model in found["models"]:
        for selector in ("latest", "production", "@champ", "cand"):
            try:
                found[f"{model}/{selector}"] = reads.get_version(model, selector, **at).as_dict()
            except RegistryError as error:
                found[f"{model}/{selector}"] = str(error)
    return found


def dump_views(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table and history twin, in key order."""
    with transaction(engine) as conn:
        return {table.name: sorted((tuple(r) for r in conn.execute(table.select())), key=repr)
                for table in (*t.VIEW_TABLES, *HISTORY_TABLES, t.checkpoints)}


class RegistryMachine(RuleBasedStateMachine):
    """Drives the command service with random, often invalid, commands."""

    def __init__(self) -> None:
        super().__init__()
        from modelog.application.bootstrap import open_registry

        self.dir = Path(tempfile.mkdtemp(prefix="modelog-stateful-"))
        self.reg = open_registry(self.database_url(), home=self.dir, actor="machine", synchronous="OFF")
        self.reg.store.clock = Ticking()
        self.snapshots: dict[int, dict[str, Any]] = {0: {" principals": [], " tokens": []}}
        self.governed: dict[int, Any] = {}
        self.numbers_seen: dict[str, set[int]] = {}
        self.runs: list[str] = []
        self.refused = 0

    def database_url(self) -> str:
        """A fresh, empty database for one example."""
        return f"sqlite:///{self.dir / 'registry.db'}"

    def run(self, command: cmd.Command) -> None:
        head = self.reg.store.head()
        try:
            self.reg.commands.execute(command)
        except RegistryError:
            self.refused += 1
            assert self.reg.store.head() == head, "a refused command appended events"

    def build_and_run(self, build: Any) -> None:
        try:
            command = build()
        except RegistryError:  # refused on construction: nothing to execute
            return
        self.run(command)

    # --- rules ---------------------------------------------------------------------------

    @initialize(versions=st.integers(min_value=0, max_value=3))
    def start_with_a_model(self, versions: int) -> None:
        self.run(cmd.RegisterModel(name="alpha"))
        for _ in range(versions):
            self.run(cmd.CreateVersion(model="alpha"))

    @rule(name=NAMES, tag=st.sampled_from([(), ("x",), ("x", "y")]))
    def register(self, name: str, tag: tuple[str, ...]) -> None:
        self.run(cmd.RegisterModel(name=name, tags=tag, fields={"license": "MIT"}))

    @rule(name=NAMES, license=st.sampled_from([None, "MIT", "GPL"]), add=st.sampled_from([(), ("x",), ("z",)]),
          remove=st.sampled_from([(), ("x",), ("nope",)]))
    def update_model(self, name: str, license: str | None, add: tuple[str, ...], remove: tuple[str, ...]) -> None:
        self.run(cmd.UpdateModel(model=name, changes={"license": license}, add_tags=add, remove_tags=remove))

    @rule(name=RENAMES, new_name=RENAMES)
    def rename_model(self, name: str, new_name: str) -> None:
        self.run(cmd.RenameModel(model=name, new_name=new_name))

    @rule(name=NAMES)
    def delete_model(self, name: str) -> None:
        self.run(cmd.DeleteModel(model=name))

    @rule(name=NAMES, version_name=VERSION_NAMES)
    def create_version(self, name: str, version_name: str | None) -> None:
        self.run(cmd.CreateVersion(model=name, name=version_name, description="d"))

    @rule(name=NAMES, selector=SELECTORS, new_name=VERSION_NAMES, add=st.sampled_from([(), ("t",)]))
    def update_version(self, name: str, selector: Any, new_name: str | None, add: tuple[str, ...]) -> None:
        self.run(cmd.UpdateVersion(model=name, version=selector, name=new_name, add_tags=add))

    @rule(name=NAMES, selector=SELECTORS, values=st.sampled_from([{"acc": 0.9}, {"acc": 0.95, "p": {"d": 3}},
                                                                   {"note": "x", "ok": True}]))
    def log_metadata(self, name: str, selector: Any, values: dict[str, Any]) -> None:
        self.build_and_run(lambda: cmd.LogVersionMetadata(model=name, version=selector, values=values))

    @rule(name=NAMES, selector=SELECTORS, stage=STAGES, force=st.booleans())
    def set_stage(self, name: str, selector: Any, stage: str, force: bool) -> None:
        self.run(cmd.SetStage(model=name, version=selector, stage=stage, force=force))

    @rule(name=NAMES, selector=SELECTORS, alias=ALIASES)
    def set_alias(self, name: str, selector: Any, alias: str) -> None:
        self.run(cmd.SetAlias(model=name, version=selector, alias=alias))

    @rule(name=NAMES, alias=ALIASES)
    def remove_alias(self, name: str, alias: str) -> None:
        self.run(cmd.RemoveAlias(model=name, alias=alias))

    @rule(name=NAMES, selector=SELECTORS)
    def delete_version(self, name: str, selector: Any) -> None:
        self.run(cmd.DeleteVersion(model=name, version=selector))

    @rule(name=NAMES, selector=SELECTORS, artifact=ARTIFACTS, kind=st.sampled_from(["data", "model"]),
          overwrite=st.booleans())
    def link_artifact(self, name: str, selector: Any, artifact: str, kind: str, overwrite: bool) -> None:
        self.run(cmd.LinkArtifact(model=name, version=selector, pipeline="p", step="s", name="out", kind=kind,
                                  artifact_id=artifact, artifact_name="out", content_hash="h" + artifact,
                                  overwrite=overwrite))

    @rule(name=NAMES, selector=SELECTORS, run_id=RUNS)
    def link_run(self, name: str, selector: Any, run_id: str) -> None:
        self.run(cmd.LinkRun(model=name, version=selector, run_id=run_id, pipeline="p"))

    @rule(name=NAMES, new_version=st.booleans(), version_name=VERSION_NAMES)
    def start_run(self, name: str, new_version: bool, version_name: str | None) -> None:
        run_id = f"run-{len(self.runs) + 1}"
        context = lambda: cmd.ModelContext(name=name, create_new_version=new_version,  # noqa: E731
                                           version_name=version_name if new_version else None)
        self.build_and_run(lambda: cmd.StartRun(run_id=run_id, pipeline="p", model=context()))
        if self.reg.store.read_stream(f"run-{run_id}"):
            self.runs.append(run_id)

    @precondition(lambda self: bool(self.runs))
    @rule(data=st.data(), cached=st.booleans())
    def complete_step(self, data: st.DataObject, cached: bool) -> None:
        run_id = data.draw(st.sampled_from(self.runs))
        output = cmd.OutputSpec(name="model", uri="file:///m", content_hash="hm", data_type="pickle",
                                materializer="m", kind="model")
        self.run(cmd.CompleteStep(run_id=run_id, step="train", outputs=(output,), cached=cached, cache_key="k"))

    @precondition(lambda self: bool(self.runs))
    @rule(data=st.data(), failed=st.booleans())
    def finish_run(self, data: st.DataObject, failed: bool) -> None:
        run_id = data.draw(st.sampled_from(self.runs))
        error = "ValueError" if failed else None
        self.run(cmd.FinishRun(run_id=run_id, error_type=error, error_message="boom", delete_created_version=True))

    @rule(name=PRINCIPALS)
    def add_principal(self, name: str) -> None:
        self.run(identity.AddPrincipal(name=name))

    @rule(name=PRINCIPALS)
    def disable_principal(self, name: str) -> None:
        self.run(identity.DisablePrincipal(name=name))

    @rule(name=PRINCIPALS, token_id=TOKEN_IDS)
    def create_token(self, name: str, token_id: str) -> None:
        self.run(identity.CreateToken(principal=name, token_id=token_id, token_sha256=token_id * 4))

    @rule(token_id=TOKEN_IDS)
    def revoke_token(self, token_id: str) -> None:
        self.run(identity.RevokeToken(token_id=token_id))

    @rule(name=PRINCIPALS, role=ROLES, model=MODEL_SCOPES, grant=st.booleans())
    def grant_or_revoke(self, name: str, role: str, model: str | None, grant: bool) -> None:
        kind = governance.GrantRole if grant else governance.RevokeRole
        self.build_and_run(lambda: kind(name=name, role=role, model=model))

    @rule(stage=PROTECTED, approvals=st.integers(min_value=0, max_value=2), model=MODEL_SCOPES)
    def set_policy(self, stage: str, approvals: int, model: str | None) -> None:
        self.run(governance.SetStagePolicy(stage=stage, approvals=approvals, model=model))

    @rule(name=NAMES, selector=SELECTORS, stage=PROTECTED, force=st.booleans())
    def request_stage(self, name: str, selector: Any, stage: str, force: bool) -> None:
        self.build_and_run(lambda: governance.RequestStageChange(
            model=name, version=selector, stage=stage, force=force, expires_at="2999-01-01T00:00:00.000000Z",
            by="machine"))

    @rule(name=NAMES, selector=SELECTORS, by=DECIDERS, approve=st.booleans())
    def decide(self, name: str, selector: Any, by: str, approve: bool) -> None:
        if approve:
            self.build_and_run(lambda: governance.ApproveStageChange(model=name, version=selector, by=by))
        else:
            self.build_and_run(lambda: governance.RejectStageChange(model=name, version=selector, by=by))

    # --- checks after every step -----------------------------------------------------------

    @invariant()
    def grants_agree_with_the_log(self) -> None:
        authenticator = Authenticator(self.reg.store)
        authenticator.refresh()
        for principal in self.reg.reads.list_principals():
            replayed = {(g.role, g.model_id) for g in gov.roles_of(self.reg.store, principal.name)}
            held = {(r.value, m) for r, m in authenticator.grants.get(principal.name.casefold(), set())}
            assert replayed == held, principal.name
        assert first_breach(self.reg.store.read_all())[1] is None

    @invariant()
    def authentication_agrees_with_the_views(self) -> None:
        authenticator = Authenticator(self.reg.store)
        authenticator.refresh()
        disabled = {p.name: p.disabled for p in self.reg.reads.list_principals()}
        for token in self.reg.reads.list_tokens():
            held = authenticator.tokens[token.token_id]
            assert held.revoked == (token.revoked_at is not None)
            assert authenticator.principals[held.principal_key] == (token.principal, disabled[token.principal])

    @invariant()
    def log_and_views_agree(self) -> None:
        assert self.reg.store.verify().ok
        report = verify(self.reg.engine, self.reg.store)
        assert report.ok, report.differences

    @invariant()
    def domain_rules_hold(self) -> None:
        for model in self.reg.reads.list_models(size=1000).items:
            versions = self.reg.reads.list_versions(model.name)
            for stage in ("staging", "production"):
                assert sum(v.stage == stage for v in versions) <= 1
            numbers = [v.number for v in versions]
            assert numbers == sorted(set(numbers))
            aliases = [a for v in versions for a in v.aliases]
            assert len(aliases) == len(set(aliases))
            seen = self.numbers_seen.setdefault(model.id, set())
            assert all(n > max(seen, default=0) for n in set(numbers) - seen), "a version number was reused"
            seen.update(numbers)

    @invariant()
    def remember_this_state(self) -> None:
        self.snapshots[self.reg.store.head()] = snapshot(self.reg.reads)
        self.governed[self.reg.store.head()] = self.governance_state(None)

    def governance_state(self, position: int | None) -> Any:
        """Policies, every principal's roles and every live model's requests, as read at ``position``."""
        store = self.reg.store
        models = self.reg.reads.list_models(size=1000, at_position=position).items
        principals = self.reg.reads.list_principals(at_position=position)
        return (gov.stage_policies(store, position),
                {p.name: gov.roles_of(store, p.name, position) for p in principals},
                {m.name: gov.stage_requests(store, m.id, m.name, "2000", position) for m in models})

    def teardown(self) -> None:
        try:
            self.check_the_past()
            before = dump_views(self.reg.engine)
            rebuild(self.reg.engine, self.reg.store)
            assert dump_views(self.reg.engine) == before
        finally:
            self.reg.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def check_the_past(self) -> None:
        reads, events = self.reg.reads, {e.position: e for e in self.reg.store.read_all()}
        assert reads.temporal
        for position, expected in self.snapshots.items():
            assert snapshot(reads, at_position=position) == expected, f"at_position={position}"
            if position:
                moment = parse_time(events[position].recorded_at)
                assert snapshot(reads, as_of=moment) == expected, f"as_of={moment}"
        for position, expected in self.governed.items():
            assert self.governance_state(position) == expected, f"grants, policies, requests at_position={position}"
        replayed = ReadModel(self.reg.engine, self.reg.store, temporal=False)  # the reference implementation
        try:
            # Every committed state: a command's events commit together, so no reader ever saw a position
            # inside one (there a model may still be listed while its name is already released).
            for position in self.snapshots:
                assert past_snapshot(reads, position) == past_snapshot(replayed, position), f"at_position={position}"
        finally:
            replayed.close()


RegistryMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("MODELOG_STATEFUL_EXAMPLES", "30")),  # raise it for a long soak
    stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestRegistryStateful = RegistryMachine.TestCase


class PostgresRegistryMachine(RegistryMachine):
    """The same machine on PostgreSQL (the test database, emptied for each example): its past reads run other
    statement shapes and plans there (a generic plan once psycopg prepares a statement), the answers may not
    differ from the replay's."""

    def database_url(self) -> str:
        """The PostgreSQL test database, emptied."""
        backends.require_postgres()
        return backends.reset_postgres()


PostgresRegistryMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("MODELOG_STATEFUL_POSTGRES_EXAMPLES", "8")),
    stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestRegistryStatefulPostgres = PostgresRegistryMachine.TestCase
