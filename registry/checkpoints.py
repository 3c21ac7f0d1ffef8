"""Signed checkpoints: a statement "this log held HASH at POSITION at TIME", signed, for an auditor to keep.

An anchor (``registry.anchors``) must be written down by someone the auditor trusts; a checkpoint
carries its own proof: the signing key's signature over the position, the hash there, the hash of
the log's first event (which registry), the time and the key id. Checked later against the log, it
catches a log truncated below its position, and a log rewritten with every hash recomputed (the hash
at its position differs); a checkpoint of another registry is refused as such.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from modelog.registry.errors import InvalidInputError
from modelog.registry.hashing import canonical_json
from modelog.registry.recorder import Signer
from modelog.registry.signing import PublicKey, parse_public_key

#: The ``format`` field of every checkpoint this code writes and reads.
CHECKPOINT_FORMAT = "modelog-checkpoint/1"
#: What a checkpoint's signature signs, before the canonical JSON of its other fields.
CHECKPOINT_DOMAIN = b"modelog-checkpoint-v1\x00"
_FIELDS = {"format": str, "position": int, "hash": str, "first_hash": str, "time": str, "key_id": str,
           "public_key": str, "signature": str}
_MAX_TEXT = 64 * 1024


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the log's hash at one position (and of its first event's hash, naming the log)."""

    position: int
    hash: str
    first_hash: str
    time: str
    key_id: str
    public_key: str
    signature: str

    def signed_body(self) -> bytes:
        """The bytes the signature covers: the domain prefix, then every field but the signature as canonical JSON."""
        body = {k: v for k, v in asdict(self).items() if k != "signature"}
        return CHECKPOINT_DOMAIN + canonical_json({"format": CHECKPOINT_FORMAT, **body}).encode("utf-8")

    def as_dict(self) -> dict[str, Any]:
        """The checkpoint as the JSON object ``modelog log checkpoint`` prints."""
        return {"format": CHECKPOINT_FORMAT, **asdict(self)}

    def to_json(self) -> str:
        """The checkpoint as one line of JSON (what an auditor stores)."""
        return json.dumps(self.as_dict(), sort_keys=True)


def make_checkpoint(position: int, digest: str, first_hash: str, time: str, signer: Signer) -> Checkpoint:
    """Sign a checkpoint of the log at ``position`` (whose hash is ``digest``)."""
    unsigned = Checkpoint(position, digest, first_hash, time, signer.key_id, signer.public_key.hex, "")
    signature = signer.sign(unsigned.signed_body()).hex()
    return Checkpoint(position, digest, first_hash, time, signer.key_id, signer.public_key.hex, signature)


def parse_checkpoint(text: str, source: str = "the checkpoint") -> Checkpoint:
    """A checkpoint from its JSON text; InvalidInputError (one line naming ``source``) for anything else."""
    if len(text) > _MAX_TEXT:
        raise InvalidInputError(f"{source} is too large to be a checkpoint")
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidInputError(f"{source} is not JSON (expected what 'modelog log checkpoint' prints)") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise InvalidInputError(f"{source} is not a modelog checkpoint (format {CHECKPOINT_FORMAT!r} expected)")
    if set(data) != set(_FIELDS):
        raise InvalidInputError(f"{source} has fields {sorted(data)}; a checkpoint has exactly {sorted(_FIELDS)}")
    for name, kind in _FIELDS.items():
        value = data[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InvalidInputError(f"{source}: field {name!r} must be a {kind.__name__}")
    if data["position"] < 1:
        raise InvalidInputError(f"{source}: position must be at least 1")
    return Checkpoint(data["position"], data["hash"], data["first_hash"], data["time"], data["key_id"],
                      data["public_key"], data["signature"])


def checkpoint_signer_key(checkpoint: Checkpoint, keys: Sequence[PublicKey]) -> tuple[PublicKey | None, str | None]:
    """The key that must have signed ``checkpoint`` and why it did not (None: the signature verifies).

    With ``keys`` (the auditor's), the checkpoint must name one of them; without, the key it carries
    is used, which proves only that the file is intact, not whose it is.
    """
    if keys:
        key = next((k for k in keys if k.key_id == checkpoint.key_id), None)
        if key is None:
            return None, (f"checkpoint at position {checkpoint.position} was signed by key {checkpoint.key_id[:32]}, "
                          f"not by the given public key ({', '.join(k.key_id for k in keys)})")
    else:
        try:
            key = parse_public_key(checkpoint.public_key, "the checkpoint's public key")
        except InvalidInputError as error:
            return None, str(error)
        if key.key_id != checkpoint.key_id:
            return None, f"checkpoint at position {checkpoint.position}: its key id does not match its public key"
    try:
        signature = bytes.fromhex(checkpoint.signature)
    except ValueError:
        signature = b""
    if len(signature) != 64 or not key.verifies(signature, checkpoint.signed_body()):
        return key, (f"checkpoint at position {checkpoint.position}: the signature does not verify with key "
                     f"{key.key_id} (the checkpoint was edited, or not made by that key)")
    return key, None


def check_checkpoint(checkpoint: Checkpoint, keys: Sequence[PublicKey], head: int,
                     hash_at: Callable[[int], str | None]) -> str | None:
    """Why the log (last position ``head``; ``hash_at(p)`` its hash at p) contradicts ``checkpoint``, or None."""
    _, problem = checkpoint_signer_key(checkpoint, keys)
    if problem:
        return problem
    if head >= 1 and hash_at(1) != checkpoint.first_hash:
        return (f"checkpoint at position {checkpoint.position} is not of this log: its first event's hash differs "
                "(a checkpoint of another registry, or this log was rewritten from its first event)")
    if checkpoint.position > head:
        return (f"checkpoint at position {checkpoint.position} is beyond the end of the log (last position {head}): "
                f"the log was truncated since the checkpoint was made ({checkpoint.time})")
    stored = hash_at(checkpoint.position)
    if stored != checkpoint.hash:
        held = "no event" if stored is None else f"hash {stored[:16]}..."
        return (f"checkpoint at position {checkpoint.position} does not match: the log holds {held}, the checkpoint "
                f"signed {checkpoint.hash[:16]}... on {checkpoint.time}: the log was rewritten since")
    return None
