"""The built wheel provides exactly one import package, ``modelog`` (plus its dist-info)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tracked_copy(target: Path) -> Path:
    """The repository's tracked and new files, copied (a build writes build/ and *.egg-info beside them)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_wheel_has_exactly_one_top_level_package(tmp_path: Path) -> None:
    source = _tracked_copy(tmp_path / "src")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("modelog-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"modelog"}
    for expected in ("modelog/__init__.py", "modelog/py.typed", "modelog/registry/store.py",
                     "modelog/projections/queries.py", "modelog/sdk/client.py", "modelog/cli/main.py",
                     "modelog/registry/migrations/script.py.mako",
                     "modelog/registry/migrations/versions/0001_baseline.py",
                     # the web UI's code, templates and static files
                     "modelog/ui/app.py", "modelog/ui/templates/base.html", "modelog/ui/templates/model.html",
                     "modelog/ui/static/ui.css", "modelog/ui/static/ui.js"):
        assert expected in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "modelog = modelog.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
