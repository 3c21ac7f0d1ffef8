"""Bundles: ``modelog export`` / ``Client.export`` carry the log and every artifact file it refers to,
``import`` verifies each artifact while copying it into the configured store (all or nothing), and
``clean``'s backup is such a bundle. After export -> clean -> import, ``artifacts verify`` passes.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Annotated, Any

import pytest
from sqlalchemy.engine import make_url

from modelog import Client, ModelConfig, pipeline, step
from tests.cli_support import run


@step
def produce() -> tuple[Annotated[dict, "params"], Annotated[list, "rows"]]:
    return {"alpha": 0.5}, [1, 2, 3]


@pipeline(enable_cache=False, model_config=ModelConfig(name="bundled", create_new_model_version=True))
def make() -> None:
    produce()


@pytest.fixture
def filled(db_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A registry with one pipeline run (11 events; two artifact versions, two files); its URL."""
    monkeypatch.setenv("MODELOG_DATABASE_URL", db_url)
    with Client(db_url, home=home):
        make()
    return db_url


def _clean(url: str) -> None:
    confirm = ["-y"] if url.startswith("sqlite") else ["--database-name", str(make_url(url).database)]
    wiped = run("clean", *confirm)
    assert wiped.exit_code == 0, wiped.output


def _artifacts_ok() -> str:
    verified = run("artifacts", "verify")
    assert verified.exit_code == 0, verified.output
    return verified.stdout


def _members(file: Path) -> list[str]:
    with tarfile.open(file) as tar:
        return tar.getnames()


def test_cli_export_clean_import_restores_log_and_artifacts(filled: str, home: Path, tmp_path: Path) -> None:
    file = tmp_path / "registry.tar"
    exported = run("export", str(file))
    assert (exported.exit_code, exported.stdout) == (0, f"Exported 11 events and 2 artifact files to {file}.\n")
    names = _members(file)
    assert names[:2] == ["modelog-bundle.json", "log.jsonl"] and len(names) == 4
    assert all(n.startswith("artifacts/sha256/") for n in names[2:])
    _clean(filled)
    assert not (home / "artifacts").exists()
    broken = run("artifacts", "verify")
    assert broken.exit_code == 0 and "0 versions" in broken.stdout  # nothing left to check
    imported = run("import", str(file))
    assert imported.exit_code == 0, imported.output
    assert imported.stdout == (f"Imported 11 events and 2 artifact files from {file}; hash chain and artifact "
                               "hashes verified.\n")
    assert "Artifacts intact: 2 versions in 2 files match the log." in _artifacts_ok()
    with Client(filled, home=home) as client:
        assert client.get_model_version("bundled", 1).load_artifact("rows") == [1, 2, 3]


def test_clean_backup_is_a_bundle_that_restores_artifacts(filled: str, home: Path) -> None:
    _clean(filled)
    (backup,) = (home / "backups").glob("modelog-*.tar")
    assert sum(n.startswith("artifacts/") for n in _members(backup)) == 2
    assert run("import", str(backup)).exit_code == 0
    assert "2 versions in 2 files" in _artifacts_ok()


def test_sdk_export_clean_import_restores_artifacts(filled: str, home: Path, tmp_path: Path) -> None:
    file = tmp_path / "sdk.tar"
    with Client(filled, home=home) as client:
        assert client.export(file) == 11
        buffer = io.BytesIO()
        assert client.export(buffer) == 11 and tarfile.is_tarfile(io.BytesIO(buffer.getvalue()))
    _clean(filled)
    with Client(filled, home=home) as client:
        assert client.import_log(file) == 11
        report = client.verify_artifacts()
        assert report.ok and (report.checked, report.files) == (2, 2)
        assert client.get_model_version("bundled", 1).load_artifact("params") == {"alpha": 0.5}


