"""Shell completion against a large registry: whole ``modelog`` processes answering a TAB.

Usage: python -m bench.completion HOME RUNS
HOME holds a registry (e.g. 10,000 models imported from ``python -m bench.generate_log``). Each
completion runs once to warm the page cache, then RUNS times; reported are the median wall time
and the median CPU time (user + system) of the process, which a busy machine inflates less.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.common import median

MODELOG = Path(sys.executable).parent / "modelog"
#: Label -> the command line typed so far (the word being completed last).
LINES = {
    "model names (model show model-0001<TAB>)": "modelog model show model-0001",
    "version selectors (model version show demo <TAB>)": "modelog model version show demo ",
    "run ids (run show <TAB>)": "modelog run show ",
}


#: Processes timed alongside, for scale: the interpreter alone and the CLI's lightest command.
REFERENCES = {"python -c pass": [sys.executable, "-c", "pass"], "modelog --help": [str(MODELOG), "--help"]}


def one(line: str, home: str, argv: list[str] | None = None) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and candidate count of one completion process (or of ``argv``)."""
    words = line.split(" ")
    env = {**os.environ, "MODELOG_HOME": home, "_MODELOG_COMPLETE": "bash_complete", "COMP_WORDS": line,
           "COMP_CWORD": str(len(words) - 1)}
    env.pop("MODELOG_DATABASE_URL", None)
    env.pop("MODELOG_URL", None)
    if argv is not None:
        env.pop("_MODELOG_COMPLETE")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv or [str(MODELOG)], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, len(done.stdout.splitlines())


def main() -> None:
    """Print one JSON object per completion: median wall and CPU milliseconds, and how many candidates."""
    home, runs = sys.argv[1], int(sys.argv[2])
    timed = [(label, line, None) for label, line in LINES.items()]
    timed += [(label, "", argv) for label, argv in REFERENCES.items()]
    for label, line, argv in timed:
        one(line, home, argv)
        found = [one(line, home, argv) for _ in range(runs)]
        print(json.dumps({"completion": label, "wall_ms": round(median([f[0] for f in found]) * 1000, 1),
                          "cpu_ms": round(median([f[1] for f in found]) * 1000, 1), "candidates": found[0][2]}))


if __name__ == "__main__":
    main()
