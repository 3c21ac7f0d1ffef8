"""The OpenAPI 3.1 document of the API, generated from the route table (so it lists every route)."""

from __future__ import annotations

import re
from typing import Any

from modelog.server.routes import ENDPOINTS, Endpoint

_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
_TEXT = {"type": "string"}
_OUTPUT_FIELDS = {"name": _TEXT, "content_hash": _TEXT, "data_type": _TEXT,
                  "materializer": _TEXT, "artifact_name": _TEXT, "kind": {"type": ["string", "null"]},
                  "overwrite": {"type": "boolean"}}
#: Schemas of the body fields that are more than a plain value (the others are described by the summary).
_BODY_FIELDS: dict[str, dict[str, Any]] = {"outputs": {"type": "array", "items": {"oneOf": [
    {"title": "stored", "description": "Bytes already in the store (uploaded with PUT /api/v1/blobs), at uri; "
                                       "artifact_id and artifact_version: reuse that artifact version (cached step).",
     "type": "object", "required": ["name", "uri", "content_hash", "data_type", "materializer"],
     "additionalProperties": False,
     "properties": {**_OUTPUT_FIELDS, "uri": _TEXT, "artifact_id": {"type": ["string", "null"]},
                    "artifact_version": {"type": ["integer", "null"]}}},
    {"title": "inline", "description": "The bytes themselves, base64 in content (at most MODELOG_SERVER_MAX_INLINE "
                                       "bytes in all per step, default 512 KiB; 413 above): stored, their SHA-256 "
                                       "checked against content_hash, before the step is recorded.",
     "type": "object", "required": ["name", "content", "content_hash", "data_type", "materializer"],
     "additionalProperties": False,
     "properties": {**_OUTPUT_FIELDS, "content_hash": {**_TEXT, "pattern": "^[0-9a-f]{64}$"},
                    "content": {**_TEXT, "contentEncoding": "base64"}}},
]}}}
_ERROR = {"type": "object", "properties": {"error": {"type": "object", "properties": {
    "code": {"type": "string"}, "message": {"type": "string"}}, "required": ["code", "message"]}}}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(endpoint.path)
    ]
    parameters += [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                   for name in endpoint.query]
    if endpoint.command:
        parameters.append({"name": "X-Modelog-Command-Id", "in": "header", "required": False,
                           "description": "Client-generated id; the command is applied once per id (per process).",
                           "schema": {"type": "string", "maxLength": 200}})
    media = endpoint.streamed or "application/json"
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": f"{endpoint.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', endpoint.path.lower()).strip('_')}",
        "parameters": parameters,
        "responses": {
            "200": {"description": "OK", "content": {media if endpoint.method == "GET" else "application/json": {}}},
            "default": {"description": "Error", "content": {"application/json": {"schema": _ERROR}}},
        },
    }
    if endpoint.body:
        properties: dict[str, dict[str, Any]] = {name: _BODY_FIELDS.get(name, {}) for name in endpoint.body}
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"type": "object", "properties": properties, "additionalProperties": False}}}}
    elif endpoint.streamed and endpoint.method != "GET":
        operation["requestBody"] = {"required": True, "content": {endpoint.streamed: {}}}
    return operation


def document(version: str) -> dict[str, Any]:
    """The OpenAPI document: every route of :data:`~modelog.server.routes.ENDPOINTS`, plus ``/health``."""
    paths: dict[str, dict[str, Any]] = {
        "/health": {"get": {"summary": "Ready: the registry is open and its schema current.", "operationId": "health",
                            "security": [],
                            "responses": {"200": {"description": "OK"}, "503": {"description": "Not ready"}}}},
        "/api/v1/openapi.json": {"get": {"summary": "This document.", "operationId": "openapi", "security": [],
                                         "responses": {"200": {"description": "OK"}}}},
    }
    for endpoint in ENDPOINTS:
        path = _PARAM.sub(lambda m: "{" + m.group(1) + "}", endpoint.path)
        paths.setdefault(path, {})[endpoint.method.lower()] = _operation(endpoint)
    # Every other route needs an API token (``modelog token create NAME``): 401 without a valid one.
    security = {"securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                              "description": "An API token (mlg_...) from 'modelog token create'."}}}
    return {"openapi": "3.1.0", "info": {"title": "modelog registry API", "version": version}, "paths": paths,
            "components": security, "security": [{"token": []}]}
