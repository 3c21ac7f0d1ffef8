"""The ``ui`` section of ``python -m bench``: web UI pages served by ``modelog server`` (SQLite, one worker).

- the model page of a model with 1,000 versions and ~5,000 events (seeded through the command path);
- on the large generated registry (the ``import`` section's, ``--registry``, or one imported here from a
  generated log of ``--models`` models): the models page (one page of 50 of 10,000 models) and the model
  page as of a past position;
- page weight (HTML bytes, no images: the pages have none) and first contentful paint in headless Chromium.
Times are wall milliseconds measured by a keep-alive client on the same machine (so they include the
HTTP round trip), median and p95 of ``--runs`` x 10 fetches: computed (each fetch a new page-cache key, so
the answer is read and built every time: the targets apply to these), and repeated fetches at one log head,
answered from the UI's page cache (ui/cache.py) and rendered; the first fetch of each page on the fresh
server is reported too.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from bench.common import PY, scratch_dir, sqlite_url
from bench.generate_log import expected_events
from bench.servers import TOKEN_ENV, modelog_server, server_token

if TYPE_CHECKING:
    from bench.run import Bench

SECTION = "ui"
VERSIONS = 1000
TARGETS = {"model": "target <= 50 ms", "models": "target <= 30 ms", "past": "target <= 300 ms"}


def ui(bench: Bench, large_url: str, models: int) -> None:
    """The UI's figures (see the module's docstring)."""
    print(f"[{SECTION}] model page of {VERSIONS:,} versions; models page and as-of model page on "
          f"{expected_events(models, 10, 10):,} events", flush=True)
    url, home = sqlite_url(scratch_dir("ui_")), scratch_dir("uihome_") / "home"
    seeded, command = bench.child([PY, "-m", "bench.ui_bench", "seed-big", url, str(home), str(VERSIONS)])
    bench.add(SECTION, f"seeded model 'big': events in the log ({VERSIONS:,} versions)", float(seeded["events"]),
              "", command)
    with modelog_server(url, home) as server:
        env = {TOKEN_ENV: server_token(server) or ""}
        _pages(bench, server.url, env, {"model": "/ui/models/big", "model twin": "/ui/models/big.json"},
               f"{VERSIONS:,}-version model")
        _paint(bench, server.url, env, {"model": "/ui/models/big"}, f"{VERSIONS:,}-version model")
    large = large_url or _imported(bench, models)
    with modelog_server(large, scratch_dir("uilarge_") / "home") as server:
        env = {TOKEN_ENV: server_token(server) or ""}
        head = expected_events(models, 10, 10)
        _pages(bench, server.url, env, {"models": "/ui/models", "model": "/ui/models/demo",
                                        "past": f"/ui/models/demo?at_position={head // 2}",
                                        "past big": f"/ui/models/big?at_position={head // 2}"},
               f"{head:,}-event registry")
        _paint(bench, server.url, env, {"models": "/ui/models"}, f"{head:,}-event registry")


def _imported(bench: Bench, models: int) -> str:
    from bench.run import _generated_log

    log = _generated_log(bench, models)
    url = sqlite_url(scratch_dir("uiimport_"))
    result, command = bench.child([PY, "-m", "bench.import_rebuild", "import", str(log), url])
    print(f"  imported {result['events']:,} events in {result['seconds']:.0f} s: {command}", flush=True)
    return url


def _pages(bench: Bench, base: str, env: dict[str, str], paths: dict[str, str], where: str) -> None:
    rounds, command = [], ""
    for _ in range(bench.runs):
        found, command = bench.child([PY, "-m", "bench.ui_bench", "pages", base, "10", *paths.values()], env=env,
                                     shown_env=f"{TOKEN_ENV}=...")
        rounds.append(found)
    for label, path in paths.items():
        results: list[dict[str, Any]] = [r[path] for r in rounds]
        target = TARGETS.get(label.split()[0], "") if not label.endswith("twin") else ""
        bench.add(SECTION, f"{where}: GET {path} first fetch (computed)", float(results[0]["first_ms"]), "ms",
                  command, note="one fetch: the page's answer computed, not from the page cache")
        bench.add_median(SECTION, f"{where}: GET {path} median (computed)", results, "computed_median_ms", "ms",
                         command, note=target)
        bench.add_median(SECTION, f"{where}: GET {path} p95 (computed)", results, "computed_p95_ms", "ms", command)
        bench.add_median(SECTION, f"{where}: GET {path} median (page cache)", results, "median_ms", "ms", command)
        bench.add_median(SECTION, f"{where}: GET {path} p95", results, "p95_ms", "ms", command)
        bench.add(SECTION, f"{where}: {path} page weight", results[0]["bytes"] / 1024, "KiB", command,
                  note="target <= 200 KB" if not label.endswith("twin") else "the JSON twin")


def _paint(bench: Bench, base: str, env: dict[str, str], paths: dict[str, str], where: str) -> None:
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        bench.add(SECTION, f"{where}: first contentful paint", "chromium not installed", "", "")
        return
    found, command = bench.child([PY, "-m", "bench.ui_bench", "paint", base, *paths.values()], env=env,
                                 shown_env=f"{TOKEN_ENV}=...")
    for path in paths.values():
        bench.add(SECTION, f"{where}: {path} first contentful paint (headless Chromium)",
                  float(found[path]["first_contentful_paint_ms"]), "ms", command, note="median of 3 loads")
