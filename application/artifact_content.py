"""An artifact version's bytes as a stream: read once, in chunks, hashed as they pass, never held whole.

``ArtifactContent`` pairs the artifact version (as the log records it) with its bytes, from the
store's file in process or from a server's response. Iterating it yields the bytes chunk by chunk
and holds the last chunk back until the SHA-256 of everything matches the logged hash: a reader
that got every chunk without an exception got exactly the recorded bytes, and a reader that sends
them on (the server) never completes a body that does not match (it ends the stream short instead).
``verified_file`` gives a file to deserialise from once the bytes are checked: the store's own
open file rewound, or a spool (memory for small contents, else an anonymous temporary file: nothing
to remove after a crash).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

from modelog.projections.views import ArtifactView
from modelog.registry.errors import ArtifactIntegrityError

if TYPE_CHECKING:
    from modelog.application.api import RegistryAPI

CHUNK = 1 << 20
#: Most bytes a remote content is spooled in memory before it goes to a temporary file.
SPOOL_IN_MEMORY = 8 << 20


class ArtifactContent:
    """One artifact version and a single pass over its bytes, checked against the hash the log recorded."""

    def __init__(self, artifact: ArtifactView, chunks: Iterator[bytes], *, size: int | None, source: str,
                 close: Callable[[], None], local: IO[bytes] | None = None) -> None:
        self.artifact = artifact
        #: How many bytes the source announced (the store file's size, a response's Content-Length), if known.
        self.size = size
        self._chunks, self._source, self._close, self._local = chunks, source, close, local
        self._started = False
        self._spool: IO[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        """The bytes in chunks; the last one only once the whole content matched its hash (ArtifactIntegrityError
        otherwise). A second pass is refused: the source is read once."""
        if self._started:
            raise RuntimeError("an artifact's content is read once")
        self._started = True
        digest, received, held = hashlib.sha256(), 0, b""
        for chunk in self._chunks:
            if not chunk:
                continue
            digest.update(chunk)
            received += len(chunk)
            if held:
                yield held
            held = chunk
        self._check(digest.hexdigest(), received)
        if held:
            yield held

    def _check(self, found: str, received: int) -> None:
        expected = self.artifact.content_hash
        label = f"artifact {self.artifact.name!r} v{self.artifact.version}"
        if self.size is not None and received != self.size:
            raise ArtifactIntegrityError(f"{label}: only {received} of its {self.size} bytes could be read from "
                                         f"{self._source} (expected sha256 {expected}); refusing to load it")
        if found != expected:
            raise ArtifactIntegrityError(f"{label} was modified: expected sha256 {expected}, found {found} "
                                         f"({received} bytes from {self._source}); refusing to load it")

    def read_all(self) -> bytes:
        """Every byte, checked (for small artifacts: this holds the whole content in memory)."""
        return b"".join(self)

    def copy_to(self, out: IO[bytes]) -> int:
        """Write every byte to ``out``; the count. ``out`` holds unchecked bytes if this raises: drop it then."""
        written = 0
        for chunk in self:
            out.write(chunk)
            written += len(chunk)
        return written

    def save_as(self, target: Path) -> int:
        """Write every byte to ``target`` (the count): into a temporary file beside it, fsynced, renamed to ``target``
        only once the bytes matched; the temporary file is removed if anything fails."""
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
        try:
            with temp.open("xb") as out:
                written = self.copy_to(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return written

    def verified_file(self) -> IO[bytes]:
        """A binary file positioned at the start of the checked bytes, to deserialise from (closed with this).

        In process it is the store's own open file, rewound after the check (the store replaces files by
        renaming, so an open file's bytes do not change under it); otherwise the spool the bytes were written
        to: memory up to :data:`SPOOL_IN_MEMORY`, beyond that an anonymous temporary file (``$TMPDIR``, unlinked
        from the start: the system removes it when it is closed or the process dies).
        """
        if self._local is not None:
            for _ in self:
                pass
            self._local.seek(0)
            return self._local
        # Small contents stay in memory (no file for a typical step output); larger ones go to an unlinked file.
        spool = self._spool = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY, prefix="modelog-artifact-")  # noqa: SIM115
        try:
            self.copy_to(spool)
            spool.flush()
            spool.seek(0)
        except BaseException:
            self._spool = None
            spool.close()
            raise
        return spool

    def close(self) -> None:
        """Release the source (the store file, the connection) and any spooled copy."""
        try:
            self._close()
        finally:
            if self._spool is not None:
                self._spool.close()
                self._spool = None

    def __enter__(self) -> ArtifactContent:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def read_whole(api: RegistryAPI, artifact_id: str) -> tuple[ArtifactView, bytes]:
    """An artifact version and all its bytes, checked (for small artifacts: this holds the whole content)."""
    with api.open_artifact(artifact_id) as content:
        return content.artifact, content.read_all()
