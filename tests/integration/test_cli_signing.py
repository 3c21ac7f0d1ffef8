"""The signed log through the CLI (and a server): keys, signed appends, ``log verify --public-key``, checkpoints."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from modelog.registry.checkpoints import make_checkpoint
from modelog.registry.guards import install_guards
from modelog.registry.signing import KeyFileSigner
from sqlalchemy import text

from tests.cli_support import run
from tests.integration.test_cli_anchors import rewrite_and_rehash
from tests.integration.test_postgres_roles import forge_stage_change
from tests.server_support import MODELOG, serving


@pytest.fixture
def key(tmp_path: Path) -> Path:
    """A private key file (its public key beside it, ``.pub``), made by ``modelog keys generate``."""
    path = tmp_path / "keys" / "signing.pem"
    path.parent.mkdir()
    done = run("keys", "generate", "--out", str(path))
    assert done.exit_code == 0, done.output
    return path


@pytest.fixture
def signed(registry: Any, key: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Two unsigned events (before signing began), then model demo registered and updated with the key set."""
    assert run("principal", "add", "ops").exit_code == 0
    assert run("principal", "add", "ci").exit_code == 0
    monkeypatch.setenv("MODELOG_SIGNING_KEY", str(key))
    assert run("model", "register", "-n", "demo").exit_code == 0
    assert run("model", "update", "demo", "-d", "signed").exit_code == 0
    return registry


def _pub(key: Path) -> str:
    return f"{key}.pub"


def test_keys_generate_writes_a_private_file_and_its_public_key_once(tmp_path: Path, home: Path) -> None:
    out = tmp_path / "k.pem"
    made = run("keys", "generate", "--out", str(out), "-o", "json")
    assert made.exit_code == 0, made.output
    data = json.loads(made.stdout)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert Path(data["public_key_file"]).read_text() == data["public_key"]
    shown = run("keys", "public", str(out))
    assert (shown.exit_code, shown.stdout) == (0, data["public_key"])
    again = run("keys", "generate", "--out", str(out))
    assert (again.exit_code, again.stderr) == (1, f"Error: {str(out)!r} already exists; a key file is never "
                                                  "overwritten\n")
    default = run("keys", "generate")
    assert default.exit_code == 0 and (home / "signing-key.pem").is_file() and (home / "signing-key.pem.pub").is_file()
    broken = tmp_path / "broken.pem"
    broken.write_text("garbage")
    refused = run("keys", "public", str(broken))
    assert (refused.exit_code, refused.stderr.count("\n")) == (1, 1)
    assert "no unencrypted PEM private key" in refused.stderr


def test_every_event_since_signing_began_is_signed(signed: Any, key: Path) -> None:
    done = run("log", "verify", "--public-key", _pub(key))
    key_id = KeyFileSigner(key).key_id
    assert (done.exit_code, done.stdout) == (
        0, f"Log intact: 5 events, hash chain verified, 3 event(s) since position 3 signed by key {key_id}; 2 earlier "
           "event(s) predate signing.\n")
    data = json.loads(run("log", "verify", "--public-key", _pub(key), "-o", "json").stdout)
    assert (data["ok"], data["signed_from"], data["signatures_checked"], data["unsigned_before"]) == (True, 3, 3, 2)


def test_a_writer_without_the_key_is_refused_once_signing_began(signed: Any, key: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELOG_SIGNING_KEY")
    refused = run("model", "update", "demo", "-d", "no key")
    assert (refused.exit_code, refused.stderr) == (1, (
        "Error: refusing to append unsigned events: this registry's log is signed from position 3 on; set "
        "MODELOG_SIGNING_KEY to the signing key's file (or write through the server that holds it)\n"))
    assert json.loads(run("log", "head", "-o", "json").stdout)["position"] == 5  # nothing written
    assert run("log", "verify", "--public-key", _pub(key)).exit_code == 0
    status = json.loads(run("db", "status", "-o", "json").stdout)
    assert status["signing"] == "signed from position 3 on: every append needs MODELOG_SIGNING_KEY"


def test_an_unsigned_append_after_signing_began_is_named(signed: Any, key: Path, db_url: str) -> None:
    position = forge_stage_change(db_url, "demo", 1, "production", "mallory")  # a direct INSERT, no key
    done = run("log", "verify", "--public-key", _pub(key))
    assert done.exit_code == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"position {position}: unsigned (ModelVersionStageChanged on model-") and \
        lines[0].endswith("recorded actor 'mallory')")
    assert lines[1] == (f"Error: 1 event(s) since signing began (position 3) are not validly signed by key "
                        f"{KeyFileSigner(key).key_id}: appended by someone without the key, or tampered with")
    assert run("log", "verify").exit_code == 0  # the chain alone cannot tell


