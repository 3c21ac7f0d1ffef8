"""Ed25519 signatures over the log: key files, the signer appends use, and the check of a whole log's signatures.

The hash chain has no secret: anyone who may insert into ``events`` can append a correctly hashed
event. A signature by a key that never enters the database closes that gap. Each appended event's
``(position, hash)`` is signed (the hash covers the previous hash and every stored field, so the
signature covers the event and everything before it) and the signature is stored beside the log,
in ``event_signatures``, in the same transaction as the event.

*Signing began* at the first position that carries a valid signature by one of the keys an auditor
names. Every event after it must carry one too: an unsigned event there (a forged append), a
signature by another key, or one that does not verify is named. Moving that start later would need
earlier events rewritten, which changes every later hash and breaks every later signature; a log
with no valid signature at all fails outright. (What signatures cannot prove: see docs/security.md.)

``cryptography`` is imported on first use only: a read command never loads it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from modelog.registry.errors import InvalidInputError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

#: The environment variable naming the private key file whoever appends signs with.
SIGNING_KEY_ENV = "MODELOG_SIGNING_KEY"
#: What an event's signature covers, after this prefix: ``POSITION:HASH`` (domain-separated from checkpoints).
EVENT_DOMAIN = b"modelog-event-signature-v1\x00"
#: How many problems a report names one by one (the rest are counted).
MAX_NAMED = 1000
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")  # DER SubjectPublicKeyInfo of an Ed25519 key
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----(.*?)-----END PUBLIC KEY-----", re.S)


def _missing_library() -> InvalidInputError:
    return InvalidInputError("signing needs the 'cryptography' package: pip install 'modelog[server]'")


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key (its 32 raw bytes) and its key id: the first 16 hex digits of their SHA-256."""

    raw: bytes

    @property
    def key_id(self) -> str:
        """A short, stable name of the key (stored beside every signature it made)."""
        return hashlib.sha256(self.raw).hexdigest()[:16]

    @property
    def hex(self) -> str:
        """The 32 raw bytes as 64 hex digits (how the API and checkpoints carry a key)."""
        return self.raw.hex()

    def pem(self) -> str:
        """The key as a PEM ``PUBLIC KEY`` block (what ``modelog keys generate`` writes)."""
        body = base64.b64encode(_SPKI_PREFIX + self.raw).decode("ascii")
        return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is this key's signature of ``message``."""
        try:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        except ImportError as error:
            raise _missing_library() from error
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def parse_public_key(text: str, source: str = "the public key") -> PublicKey:
    """A public key from a PEM ``PUBLIC KEY`` block or 64 hex digits; InvalidInputError naming ``source``."""
    stripped = text.strip()
    if _HEX64.fullmatch(stripped):
        return PublicKey(bytes.fromhex(stripped))
    match = _PEM.search(stripped)
    if match is None:
        if "PRIVATE KEY" in stripped:
            raise InvalidInputError(f"{source} is a private key: give the public key ('modelog keys public')")
        raise InvalidInputError(f"{source} is not an Ed25519 public key (a PEM PUBLIC KEY block or 64 hex digits)")
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{source} is not valid PEM (its base64 does not decode)") from None
    if len(der) != len(_SPKI_PREFIX) + 32 or not der.startswith(_SPKI_PREFIX):
        raise InvalidInputError(f"{source} is not an Ed25519 public key")
    return PublicKey(der[len(_SPKI_PREFIX):])


def read_public_key(path: str | os.PathLike[str]) -> PublicKey:
    """The public key in the file ``path``; InvalidInputError (one line) if it cannot be read or is not one."""
    return parse_public_key(_read_text(path, "public key file"), f"public key file {os.fspath(path)!r}")


def _read_text(path: str | os.PathLike[str], what: str, limit: int = 64 * 1024) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise InvalidInputError(f"cannot read the {what} {os.fspath(path)!r}: {error.strerror or error}") from None
    if len(data) > limit:
        raise InvalidInputError(f"the {what} {os.fspath(path)!r} is too large to be a key")
    return data.decode("utf-8", errors="replace")


def event_message(position: int, digest: str) -> bytes:
    """What an event's signature signs: the domain prefix, then ``POSITION:HASH``."""
    return EVENT_DOMAIN + f"{position}:{digest}".encode("ascii")


class KeyFileSigner:
    """Signs with the Ed25519 private key in a file (``MODELOG_SIGNING_KEY``), read on first use."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._key: Ed25519PrivateKey | None = None
        self._public: PublicKey | None = None

    def _private(self) -> Ed25519PrivateKey:
        if self._key is None:
            self._key, self._public = _load_private_key(self.path)
        return self._key

    @property
    def public_key(self) -> PublicKey:
        """The public half of the key (loading it if needed)."""
        self._private()
        assert self._public is not None  # set together with the private key
        return self._public

    @property
    def key_id(self) -> str:
        """The key's id, stored beside each signature."""
        return self.public_key.key_id

    def sign(self, message: bytes) -> bytes:
        """The 64-byte signature of ``message``."""
        return self._private().sign(message)

    def sign_event(self, position: int, digest: str) -> tuple[str, str]:
        """``(key_id, signature as hex)`` of the event at ``position`` whose hash is ``digest``."""
        return self.key_id, self._private().sign(event_message(position, digest)).hex()


