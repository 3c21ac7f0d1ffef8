"""MLflow's Model Registry operations as modelog use cases: one method per MLflow call, typed records back.

The server's MLflow adapter (:mod:`modelog.server.mlflow_api`) parses MLflow's JSON, calls one
method here and formats the record it gets. Every write is an ordinary modelog command, run by
the registry acting as the authenticated principal, so each MLflow call is an event in the log.

The mapping (docs/mlflow.md):

* stages ``None`` / ``Staging`` / ``Production`` / ``Archived`` are modelog's ``none`` / ``staging`` /
  ``production`` / ``archived``; ``archive_existing_versions`` is ``force``;
* a tag ``key`` = ``value`` is the modelog tag ``key=value`` (``key`` alone when the value is empty);
  setting a key replaces its old value in one command;
* ``source`` and ``run_id`` are version metadata (``mlflow.source``, ``mlflow.run_id``) logged with
  the version in the same transaction;
* timestamps are the log's own times, in milliseconds; ``user_id`` is who created the version / model.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from modelog.application import mlflow_search as search
from modelog.application.local import LocalRegistry
from modelog.application.permissions import GuardedRegistry
from modelog.application.results import AliasMoved, AliasRemoved, ModelChanged, VersionChanged, VersionUpdate
from modelog.projections.describe import current_values, version_metadata
from modelog.projections.views import ModelView, VersionView
from modelog.registry.errors import InvalidInputError, NotFoundError
from modelog.registry.recorder import parse_time
from modelog.registry.values import Stage
from modelog.registry.vocabulary import EventType

#: Version metadata keys holding MLflow's ``source`` and ``run_id``.
SOURCE_KEY, RUN_ID_KEY = "mlflow.source", "mlflow.run_id"
#: MLflow's stage names by modelog stage, and back (MLflow accepts any case).
STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}
MODEL_MAX_DEFAULT, MODEL_MAX = 100, 1000
VERSION_MAX_DEFAULT, VERSION_MAX = 10_000, 200_000
MODEL_ORDER = frozenset({"name", "timestamp", "creation_timestamp", "last_updated_timestamp"})
VERSION_ORDER = frozenset({"name", "version_number", "timestamp", "creation_timestamp", "last_updated_timestamp"})
_LIST_SIZE = 10_000
T = TypeVar("T")


def _millis(text: str) -> int:
    return int(parse_time(text).timestamp() * 1000)


def tag_text(key: str, value: str) -> str:
    """The modelog tag of an MLflow tag."""
    if not isinstance(key, str) or not key or "=" in key:
        raise InvalidInputError(f"invalid tag key {key!r}: it must be non-empty text without '='")
    return f"{key}={value}" if value else key


def split_tag(tag: str) -> tuple[str, str]:
    """The MLflow key and value of a modelog tag (``key=value``, or ``key`` with an empty value)."""
    key, _, value = tag.partition("=")
    return key, value


def _with_key(tags: Sequence[str], key: str) -> list[str]:
    return [tag for tag in tags if split_tag(tag)[0] == key]


def mlflow_stage(stage: str) -> str:
    """modelog's stage as MLflow names it."""
    return STAGES.get(stage, stage)


def modelog_stage(stage: str) -> str:
    """MLflow's stage (any case) as modelog names it; anything else is refused."""
    found = stage.strip().lower() if isinstance(stage, str) else ""
    if found not in STAGES:
        raise InvalidInputError(f"invalid model version stage {stage!r}; expected one of "
                                f"{', '.join(STAGES.values())}")
    return found


def version_number(version: object) -> int:
    """An MLflow version (a number as text) as modelog's number."""
    text = str(version).strip() if isinstance(version, str | int) and not isinstance(version, bool) else ""
    if not text.isdigit() or int(text) < 1:
        raise InvalidInputError(f"invalid model version {version!r}: it must be a positive whole number")
    return int(text)


@dataclass(frozen=True)
class MlflowVersion:
    """A model version as MLflow shows it."""

    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    user_id: str | None
    current_stage: str
    description: str | None
    source: str
    run_id: str | None
    tags: tuple[tuple[str, str], ...]
    aliases: tuple[str, ...]

    def search_field(self, key: str) -> str | int | None:
        """The value a filter or ``order_by`` names."""
        fields: dict[str, str | int | None] = {
            "name": self.name, "run_id": self.run_id, "source_path": self.source, "version_number": self.version,
            "creation_timestamp": self.creation_timestamp, "last_updated_timestamp": self.last_updated_timestamp}
        return fields.get(key)

    def tag_value(self, key: str) -> str | None:
        """The value of tag ``key``."""
        return dict(self.tags).get(key)


