"""Streaming into and out of the content-addressed artifact store, for adapters that must not buffer a file.

``BlobUpload`` takes the bytes chunk by chunk into a temporary file beside the store's files,
hashing as they come; ``finish`` refuses them unless they hash to what the sender declared,
then renames the file to its content address (so a reader never sees half a file, and a cut
upload leaves nothing behind).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from modelog.registry.artifact_store import ArtifactStore, StoredBlob, file_hash
from modelog.registry.errors import InvalidInputError

_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_declared_hash(declared: str | None) -> str:
    """The SHA-256 a sender declared for its upload (64 lowercase hex digits); InvalidInputError otherwise."""
    value = (declared or "").strip().lower()
    if not _SHA256.fullmatch(value):
        raise InvalidInputError("an upload must declare its SHA-256 (64 hex digits) in the X-Content-SHA256 header")
    return value


class BlobUpload:
    """One upload in progress: written to a temporary file in the store and hashed as it arrives."""

    def __init__(self, store: ArtifactStore, declared_hash: str) -> None:
        self.store = store
        self.declared = check_declared_hash(declared_hash)
        self.size = 0
        self._digest = hashlib.sha256()
        store.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".upload-", dir=store.root)
        self._path = Path(name)
        self._file = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        """Append a chunk."""
        self._digest.update(chunk)
        self.size += len(chunk)
        self._file.write(chunk)

    def abort(self) -> None:
        """Drop what was received (a cut or refused upload leaves nothing in the store)."""
        if not self._file.closed:
            self._file.close()
        self._path.unlink(missing_ok=True)

    def finish(self) -> StoredBlob:
        """Move the bytes to their content address; InvalidInputError if they do not hash to the declared value."""
        found = self._digest.hexdigest()
        if found != self.declared:
            self.abort()
            raise InvalidInputError(f"the upload does not match its declared sha256: declared {self.declared}, "
                                    f"received {found} ({self.size} bytes); nothing was stored")
        try:
            uri = f"sha256/{found[:2]}/{found}"
            target = self.store.path_for(uri)
            if target.is_file() and file_hash(target) == found:
                # The store holds these bytes already (written durably then): no fsync of a copy to be dropped.
                self._file.close()
                self._path.unlink(missing_ok=True)
            else:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self._path, target)
        except BaseException:
            self.abort()
            raise
        return StoredBlob(uri, found, self.size)

