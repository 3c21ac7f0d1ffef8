"""The content-addressed artifact store: one file per distinct content, named by its SHA-256.

No path is ever built from user text: a file's location is derived from its hash alone,
and recorded URIs are checked against that shape before use. Writes go to a temporary
file in the target directory and are renamed into place, so a reader never sees half a
file; files are created with the process's umask (teammates sharing the directory can read
them). Reads open only regular files that stay inside the store (a symlink out of it, or to
a device, is refused), hash while they stream, and never read more than the file's size:
the hash is verified before anything is deserialised.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlparse

from modelog.registry.errors import ArtifactIntegrityError, InvalidInputError

STORE_ENV = "MODELOG_ARTIFACT_STORE"
_URI = re.compile(r"^sha256/([0-9a-f]{2})/([0-9a-f]{64})$")
_CHUNK = 1 << 20
#: Bits a new file may have before the umask removes some (what ``open(path, "w")`` uses).
_FILE_MODE = 0o666


def content_hash(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def file_hash(path: Path) -> str:
    """The hex SHA-256 of a regular file, read in chunks (never more than its size)."""
    handle, size = _open_regular(path)
    with handle:
        digest = hashlib.sha256()
        for chunk in _chunks(handle, size):
            digest.update(chunk)
    return digest.hexdigest()


def uri_for(digest: str) -> str:
    """The store-relative location of the content with SHA-256 ``digest``."""
    return f"sha256/{digest[:2]}/{digest}"


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


class NotARegularFile(OSError):
    """The path is a device, a directory, a pipe or a symlink to one: never read as artifact content."""


def _open_regular(path: Path) -> tuple[IO[bytes], int]:
    """``path`` opened for reading, with its size, if it is a regular file (checked on the open file)."""
    # O_NONBLOCK: opening a FIFO put in the store must not wait for a writer; no effect on regular files.
    handle = os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb")
    info = os.fstat(handle.fileno())
    if not stat.S_ISREG(info.st_mode):
        handle.close()
        raise NotARegularFile(f"{path} is not a regular file")
    return handle, info.st_size


def _chunks(handle: IO[bytes], size: int) -> Iterator[bytes]:
    """The file's bytes in chunks, at most ``size`` of them (a file that grows is cut, and then fails its hash)."""
    left = size
    while left > 0:
        chunk = handle.read(min(_CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def read_chunks(handle: IO[bytes], size: int) -> Iterator[bytes]:
    """A store file's bytes in chunks of at most 1 MiB, never more than ``size`` of them in all."""
    return _chunks(handle, size)


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

    def inside(self, path: Path) -> bool:
        """True when ``path``, with every symlink followed, is still inside the store's root."""
        return path.resolve().is_relative_to(self.root.resolve())

    def put(self, data: bytes, *, digest: str | None = None) -> StoredBlob:
        """Store ``data`` (once per distinct content, fsynced before it is renamed into place) and return its
        location; ``digest`` is the SHA-256 the caller has just computed from these very bytes (hashed once)."""
        digest = digest or content_hash(data)
        uri = uri_for(digest)
        if self.check(uri, digest) != "ok":
            self._write_atomically(self.path_for(uri), [data])
        return StoredBlob(uri, digest, len(data))

    def put_stream(self, source: IO[bytes], size: int, expected_hash: str, *, label: str) -> bool:
        """Copy ``size`` bytes of ``source`` in as the content ``expected_hash``, hashing while streaming.

        Refuses (ArtifactIntegrityError naming ``label``, nothing left behind) when the bytes do not
        hash to ``expected_hash``. Returns True when a file was written, False when the store held it.
        """
        uri = uri_for(expected_hash)
        path = self.path_for(uri)
        if self.check(uri, expected_hash) == "ok":
            return False
        digest = hashlib.sha256()

        def chunks() -> Iterator[bytes]:
            for chunk in _chunks(source, size):
                digest.update(chunk)
                yield chunk

        def verified() -> None:
            if digest.hexdigest() != expected_hash:
                raise ArtifactIntegrityError(f"artifact {label} does not match its hash: expected sha256 "
                                             f"{expected_hash}, found {digest.hexdigest()}")

        self._write_atomically(path, chunks(), before_rename=verified)
        return True

    def _write_atomically(self, path: Path, chunks: Iterable[bytes],
                          before_rename: Callable[[], None] | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.inside(path.parent):
            raise ArtifactIntegrityError(f"{path.parent} is a link that leaves the store {self.root}; "
                                         "refusing to write there")
        temp = path.parent / f".tmp-{secrets.token_hex(8)}"
        # os.open with 0o666 lets the umask decide who may read the file (mkstemp would force 0600).
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), _FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            if before_rename is not None:
                before_rename()
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def open_content(self, uri: str, *, label: str) -> tuple[IO[bytes], int]:
        """The file of ``uri`` opened for reading, and its size; ArtifactIntegrityError naming ``label`` when it
        is missing, a link that leaves the store, or not a regular file. The caller closes it."""
        path = self.path_for(uri)
        if not self.inside(path):
            raise ArtifactIntegrityError(f"artifact {label} at {path} is a link that leaves the store "
                                         f"{self.root}; refusing to read it")
        try:
            return _open_regular(path)
        except FileNotFoundError:
            raise ArtifactIntegrityError(f"artifact {label} is missing from the store (at {path})") from None
        except NotARegularFile:
            raise ArtifactIntegrityError(f"artifact {label} at {path} is not a regular file; refusing to read it"
                                         ) from None

    def get(self, uri: str, expected_hash: str, *, label: str) -> bytes:
        """The verified bytes at ``uri``; ArtifactIntegrityError naming ``label`` when missing or modified."""
        try:
            handle, size = self.open_content(uri, label=label)
        except ArtifactIntegrityError as error:
            raise ArtifactIntegrityError(f"{error} (expected sha256 {expected_hash}); refusing to load it"
                                         ) from None
        digest, parts = hashlib.sha256(), []
        with handle:
            for chunk in _chunks(handle, size):
                digest.update(chunk)
                parts.append(chunk)
        found = digest.hexdigest()
        if found != expected_hash:
            raise ArtifactIntegrityError(
                f"artifact {label} was modified: expected sha256 {expected_hash}, found {found} at "
                f"{self.path_for(uri)}; refusing to load it"
            )
        return b"".join(parts)

    def check(self, uri: str, expected_hash: str) -> str:
        """``ok``, ``missing``, ``corrupt``, ``bad-uri``, ``outside-store`` or ``not-a-file`` for one artifact."""
        try:
            path = self.path_for(uri)
        except ArtifactIntegrityError:
            return "bad-uri"
        if not path.exists():
            return "missing"
        if not self.inside(path):
            return "outside-store"
        try:
            return "ok" if file_hash(path) == expected_hash else "corrupt"
        except NotARegularFile:
            return "not-a-file"
        except FileNotFoundError:
            return "missing"