def _load_private_key(path: str) -> tuple[Ed25519PrivateKey, PublicKey]:
    text = _read_text(path, f"signing key file ({SIGNING_KEY_ENV})")
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError as error:
        raise _missing_library() from error
    try:
        key = serialization.load_pem_private_key(text.encode("utf-8"), password=None)
    except (ValueError, TypeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InvalidInputError(f"the signing key file {path!r} ({SIGNING_KEY_ENV}) holds no unencrypted PEM "
                                f"private key ({reason}); make one with 'modelog keys generate'") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInputError(f"the signing key file {path!r} ({SIGNING_KEY_ENV}) is not an Ed25519 key")
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, PublicKey(raw)


def signer_from_environment() -> KeyFileSigner | None:
    """The signer ``MODELOG_SIGNING_KEY`` names (not read yet), or None when it is unset or empty."""
    path = os.environ.get(SIGNING_KEY_ENV, "").strip()
    return KeyFileSigner(path) if path else None


def generate_key_file(path: str | os.PathLike[str]) -> PublicKey:
    """Write a new Ed25519 private key to ``path`` (PEM, mode 0600; never over an existing file); its public key."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError as error:
        raise _missing_library() from error
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    target = Path(path)
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInputError(f"{os.fspath(target)!r} already exists; a key file is never overwritten") from None
    except OSError as error:
        raise InvalidInputError(f"cannot create {os.fspath(target)!r}: {error.strerror or error}") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return PublicKey(key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def public_key_of(path: str | os.PathLike[str]) -> PublicKey:
    """The public key of the private key file ``path``."""
    return KeyFileSigner(path).public_key


class SignedHash(NamedTuple):
    """An event's position and hash, with the signature stored for it (None, None: unsigned)."""

    position: int
    hash: str
    key_id: str | None
    signature: str | None


class SignatureProblem(NamedTuple):
    """A position that is not validly signed, and how."""

    position: int
    problem: str

    def __str__(self) -> str:
        return f"position {self.position}: {self.problem}"


@dataclass(frozen=True)
class SignatureReport:
    """Every event since signing began checked against the auditor's keys: intact, or which positions are not."""

    #: Events from the first validly signed one to the end.
    checked: int = 0
    #: The first position validly signed by one of the keys (None: none is).
    signed_from: int | None = None
    #: Events before signing began (appended before a key was configured).
    before: int = 0
    #: Events since signing began (or claiming one of the keys) that are unsigned, signed by another key or
    #: badly signed; the first ``MAX_NAMED`` are named in ``problems``.
    failures: int = 0
    problems: tuple[SignatureProblem, ...] = field(default_factory=tuple)
    key_ids: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every event since signing began is validly signed and some event is (or the log is empty)."""
        return self.failures == 0 and (self.signed_from is not None or self.before == 0)

    def summary(self) -> str:
        """One line: what was proven, or how much failed."""
        keys = ", ".join(self.key_ids)
        if self.signed_from is None and self.before:
            return (f"no event of the log ({self.before}) carries a valid signature by key {keys}: nothing proves "
                    "who appended it")
        if self.failures:
            return (f"{self.failures} event(s) since signing began (position {self.signed_from}) are not validly "
                    f"signed by key {keys}: appended by someone without the key, or tampered with")
        if self.signed_from is None:
            return "signatures: the log is empty"
        earlier = f"; {self.before} earlier event(s) predate signing" if self.before else ""
        return f"{self.checked} event(s) since position {self.signed_from} signed by key {keys}{earlier}"


def check_signatures(rows: Iterable[SignedHash], keys: Sequence[PublicKey]) -> SignatureReport:
    """Check ``rows`` (the whole log in position order, with their signatures) against ``keys`` (see module doc)."""
    if not keys:
        raise InvalidInputError("checking signatures needs at least one public key")
    by_id = {key.key_id: key for key in keys}
    signed_from: int | None = None
    checked = before = failures = 0
    problems: list[SignatureProblem] = []
    for row in rows:
        problem = _signature_problem(row, by_id)
        if signed_from is None:
            if problem is None:
                signed_from, checked = row.position, 1
                continue
            before += 1
            if row.key_id not in by_id:  # unsigned, or another key's, before signing began: not evidence
                continue
        else:
            checked += 1
            if problem is None:
                continue
        failures += 1
        if len(problems) < MAX_NAMED:
            problems.append(SignatureProblem(row.position, problem))
    return SignatureReport(checked, signed_from, before, failures, tuple(problems), tuple(sorted(by_id)))


def _signature_problem(row: SignedHash, keys: dict[str, PublicKey]) -> str | None:
    if row.key_id is None or row.signature is None:
        return "unsigned"
    key = keys.get(row.key_id)
    if key is None:
        return f"signed by another key ({row.key_id[:32]})"
    try:
        signature = bytes.fromhex(row.signature)
    except ValueError:
        signature = b""
    if len(signature) != 64 or not key.verifies(signature, event_message(row.position, row.hash)):
        return f"badly signed (the signature does not verify with key {key.key_id})"
    return None
