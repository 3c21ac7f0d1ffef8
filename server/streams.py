"""Handlers that stream: artifact bytes both ways, the log export (chunked JSON Lines) and an import upload.

Nothing here holds a whole file in memory: an upload goes chunk by chunk to a temporary file,
a download is read from disk in chunks, and the export is handed from the registry's thread to
the response through a small bounded queue (so a slow reader slows the export, not the memory).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import queue
import tempfile
import threading
import typing
from collections.abc import AsyncIterator, Iterator
from typing import IO

from modelog.application.artifact_content import ArtifactContent
from modelog.application.blobs import BlobUpload
from modelog.application.remote import (
    BUNDLE_ARTIFACTS_HEADER,
    BUNDLE_EVENTS_HEADER,
    CONTENT_HASH_HEADER,
)
from modelog.application.remote_artifacts import ARTIFACT_HEADER
from modelog.registry.errors import ArtifactIntegrityError, InvalidInputError
from modelog.registry.logs import get_logger
from modelog.server.http import MAX_UPLOAD, BodyCut, HTTPRefusal, answer, encode
from modelog.server.state import state_of
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

_CHUNK = 1 << 20
_log = get_logger("modelog.server")
_QUEUE_CHUNKS = 8
_DONE = object()


async def put_blob(request: Request) -> Response:
    """Store an upload in the content-addressed store, refused unless it hashes to the declared SHA-256."""
    state = state_of(request)
    await state.call(state.api.authorize, "store_blob")  # the upload writes to the store itself, not through it
    upload = await state.call(BlobUpload, state.api.artifact_store, request.headers.get(CONTENT_HASH_HEADER) or "")
    try:
        async for chunk in request.stream():
            if upload.size + len(chunk) > MAX_UPLOAD:
                raise HTTPRefusal(413, "body_too_large", f"upload is over the limit of {MAX_UPLOAD} bytes")
            upload.write(chunk)
    except BaseException:  # a cut, refused or failed upload leaves nothing in the store
        upload.abort()
        raise
    return answer(await asyncio.to_thread(upload.finish))


async def get_artifact_content(request: Request) -> Response:
    """An artifact version's bytes, found and verified by what the log recorded (never by a view row alone), with
    that version in ``X-Modelog-Artifact`` (its JSON, base64url): a client needs no second request to check them.

    The store's file is sent in 1 MiB chunks as it is read and hashed (never held whole), with its size as the
    ``Content-Length``. The last chunk is sent only once everything matched the logged hash: a file changed on
    disk ends the body short of its length, which every HTTP client reports as a cut transfer, never as a
    complete answer. A file of one chunk is checked before the answer starts (a JSON error if it fails).
    """
    state = state_of(request)
    content = await state.call(state.api.open_artifact, request.path_params["artifact_id"])
    sent = base64.urlsafe_b64encode(encode(content.artifact)).decode("ascii")
    return await streamed_artifact(content, {ARTIFACT_HEADER: sent})


async def streamed_artifact(content: ArtifactContent, headers: dict[str, str]) -> StreamingResponse:
    """The answer streaming ``content`` with ``headers`` and its ``Content-Length``; its first chunk is read before
    the answer starts, so a file of one chunk that fails its hash is an error answer, not a cut body."""
    try:
        chunks = iter(content)
        first = await asyncio.to_thread(next, chunks, None)
    except BaseException:
        await asyncio.to_thread(content.close)
        raise
    return StreamingResponse(_artifact_body(content, chunks, first), media_type="application/octet-stream",
                             headers={**headers, "Content-Length": str(content.size)})


async def _artifact_body(content: ArtifactContent, chunks: Iterator[bytes], first: bytes | None
                         ) -> AsyncIterator[bytes]:
    """``first``, then the rest of ``chunks``, each read on a worker thread (file reads block); the file closed
    however it ends, a mismatch logged before the stream is cut."""
    try:
        if first is not None:
            yield first
        while True:
            chunk = await asyncio.to_thread(next, chunks, None)
            if chunk is None:
                return
            yield chunk
    except ArtifactIntegrityError as error:
        _log.warning("artifact download cut short", artifact_id=content.artifact.artifact_id, error=str(error))
        raise BodyCut(str(error)) from None
    finally:
        await asyncio.to_thread(content.close)


async def export_bundle(request: Request) -> Response:
    """The log and every artifact it refers to, as one tar bundle (written to a temporary file, then streamed)."""
    state = state_of(request)
    spool = tempfile.NamedTemporaryFile(prefix="modelog-bundle-", suffix=".tar")  # noqa: SIM115 - closed by the task
    try:
        done = await state.call(state.api.export_bundle, typing.cast(IO[bytes], spool))
        spool.flush()
    except BaseException:
        spool.close()
        raise
    counts = {BUNDLE_EVENTS_HEADER: str(done.events), BUNDLE_ARTIFACTS_HEADER: str(done.artifacts)}
    return FileResponse(spool.name, media_type="application/x-tar", headers=counts,
                        background=BackgroundTask(spool.close))


async def import_bundle(request: Request) -> Response:
    """Import an uploaded bundle (or log-only export) into the empty registry and its store; all or nothing."""
    state = state_of(request)
    await state.call(state.api.authorize, "import_bundle")  # before spooling an upload nobody may import
    with tempfile.TemporaryFile() as spool:
        await _spool(request, spool, "send a bundle or an exported log")
        done = await state.call(state.api.import_bundle, typing.cast(IO[bytes], spool))
    return answer(done)


class _QueueWriter(io.TextIOBase):
    """A text stream whose writes reach an async reader through a bounded queue, in chunks."""

    def __init__(self, chunks: queue.Queue[object], cancelled: threading.Event) -> None:
        self._chunks, self._cancelled = chunks, cancelled
        self._buffer: list[str] = []
        self._size = 0

    def write(self, text: str) -> int:
        self._buffer.append(text)
        self._size += len(text)
        if self._size >= _CHUNK:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            self._put("".join(self._buffer).encode("utf-8"))
            self._buffer, self._size = [], 0

    def _put(self, item: object) -> None:
        while True:
            if self._cancelled.is_set():
                raise ConnectionAbortedError("the client went away during the export")
            try:
                self._chunks.put(item, timeout=0.5)
                return
            except queue.Full:
                continue


def _next(chunks: queue.Queue[object]) -> object:
    # A bounded wait, so that a thread left waiting by a reader that went away ends soon.
    try:
        return chunks.get(timeout=0.5)
    except queue.Empty:
        return None


async def export_log(request: Request) -> Response:
    """The whole log as JSON Lines, streamed in chunks while the registry's thread writes it."""
    state = state_of(request)
    await state.call(state.api.authorize, "export_log")  # before the headers: a refusal is a 403, not a cut stream
    chunks: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_CHUNKS)
    cancelled = threading.Event()

    def export() -> None:
        out = _QueueWriter(chunks, cancelled)
        try:
            state.api.export_log(typing.cast(IO[str], out))
            out.flush()
            out._put(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed to the response, which cuts the stream off
            with contextlib.suppress(ConnectionAbortedError):
                out._put(error)

    running = asyncio.ensure_future(state.call(export))

    async def body() -> AsyncIterator[bytes]:
        try:
            while True:
                item = await asyncio.to_thread(_next, chunks)
                if item is None:
                    continue
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    # Headers are sent already: the only way to say "failed" is to end the stream unfinished.
                    raise item
                assert isinstance(item, bytes)
                yield item
        finally:
            cancelled.set()
            await asyncio.shield(running)

    return StreamingResponse(body(), media_type="application/x-ndjson")


async def import_log(request: Request) -> Response:
    """Import an uploaded export into the empty registry: spooled to a temporary file first, then all or nothing."""
    state = state_of(request)
    await state.call(state.api.authorize, "import_log")  # before spooling an upload nobody may import
    with tempfile.TemporaryFile() as spool:
        await _spool(request, spool, "send an exported log (JSON Lines)")
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        try:
            count = await state.call(state.api.import_log, text)
        finally:
            text.detach()
    return answer({"events": count})


async def _spool(request: Request, spool: IO[bytes], expected: str) -> None:
    """Write the request body to ``spool`` (refused past the upload limit, or empty), then rewind it."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD:
            raise HTTPRefusal(413, "body_too_large", f"upload is over the limit of {MAX_UPLOAD} bytes")
        spool.write(chunk)
    if size == 0:
        raise InvalidInputError(f"the import body is empty: {expected}")
    spool.seek(0)
