"""Whole-process start-up times: the CLI beside bare Python, ``import click`` and the SQLAlchemy CLI floor.

Usage: python -m bench.cli_start EMPTY_HOME LARGE_DB_URL RUNS
Each command runs once to warm the page cache, then RUNS times; the median wall time is reported.
Also times the walkthrough's examples/model_control_plane/train.py end to end on a fresh home.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import MLFLOW_VENV, REPO, emit, median

BIN = Path(sys.executable).parent


def wall(argv: list[str], env: dict[str, str], cwd: Path = REPO) -> float:
    """Seconds one process takes from spawn to exit (fails loudly on a non-zero exit)."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return seconds


def median_wall(argv: list[str], env: dict[str, str], runs: int, cwd: Path = REPO) -> float:
    """Median seconds over ``runs`` after one warm-up run."""
    wall(argv, env, cwd)
    return median([wall(argv, env, cwd) for _ in range(runs)])


def commands(empty_home: str, large_url: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Label -> (argv, environment) of every process timed."""
    py, modelog = str(BIN / "python"), str(BIN / "modelog")
    base = {k: v for k, v in os.environ.items() if not k.startswith("MODELOG_")}
    empty = {**base, "MODELOG_HOME": empty_home}
    large = {**base, "MODELOG_HOME": empty_home, "MODELOG_DATABASE_URL": large_url}
    large_file = large_url.removeprefix("sqlite:///")
    found = {
        "python -c pass": ([py, "-c", "pass"], base),
        "python -c 'import click'": ([py, "-c", "import click"], base),
        "python -c 'import sqlalchemy'": ([py, "-c", "import sqlalchemy"], base),
        "sqlalchemy+click CLI floor (one SELECT)": ([py, "bench/cli_floor.py", large_file], base),
        "modelog --help": ([modelog, "--help"], empty),
        "modelog model list (empty)": ([modelog, "model", "list"], empty),
        "modelog model list (large)": ([modelog, "model", "list"], large),
        "modelog model version list demo (large)": ([modelog, "model", "version", "list", "demo"], large),
    }
    if (MLFLOW_VENV / "bin" / "mlflow").exists():
        found["mlflow --help"] = ([str(MLFLOW_VENV / "bin" / "mlflow"), "--help"], base)
    return found


def train_py(scratch: str, runs: int) -> float:
    """Median seconds of the walkthrough's train.py on a fresh registry home each time."""
    example = REPO / "examples" / "model_control_plane"
    times = []
    for i in range(runs + 1):
        home = Path(scratch) / f"train-{i}"
        shutil.rmtree(home, ignore_errors=True)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("MODELOG_")}, "MODELOG_HOME": str(home)}
        times.append(wall([str(BIN / "python"), "train.py"], env, example))
    return median(times[1:])


def main(empty_home: str, large_url: str, runs: int) -> dict[str, float]:
    """Median seconds of each command."""
    out = {label: median_wall(argv, env, runs) for label, (argv, env) in commands(empty_home, large_url).items()}
    out["examples/model_control_plane/train.py (fresh home)"] = train_py(empty_home + "-train", max(3, runs // 2))
    return out


if __name__ == "__main__":
    emit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
