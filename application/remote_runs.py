"""The remote client's use cases of pipeline runs (mixed into ``RemoteRegistry``), steps carrying their outputs.

A step's new outputs travel with the step command when they are small (:data:`INLINE_LIMIT`
bytes in all, base64 in the JSON body): one durable request per step instead of an upload and
then the command. The server stores them (content-addressed, their SHA-256 recomputed and
checked) before it appends the step. Larger outputs are uploaded first, streamed, with
``PUT /blobs``, as before. A server that refuses the inline content as too large (413: nothing
was stored or recorded) gets the outputs uploaded and the command sent again, by reference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from modelog.application.remote_governance import GovernanceRemote, point_params, segment
from modelog.application.results import RunFinished, RunStarted, StepRecorded
from modelog.application.wire import decode, decode_list, inline_output_to_wire, model_context_to_wire, to_wire
from modelog.projections.views import RunView, StepView
from modelog.registry.errors import ArtifactIntegrityError

if TYPE_CHECKING:
    from modelog.application.requests import OutputBytes
    from modelog.registry.artifact_store import StoredBlob
    from modelog.registry.commands import ModelContext, OutputSpec

#: Most bytes of new outputs one step command carries inline; the rest are uploaded with ``PUT /blobs`` first.
INLINE_LIMIT = 256 << 10
_TOO_LARGE = 413


class RunsRemote(GovernanceRemote):
    """Pipeline runs over HTTP (the transport is the registry client's)."""

    def _send(self, method: str, path: str, *, command: bool = False, idempotent: bool = True,
              stream: bool = False, passthrough: tuple[int, ...] = (), **kwargs: Any) -> httpx.Response:
        raise NotImplementedError

    def _json(self, response: httpx.Response) -> Any:
        raise NotImplementedError

    def store_blob(self, data: bytes) -> StoredBlob:
        raise NotImplementedError

    def start_run(self, run_id: str, pipeline: str, *, model: ModelContext | None = None,
                  enable_cache: bool = False) -> RunStarted:
        """Start a pipeline run."""
        body = {"run_id": run_id, "pipeline": pipeline, "model": model_context_to_wire(model),
                "enable_cache": enable_cache}
        return self._decoded(lambda d: decode(RunStarted, d), self._command("POST", "/runs", body))

    def complete_step(self, run_id: str, step: str, outputs: Sequence[OutputSpec | OutputBytes] = (), *,
                      cached: bool = False, cache_key: str | None = None, duration_ms: float = 0.0) -> StepRecorded:
        """Record a completed step: one request, its small new outputs inline (see the module's docstring)."""
        path = f"/runs/{segment(run_id)}/steps"
        body: dict[str, Any] = {"step": step, "outputs": self._outputs(outputs, INLINE_LIMIT), "cached": cached,
                                "cache_key": cache_key, "duration_ms": duration_ms}
        inline = any("content" in o for o in body["outputs"])
        response = self._send("POST", path, command=True, json=body, passthrough=(_TOO_LARGE,) if inline else ())
        if response.status_code == _TOO_LARGE:  # refused before anything was stored or appended
            body["outputs"] = self._outputs(outputs, 0)
            response = self._send("POST", path, command=True, json=body)
        return self._decoded(lambda d: decode(StepRecorded, d), self._json(response))

    def _outputs(self, outputs: Sequence[OutputSpec | OutputBytes], budget: int) -> list[Mapping[str, Any]]:
        """The outputs' wire form: carried ones inline while ``budget`` bytes last, the others uploaded first."""
        from modelog.application.requests import OutputBytes

        wired: list[Mapping[str, Any]] = []
        for output in outputs:
            if not isinstance(output, OutputBytes):
                wired.append(to_wire(output))
            elif len(output.data) <= budget:
                budget -= len(output.data)
                wired.append(inline_output_to_wire(output))
            else:
                stored = self.store_blob(output.data)
                if stored.content_hash != output.content_hash:
                    raise ArtifactIntegrityError(f"output {output.name!r}: the server stored sha256 "
                                                 f"{stored.content_hash}, not the {output.content_hash} sent")
                wired.append(to_wire(output.spec()))
        return wired

    def finish_run(self, run_id: str, *, duration_ms: float = 0.0) -> RunFinished:
        """Mark a run completed."""
        found = self._command("POST", f"/runs/{segment(run_id)}/finish", {"duration_ms": duration_ms})
        return self._decoded(lambda d: decode(RunFinished, d), found)

    def fail_run(self, run_id: str, *, error_type: str, error_message: str, failed_step: str | None = None,
                 delete_created_version: bool = False, duration_ms: float = 0.0) -> RunFinished:
        """Mark a run failed."""
        body = {"error_type": error_type, "error_message": error_message, "failed_step": failed_step,
                "delete_created_version": delete_created_version, "duration_ms": duration_ms}
        found = self._command("POST", f"/runs/{segment(run_id)}/fail", body)
        return self._decoded(lambda d: decode(RunFinished, d), found)

    def get_run(self, run_id: str, *, as_of: datetime | None = None, at_position: int | None = None) -> RunView:
        """A run by id."""
        return self._decoded(lambda d: decode(RunView, d), self._get(f"/runs/{segment(run_id)}",
                                                                   point_params(as_of, at_position)))

    def list_runs(self, *, pipeline: str | None = None, status: str | None = None, limit: int = 50,
                  as_of: datetime | None = None, at_position: int | None = None) -> list[RunView]:
        """The most recent runs, newest first."""
        params: dict[str, Any] = {"limit": limit, **point_params(as_of, at_position)}
        params.update({k: v for k, v in (("pipeline", pipeline), ("status", status)) if v is not None})
        return self._decoded(lambda d: decode_list(RunView, d), self._pages("/runs", params))

    def list_run_steps(self, run_id: str, *, as_of: datetime | None = None,
                       at_position: int | None = None) -> list[StepView]:
        """The completed steps of a run."""
        found = self._pages(f"/runs/{segment(run_id)}/steps", point_params(as_of, at_position))
        return self._decoded(lambda d: decode_list(StepView, d), found)

    def find_cached_step(self, cache_key: str) -> list[dict[str, Any]] | None:
        """The outputs of the latest successful step with this cache key, or None."""
        found = self._get("/steps/cached", {"cache_key": cache_key})
        return self._decoded(lambda d: None if d["outputs"] is None else [dict(o) for o in d["outputs"]], found)
