"""Writing into the content-addressed artifact store: streamed uploads, and a step's outputs carried as bytes.

``BlobUpload`` takes the bytes chunk by chunk into a temporary file beside the store's files,
hashing as they come; ``finish`` refuses them unless they hash to what the sender declared,
then renames the file to its content address (so a reader never sees half a file, and a cut
upload leaves nothing behind). ``store_outputs`` does the same for the (small, or in-process)
outputs a step command carries, before the command appends anything that refers to them.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from modelog.registry.artifact_store import ArtifactStore, StoredBlob, content_hash, file_hash
from modelog.registry.errors import InvalidInputError

if TYPE_CHECKING:
    from modelog.application.requests import OutputBytes, OutputSpec

_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_declared_hash(declared: str | None) -> str:
    """The SHA-256 a sender declared for its upload (64 lowercase hex digits); InvalidInputError otherwise."""
    value = (declared or "").strip().lower()
    if not _SHA256.fullmatch(value):
        raise InvalidInputError("an upload must declare its SHA-256 (64 hex digits) in the X-Content-SHA256 header")
    return value


def store_outputs(store: ArtifactStore, step: str, outputs: Sequence[OutputSpec | OutputBytes]) -> list[OutputSpec]:
    """The step's outputs as the step command records them, after writing those carried as bytes to ``store``.

    Every output is validated first; then each carried one is hashed once and refused (InvalidInputError, the
    step is not recorded) unless that is its declared SHA-256, and written durably (fsynced, renamed into place)
    before this returns: the event that refers to it is appended only afterwards, so no event ever names
    bytes the store does not hold. A step refused later leaves at most unreferenced, correct files behind.
    """
    from modelog.application.requests import OutputBytes  # the command classes: loaded by writes only

    specs = [o.spec() if isinstance(o, OutputBytes) else o for o in outputs]
    for output in outputs:
        if isinstance(output, OutputBytes):
            found = content_hash(output.data)
            if found != output.content_hash:
                raise InvalidInputError(f"step {step!r}, output {output.name!r}: its {len(output.data)} bytes hash to "
                                        f"sha256 {found}, not the declared {output.content_hash}; the step was not "
                                        "recorded")
            store.put(output.data, digest=found)
    return specs


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

