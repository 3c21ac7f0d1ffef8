"""Signing the log: key files, event signatures, the check of a whole log's signatures, signed checkpoints."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from modelog.registry.checkpoints import Checkpoint, check_checkpoint, make_checkpoint, parse_checkpoint
from modelog.registry.errors import InvalidInputError
from modelog.registry.memory import InMemoryRecorder
from modelog.registry.recorder import AppendRequest, NewEvent
from modelog.registry.signing import (
    KeyFileSigner,
    PublicKey,
    SignedHash,
    check_signatures,
    event_message,
    generate_key_file,
    parse_public_key,
    read_public_key,
)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key.pem"
    generate_key_file(path)
    return path


@pytest.fixture
def signer(key_file: Path) -> KeyFileSigner:
    return KeyFileSigner(key_file)


def _append(recorder: InMemoryRecorder, count: int, stream: str = "s-a") -> None:
    for i in range(count):
        recorder.append(stream, None, [NewEvent("ModelUpdated", 1, {"changes": {"description": f"d{i}"}})])


def test_a_generated_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    public = generate_key_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "PRIVATE KEY" in path.read_text()
    assert KeyFileSigner(path).public_key == public and len(public.key_id) == 16
    before = path.read_bytes()
    with pytest.raises(InvalidInputError, match="already exists; a key file is never overwritten"):
        generate_key_file(path)
    assert path.read_bytes() == before


def test_public_keys_parse_from_pem_or_hex_and_refuse_anything_else(signer: KeyFileSigner, tmp_path: Path) -> None:
    key = signer.public_key
    assert parse_public_key(key.pem()) == key == parse_public_key(key.hex)
    (tmp_path / "k.pub").write_text(key.pem())
    assert read_public_key(tmp_path / "k.pub") == key
    with pytest.raises(InvalidInputError, match="is a private key: give the public key"):
        parse_public_key(Path(signer.path).read_text(), "x")
    with pytest.raises(InvalidInputError, match="is not an Ed25519 public key"):
        parse_public_key("hello")
    with pytest.raises(InvalidInputError, match="cannot read the public key file"):
        read_public_key(tmp_path / "missing.pub")
    rsa_like = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VuAyEA" + "A" * 43 + "=\n-----END PUBLIC KEY-----\n"  # X25519
    with pytest.raises(InvalidInputError, match="not an Ed25519 public key"):
        parse_public_key(rsa_like)


def test_a_broken_key_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.pem"
    path.write_text("not a key")
    with pytest.raises(InvalidInputError, match="holds no unencrypted PEM private key"):
        KeyFileSigner(path).sign(b"x")
    with pytest.raises(InvalidInputError, match="cannot read the signing key file"):
        KeyFileSigner(tmp_path / "missing.pem").sign(b"x")


def test_signatures_cover_position_and_hash(signer: KeyFileSigner) -> None:
    key_id, signature = signer.sign_event(3, "ab" * 32)
    assert key_id == signer.key_id
    key = signer.public_key
    assert key.verifies(bytes.fromhex(signature), event_message(3, "ab" * 32))
    assert not key.verifies(bytes.fromhex(signature), event_message(4, "ab" * 32))
    assert not key.verifies(bytes.fromhex(signature), event_message(3, "cd" * 32))


def test_a_signing_recorder_signs_every_event_and_the_check_passes(signer: KeyFileSigner) -> None:
    recorder = InMemoryRecorder()
    _append(recorder, 2)  # before signing began
    recorder.signer = signer
    _append(recorder, 3)
    report = check_signatures(recorder.read_signed(), [signer.public_key])
    assert report.ok and (report.signed_from, report.checked, report.before) == (3, 3, 2)
    assert "3 event(s) since position 3 signed by key" in report.summary()


def test_unsigned_events_after_signing_began_are_named_each(signer: KeyFileSigner) -> None:
    recorder = InMemoryRecorder(signer=signer)
    _append(recorder, 2)
    recorder.signer = None  # a writer without the key (or a row inserted straight into the database)
    _append(recorder, 2)
    recorder.signer = signer
    _append(recorder, 1)
    report = check_signatures(recorder.read_signed(), [signer.public_key])
    assert not report.ok
    assert [str(p) for p in report.problems] == ["position 3: unsigned", "position 4: unsigned"]
    assert report.failures == 2 and report.signed_from == 1


def test_another_key_a_bad_signature_and_no_signature_at_all_fail(signer: KeyFileSigner, tmp_path: Path) -> None:
    other = KeyFileSigner(tmp_path / "other.pem")
    generate_key_file(other.path)
    key = signer.public_key
    rows = [SignedHash(1, "aa" * 32, *signer.sign_event(1, "aa" * 32)),
            SignedHash(2, "bb" * 32, *other.sign_event(2, "bb" * 32)),
            SignedHash(3, "cc" * 32, signer.key_id, signer.sign_event(4, "cc" * 32)[1]),
            SignedHash(4, "dd" * 32, signer.key_id, "zz")]
    report = check_signatures(rows, [key])
    assert [p.position for p in report.problems] == [2, 3, 4]
    assert report.problems[0].problem == f"signed by another key ({other.key_id})"
    assert "badly signed" in report.problems[1].problem and "badly signed" in report.problems[2].problem
    assert check_signatures(rows, [key, other.public_key]).failures == 2  # either key may sign
    nothing = check_signatures([SignedHash(1, "aa" * 32, None, None)], [key])
    assert not nothing.ok and "no event of the log (1) carries a valid signature" in nothing.summary()
    assert check_signatures([], [key]).ok  # an empty log
    with pytest.raises(InvalidInputError, match="at least one public key"):
        check_signatures(rows, [])


def test_a_rehashed_log_breaks_every_signature_from_the_rewrite_on(signer: KeyFileSigner) -> None:
    recorder = InMemoryRecorder(signer=signer)
    _append(recorder, 4)
    rows = list(recorder.read_signed())
    rewritten = rows[:2] + [row._replace(hash="ee" * 32) for row in rows[2:]]
    report = check_signatures(rewritten, [signer.public_key])
    assert [p.position for p in report.problems] == [3, 4]


def test_a_session_rolled_back_leaves_no_signature(signer: KeyFileSigner) -> None:
    recorder = InMemoryRecorder(signer=signer)
    _append(recorder, 1)
    with pytest.raises(RuntimeError), recorder.session() as session:
        session.append([AppendRequest("s-b", 0, [NewEvent("ModelUpdated", 1, {})])], {}, recorder.log_head())
        raise RuntimeError("fails after appending")
    assert [row.position for row in recorder.read_signed()] == [1]
    _append(recorder, 1)
    assert check_signatures(recorder.read_signed(), [signer.public_key]).ok


# --- checkpoints ---------------------------------------------------------------------


def _checkpoint(signer: KeyFileSigner, position: int = 5, digest: str = "ab" * 32) -> Checkpoint:
    return make_checkpoint(position, digest, "01" * 32, "2026-12-03T12:00:00.000000Z", signer)


def test_a_checkpoint_round_trips_and_matches_its_log(signer: KeyFileSigner) -> None:
    made = _checkpoint(signer)
    parsed = parse_checkpoint(made.to_json())
    assert parsed == made and json.loads(made.to_json())["format"] == "modelog-checkpoint/1"
    log = {1: "01" * 32, 5: "ab" * 32, 6: "cd" * 32}
    assert check_checkpoint(parsed, [signer.public_key], 6, log.get) is None
    assert check_checkpoint(parsed, [], 6, log.get) is None  # against the key it names


def test_a_checkpoint_catches_truncation_rewrites_and_another_registry(signer: KeyFileSigner) -> None:
    made = _checkpoint(signer)
    keys = [signer.public_key]
    truncated = check_checkpoint(made, keys, 4, {1: "01" * 32, 4: "x"}.get)
    assert truncated is not None and "beyond the end of the log (last position 4): the log was truncated" in truncated
    rewritten = check_checkpoint(made, keys, 6, {1: "01" * 32, 5: "ff" * 32}.get)
    assert rewritten is not None and "does not match: the log holds hash ffff" in rewritten
    foreign = check_checkpoint(made, keys, 9, {1: "99" * 32, 5: "ab" * 32}.get)
    assert foreign is not None and "is not of this log: its first event's hash differs" in foreign


def test_a_tampered_or_foreign_checkpoint_is_refused(signer: KeyFileSigner, tmp_path: Path) -> None:
    made = _checkpoint(signer)
    log = {1: "01" * 32, 5: "ab" * 32, 7: "ab" * 32}.get
    edited = replace(made, position=7)
    problem = check_checkpoint(edited, [signer.public_key], 7, log)
    assert problem is not None and "the signature does not verify" in problem
    other = KeyFileSigner(tmp_path / "other.pem")
    generate_key_file(other.path)
    wrong_key = check_checkpoint(made, [other.public_key], 7, log)
    assert wrong_key is not None and f"signed by key {signer.key_id}, not by the given public key" in wrong_key
    swapped = replace(made, public_key=other.public_key.hex)  # the key it names no longer matches its id
    assert "key id does not match" in (check_checkpoint(swapped, [], 7, log) or "")


@pytest.mark.parametrize("text, message", [
    ("nope", "is not JSON"),
    ("[]", "is not a modelog checkpoint"),
    ('{"format": "modelog-checkpoint/1"}', "a checkpoint has exactly"),
])
def test_malformed_checkpoints_are_one_line(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_checkpoint(text)


def test_checkpoint_fields_are_typed(signer: KeyFileSigner) -> None:
    data = _checkpoint(signer).as_dict()
    with pytest.raises(InvalidInputError, match="field 'position' must be a int"):
        parse_checkpoint(json.dumps({**data, "position": "5"}))
    with pytest.raises(InvalidInputError, match="position must be at least 1"):
        parse_checkpoint(json.dumps({**data, "position": 0}))


def test_public_key_equality_is_by_bytes() -> None:
    assert PublicKey(b"\x01" * 32) == PublicKey(b"\x01" * 32) != PublicKey(b"\x02" * 32)
