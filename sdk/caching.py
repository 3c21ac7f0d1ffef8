"""Step caching: a step whose source, module, parameters and input artifacts match an earlier successful run
reuses that run's outputs (recorded as a cached step and linked like any other).

The key covers the step's own source and the whole source file of the module that defines it
(module-level constants, helpers, imports): editing anything in that file is a miss. Code in other
modules (a library, another file of yours) and data read from outside the inputs are not covered.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from typing import TYPE_CHECKING, Any

from modelog.registry.artifact_store import content_hash
from modelog.registry.logs import get_logger
from modelog.sdk.config import ArtifactConfig
from modelog.sdk.downloads import load_verified
from modelog.sdk.errors import ArtifactIntegrityError, ConfigError
from modelog.sdk.materializers import serialize
from modelog.sdk.outputs import StoredOutput
from modelog.sdk.steps import Step

if TYPE_CHECKING:
    from modelog.sdk.client import Client
    from modelog.sdk.pipelines import RunContext

log = get_logger("modelog.sdk")
CACHE_KEY_VERSION = 2


def _input_hash(value: Any, run: RunContext) -> str:
    produced = run.artifact_hash_of(value)
    if produced is not None:
        return f"artifact:{produced}"
    try:
        return f"value:{content_hash(serialize(value, warn=False).data)}"
    except ConfigError:
        return f"unhashable:{id(value)}:{type(value).__qualname__}"


def cache_key(step: Step, bound: inspect.BoundArguments, run: RunContext) -> str:
    """SHA-256 of the step's name, its source, its module's source file and the content hashes of its inputs."""
    inputs = {name: _input_hash(value, run) for name, value in bound.arguments.items()}
    body = {"v": CACHE_KEY_VERSION, "step": step.name, "source": step.source, "module": step.module_hash,
            "inputs": inputs}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def _configs(step: Step) -> dict[str, ArtifactConfig]:
    return {decl.name: decl.config for decl in step.outputs or ()}


def load_cached(client: Client, step: Step, key: str) -> list[StoredOutput] | None:
    """The outputs of the latest successful step with ``key``, loaded and verified; None on a miss."""
    found = client.api.find_cached_step(key)
    if found is None:
        return None
    configs = _configs(step)
    outputs = []
    for recorded in found:
        try:  # one read: the artifact version as the log records it, and its bytes checked against it
            artifact, value = load_verified(client.api, recorded["artifact_id"])
        except ArtifactIntegrityError as error:
            log.warning("cached output is unusable; running the step again", step=step.name, error=str(error))
            return None
        outputs.append(StoredOutput(
            name=recorded["name"], artifact_id=artifact.artifact_id, artifact_name=artifact.name,
            artifact_version=artifact.version, content_hash=artifact.content_hash, uri=artifact.uri,
            materializer=artifact.materializer, data_type=artifact.data_type,
            config=configs.get(recorded["name"], ArtifactConfig()), value=value,
            cached=True,
        ))
    return outputs


def record_cached(client: Client, run_id: str, step: str, key: str, outputs: list[StoredOutput]) -> None:
    """Record a step served from cache: its outputs reuse the earlier artifact versions."""
    client.api.complete_step(run_id, step, [o.spec(reuse=True) for o in outputs], cached=True, cache_key=key)
