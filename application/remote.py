"""``RemoteRegistry``: the service API over HTTP, as a client of ``modelog server``.

Same methods, arguments and typed results as :class:`~modelog.application.local.LocalRegistry`
(the JSON is decoded back into the views and outcomes by :mod:`modelog.application.wire`), so
the CLI and the SDK run remotely unchanged when ``$MODELOG_URL`` is set. One ``httpx.Client``
keeps connections alive. Reads are retried a bounded number of times on transport errors;
a command is retried only when the connection was never made (it cannot have been applied),
and every command carries a fresh command id that the server answers once: a repeated request
with the same id gets the first answer, it is never applied twice. Every failure on the way
(bad URL, server down, timeout, an answer that is not the API's) is one :class:`RemoteError` line.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit

import httpx
from modelog.application.api import Progress, VersionRef
from modelog.application.artifacts import ArtifactReport
from modelog.application.bundle import Transferred
from modelog.application.http_errors import error_for
from modelog.application.remote_artifacts import ArtifactsRemote
from modelog.application.remote_governance import point_params, segment
from modelog.application.remote_runs import RunsRemote
from modelog.application.results import (
    AliasMoved,
    AliasRemoved,
    ArtifactLinkRecorded,
    LogVerification,
    ModelChanged,
    PrincipalChanged,
    StageChanged,
    TokenChanged,
    VersionChanged,
    VersionUpdate,
)
from modelog.application.wire import decode, decode_list
from modelog.projections.activity import HistoryPage, Timeline
from modelog.projections.describe import (
    ModelDescription,
    ModelSummary,
    VersionComparison,
    VersionDescription,
    VersionRow,
)
from modelog.projections.history import HistoryEntry
from modelog.projections.identity import PrincipalView, TokenView
from modelog.projections.rebuild import RebuildReport, VerifyViewsReport
from modelog.projections.views import ArtifactView, LinkView, ModelView, Page, RunView, VersionView
from modelog.registry.anchors import Anchor
from modelog.registry.artifact_store import StoredBlob
from modelog.registry.checkpoints import Checkpoint, parse_checkpoint
from modelog.registry.errors import RegistryError, RemoteError
from modelog.registry.log_lines import END_KEY
from modelog.registry.metadata_values import clean_metadata
from modelog.registry.signing import PublicKey
from modelog.registry.store import StoredEvent

URL_ENV = "MODELOG_URL"
TOKEN_ENV = "MODELOG_TOKEN"
TIMEOUT_ENV = "MODELOG_HTTP_TIMEOUT"
#: Header carrying the client-generated id of a command; the server answers each id once.
COMMAND_ID_HEADER = "X-Modelog-Command-Id"
#: Header carrying the SHA-256 the client declares for an uploaded blob.
CONTENT_HASH_HEADER = "X-Content-SHA256"
#: The event and artifact counts of an exported bundle, sent ahead of its bytes.
BUNDLE_EVENTS_HEADER = "X-Modelog-Bundle-Events"
BUNDLE_ARTIFACTS_HEADER = "X-Modelog-Bundle-Artifacts"
ACTOR_HEADER = "X-Modelog-Actor"
PAGE_SIZE = 1000
RETRIES = 3
_CHUNK = 1 << 20
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_TRANSIENT = (*_NEVER_SENT, httpx.RemoteProtocolError, httpx.ReadError)
T = TypeVar("T")


_point = point_params
_seg = segment


class RemoteRegistry(RunsRemote, ArtifactsRemote):
    """Every use case of a registry served by ``modelog server`` (see :class:`~modelog.application.api.RegistryAPI`)."""

    def __init__(self, url: str, *, token: str | None = None, actor: str | None = None, timeout: float | None = None,
                 retries: int = RETRIES, transport: httpx.BaseTransport | None = None) -> None:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteError(f"{URL_ENV} {url!r} is not a server URL (expected http://HOST:PORT or https://HOST)")
        secret = (token if token is not None else os.environ.get(TOKEN_ENV, "")).strip()
        if not secret:
            raise RemoteError(f"{URL_ENV} is set ({url.strip()}) but {TOKEN_ENV} is not: set {TOKEN_ENV} to an API "
                              "token of that server (an operator creates one with 'modelog token create NAME')")
        self.url = url.strip().rstrip("/")
        self.retries = max(1, retries)
        seconds = timeout if timeout is not None else float(os.environ.get(TIMEOUT_ENV) or 300)
        self.timeout = seconds
        headers = {"User-Agent": "modelog-client", "Authorization": f"Bearer {secret}"}
        if actor:
            headers[ACTOR_HEADER] = actor
        self._http = httpx.Client(
            base_url=self.url + "/api/v1", headers=headers, transport=transport,
            timeout=httpx.Timeout(seconds, connect=min(seconds, 10.0)),
            # Idle connections are dropped before the server's keep-alive timeout (5 s) can close them under us.
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=4, keepalive_expiry=2.0),
        )

    # --- plumbing ------------------------------------------------------------------

    def _send(self, method: str, path: str, *, command: bool = False, idempotent: bool = True,
              stream: bool = False, passthrough: tuple[int, ...] = (), **kwargs: Any) -> httpx.Response:
        if command:
            kwargs["headers"] = {**kwargs.get("headers", {}), COMMAND_ID_HEADER: uuid.uuid4().hex}
        retry_on = _TRANSIENT if idempotent and not command else _NEVER_SENT
        for attempt in range(1, self.retries + 1):
            try:
                request = self._http.build_request(method, path, **kwargs)
                response = self._http.send(request, stream=stream)
            except retry_on as error:
                if attempt == self.retries:
                    raise self._transport_error(error, command) from None
                time.sleep(0.1 * 2 ** attempt)
                continue
            except httpx.HTTPError as error:
                raise self._transport_error(error, command) from None
            if response.status_code >= 400 and response.status_code not in passthrough:
                if stream:
                    response.read()
                    response.close()
                raise self._refusal(response)
            return response
        raise RemoteError(f"no answer from the registry server at {self.url}")  # pragma: no cover - loop returns

    def _transport_error(self, error: httpx.HTTPError, command: bool) -> RemoteError:
        maybe = "; the command may or may not have been applied (see 'modelog log show')" if command else ""
        if isinstance(error, httpx.TimeoutException) and not isinstance(error, _NEVER_SENT):
            return RemoteError(f"the registry server at {self.url} did not answer within {self.timeout:g} s{maybe}")
        if isinstance(error, _NEVER_SENT):
            return RemoteError(f"cannot reach the registry server at {self.url}: {error or type(error).__name__}")
        return RemoteError(f"connection to the registry server at {self.url} failed: "
                           f"{error or type(error).__name__}{maybe}")

    def _refusal(self, response: httpx.Response) -> RegistryError:
        try:
            found = response.json()["error"]
            code, message = str(found["code"]), str(found["message"])
        except (ValueError, KeyError, TypeError):
            return RemoteError(f"{self.url} did not answer as a modelog server (HTTP {response.status_code} "
                               f"for {response.request.method} {response.request.url.path})")
        return error_for(code, response.status_code, message)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise RemoteError(f"{self.url} answered {response.request.url.path} with something that is not "
                              "JSON; is it a modelog server?") from None

    def _decoded(self, build: Callable[[Any], T], data: Any) -> T:
        try:
            return build(data)
        except (KeyError, TypeError, ValueError) as error:
            raise RemoteError(f"malformed answer from the registry server at {self.url}: {error}") from None

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._json(self._send("GET", path, params=params))

    def _command(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return self._json(self._send(method, path, command=True, json=dict(body or {})))

    def _pages(self, path: str, params: Mapping[str, Any]) -> list[Any]:
        items: list[Any] = []
        page = 1
        while True:
            found = self._get(path, {**params, "page": page, "size": PAGE_SIZE})
            try:
                items.extend(found["items"])
                total = int(found["total"])
            except (KeyError, TypeError, ValueError) as error:
                raise RemoteError(f"malformed page from the registry server at {self.url}: {error}") from None
            if len(items) >= total or not found["items"]:
                return items
            page += 1

    # --- points in time, models ----------------------------------------------------

    def resolve_point(self, as_of: datetime | None = None, at_position: int | None = None) -> int | None:
        """The log position a read refers to (None: live)."""
        found = self._get("/log/point", _point(as_of, at_position))
        return self._decoded(lambda d: None if d["position"] is None else int(d["position"]), found)

    def list_models(self, *, name: str | None = None, tag: str | None = None, sort_by: str = "name",
                    page: int = 1, size: int = 50, as_of: datetime | None = None,
                    at_position: int | None = None) -> Page[ModelView]:
        """A page of live models."""
        params = {"sort_by": sort_by, "page": page, "size": size, **_point(as_of, at_position)}
        params.update({k: v for k, v in (("name", name), ("tag", tag)) if v is not None})
        found = self._get("/models", params)
        return self._decoded(lambda d: Page(decode_list(ModelView, d["items"]), int(d["total"]), int(d["page"]),
                                            int(d["size"])), found)

    def get_model(self, name: str, *, as_of: datetime | None = None, at_position: int | None = None) -> ModelView:
        """One model by name."""
        return self._decoded(lambda d: decode(ModelView, d), self._get(f"/models/{_seg(name)}",
                                                                     _point(as_of, at_position)))

    def register_model(self, name: str, *, fields: Mapping[str, str | None] | None = None,
                       tags: Sequence[str] = ()) -> ModelChanged:
        """Register a model."""
        found = self._command("POST", "/models", {"name": name, "fields": dict(fields or {}), "tags": list(tags)})
        return self._decoded(lambda d: decode(ModelChanged, d), found)

    def update_model(self, name: str, *, changes: Mapping[str, str | None] | None = None,
                     add_tags: Sequence[str] = (), remove_tags: Sequence[str] = ()) -> ModelChanged:
        """Change text fields of a model and add / remove tags."""
        body = {"changes": dict(changes or {}), "add_tags": list(add_tags), "remove_tags": list(remove_tags)}
        return self._decoded(lambda d: decode(ModelChanged, d), self._command("PATCH", f"/models/{_seg(name)}", body))

    def delete_model(self, name: str) -> ModelChanged:
        """Delete a model and free its name."""
        return self._decoded(lambda d: decode(ModelChanged, d), self._command("DELETE", f"/models/{_seg(name)}"))

    def rename_model(self, name: str, new_name: str) -> ModelChanged:
        """Give a model a new name."""
        found = self._command("POST", f"/models/{_seg(name)}/rename", {"new_name": new_name})
        return self._decoded(lambda d: decode(ModelChanged, d), found)

    def history(self, model: str, *, include_runs: bool = False, as_of: datetime | None = None,
                at_position: int | None = None) -> list[HistoryEntry]:
        """Every event of a model's stream, oldest first."""
        found = self._pages(f"/models/{_seg(model)}/history",
                            {"include_runs": str(include_runs).lower(), **_point(as_of, at_position)})
        return self._decoded(lambda d: decode_list(HistoryEntry, d), found)

    def history_page(self, model: str, *, actor: str | None = None, kind: str | None = None, page: int = 1,
                     size: int = 100, as_of: datetime | None = None,
                     at_position: int | None = None) -> HistoryPage:
        """A page of a model's history, newest first, filtered by actor and event kind."""
        params: dict[str, Any] = {"page": page, "size": size, **_point(as_of, at_position)}
        params.update({k: v for k, v in (("actor", actor), ("kind", kind)) if v is not None})
        found = self._get(f"/models/{_seg(model)}/history-page", params)
        return self._decoded(lambda d: decode(HistoryPage, d), found)

    def stage_timeline(self, model: str, *, low: int | None = None, high: int | None = None,
                       as_of: datetime | None = None, at_position: int | None = None) -> Timeline:
        """A model's stage timeline (versions ``low``..``high`` when given)."""
        params: dict[str, Any] = {**_point(as_of, at_position)}
        params.update({k: v for k, v in (("low", low), ("high", high)) if v is not None})
        found = self._get(f"/models/{_seg(model)}/timeline", params)
        return self._decoded(lambda d: decode(Timeline, d), found)

    # --- versions ------------------------------------------------------------------

    def list_versions(self, model: str, *, stage: str | None = None, as_of: datetime | None = None,
                      at_position: int | None = None) -> list[VersionView]:
        """Every live version of a model."""
        params = {**_point(as_of, at_position), **({"stage": stage} if stage is not None else {})}
        found = self._pages(f"/models/{_seg(model)}/versions", params)
        return self._decoded(lambda d: decode_list(VersionView, d), found)

    def get_version(self, model: str, version: VersionRef = None, *, as_of: datetime | None = None,
                    at_position: int | None = None) -> VersionView:
        """The version a selector names."""
        found = self._get(f"/models/{_seg(model)}/versions/{_seg(version)}", _point(as_of, at_position))
        return self._decoded(lambda d: decode(VersionView, d), found)

    def create_version(self, model: str, *, name: str | None = None, description: str | None = None,
                       tags: Sequence[str] = (), metadata: Mapping[str, Any] | None = None) -> VersionChanged:
        """Create the next version of a model (and log ``metadata`` on it, in the same transaction)."""
        body = {"name": name, "description": description, "tags": list(tags),
                "metadata": None if not metadata else clean_metadata(dict(metadata))}
        found = self._command("POST", f"/models/{_seg(model)}/versions", body)
        return self._decoded(lambda d: decode(VersionChanged, d), found)

    def update_version(self, model: str, version: VersionRef, *, stage: str | None = None, force: bool = False,
                       name: str | None = None, description: str | None = None, set_aliases: Sequence[str] = (),
                       remove_aliases: Sequence[str] = (), add_tags: Sequence[str] = (),
                       remove_tags: Sequence[str] = (), metadata: Mapping[str, Any] | None = None) -> VersionUpdate:
        """Promote, rename, describe, alias, tag and log metadata on one version together."""
        body = {"stage": stage, "force": force, "name": name, "description": description,
                "set_aliases": list(set_aliases), "remove_aliases": list(remove_aliases), "add_tags": list(add_tags),
                "remove_tags": list(remove_tags), "metadata": None if not metadata else clean_metadata(dict(metadata))}
        found = self._command("PATCH", f"/models/{_seg(model)}/versions/{_seg(version)}", body)
        return self._decoded(lambda d: decode(VersionUpdate, d), found)

    def set_stage(self, model: str, version: VersionRef, stage: str, *, force: bool = False) -> StageChanged:
        """Move a version into a stage."""
        found = self._command("PUT", f"/models/{_seg(model)}/versions/{_seg(version)}/stage",
                              {"stage": stage, "force": force})
        return self._decoded(lambda d: decode(StageChanged, d), found)

    def set_alias(self, model: str, version: VersionRef, alias: str) -> AliasMoved:
        """Point an alias at a version."""
        found = self._command("PUT", f"/models/{_seg(model)}/aliases/{_seg(alias)}", {"version": version})
        return self._decoded(lambda d: decode(AliasMoved, d), found)

    def remove_alias(self, model: str, alias: str) -> AliasRemoved:
        """Remove an alias."""
        found = self._command("DELETE", f"/models/{_seg(model)}/aliases/{_seg(alias)}")
        return self._decoded(lambda d: decode(AliasRemoved, d), found)

    def delete_version(self, model: str, version: VersionRef) -> VersionChanged:
        """Delete a version."""
        found = self._command("DELETE", f"/models/{_seg(model)}/versions/{_seg(version)}")
        return self._decoded(lambda d: decode(VersionChanged, d), found)

    def list_links(self, model: str, version: VersionRef = None, *, kind: str | None = None,
                   as_of: datetime | None = None, at_position: int | None = None) -> list[LinkView]:
        """Artifacts linked to a version."""
        params = {**_point(as_of, at_position), **({"kind": kind} if kind is not None else {})}
        found = self._pages(f"/models/{_seg(model)}/versions/{_seg(version)}/links", params)
        return self._decoded(lambda d: decode_list(LinkView, d), found)

    def link_artifact(self, model: str, version: VersionRef, artifact_id: str, *, name: str | None = None,
                      kind: str = "data", overwrite: bool = False) -> ArtifactLinkRecorded:
        """Link a stored artifact version to a model version."""
        body = {"artifact_id": artifact_id, "name": name, "kind": kind, "overwrite": overwrite}
        found = self._command("POST", f"/models/{_seg(model)}/versions/{_seg(version)}/links", body)
        return self._decoded(lambda d: decode(ArtifactLinkRecorded, d), found)

    def list_version_runs(self, model: str, version: VersionRef = None, *, as_of: datetime | None = None,
                          at_position: int | None = None) -> list[RunView]:
        """Runs linked to a version."""
        found = self._pages(f"/models/{_seg(model)}/versions/{_seg(version)}/runs", _point(as_of, at_position))
        return self._decoded(lambda d: decode_list(RunView, d), found)

    # --- artifacts -----------------------------------------------------------------

    def get_artifact(self, artifact_id: str, *, as_of: datetime | None = None,
                     at_position: int | None = None) -> ArtifactView:
        """A stored artifact version by id."""
        found = self._get(f"/artifacts/{_seg(artifact_id)}", _point(as_of, at_position))
        return self._decoded(lambda d: decode(ArtifactView, d), found)

    def list_artifacts(self, *, as_of: datetime | None = None, at_position: int | None = None) -> list[ArtifactView]:
        """Every stored artifact version."""
        return self._decoded(lambda d: decode_list(ArtifactView, d), self._pages("/artifacts",
                                                                                _point(as_of, at_position)))

    def store_blob(self, data: bytes) -> StoredBlob:
        """Upload bytes to the server's content-addressed store (idempotent: the address is the hash)."""
        digest = hashlib.sha256(data).hexdigest()
        response = self._send("PUT", "/blobs", content=data, headers={CONTENT_HASH_HEADER: digest})
        return self._decoded(lambda d: decode(StoredBlob, d), self._json(response))

    def verify_artifacts(self) -> ArtifactReport:
        """Hash every artifact file the log refers to (on the server)."""
        return self._decoded(lambda d: decode(ArtifactReport, d), self._get("/artifacts/verify"))

    # --- the log and the read models -----------------------------------------------

    def log_events(self, *, from_position: int = 1, limit: int = 100, streams: Sequence[str] = (),
                   as_of: datetime | None = None, at_position: int | None = None) -> list[StoredEvent]:
        """Events of the log in position order (fetched in pages of at most 1000)."""
        events: list[StoredEvent] = []
        position = from_position
        while len(events) < limit:
            batch = min(PAGE_SIZE, limit - len(events))
            params = {"from_position": position, "limit": batch, "stream": list(streams),
                      **_point(as_of, at_position)}
            found = self._decoded(lambda d: decode_list(StoredEvent, d["items"]), self._get("/log/events", params))
            events.extend(found)
            if len(found) < batch:
                break
            position = found[-1].position + 1
        return events

    def log_head(self, *, as_of: datetime | None = None, at_position: int | None = None) -> Anchor:
        """The last position and its hash."""
        return self._decoded(lambda d: decode(Anchor, d), self._get("/log/head", _point(as_of, at_position)))

    def verify_log(self, anchors: Iterable[Anchor] = (), *, rules: bool = False, public_keys: Sequence[PublicKey] = (),
                   checkpoints: Sequence[Checkpoint] = ()) -> LogVerification:
        """Walk the hash chain on the server (and check the anchors, the signed checkpoints, the signatures against
        ``public_keys``, and with ``rules`` the domain's rules)."""
        query: dict[str, Any] = {"anchor": [str(a) for a in anchors], "public_key": [k.hex for k in public_keys],
                                 "checkpoint": [c.to_json() for c in checkpoints]}
        if rules:
            query["rules"] = "true"
        found = self._get("/log/verify", query)
        return self._decoded(lambda d: decode(LogVerification, d), found)

    def log_checkpoint(self) -> Checkpoint:
        """A checkpoint of the log's last position, signed by the server's signing key."""
        return self._decoded(lambda d: parse_checkpoint(json.dumps(d), "the server's checkpoint"),
                             self._get("/log/checkpoint", {}))

    def export_log(self, out: IO[str], progress: Progress | None = None) -> int:
        """Stream the whole log from the server into ``out`` as JSON Lines; the number of events."""
        response = self._send("GET", "/log/export", stream=True)
        count, last = 0, ""
        try:
            for line in response.iter_lines():
                if not line:
                    continue
                out.write(line + "\n")
                last = line
                count += 1
                if progress is not None and count % 1000 == 0:
                    progress(count)
        except httpx.HTTPError as error:
            raise RemoteError(f"the export from {self.url} was cut off after {count} lines: "
                              f"{error or type(error).__name__}") from None
        finally:
            response.close()
        try:
            return int(json.loads(last)[END_KEY]["events"])
        except (ValueError, KeyError, TypeError):
            raise RemoteError(f"the export from {self.url} ended without its end record") from None

    def import_log(self, source: IO[str], progress: Progress | None = None) -> int:
        """Upload an exported log to the server's empty registry (streamed); all or nothing."""
        def chunks() -> Iterator[bytes]:
            for text in iter(lambda: source.read(_CHUNK), ""):
                yield text.encode("utf-8")

        found = self._json(self._send("POST", "/log/import", command=True, content=chunks(),
                                      headers={"Content-Type": "application/x-ndjson"}))
        count = self._decoded(lambda d: int(d["events"]), found)
        if progress is not None:
            progress(count)
        return count

    def export_bundle(self, out: IO[bytes], progress: Progress | None = None) -> Transferred:
        """Stream the server's bundle (log and artifacts) into ``out``; what it carried."""
        response = self._send("GET", "/log/bundle", stream=True)
        try:
            counts = (int(response.headers[BUNDLE_EVENTS_HEADER]), int(response.headers[BUNDLE_ARTIFACTS_HEADER]))
            for chunk in response.iter_bytes(_CHUNK):
                out.write(chunk)
        except (KeyError, ValueError):
            raise RemoteError(f"{self.url} answered the bundle export without its counts") from None
        except httpx.HTTPError as error:
            raise RemoteError(f"the bundle from {self.url} was cut off: {error or type(error).__name__}") from None
        finally:
            response.close()
        out.flush()
        if progress is not None:
            progress(counts[0])
        return Transferred(events=counts[0], artifacts=counts[1], bundle=True)

    def import_bundle(self, source: IO[bytes], progress: Progress | None = None) -> Transferred:
        """Upload a bundle or a log-only export to the server's empty registry (streamed); all or nothing."""
        chunks = iter(lambda: source.read(_CHUNK), b"")
        found = self._json(self._send("POST", "/log/bundle", command=True, content=chunks,
                                      headers={"Content-Type": "application/x-tar"}))
        done = self._decoded(lambda d: decode(Transferred, d), found)
        if progress is not None:
            progress(done.events)
        return done

    def verify_projections(self) -> VerifyViewsReport:
        """Compare the server's read models with a fresh replay of the log."""
        return self._decoded(lambda d: decode(VerifyViewsReport, d), self._get("/projections/verify"))

    def rebuild_projections(self, progress: Callable[[int, int], None] | None = None) -> RebuildReport:
        """Reset the server's read models and replay the whole log into them."""
        found = self._decoded(lambda d: decode(RebuildReport, d), self._command("POST", "/projections/rebuild"))
        if progress is not None:
            progress(found.events, found.events)
        return found

    # --- everyday use: describe, compare, metadata, completion -----------------------

    def describe_model(self, name: str, *, as_of: datetime | None = None,
                       at_position: int | None = None) -> ModelDescription:
        """A model with its versions by stage, aliases and latest activity."""
        found = self._get(f"/models/{_seg(name)}/describe", _point(as_of, at_position))
        return self._decoded(lambda d: decode(ModelDescription, d), found)

    def describe_version(self, model: str, version: VersionRef = None, *, as_of: datetime | None = None,
                         at_position: int | None = None) -> VersionDescription:
        """A version with its metadata, metrics, tags, artifacts, runs and stage history."""
        found = self._get(f"/models/{_seg(model)}/versions/{_seg(version)}/describe", _point(as_of, at_position))
        return self._decoded(lambda d: decode(VersionDescription, d), found)

    def compare_versions(self, model: str, versions: Sequence[VersionRef], *, as_of: datetime | None = None,
                         at_position: int | None = None) -> VersionComparison:
        """Two or more versions of a model described side by side."""
        params = {"version": ["latest" if v is None else str(v) for v in versions], **_point(as_of, at_position)}
        found = self._get(f"/models/{_seg(model)}/compare", params)
        return self._decoded(lambda d: decode(VersionComparison, d), found)

    def list_model_summaries(self, *, name: str | None = None, tag: str | None = None, sort_by: str = "name",
                             page: int = 1, size: int = 50, as_of: datetime | None = None,
                             at_position: int | None = None) -> Page[ModelSummary]:
        """A page of models with their production and staging versions and who changed each last."""
        params = {"sort_by": sort_by, "page": page, "size": size, **_point(as_of, at_position)}
        params.update({k: v for k, v in (("name", name), ("tag", tag)) if v is not None})
        found = self._get("/model-summaries", params)
        return self._decoded(lambda d: Page(decode_list(ModelSummary, d["items"]), int(d["total"]), int(d["page"]),
                                            int(d["size"])), found)

    def search_versions(self, model: str, *, stage: str | None = None, sort_by: str = "number",
                        filters: Sequence[str] = (), as_of: datetime | None = None,
                        at_position: int | None = None) -> list[VersionRow]:
        """The versions of a model with their current metadata, filtered and sorted."""
        params: dict[str, Any] = {"sort_by": sort_by, "filter": list(filters), **_point(as_of, at_position)}
        if stage is not None:
            params["stage"] = stage
        found = self._pages(f"/models/{_seg(model)}/version-search", params)
        return self._decoded(lambda d: decode_list(VersionRow, d), found)

    def log_metadata(self, model: str, version: VersionRef, values: Mapping[str, Any]) -> VersionChanged:
        """Log metadata on a version."""
        found = self._command("POST", f"/models/{_seg(model)}/versions/{_seg(version)}/metadata",
                              {"values": clean_metadata(dict(values))})  # refused here as in process
        return self._decoded(lambda d: decode(VersionChanged, d), found)

    def complete(self, kind: str, prefix: str = "", *, model: str | None = None, limit: int = 50) -> list[str]:
        """Completion candidates starting with ``prefix``."""
        params: dict[str, Any] = {"kind": kind, "prefix": prefix, "limit": limit}
        if model is not None:
            params["model"] = model
        return self._decoded(lambda d: [str(item) for item in d], self._get("/complete", params))

    # --- principals and API tokens ---------------------------------------------------

    def add_principal(self, name: str) -> PrincipalChanged:
        """Add a principal."""
        return self._decoded(lambda d: decode(PrincipalChanged, d), self._command("POST", "/principals",
                                                                                 {"name": name}))

    def disable_principal(self, name: str) -> PrincipalChanged:
        """Disable a principal."""
        found = self._command("POST", f"/principals/{_seg(name)}/disable")
        return self._decoded(lambda d: decode(PrincipalChanged, d), found)

    def list_principals(self, *, as_of: datetime | None = None,
                        at_position: int | None = None) -> list[PrincipalView]:
        """Every principal, by name."""
        return self._decoded(lambda d: decode_list(PrincipalView, d), self._pages("/principals",
                                                                                 _point(as_of, at_position)))

    def create_token(self, principal: str, *, expires: str | None = None) -> TokenChanged:
        """Issue an API token (the server draws it; the answer alone carries it)."""
        found = self._command("POST", "/tokens", {"principal": principal, "expires": expires})
        return self._decoded(lambda d: decode(TokenChanged, d), found)

    def list_tokens(self, *, principal: str | None = None, as_of: datetime | None = None,
                    at_position: int | None = None) -> list[TokenView]:
        """Every API token issued, oldest first."""
        params = {**_point(as_of, at_position), **({"principal": principal} if principal is not None else {})}
        return self._decoded(lambda d: decode_list(TokenView, d), self._pages("/tokens", params))

    def revoke_token(self, token_id: str) -> TokenChanged:
        """Revoke an API token by id."""
        found = self._command("POST", f"/tokens/{_seg(token_id)}/revoke")
        return self._decoded(lambda d: decode(TokenChanged, d), found)

    # --- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        """Close the kept-alive connections."""
        self._http.close()

    def __enter__(self) -> RemoteRegistry:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