def test_bundle_into_the_configured_store(filled: str, home: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "registry.tar"
    assert run("export", str(file)).exit_code == 0
    _clean(filled)
    shared = tmp_path / "shared-store"
    monkeypatch.setenv("MODELOG_ARTIFACT_STORE", str(shared))
    assert run("import", str(file)).exit_code == 0
    assert len(list(shared.glob("sha256/*/*"))) == 2 and not (home / "artifacts").exists()
    assert str(shared) in run("artifacts", "verify", "-o", "json").stdout
    _artifacts_ok()


def _rewrite(source: Path, target: Path, change: Any) -> None:
    """Copy a bundle member by member; ``change(name, data)`` returns new bytes, or None to drop the member."""
    with tarfile.open(source) as old, tarfile.open(target, "w") as new:
        for member in old.getmembers():
            handle = old.extractfile(member)
            data = change(member.name, handle.read() if handle else b"")
            if data is None:
                continue
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))


@pytest.mark.parametrize("attack", ["artifact edited", "artifact missing", "unexpected member", "log edited"])
def test_bad_bundle_imports_nothing(filled: str, home: Path, tmp_path: Path, attack: str) -> None:
    file, bad = tmp_path / "registry.tar", tmp_path / "bad.tar"
    assert run("export", str(file)).exit_code == 0
    first = next(n for n in _members(file) if n.startswith("artifacts/"))

    def change(name: str, data: bytes) -> bytes | None:
        if attack == "artifact edited" and name == first:
            return data + b"!"
        if attack == "artifact missing" and name == first:
            return None
        if attack == "unexpected member" and name == first:
            return data
        if attack == "log edited" and name == "log.jsonl":
            return data.replace(b'"bundled"', b'"evil"', 1)
        return data

    _rewrite(file, bad, change)
    if attack == "unexpected member":
        with tarfile.open(bad, "a") as tar:
            info = tarfile.TarInfo("../../escape")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    _clean(filled)
    result = run("import", str(bad))
    assert result.exit_code == 1, result.output
    line = result.stderr.strip()
    assert line.startswith("Error: ") and "\n" not in line and "nothing was imported" in line, line
    expected = {"artifact edited": "does not match its hash", "artifact missing": "lacks 1 artifact file",
                "unexpected member": "unexpected member '../../escape'",
                "log edited": "stored hash does not match"}[attack]
    assert expected in line, line
    assert run("log", "head", "-o", "json").stdout.count('"position": 0') == 1
    assert list((home / "artifacts").glob("sha256/*/*")) == [] if (home / "artifacts").exists() else True
    assert not (tmp_path / "escape").exists()


def test_export_refuses_a_corrupt_artifact_and_leaves_no_file(filled: str, home: Path, tmp_path: Path) -> None:
    (path,) = [p for p in (home / "artifacts").glob("sha256/*/*") if b"alpha" in p.read_bytes()]
    path.write_bytes(b'{"alpha": 9}')
    file = tmp_path / "registry.tar"
    result = run("export", str(file))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: artifact file sha256/") and "does not match the log" in result.stderr
    assert not file.exists() and not (tmp_path / "registry.tar.partial").exists()
    assert run("export", "--log-only", str(file)).exit_code == 0  # the log alone is still available


def test_cut_short_bundle_imports_nothing(filled: str, home: Path, tmp_path: Path) -> None:
    file, cut = tmp_path / "registry.tar", tmp_path / "cut.tar"
    assert run("export", str(file)).exit_code == 0
    data = file.read_bytes()
    with tarfile.open(file) as tar:
        last = tar.getmembers()[-1]
    inside_last_file = last.offset_data + last.size // 2
    _clean(filled)
    for size, expected in ((1500, "has no complete log.jsonl: it is cut short"), (inside_last_file, "cut short")):
        cut.write_bytes(data[:size])
        result = run("import", str(cut))
        assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
        assert expected in result.stderr and "nothing was imported" in result.stderr, result.stderr
        assert run("log", "head", "-o", "json").stdout.count('"position": 0') == 1
        assert not list((home / "artifacts").glob("sha256/*/*")) if (home / "artifacts").exists() else True
