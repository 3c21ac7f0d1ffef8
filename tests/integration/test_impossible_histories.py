"""Impossible histories (issue 12.4): a file or a forged row the domain would never have appended.

Every file here has a valid hash chain (the hashes are recomputed after the edit), so only the
domain's rules can tell. Import refuses each with one line naming the first bad line and position
and writes nothing; ``modelog log verify --rules`` names a forged append that the chain check passes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from modelog.application.local import connect
from modelog.registry.hashing import GENESIS_HASH, canonical_json, chain_hash
from modelog.registry.schema import events as events_table
from modelog.registry.transfer import END_KEY
from sqlalchemy import create_engine, func, select

from tests.cli_support import run
from tests.log_support import Record, rechained


@pytest.fixture
def exported(registry: object, db_url: str, tmp_path: Path) -> list[Record]:
    """A model with version 1 in production and version 2 in staging, exported as JSON Lines records."""
    api = connect(db_url)
    try:
        api.register_model("demo")
        api.create_version("demo")
        api.create_version("demo", name="candidate")
        api.set_stage("demo", 1, "production")
        api.set_stage("demo", 2, "staging")
    finally:
        api.close()
    out = tmp_path / "log.jsonl"
    assert run("export", "--log-only", str(out)).exit_code == 0
    return [json.loads(line) for line in out.read_text().splitlines()][:-1]


def _write(records: list[Record], path: Path) -> Path:
    chained = rechained(records)
    end = {END_KEY: {"events": len(chained), "last_hash": chained[-1]["hash"] if chained else GENESIS_HASH}}
    path.write_text("".join(canonical_json(r) + "\n" for r in [*chained, end]))
    return path


def _find(records: list[Record], event_type: str, **data: Any) -> Record:
    return next(r for r in records if r["event_type"] == event_type
                and all(r["data"].get(k) == v for k, v in data.items()))


def _gap(records: list[Record]) -> str:
    last = _find(records, "ModelVersionStageChanged", number=2)
    last["stream_version"] += 1
    return f"jumps from version {last['stream_version'] - 2} to {last['stream_version']}"


def _two_production_holders(records: list[Record]) -> str:
    _find(records, "ModelVersionStageChanged", number=2)["data"]["to_stage"] = "production"
    return "has 2 production versions (1, 2 ('candidate')); at most one may hold it"


def _number_as_text(records: list[Record]) -> str:
    _find(records, "ModelVersionCreated", number=2)["data"]["number"] = "2"
    return "ModelVersionCreated data does not fit the event (number: Input should be a valid integer)"


def _number_skipped(records: list[Record]) -> str:
    created = _find(records, "ModelVersionCreated", number=2)
    created["data"]["number"] = 7
    created["data"]["name"] = "candidate"
    return "version number 7 is not the next one (2)"


def _invisible_name(records: list[Record]) -> str:
    _find(records, "ModelRegistered")["data"]["name"] = "de\u200bmo"
    return "model name contains the control or invisible character U+200B"


def _stage_from_elsewhere(records: list[Record]) -> str:
    _find(records, "ModelVersionStageChanged", number=1)["data"]["from_stage"] = "staging"
    return "version 1 is none, not staging"


def _event_in_the_wrong_stream(records: list[Record]) -> str:
    claimed = _find(records, "ModelNameClaimed")
    claimed["stream_id"] = "model-" + claimed["data"]["model_id"]
    return "ModelNameClaimed cannot be in a model stream"


ATTACKS: dict[str, Callable[[list[Record]], str]] = {
    "gap": _gap, "two-production": _two_production_holders, "number-as-text": _number_as_text,
    "number-skipped": _number_skipped, "invisible-name": _invisible_name, "stage-from": _stage_from_elsewhere,
    "wrong-stream": _event_in_the_wrong_stream,
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_import_refuses_an_impossible_history(exported: list[Record], tmp_path: Path, attack: str,
                                              db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    intact = _write([dict(r) for r in json.loads(json.dumps(exported))], tmp_path / "intact.jsonl")
    expected = ATTACKS[attack](exported)
    forged = _write(exported, tmp_path / "forged.jsonl")
    assert run("clean", "-y", "--no-backup", *_database_name(db_url)).exit_code == 0
    refused = run("import", str(forged))
    assert refused.exit_code == 1, refused.output
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("Error: line "), refused.stderr
    assert expected in refused.stderr and "; nothing was imported" in refused.stderr, refused.stderr
    assert run("log", "head").stdout.startswith("Log head: position 0")  # nothing written
    assert run("import", str(intact)).exit_code == 0  # the same file unedited imports


def _database_name(db_url: str) -> list[str]:
    return [] if db_url.startswith("sqlite") else ["--database-name", db_url.rsplit("/", 1)[1]]


def test_log_verify_rules_names_a_forged_append(exported: list[Record], db_url: str) -> None:
    """A row inserted with a valid hash (the chain check passes) that the domain would have refused."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            head = conn.execute(select(func.max(events_table.c.position))).scalar_one()
            last = conn.execute(select(events_table).where(events_table.c.position == head)).one()
            model = _find(exported, "ModelRegistered")["stream_id"]
            version = conn.execute(select(func.max(events_table.c.stream_version))
                                   .where(events_table.c.stream_id == model)).scalar_one()
            data = canonical_json({"number": 2, "from_stage": "staging", "to_stage": "production", "forced": False,
                                   "displaced_by": None})
            row = {"position": head + 1, "stream_id": model, "stream_version": version + 1,
                   "event_type": "ModelVersionStageChanged", "schema_version": 1, "data": data,
                   "meta": canonical_json({"actor": "mallory"}), "recorded_at": last.recorded_at,
                   "prev_hash": last.hash}
            row["hash"] = chain_hash(last.hash, head + 1, model, version + 1, row["event_type"], 1, data, row["meta"],
                                     row["recorded_at"])
            conn.execute(events_table.insert().values(**row))
    finally:
        engine.dispose()
    plain = run("log", "verify")
    assert plain.exit_code == 0, plain.output  # the chain is intact: only the rules can tell
    checked = run("log", "verify", "--rules")
    assert checked.exit_code == 1, checked.output
    assert checked.stderr == (f"Error: event at position {head + 1} breaks the domain's rules: "
                              f"ModelVersionStageChanged on {model}: model 'demo' has 2 production versions "
                              "(1, 2 ('candidate')); at most one may hold it (a command could never have appended "
                              "it: forged or imported unchecked)\n")