def test_the_wrong_public_key_and_a_bad_key_file_are_one_line(signed: Any, key: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    assert run("keys", "generate", "--out", str(other)).exit_code == 0
    wrong = run("log", "verify", "--public-key", _pub(other))
    assert wrong.exit_code == 1 and wrong.stderr.startswith("Error: no event of the log (5) carries a valid signature")
    both = run("log", "verify", "--public-key", _pub(other), "--public-key", _pub(key))
    assert both.exit_code == 0, both.output
    bad = run("log", "verify", "--public-key", str(key))  # the private key given by mistake
    assert (bad.exit_code, bad.stderr.count("\n")) == (1, 1) and "is a private key: give the public key" in bad.stderr


def test_a_rewritten_and_rehashed_log_breaks_the_signatures_from_the_rewrite_on(signed: Any, key: Path) -> None:
    rewrite_and_rehash(signed, 4)
    assert run("log", "verify").exit_code == 0
    done = run("log", "verify", "--public-key", _pub(key))
    assert done.exit_code == 1
    assert [line.split(" (")[0] for line in done.stderr.splitlines()[:-1]] == [
        f"position {p}: badly signed" for p in (4, 5)]


def test_a_checkpoint_verifies_and_catches_truncation_and_rehashing(signed: Any, key: Path, tmp_path: Path) -> None:
    out = tmp_path / "checkpoint.json"
    made = run("log", "checkpoint", "--out", str(out))
    assert made.exit_code == 0, made.output
    checkpoint = json.loads(out.read_text())
    assert (checkpoint["position"], checkpoint["key_id"]) == (5, KeyFileSigner(key).key_id)
    ok = run("log", "verify", "--checkpoint", str(out), "--public-key", _pub(key))
    assert ok.exit_code == 0 and "1 signed checkpoint(s) match" in ok.stdout
    assert run("log", "checkpoint", "--out", str(out)).exit_code == 1  # never over a file
    printed = json.loads(run("log", "checkpoint").stdout)
    assert printed["position"] == 5 and printed["format"] == "modelog-checkpoint/1"

    rewrite_and_rehash(signed, 2)
    rewritten = run("log", "verify", "--checkpoint", str(out))
    assert rewritten.exit_code == 1 and "checkpoint at position 5 does not match" in rewritten.stderr
    assert "the log was rewritten since" in rewritten.stderr


def test_a_truncated_log_is_caught_by_its_checkpoint(signed: Any, key: Path, tmp_path: Path) -> None:
    out = tmp_path / "checkpoint.json"
    assert run("log", "checkpoint", "--out", str(out)).exit_code == 0
    with signed.engine.begin() as conn:  # an owner: guards off, the tail and its signatures gone, guards back
        if conn.dialect.name == "sqlite":
            for name in ("events_no_delete", "event_signatures_no_delete"):
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            conn.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
            conn.execute(text("ALTER TABLE event_signatures DISABLE TRIGGER USER"))
        conn.execute(text("DELETE FROM event_signatures WHERE position > 3"))
        conn.execute(text("DELETE FROM events WHERE position > 3"))
        conn.execute(text("UPDATE view_checkpoints SET position = 3"))
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE events ENABLE TRIGGER USER"))
            conn.execute(text("ALTER TABLE event_signatures ENABLE TRIGGER USER"))
        install_guards(conn)
    assert run("log", "verify", "--public-key", _pub(key)).exit_code == 0  # signatures alone cannot see a truncation
    done = run("log", "verify", "--checkpoint", str(out), "--public-key", _pub(key))
    assert done.exit_code == 1
    assert done.stderr.startswith("Error: checkpoint at position 5 is beyond the end of the log (last position 3): "
                                  "the log was truncated since the checkpoint was made")


def test_a_tampered_foreign_or_unsigned_checkpoint_is_one_line(signed: Any, key: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    good = json.loads(run("log", "checkpoint").stdout)
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps({**good, "position": 4}))
    tampered = run("log", "verify", "--checkpoint", str(edited))
    assert tampered.exit_code == 1 and "the signature does not verify" in tampered.stderr
    foreign = tmp_path / "foreign.json"
    other_log = make_checkpoint(5, good["hash"], "ab" * 32, good["time"], KeyFileSigner(key))
    foreign.write_text(other_log.to_json())
    refused = run("log", "verify", "--checkpoint", str(foreign))
    assert refused.exit_code == 1 and "is not of this log" in refused.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{}")
    malformed = run("log", "verify", "--checkpoint", str(garbage))
    assert (malformed.exit_code, malformed.stderr.count("\n")) == (1, 1)
    assert "not a modelog checkpoint" in malformed.stderr
    monkeypatch.delenv("MODELOG_SIGNING_KEY")
    unsigned = run("log", "checkpoint")
    assert (unsigned.exit_code, unsigned.stderr) == (
        1, "Error: no signing key is configured: set MODELOG_SIGNING_KEY to the private key file ('modelog keys "
           "generate') to sign a checkpoint\n")


def test_the_server_signs_what_it_appends_and_verifies_remotely(db_url: str, tmp_path: Path, key: Path) -> None:
    with serving(db_url, tmp_path / "server-home", extra_env={"MODELOG_SIGNING_KEY": str(key)}) as server:
        env = server.client_env(tmp_path / "client")

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([str(MODELOG), *args], capture_output=True, text=True, env=env, timeout=120)

        assert cli("model", "register", "-n", "remote").returncode == 0
        verified = cli("log", "verify", "--public-key", _pub(key))
        assert verified.returncode == 0 and "signed by key" in verified.stdout, verified.stderr
        out = tmp_path / "remote-checkpoint.json"
        assert cli("log", "checkpoint", "--out", str(out)).returncode == 0
        checked = cli("log", "verify", "--checkpoint", str(out), "--public-key", _pub(key))
        assert checked.returncode == 0 and "1 signed checkpoint(s) match" in checked.stdout, checked.stderr
        local = {**env, "MODELOG_DATABASE_URL": db_url, "MODELOG_HOME": str(server.home)}
        local.pop("MODELOG_URL")
        behind = subprocess.run([str(MODELOG), "model", "update", "remote", "-d", "behind its back"], env=local,
                                capture_output=True, text=True, timeout=120)
        assert behind.returncode == 1 and "refusing to append unsigned events" in behind.stderr  # modelog stops it
        forge_stage_change(db_url, "remote", 1, "production", "mallory")  # a direct INSERT is named
        caught = cli("log", "verify", "--public-key", _pub(key))
        assert caught.returncode == 1 and "unsigned (ModelVersionStageChanged" in caught.stderr


def test_a_server_whose_key_cannot_be_read_does_not_start(db_url: str, tmp_path: Path) -> None:
    home = tmp_path / "server-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELOG_")}
    env.update(MODELOG_HOME=str(home), MODELOG_DATABASE_URL=db_url, MODELOG_SIGNING_KEY=str(tmp_path / "none.pem"))
    done = subprocess.run([str(MODELOG), "server", "--port", "1"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and done.stderr.startswith("Error: cannot read the signing key file") and (
        done.stderr.count("\n") == 1), done.stderr


def test_the_sdk_verifies_signatures_and_checkpoints(signed: Any, key: Path, home: Path) -> None:
    from modelog.registry.signing import read_public_key

    from modelog import Client

    public = read_public_key(_pub(key))
    with Client(home=home) as client:
        checkpoint = client.log_checkpoint()
        report = client.verify_log(public_keys=[public], checkpoints=[checkpoint])
        assert report.ok and (report.signed_from, report.checkpoints_checked) == (3, 1)
        client.update_model("demo", description="signed by the SDK too")
        assert client.verify_log(public_keys=[public]).signatures_checked == 4


def _clean(db_url: str) -> None:
    from sqlalchemy.engine import make_url

    confirm = ["-y"] if db_url.startswith("sqlite") else ["--database-name", str(make_url(db_url).database)]
    wiped = run("clean", *confirm)
    assert wiped.exit_code == 0, wiped.output


@pytest.mark.parametrize("log_only", [True, False], ids=["log-only", "bundle"])
def test_signatures_survive_export_clean_import(signed: Any, key: Path, db_url: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch, log_only: bool) -> None:
    file = tmp_path / ("registry.jsonl" if log_only else "registry.tar")
    assert run("export", *(["--log-only"] if log_only else []), str(file)).exit_code == 0
    monkeypatch.delenv("MODELOG_SIGNING_KEY")
    _clean(db_url)
    imported = run("import", str(file))  # no key needed: the signatures are stored as exported
    assert imported.exit_code == 0, imported.output
    done = run("log", "verify", "--public-key", _pub(key))
    assert done.exit_code == 0, done.output
    assert "3 event(s) since position 3 signed by key" in done.stdout
    refused = run("model", "update", "demo", "-d", "no key")  # the restored log is still signed from position 3
    assert refused.exit_code == 1 and "refusing to append unsigned events" in refused.stderr


def test_a_tampered_signature_in_an_export_is_named_after_import(signed: Any, key: Path, db_url: str,
                                                                  tmp_path: Path) -> None:
    file = tmp_path / "registry.jsonl"
    assert run("export", "--log-only", str(file)).exit_code == 0
    lines = file.read_text().splitlines(keepends=True)
    record = json.loads(lines[3])
    digits = record["signature"]["signature"]
    record["signature"]["signature"] = ("0" if digits[0] != "0" else "1") + digits[1:]
    lines[3] = json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n"
    file.write_text("".join(lines))
    _clean(db_url)
    assert run("import", str(file)).exit_code == 0
    done = run("log", "verify", "--public-key", _pub(key))
    assert done.exit_code == 1 and done.stderr.splitlines()[0].startswith("position 4: ")
    malformed = file.read_text().replace('"signature":"', '"signature":"zz', 1)
    file.write_text(malformed)
    _clean(db_url)
    refused = run("import", str(file))
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("Error: line 3: signature must be 128 lowercase hex digits")
    assert json.loads(run("log", "head", "-o", "json").stdout)["position"] == 0
