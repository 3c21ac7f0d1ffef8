"""Signing keys and checkpoint files on this machine (``modelog keys``, ``log checkpoint --out``).

Keys never enter the registry: the private key file stays with whoever appends (the server, or a
local writer with ``MODELOG_SIGNING_KEY``); the public key and the checkpoints go to auditors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from modelog.registry.checkpoints import Checkpoint, parse_checkpoint
from modelog.registry.database import registry_home
from modelog.registry.errors import InvalidInputError
from modelog.registry.signing import SIGNING_KEY_ENV, PublicKey, generate_key_file, public_key_of

#: The private key file ``modelog keys generate`` writes when given no ``--out``.
DEFAULT_KEY_NAME = "signing-key.pem"


@dataclass(frozen=True)
class GeneratedKey:
    """A key pair just made: where the private key and the public key were written, and the public key."""

    private_key_file: Path
    public_key_file: Path
    public_key: PublicKey


def default_key_path() -> Path:
    """``$MODELOG_HOME/signing-key.pem``."""
    return registry_home() / DEFAULT_KEY_NAME


def generate_signing_key(out: Path | None = None) -> GeneratedKey:
    """Write a new private key to ``out`` (mode 0600) and its public key to ``out`` + ``.pub``; neither may exist."""
    private = out if out is not None else default_key_path()
    public = private.with_name(private.name + ".pub")
    for path in (private, public):
        if path.exists() or path.is_symlink():
            raise InvalidInputError(f"{os.fspath(path)!r} already exists; a key file is never overwritten")
    if out is None:
        private.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key_file(private)
    try:
        descriptor = os.open(public, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key.pem())
    except OSError as error:
        private.unlink(missing_ok=True)
        raise InvalidInputError(f"cannot write {os.fspath(public)!r}: {error.strerror or error}") from None
    return GeneratedKey(private, public, key)


def configured_public_key(path: Path | None = None) -> tuple[Path, PublicKey]:
    """The private key file ``path`` (default: ``$MODELOG_SIGNING_KEY``) and its public key."""
    if path is None:
        named = os.environ.get(SIGNING_KEY_ENV, "").strip()
        if not named:
            raise InvalidInputError(f"no key file given and {SIGNING_KEY_ENV} is not set")
        path = Path(named)
    return path, public_key_of(path)


def save_checkpoint(checkpoint: Checkpoint, path: Path) -> None:
    """Write ``checkpoint`` as one JSON line to ``path``, which must not exist yet."""
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(checkpoint.to_json() + "\n")
    except FileExistsError:
        raise InvalidInputError(f"{os.fspath(path)!r} already exists; a checkpoint file is never overwritten") from None
    except OSError as error:
        raise InvalidInputError(f"cannot write {os.fspath(path)!r}: {error.strerror or error}") from None


def load_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint in the file ``path``; InvalidInputError (one line) if it cannot be read or is not one."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise InvalidInputError(f"cannot read the checkpoint file {os.fspath(path)!r}: "
                                f"{error.strerror or error}") from None
    return parse_checkpoint(text, f"checkpoint file {os.fspath(path)!r}")
