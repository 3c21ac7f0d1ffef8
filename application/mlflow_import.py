"""``import-mlflow``: copy an MLflow model registry into the log, one ordinary command per item.

:func:`import_mlflow` reads the source (:mod:`application.mlflow_records`), plans against the
registry (:mod:`application.mlflow_plan`) and, unless it is a dry run, takes each step through the
registry's own use cases (register a model; create a version with its MLflow facts as metadata, in
one transaction; set its stage and aliases; delete it when MLflow did). Every step is its own
transaction: an import that stops half-way keeps what it did, and running it again resumes (what
is there is recognised and skipped). The events record the importing user as actor and the import's
own time; MLflow's times and users are recorded facts in the metadata (``mlflow.creation_timestamp``,
``mlflow.user_id``, ...), since the log's time only moves forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelog.application.api import RegistryAPI
from modelog.application.mlflow_plan import ImportPlan, Note, Refusal, RegisterStep, VersionStep, plan_import
from modelog.application.mlflow_records import Counter, MlflowSnapshot, read_registry
from modelog.registry.errors import ConflictError, InvalidInputError, NotFoundError


@dataclass(frozen=True)
class Done:
    """One step taken: what it was, and the modelog version number it produced (None for a model)."""

    step: RegisterStep | VersionStep
    number: int | None = None


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do): the steps, what was already there, what was not
    imported and why, the differences made on purpose, and the steps that failed."""

    source: str
    dry_run: bool
    plan: ImportPlan
    done: list[Done] = field(default_factory=list)
    failed: list[Refusal] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no step failed."""
        return not self.failed

    def count(self, kind: str) -> int:
        """How many steps of ``kind`` were taken (or planned, on a dry run): ``models``, ``versions``
        (created live), ``deleted`` (recorded as created and deleted), ``finished``."""
        steps = [d.step for d in self.done] if not self.dry_run else self.plan.steps
        if kind == "models":
            return sum(isinstance(s, RegisterStep) for s in steps)
        versions = [s for s in steps if isinstance(s, VersionStep)]
        if kind == "versions":
            return sum(s.create and not s.deleted for s in versions)
        if kind == "deleted":
            return sum(s.create and s.deleted for s in versions)
        return sum(not s.create for s in versions)

    @property
    def notes(self) -> list[Note]:
        """The differences made on purpose (demoted stages, numbers that differ, tags and aliases left out)."""
        renumbered = [Note(d.step.model, d.step.mlflow_number, f"imported as version {d.number}")
                      for d in self.done if isinstance(d.step, VersionStep) and d.step.create
                      and d.number != d.step.mlflow_number and d.number != d.step.number]
        return [*self.plan.notes, *renumbered]


def _take(api: RegistryAPI, step: RegisterStep | VersionStep) -> Done:
    if isinstance(step, RegisterStep):
        fields = {"description": step.description} if step.description else {}
        api.register_model(step.model, fields=fields, tags=step.tags)
        return Done(step)
    number = step.number
    if step.create:
        number = api.create_version(step.model, description=step.description, tags=step.tags,
                                    metadata=step.metadata).number
    if step.deleted:
        api.delete_version(step.model, number)
    elif step.stage or step.aliases:
        api.update_version(step.model, number, stage=step.stage, set_aliases=step.aliases)
    return Done(step, number)


def execute(api: RegistryAPI, plan: ImportPlan, progress: Counter | None = None) -> ImportReport:
    """Take every step of ``plan``; a step the registry refuses is reported and the others go on (a model that
    could not be registered takes its versions with it)."""
    report = ImportReport(plan.source, dry_run=False, plan=plan)
    failed_models: set[str] = set()
    for index, step in enumerate(plan.steps, start=1):
        if step.model in failed_models:
            report.failed.append(Refusal(step.model, getattr(step, "mlflow_number", None),
                                         "its model could not be registered"))
        else:
            try:
                report.done.append(_take(api, step))
            except (InvalidInputError, ConflictError, NotFoundError) as error:
                mlflow_number = step.mlflow_number if isinstance(step, VersionStep) else None
                report.failed.append(Refusal(step.model, mlflow_number, str(error)))
                if isinstance(step, RegisterStep):
                    failed_models.add(step.model)
        if progress is not None:
            progress(index, len(plan.steps))
    return report


def import_registry(api: RegistryAPI, registry: MlflowSnapshot, *, dry_run: bool = False,
                    progress: Counter | None = None) -> ImportReport:
    """Plan the import of ``registry`` and, unless ``dry_run``, take the steps."""
    plan = plan_import(api, registry)
    if dry_run:
        return ImportReport(plan.source, dry_run=True, plan=plan)
    return execute(api, plan, progress)


def import_mlflow(api: RegistryAPI, uri: str, *, token: str | None = None, username: str | None = None,
                  password: str | None = None, dry_run: bool = False, reading: Counter | None = None,
                  progress: Counter | None = None) -> ImportReport:
    """Import the MLflow registry at ``uri`` (a tracking server URL or its database URL) into ``api``'s registry.

    ``reading`` is called while the source is read (models read, models in all), ``progress`` while the
    steps are taken (steps taken, steps in all). Refuses an unreachable or non-MLflow source with one
    ImportSourceError, before writing anything.
    """
    registry = read_registry(uri, token=token, username=username, password=password, progress=reading)
    return import_registry(api, registry, dry_run=dry_run, progress=progress)