def test_log_verify_rules_passes_a_log_written_by_commands(exported: list[Record]) -> None:
    result = run("log", "verify", "--rules")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(f"{len(exported)} events obey the domain's rules.\n")


@pytest.mark.parametrize("parallel", [False, True])
def test_the_checking_process_judges_with_the_state_of_every_earlier_line(
        exported: list[Record], tmp_path: Path, parallel: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large file's later lines are judged in the second process; it replays the lines judged here first."""
    from modelog.application.bootstrap import open_registry
    from modelog.registry import transfer
    from modelog.registry.errors import IntegrityError

    monkeypatch.setattr(transfer, "CHUNK_LINES", 2)
    monkeypatch.setattr(transfer, "CHUNKS_BEFORE_WORKER", 1)  # lines 1-2 here, the rest in the worker
    expected = _two_production_holders(exported)  # version 1's promotion is early, version 2's is the last line
    forged = _write(exported, tmp_path / "forged.jsonl")
    target = open_registry(f"sqlite:///{tmp_path / 'target.db'}", home=tmp_path / "home")
    try:
        with forged.open() as source, pytest.raises(IntegrityError, match=expected.replace("(", r"\(")
                                                    .replace(")", r"\)")):
            transfer.import_log(target.store, source, parallel=parallel)
        assert target.store.head() == 0
    finally:
        target.close()