@dataclass(frozen=True)
class MlflowModel:
    """A registered model as MLflow shows it (``latest_versions``: the newest version of each stage)."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    user_id: str | None
    description: str | None
    tags: tuple[tuple[str, str], ...]
    aliases: tuple[tuple[str, int], ...]
    latest_versions: tuple[MlflowVersion, ...]

    def search_field(self, key: str) -> str | int | None:
        """The value a filter or ``order_by`` names."""
        fields: dict[str, str | int | None] = {
            "name": self.name, "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp}
        return fields.get(key)

    def tag_value(self, key: str) -> str | None:
        """The value of tag ``key``."""
        return dict(self.tags).get(key)


@dataclass(frozen=True)
class MlflowPage(Generic[T]):
    """One page of a search and the token of the next one (None: the last page)."""

    items: list[T]
    next_page_token: str | None


def _tags(tags: Sequence[str]) -> tuple[tuple[str, str], ...]:
    return tuple(split_tag(tag) for tag in tags)


def _version(view: VersionView, metadata: Mapping[str, Any]) -> MlflowVersion:
    source, run_id = metadata.get(SOURCE_KEY), metadata.get(RUN_ID_KEY)
    return MlflowVersion(
        name=view.model_name, version=view.number, creation_timestamp=_millis(view.created_at),
        last_updated_timestamp=_millis(view.updated_at), user_id=view.created_by,
        current_stage=mlflow_stage(view.stage), description=view.description,
        source=source if isinstance(source, str) else "", run_id=run_id if isinstance(run_id, str) else None,
        tags=_tags(view.tags), aliases=view.aliases)


def _created(outcome: VersionChanged, metadata: Mapping[str, Any]) -> MlflowVersion:
    """The version a create just made, as a read of it right after the commit shows it, from the events the create
    appended (no read back): the projector's version row of ``ModelVersionCreated`` (stage ``none``, no aliases, the
    event's tags and description, its actor as creator), touched by the metadata event logged with it."""
    made = next(e for e in outcome.events if e.event_type == EventType.MODEL_VERSION_CREATED)
    data = made.data
    return MlflowVersion(
        name=outcome.model_name, version=outcome.number, creation_timestamp=_millis(made.recorded_at),
        last_updated_timestamp=_millis(outcome.events[-1].recorded_at), user_id=made.meta.get("actor"),
        current_stage=mlflow_stage(Stage.NONE.value), description=data.get("description"),
        source=str(metadata.get(SOURCE_KEY) or ""), run_id=metadata.get(RUN_ID_KEY),
        tags=_tags(data.get("tags", ())), aliases=())


