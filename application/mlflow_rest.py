"""Read an MLflow model registry through its tracking server's REST API (``/api/2.0/mlflow/...``), reads only.

Registered models come from ``registered-models/search`` and every version from one paged
``model-versions/search`` without a filter (no quoting of model names in filter strings);
``registered-models/get`` gives each model's aliases. A server shows no deleted versions: their
numbers are the gaps. Authentication as MLflow's client does it: ``MLFLOW_TRACKING_TOKEN`` as a
bearer token, or ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` as basic auth.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from modelog.application.mlflow_records import (
    Counter,
    MlflowModel,
    MlflowSnapshot,
    MlflowVersion,
    redacted,
)
from modelog.registry.errors import ImportSourceError

API = "/api/2.0/mlflow"
#: Page sizes: MLflow's own limit for registered-model searches, and a moderate one for versions.
MODEL_PAGE, VERSION_PAGE = 1000, 1000
TIMEOUT = 60.0


class _Server:
    """GETs against one MLflow server; every failure becomes one ImportSourceError line."""

    def __init__(self, url: str, token: str | None, username: str | None, password: str | None) -> None:
        self.shown = redacted(url).rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        auth = httpx.BasicAuth(username, password or "") if username and not token else None
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, auth=auth, timeout=TIMEOUT,
                                 follow_redirects=True)

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        where = f"{self.shown}{API}/{path}"
        try:
            answer = self.http.get(f"{API}/{path}", params=params)
        except httpx.HTTPError as error:
            raise ImportSourceError(f"cannot reach the MLflow server at {self.shown}: {error}") from None
        if answer.status_code in (401, 403):
            raise ImportSourceError(f"the MLflow server at {self.shown} refused the request (HTTP "
                                    f"{answer.status_code}): give a token (--token or MLFLOW_TRACKING_TOKEN) or "
                                    "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD")
        try:
            body = answer.json()
        except ValueError:
            body = None
        if answer.status_code != 200 or not isinstance(body, dict):
            message = body.get("message") if isinstance(body, dict) else None
            detail = f": {message}" if isinstance(message, str) and message else ""
            raise ImportSourceError(f"{self.shown} is not an MLflow tracking server with a model registry "
                                    f"(GET {where} answered HTTP {answer.status_code}{detail})")
        return body

    def pages(self, path: str, key: str, size: int) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            params: dict[str, Any] = {"max_results": size}
            if token:
                params["page_token"] = token
            body = self.get(path, params)
            items = body.get(key, [])
            if not isinstance(items, list):
                raise ImportSourceError(f"{self.shown}: {path} answered {key} that is not a list")
            yield from (item for item in items if isinstance(item, dict))
            token = body.get("next_page_token") or None
            if not token:
                return


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _millis(value: object) -> int | None:
    """MLflow's int64 times come as JSON numbers (or, from some proxies, as digit strings)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _tags(items: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(items, list):
        return ()
    return tuple((str(t["key"]), str(t.get("value") or "")) for t in items if isinstance(t, dict) and "key" in t)


def _version(item: dict[str, Any]) -> MlflowVersion:
    return MlflowVersion(
        number=int(item["version"]), stage=str(item.get("current_stage") or "None"),
        description=_text(item.get("description")), creation_timestamp=_millis(item.get("creation_timestamp")),
        last_updated_timestamp=_millis(item.get("last_updated_timestamp")), user_id=_text(item.get("user_id")),
        source=_text(item.get("source")), run_id=_text(item.get("run_id")), run_link=_text(item.get("run_link")),
        status=_text(item.get("status")), status_message=_text(item.get("status_message")),
        tags=_tags(item.get("tags")),
    )


def read_server(url: str, *, token: str | None = None, username: str | None = None, password: str | None = None,
                progress: Counter | None = None) -> MlflowSnapshot:
    """Every registered model of the MLflow server at ``url``, with its versions, tags and aliases."""
    server = _Server(url, token, username, password)
    try:
        listed = list(server.pages("registered-models/search", "registered_models", MODEL_PAGE))
        versions: dict[str, list[MlflowVersion]] = {}
        for item in server.pages("model-versions/search", "model_versions", VERSION_PAGE):
            try:
                versions.setdefault(str(item["name"]), []).append(_version(item))
            except (KeyError, TypeError, ValueError):
                raise ImportSourceError(f"{server.shown}: a model version without a name or a number: "
                                        f"{str(item)[:200]}") from None
        models = []
        for done, item in enumerate(listed, start=1):
            name = str(item.get("name", ""))
            full = server.get("registered-models/get", {"name": name}).get("registered_model", item)
            aliases = tuple((str(a["alias"]), int(a["version"])) for a in full.get("aliases") or []
                            if isinstance(a, dict) and "alias" in a and str(a.get("version", "")).isdigit())
            models.append(MlflowModel(
                name=name, description=_text(full.get("description")),
                creation_timestamp=_millis(full.get("creation_timestamp")),
                last_updated_timestamp=_millis(full.get("last_updated_timestamp")),
                tags=_tags(full.get("tags")), aliases=aliases,
                versions=tuple(sorted(versions.get(name, []), key=lambda v: v.number)),
            ))
            if progress is not None:
                progress(done, len(listed))
    finally:
        server.http.close()
    return MlflowSnapshot(source=server.shown, models=tuple(models))
