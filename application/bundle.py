"""Bundles: the whole log plus every artifact file it refers to, in one tar file (export, backup, restore).

Layout: ``modelog-bundle.json`` (format, version, counts), ``log.jsonl`` (exactly what ``modelog
export --log-only`` writes: JSON Lines and its end record) and ``artifacts/sha256/<xx>/<hash>``, one
member per distinct content the log refers to. Export hashes every file while it streams it into
the bundle and refuses one that does not match the log. Import takes a bundle or a log-only file
(detected), checks every artifact's hash while copying it into the configured store, and is all or
nothing: when anything fails, the files it added to the store are removed and the log stays empty.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from modelog.application.api import Progress
from modelog.application.artifact_log import ARTIFACT_STORED
from modelog.registry.artifact_store import ArtifactStore, uri_for
from modelog.registry.errors import ArtifactIntegrityError, ConflictError, InvalidInputError
from modelog.registry.store import EventStore
from modelog.registry.transfer import export_log, import_log

if TYPE_CHECKING:
    from modelog.application.api import RegistryAPI

MANIFEST = "modelog-bundle.json"
LOG_MEMBER = "log.jsonl"
FORMAT, VERSION = "modelog-bundle", 1
#: Where a tar header holds its format magic (POSIX ustar, and the PAX format written here).
_TAR_MAGIC_START, _TAR_MAGIC_END = 257, 262
_ARTIFACT_MEMBER = re.compile(r"^artifacts/sha256/([0-9a-f]{2})/([0-9a-f]{64})$")


@dataclass(frozen=True)
class Transferred:
    """What an export or import carried: events, and artifact files (0 for a log-only file)."""

    events: int
    artifacts: int
    bundle: bool


def _log(message: str, **fields: int) -> None:
    from modelog.registry.logs import get_logger  # structlog loads asyncio: only once there is work to log

    get_logger("modelog.bundle").info(message, **fields)


def referenced_artifacts(lines: IO[bytes]) -> dict[str, str]:
    """content hash -> location of every artifact version an exported log records (``ArtifactVersionStored``)."""
    found: dict[str, str] = {}
    marker = ARTIFACT_STORED.encode()
    for line in lines:
        if marker not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the log import refuses it, naming the line
        if isinstance(record, dict) and record.get("event_type") == ARTIFACT_STORED:
            data = record.get("data") or {}
            found[str(data.get("content_hash"))] = str(data.get("uri"))
    return found


class _Hashing(io.RawIOBase):
    """Reads ``source`` through, hashing what passes (tarfile copies exactly the member's size)."""

    def __init__(self, source: IO[bytes]) -> None:
        super().__init__()
        self.source, self.digest = source, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.source.read(size)
        self.digest.update(chunk)
        return chunk


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _add_artifact(tar: tarfile.TarFile, files: ArtifactStore, digest: str, uri: str) -> None:
    handle, size = files.open_content(uri, label=f"file {uri}")
    with handle:
        info = tarfile.TarInfo(f"artifacts/{uri_for(digest)}")
        info.size, info.mode = size, 0o644
        reader = _Hashing(handle)
        try:
            tar.addfile(info, reader)
        except OSError as error:  # the file shrank while it was copied
            raise ArtifactIntegrityError(f"artifact file {uri} changed while it was exported ({error})") from None
    if reader.digest.hexdigest() != digest:
        raise ArtifactIntegrityError(f"artifact file {uri} does not match the log: expected sha256 {digest}, "
                                     f"found {reader.digest.hexdigest()}; nothing was exported")


def export_bundle(store: EventStore, files: ArtifactStore, out: IO[bytes], progress: Progress | None = None
                  ) -> Transferred:
    """Write the log and every artifact file it refers to (each verified while copied) to ``out`` as a tar."""
    with tempfile.TemporaryFile() as spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="\n")
        events = export_log(store, text, progress)
        text.flush()
        text.detach()
        size = spool.tell()
        spool.seek(0)
        referenced = referenced_artifacts(spool)
        spool.seek(0)
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            manifest = {"format": FORMAT, "version": VERSION, "events": events, "artifacts": len(referenced)}
            _add_bytes(tar, MANIFEST, json.dumps(manifest).encode())
            info = tarfile.TarInfo(LOG_MEMBER)
            info.size, info.mode = size, 0o644
            tar.addfile(info, spool)
            for digest in sorted(referenced):
                _add_artifact(tar, files, digest, referenced[digest])
    _log("bundle exported", events=events, artifacts=len(referenced))
    return Transferred(events, len(referenced), bundle=True)


