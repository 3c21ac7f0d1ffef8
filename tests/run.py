"""The whole suite in two pytest processes side by side: the README's test command.

One process runs every PostgreSQL test (``-k postgres``: the ``[postgres]`` leg of each backend-parametrised
test and the PostgreSQL-only files) on the database ``MODELOG_TEST_POSTGRES_URL`` names; the other runs
everything else on SQLite (``MODELOG_TEST_BACKENDS=sqlite``, ``-k "not postgres or sqlite"``), with a
PostgreSQL database of its own for the few tests that reach the server outside the ``backend`` parameter
(created and dropped by tests/backends.py). Each test runs in one of the two (one test named for both
backends runs in each, on its own database); the PostgreSQL tests never overlap (they share one database),
and the two processes share the machine's cores: the suite takes a little over half the time of one
``python -m pytest`` (which still works, and is what to run for a single file). Both outputs are printed
whole, one after the other; the exit status is the worse of the two.

Usage: ``python -m tests.run [pytest arguments]`` (the arguments go to both processes).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def _legs(extra: list[str]) -> list[tuple[str, dict[str, str], list[str]]]:
    base = {k: v for k, v in os.environ.items() if k != "MODELOG_TEST_BACKENDS"}
    postgres = {**base, "MODELOG_TEST_BACKENDS": "postgres"}
    sqlite = {k: v for k, v in base.items() if k != "MODELOG_TEST_POSTGRES_URL"}
    sqlite["MODELOG_TEST_BACKENDS"] = "sqlite"
    return [("PostgreSQL", postgres, ["-k", "postgres", *extra]),
            # "or sqlite": a test named for PostgreSQL still has its [sqlite] leg here (and the one test named for
            # both, an export from SQLite imported into PostgreSQL, runs in each leg on its own database)
            ("SQLite and the rest", sqlite, ["-k", "not postgres or sqlite", *extra])]


def main(argv: list[str]) -> int:
    """Run both legs at once; print their outputs; the worse exit status (5, nothing collected, counts as 0)."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="modelog-tests-") as folder:
        running = []
        for name, env, args in _legs(argv):
            out = Path(folder) / f"{len(running)}.log"
            with out.open("wb") as sink:
                proc = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=root, env=env,
                                        stdout=sink, stderr=subprocess.STDOUT)
            running.append((name, proc, out))
        codes = []
        for name, proc, out in running:
            code = proc.wait()
            sys.stdout.write(f"\n===== {name} (exit {code}) =====\n")
            sys.stdout.write(out.read_text(errors="replace"))
            sys.stdout.flush()
            codes.append(0 if code == 5 else code)
    return max(codes)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
