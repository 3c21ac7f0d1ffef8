"""Static checks as part of the suite: ``ruff check`` and ``mypy --strict`` over the whole package.

mypy resolves ``modelog.<layer>`` through a link tree that mirrors the installed layout
(the layers' folders sit at the repository's top level and are mapped into ``modelog`` at install).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("registry", "projections", "application", "sdk", "server", "cli", "ui")
PACKAGE_FILES = ("__init__.py", "__main__.py", "py.typed")


def _link_tree(base: Path) -> Path:
    """``base/modelog`` laid out as installed: the package's own files and one link per layer folder."""
    package = base / "modelog"
    package.mkdir(parents=True, exist_ok=True)
    for name in (*PACKAGE_FILES, *LAYERS):
        source = ROOT / name if name in LAYERS else ROOT / "modelog" / name
        link = package / name
        if link.is_symlink() and link.resolve() == source.resolve():
            continue
        link.unlink(missing_ok=True)
        link.symlink_to(source, target_is_directory=source.is_dir())
    return base


def test_ruff_finds_nothing() -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_finds_nothing() -> None:
    base = _link_tree(ROOT / "build" / "typecheck")  # stable place, so mypy's cache stays valid between runs
    env = {**os.environ, "MYPYPATH": str(base)}
    done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                           "--cache-dir", str(ROOT / "build" / "mypy-cache"), "-p", "modelog"],
                          cwd=base, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
