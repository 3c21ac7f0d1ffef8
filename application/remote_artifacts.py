"""The remote client's artifact downloads (mixed into ``RemoteRegistry``): streamed, hashed, never held whole.

The server sends the artifact version it checked the bytes against in ``X-Modelog-Artifact``
(its JSON, base64url) with the bytes themselves, so one request is enough; this client hashes
them again as they arrive (:class:`~modelog.application.artifact_content.ArtifactContent`) and
treats a body shorter than its ``Content-Length`` (the server ends it short when its own file
fails the hash, or it died) as a cut transfer: one :class:`RemoteError` line.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
from modelog.application.artifact_content import CHUNK, ArtifactContent
from modelog.application.remote_governance import segment
from modelog.application.wire import decode
from modelog.projections.views import ArtifactView
from modelog.registry.errors import RemoteError

#: Header of an artifact's content answer: the artifact version (its JSON, base64url) the bytes were checked against.
ARTIFACT_HEADER = "X-Modelog-Artifact"
T = TypeVar("T")


class ArtifactsRemote:
    """Artifact content over HTTP (the transport is the registry client's)."""

    url: str

    def _send(self, method: str, path: str, *, command: bool = False, idempotent: bool = True,
              stream: bool = False, passthrough: tuple[int, ...] = (), **kwargs: Any) -> httpx.Response:
        raise NotImplementedError

    def _decoded(self, build: Callable[[Any], T], data: Any) -> T:
        raise NotImplementedError

    def get_artifact(self, artifact_id: str) -> ArtifactView:
        raise NotImplementedError

    def open_artifact(self, artifact_id: str) -> ArtifactContent:
        """An artifact version and its bytes as they arrive from the server, hashed as they pass; close it after
        use (it holds the connection)."""
        response = self._send("GET", f"/artifacts/{segment(artifact_id)}/content", stream=True)
        try:
            artifact = self._sent_artifact(response) or self.get_artifact(artifact_id)
            length = response.headers.get("Content-Length")
            size = int(length) if length is not None and length.isdigit() else None
        except BaseException:
            response.close()
            raise
        return ArtifactContent(artifact, self._body(response, artifact, size), size=size, source=self.url,
                               close=response.close)

    def _body(self, response: httpx.Response, artifact: ArtifactView, size: int | None) -> Iterator[bytes]:
        received = 0
        try:
            for chunk in response.iter_bytes(CHUNK):
                received += len(chunk)
                yield chunk
        except httpx.HTTPError as error:
            of = "" if size is None else f" of {size}"
            raise RemoteError(f"the download of artifact {artifact.name!r} v{artifact.version} from {self.url} was "
                              f"cut off after {received}{of} bytes (the server stopped, or ended it because its file "
                              f"no longer matches the logged hash): {type(error).__name__}; nothing was "
                              "loaded") from None

    def _sent_artifact(self, response: httpx.Response) -> ArtifactView | None:
        """The artifact version a content answer names in its header (None: a server that does not send it)."""
        sent = response.headers.get(ARTIFACT_HEADER)
        if sent is None:
            return None
        return self._decoded(lambda d: decode(ArtifactView, json.loads(base64.urlsafe_b64decode(d))), sent)
