"""The content-addressed artifact store: one file per distinct content, named by its SHA-256.

No path is ever built from user text: a file's location is derived from its hash alone,
and recorded URIs are checked against that shape before use. Writes go to a temporary
file in the target directory and are renamed into place, so a reader never sees half a
file. Reads verify the hash before anything is deserialised.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from modelog.registry.errors import ArtifactIntegrityError, InvalidInputError

STORE_ENV = "MODELOG_ARTIFACT_STORE"
_URI = re.compile(r"^sha256/([0-9a-f]{2})/([0-9a-f]{64})$")
_CHUNK = 1 << 20


def content_hash(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def file_hash(path: Path) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_store_root(home: Path, configured: str | os.PathLike[str] | None = None) -> Path:
    """The store directory: ``configured`` (path or ``file://`` URI), else ``$MODELOG_ARTIFACT_STORE``,
    else ``<home>/artifacts``."""
    chosen = configured or os.environ.get(STORE_ENV)
    if not chosen:
        return home / "artifacts"
    text = os.fspath(chosen)
    if "://" in text:
        parsed = urlparse(text)
        if parsed.scheme != "file":
            raise InvalidInputError(f"unsupported artifact store URI {text!r}; use a directory or a file:// URI")
        return Path(unquote(parsed.path)).expanduser()
    return Path(text).expanduser()


@dataclass(frozen=True)
class StoredBlob:
    """Where content was stored and its hash."""

    uri: str
    content_hash: str
    size: int


class ArtifactStore:
    """Content-addressed files under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, uri: str) -> Path:
        """The file of a recorded URI; refuses anything that is not a store-relative hash path."""
        match = _URI.match(uri)
        if match is None or match.group(2)[:2] != match.group(1):
            raise ArtifactIntegrityError(f"artifact URI {uri!r} is not a store location (sha256/<xx>/<hash>)")
        return self.root / "sha256" / match.group(1) / match.group(2)

    def put(self, data: bytes) -> StoredBlob:
        """Store ``data`` (once per distinct content) and return its location."""
        digest = content_hash(data)
        uri = f"sha256/{digest[:2]}/{digest}"
        path = self.path_for(uri)
        if not (path.is_file() and file_hash(path) == digest):
            self._write_atomically(path, data)
        return StoredBlob(uri, digest, len(data))

    def _write_atomically(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def get(self, uri: str, expected_hash: str, *, label: str) -> bytes:
        """The verified bytes at ``uri``; ArtifactIntegrityError naming ``label`` when missing or modified."""
        path = self.path_for(uri)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ArtifactIntegrityError(
                f"artifact {label} is missing from the store (expected sha256 {expected_hash} at {path})"
            ) from None
        found = content_hash(data)
        if found != expected_hash:
            raise ArtifactIntegrityError(
                f"artifact {label} was modified: expected sha256 {expected_hash}, found {found} at {path}; "
                "refusing to load it"
            )
        return data

    def check(self, uri: str, expected_hash: str) -> str:
        """``ok``, ``missing``, ``corrupt`` or ``bad-uri`` for one recorded artifact."""
        try:
            path = self.path_for(uri)
        except ArtifactIntegrityError:
            return "bad-uri"
        if not path.is_file():
            return "missing"
        return "ok" if file_hash(path) == expected_hash else "corrupt"