def is_bundle(source: IO[bytes]) -> bool:
    """True when ``source`` (seekable, left at its start) is a tar file (``ustar`` magic) rather than JSON Lines."""
    start = source.tell()
    try:
        header = source.read(_TAR_MAGIC_END)
    finally:
        source.seek(start)
    return header[_TAR_MAGIC_START:_TAR_MAGIC_END] == b"ustar"


def import_any(store: EventStore, files: ArtifactStore, source: IO[bytes], progress: Progress | None = None
               ) -> Transferred:
    """Import a bundle or a log-only export (detected) into an empty registry; all or nothing."""
    if not is_bundle(source):
        text = io.TextIOWrapper(source, encoding="utf-8")
        return Transferred(import_log(store, text, progress), 0, bundle=False)
    try:
        with tarfile.open(fileobj=source, mode="r:") as tar:
            return _import_bundle(store, files, tar, progress)
    except tarfile.TarError:
        raise InvalidInputError("the bundle is damaged or cut short (not a readable tar file); nothing was imported"
                                ) from None


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    try:
        handle = tar.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise InvalidInputError(f"the bundle has no complete {name}: it is cut short or not a modelog bundle; "
                                "nothing was imported")
    return handle


def _check_manifest(tar: tarfile.TarFile) -> None:
    try:
        manifest = json.loads(_member(tar, MANIFEST).read())
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInputError(f"the bundle's {MANIFEST} is not a modelog bundle manifest; nothing was imported")
    if manifest.get("version") != VERSION:
        raise InvalidInputError(f"bundle format version {manifest.get('version')!r} is not supported (this modelog "
                                f"reads version {VERSION}); nothing was imported")


def _artifact_members(tar: tarfile.TarFile) -> Iterator[tuple[tarfile.TarInfo, str]]:
    for member in tar.getmembers():
        if member.name in (MANIFEST, LOG_MEMBER):
            continue
        match = _ARTIFACT_MEMBER.match(member.name)
        if match is None or not member.isreg() or match.group(2)[:2] != match.group(1):
            raise InvalidInputError(f"the bundle holds an unexpected member {member.name!r}; nothing was imported")
        yield member, match.group(2)


def _copy_in(files: ArtifactStore, source: IO[bytes], member: tarfile.TarInfo, digest: str) -> bool:
    try:
        return files.put_stream(source, member.size, digest, label=f"file {member.name} of the bundle")
    except ArtifactIntegrityError as error:
        raise ArtifactIntegrityError(f"{error}; nothing was imported") from None


def _import_bundle(store: EventStore, files: ArtifactStore, tar: tarfile.TarFile, progress: Progress | None
                   ) -> Transferred:
    _check_manifest(tar)
    if store.head() != 0:
        raise ConflictError("the registry is not empty; import only into a new registry")
    referenced = referenced_artifacts(_member(tar, LOG_MEMBER))
    created: list[Path] = []
    try:
        for member, digest in _artifact_members(tar):
            if digest in referenced and _copy_in(files, _member(tar, member.name), member, digest):
                created.append(files.path_for(uri_for(digest)))
        missing = sorted(uri for digest, uri in referenced.items() if files.check(uri, digest) != "ok")
        if missing:
            raise ArtifactIntegrityError(f"the bundle lacks {len(missing)} artifact file(s) the log refers to "
                                         f"(first: {missing[0]}); nothing was imported")
        text = io.TextIOWrapper(_member(tar, LOG_MEMBER), encoding="utf-8")
        events = import_log(store, text, progress)
    except BaseException:
        for path in created:  # content-addressed files this import added; the registry was empty
            path.unlink(missing_ok=True)
        raise
    _log("bundle imported", events=events, artifacts=len(referenced))
    return Transferred(events, len(referenced), bundle=True)


def export_to_path(api: RegistryAPI, path: Path, *, log_only: bool = False, progress: Progress | None = None
                   ) -> Transferred:
    """Export to ``path`` through a ``.partial`` file renamed into place: the file is whole or absent."""
    partial = path.with_name(path.name + ".partial")
    try:
        if log_only:
            with partial.open("w", encoding="utf-8") as text:
                done = Transferred(api.export_log(text, progress), 0, bundle=False)
        else:
            with partial.open("wb") as out:
                done = api.export_bundle(out, progress)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return done


def import_from_path(api: RegistryAPI, path: Path, progress: Progress | None = None) -> Transferred:
    """Import the bundle or log-only export at ``path`` (see :func:`import_any`)."""
    with path.open("rb") as source:
        return api.import_bundle(source, progress)