class MlflowRegistry:
    """MLflow's registry calls over a registry (on a server: the one acting as the request's principal)."""

    def __init__(self, api: LocalRegistry | GuardedRegistry) -> None:
        self.api = api

    # --- reads -------------------------------------------------------------------------

    def _versions(self, model: str, views: Sequence[VersionView]) -> list[MlflowVersion]:
        if not views:
            return []
        numbers = None if len(views) > 20 else [v.number for v in views]
        if isinstance(self.api, GuardedRegistry):  # the read models directly: the use case's own check first
            self.api.authorize("describe_version", model)
        logged = version_metadata(self.api.reads, model, numbers, None)
        return [_version(v, current_values(logged.get(v.number, []))) for v in views]

    def _model(self, view: ModelView, versions: Sequence[VersionView] | None = None) -> MlflowModel:
        every = self.api.list_versions(view.name) if versions is None else versions
        newest: dict[str, VersionView] = {}
        for found in every:
            newest[found.stage] = found  # by number: the last one seen is the newest of its stage
        aliases = tuple(sorted((alias, v.number) for v in every for alias in v.aliases))
        return MlflowModel(
            name=view.name, creation_timestamp=_millis(view.created_at),
            last_updated_timestamp=_millis(view.updated_at), user_id=view.created_by, description=view.description,
            tags=_tags(view.tags), aliases=aliases,
            latest_versions=tuple(self._versions(view.name, sorted(newest.values(), key=lambda v: v.number))))

    def get_model(self, name: str) -> MlflowModel:
        """A registered model by name."""
        return self._model(self.api.get_model(name))

    def get_version(self, name: str, version: object) -> MlflowVersion:
        """A version by model name and number."""
        return self._versions(name, [self.api.get_version(name, version_number(version))])[0]

    def get_by_alias(self, name: str, alias: str) -> MlflowVersion:
        """The version an alias points at."""
        if not isinstance(alias, str) or not alias.strip():
            raise InvalidInputError("alias must be non-empty text")
        return self._versions(name, [self.api.get_version(name, f"@{alias}")])[0]

    def download_uri(self, name: str, version: object) -> str:
        """Where a version's model lives: its ``source`` (MLflow's registry does not copy models either)."""
        return self.get_version(name, version).source

    def latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[MlflowVersion]:
        """The newest version in each stage (``stages``: only those; none given: every stage)."""
        wanted = {modelog_stage(s) for s in stages}
        newest: dict[str, VersionView] = {}
        for found in self.api.list_versions(name):
            if not wanted or found.stage in wanted:
                newest[found.stage] = found
        return self._versions(name, sorted(newest.values(), key=lambda v: v.number))

    def _all_models(self) -> Iterator[ModelView]:
        page = 1
        while True:
            found = self.api.list_models(page=page, size=_LIST_SIZE)
            yield from found.items
            if page * _LIST_SIZE >= found.total:
                return
            page += 1

    def search_models(self, filter_string: str | None = None, max_results: int | None = None,
                      order_by: Sequence[str] = (), page_token: str | None = None) -> MlflowPage[MlflowModel]:
        """Registered models matching an MLflow filter (``name``, ``tags.<key>``), ordered, one page."""
        clauses = search.parse_filter(filter_string, search.MODEL_ATTRIBUTES)
        size = search.check_max_results(max_results, MODEL_MAX_DEFAULT, MODEL_MAX)
        orders = search.parse_order(order_by, MODEL_ORDER)
        if not any(o.field == "name" for o in orders):
            orders = (*orders, search.Order("name", False))
        # Filter and order on the model rows alone; versions are read for the page's models only.
        light = [(self._light(view), view) for view in self._all_models()]
        kept = search.sort_records([pair[0] for pair in light if search.matches(pair[0], clauses)], orders)
        chosen, token = search.page_of(kept, size, page_token)
        views = {view.name: view for _, view in light}
        return MlflowPage([self._model(views[m.name]) for m in chosen], token)

    @staticmethod
    def _light(view: ModelView) -> MlflowModel:
        return MlflowModel(name=view.name, creation_timestamp=_millis(view.created_at),
                           last_updated_timestamp=_millis(view.updated_at), user_id=view.created_by,
                           description=view.description, tags=_tags(view.tags), aliases=(), latest_versions=())

    def search_versions(self, filter_string: str | None = None, max_results: int | None = None,
                        order_by: Sequence[str] = (), page_token: str | None = None) -> MlflowPage[MlflowVersion]:
        """Model versions matching an MLflow filter (``name``, ``run_id``, ``source_path``, ``version_number``,
        ``tags.<key>``), ordered (MLflow's default: last updated first), one page."""
        clauses = search.parse_filter(filter_string, search.VERSION_ATTRIBUTES)
        size = search.check_max_results(max_results, VERSION_MAX_DEFAULT, VERSION_MAX)
        orders = search.parse_order(order_by or ("last_updated_timestamp DESC",), VERSION_ORDER)
        fields = {o.field for o in orders}
        orders = (*orders, *([search.Order("name", False)] if "name" not in fields else []),
                  *([search.Order("version_number", True)] if "version_number" not in fields else []))
        pinned = search.exact_name(clauses)
        if pinned is not None:
            try:
                names = [self.api.get_model(pinned).name]
            except NotFoundError:
                names = []
        else:
            names = [view.name for view in self._all_models()]
        found: list[MlflowVersion] = []
        for name in names:
            rows = self.api.search_versions(name)
            found.extend(_version(row.version, row.metadata) for row in rows)
        kept = search.sort_records([v for v in found if search.matches(v, clauses)], orders)
        chosen, token = search.page_of(kept, size, page_token)
        return MlflowPage(chosen, token)

    # --- registered models ---------------------------------------------------------------

    def create_model(self, name: str, *, description: str | None = None,
                     tags: Sequence[tuple[str, str]] = ()) -> MlflowModel:
        """Register a model."""
        fields = {"description": description} if description else {}
        self.api.register_model(name, fields=fields, tags=[tag_text(k, v) for k, v in tags])
        return self.get_model(name)

    def update_model(self, name: str, description: str | None) -> MlflowModel:
        """Change a registered model's description."""
        self.api.update_model(name, changes={"description": description or None})
        return self.get_model(name)

    def delete_model(self, name: str) -> ModelChanged:
        """Delete a registered model and its versions (the history stays in the log)."""
        return self.api.delete_model(name)

    def set_model_tag(self, name: str, key: str, value: str) -> ModelChanged | None:
        """Set a tag on a registered model, replacing the key's old value in the same command (None: unchanged)."""
        new = tag_text(key, value)
        old = _with_key(self.api.get_model(name).tags, key)
        if old == [new]:
            return None
        return self.api.update_model(name, add_tags=[new], remove_tags=[t for t in old if t != new])

    def delete_model_tag(self, name: str, key: str) -> ModelChanged | None:
        """Delete a tag from a registered model (None: it has no tag with that key, nothing happens)."""
        tag_text(key, "")
        old = _with_key(self.api.get_model(name).tags, key)
        return self.api.update_model(name, remove_tags=old) if old else None

    def rename_model(self, name: str, new_name: str) -> MlflowModel:
        """Rename a registered model (one ``ModelRenamed``, the name claims moved in the same transaction); answers
        the model under its new name, as MLflow does."""
        done = self.api.rename_model(name, new_name)
        return self.get_model(done.model_name)

    # --- model versions ------------------------------------------------------------------

    def create_version(self, name: str, source: str, *, run_id: str | None = None, description: str | None = None,
                       tags: Sequence[tuple[str, str]] = ()) -> MlflowVersion:
        """Create the next version, with ``source`` and ``run_id`` logged on it in the same transaction."""
        metadata: dict[str, Any] = {SOURCE_KEY: source or ""}
        if run_id:
            metadata[RUN_ID_KEY] = run_id
        created = self.api.create_version(name, description=description or None,
                                          tags=[tag_text(k, v) for k, v in tags], metadata=metadata)
        return _created(created, metadata)

    def update_version(self, name: str, version: object, description: str | None) -> MlflowVersion:
        """Change a version's description."""
        number = version_number(version)
        if (self.api.get_version(name, number).description or "") != (description or ""):
            self.api.update_version(name, number, description=description or "")
        return self.get_version(name, number)

    def delete_version(self, name: str, version: object) -> VersionChanged:
        """Delete a version (its number is never reused)."""
        return self.api.delete_version(name, version_number(version))

    def transition_stage(self, name: str, version: object, stage: str,
                         archive_existing_versions: bool = False) -> MlflowVersion:
        """Move a version into a stage; ``archive_existing_versions`` archives the current holder (``force``)."""
        number = version_number(version)
        target = modelog_stage(stage)
        if archive_existing_versions and target not in ("staging", "production"):
            raise InvalidInputError(f"archive_existing_versions is only valid when moving to Staging or Production, "
                                    f"not {mlflow_stage(target)}")
        self.api.set_stage(name, number, target, force=archive_existing_versions)
        return self.get_version(name, number)

    def set_version_tag(self, name: str, version: object, key: str, value: str) -> VersionUpdate | None:
        """Set a tag on a version, replacing the key's old value in the same command (None: unchanged)."""
        number = version_number(version)
        new = tag_text(key, value)
        old = _with_key(self.api.get_version(name, number).tags, key)
        if old == [new]:
            return None
        return self.api.update_version(name, number, add_tags=[new], remove_tags=[t for t in old if t != new])

    def delete_version_tag(self, name: str, version: object, key: str) -> VersionUpdate | None:
        """Delete a tag from a version (None: it has no tag with that key, nothing happens)."""
        number = version_number(version)
        tag_text(key, "")
        old = _with_key(self.api.get_version(name, number).tags, key)
        return self.api.update_version(name, number, remove_tags=old) if old else None

    def set_alias(self, name: str, alias: str, version: object) -> AliasMoved:
        """Point an alias at a version (moving it from another one)."""
        return self.api.set_alias(name, version_number(version), alias)

    def delete_alias(self, name: str, alias: str) -> AliasRemoved:
        """Remove an alias."""
        return self.api.remove_alias(name, alias)
