"""Batched import and projections rebuild of a generated log, one measurement per process.

Usage: python -m bench.import_rebuild import|import-one-process|rebuild LOG.jsonl URL
``import`` imports LOG into the empty registry at URL (``registry.transfer.import_log``,
what ``modelog import`` runs; ``import-one-process`` checks every line in this process
instead of handing the checks of a large file to a second one); ``rebuild`` rebuilds the
read models of the registry at URL
(``projections.rebuild.rebuild``, what ``modelog projections rebuild`` runs). Prints events/s
and this process's peak RSS, so the memory of one import or rebuild is measured alone.
"""

from __future__ import annotations

import sys
import time

from bench.common import emit, peak_rss_mb


def do_import(log: str, url: str, parallel: bool | None = None) -> dict[str, float]:
    """Import ``log`` into ``url``."""
    from modelog.application.bootstrap import open_registry
    from modelog.registry.transfer import import_log

    registry = open_registry(url)
    base = peak_rss_mb()
    started = time.perf_counter()
    with open(log, encoding="utf-8") as source:
        count = import_log(registry.store, source, parallel=parallel)
    seconds = time.perf_counter() - started
    registry.close()
    return {"events": count, "seconds": seconds, "events_per_s": count / seconds, "peak_rss_mb": peak_rss_mb(),
            "rss_before_mb": base}


def do_rebuild(url: str) -> dict[str, float]:
    """Rebuild the read models of ``url``."""
    from modelog.application.bootstrap import open_registry
    from modelog.projections.rebuild import rebuild

    registry = open_registry(url)
    base = peak_rss_mb()
    report = rebuild(registry.engine, registry.store)
    registry.close()
    return {"events": report.events, "seconds": report.seconds, "events_per_s": report.rate,
            "peak_rss_mb": peak_rss_mb(), "rss_before_mb": base}


def main(argv: list[str]) -> None:
    """Entry point of the child process."""
    if argv[0] in ("import", "import-one-process"):
        emit(do_import(argv[1], argv[2], parallel=False if argv[0] == "import-one-process" else None))
    else:
        emit(do_rebuild(argv[-1]))


if __name__ == "__main__":
    main(sys.argv[1:])
