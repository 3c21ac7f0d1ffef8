"""Child processes of the ``ui`` section: seed a model with a long life, time UI pages over HTTP, first paint.

Usage:
  python -m bench.ui_bench seed-big URL HOME VERSIONS      a model ``big``: VERSIONS versions, ~5 events each
  python -m bench.ui_bench pages BASE_URL N PATH...          median / p95 wall ms and bytes of each page
  python -m bench.ui_bench paint BASE_URL PATH...            first contentful paint in headless Chromium
Pages are fetched signed in (the token in ``$MODELOG_TOKEN``, through the login form, as a browser does).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import sys
import time
from typing import Any

from bench.common import emit


def seed_big(url: str, home: str, versions: int) -> dict[str, Any]:
    """Model ``big``: per version a creation, metadata, the alias @newest moved to it and a forced move to
    staging (which archives the previous holder): ~5 events per version."""
    from modelog.application.local import connect

    started = time.perf_counter()
    with connect(url, home=home) as registry:
        registry.register_model("big", fields={"description": "a model with a long life"})
        for n in range(1, versions + 1):
            registry.create_version("big")
            registry.log_metadata("big", n, {"accuracy": 0.5 + n / (2 * versions)})
            registry.set_alias("big", n, "newest")
            registry.set_stage("big", n, "production" if n % 100 == 0 else "staging", force=True)
        events = registry.log_head().position
    return {"events": events, "seconds": time.perf_counter() - started}


def _signed_in(base: str) -> Any:
    import httpx

    client = httpx.Client(base_url=base, timeout=120)
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/ui/login").text)
    assert nonce is not None
    done = client.post("/ui/login", data={"csrf_token": nonce.group(1), "token": os.environ["MODELOG_TOKEN"]})
    assert done.status_code == 303, done.text
    return client


def pages(base: str, n: int, paths: list[str]) -> dict[str, Any]:
    """Each page fetched ``n`` times after 2 warm-ups (keep-alive): median and p95 wall ms, its size, and the
    first fetch's time (``first_ms``: computed, not from the server's page cache, when the log head or the
    server is new); then ``n`` fetches each under a new cache key (``computed_*``: the answer computed)."""
    client = _signed_in(base)
    found: dict[str, Any] = {}
    for path in paths:
        times, size, first = [], 0, 0.0
        for i in range(n + 2):
            started = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (path, response.status_code, response.text[:500])
            size = len(response.content)
            if i == 0:
                first = elapsed
            if i >= 2:
                times.append(elapsed)
        times.sort()
        computed = []
        for i in range(n):  # a query the page ignores makes a new cache key: the answer is computed each time
            started = time.perf_counter()
            response = client.get(f"{path}{'&' if '?' in path else '?'}bench_fetch={i}")
            computed.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code, response.text[:500])
        computed.sort()
        found[path] = {"median_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))],
                       "bytes": size, "first_ms": first, "computed_median_ms": statistics.median(computed),
                       "computed_p95_ms": computed[int(0.95 * (len(computed) - 1))]}
    return found


def _first_paint(driver: Any, wait: float = 5.0) -> float:
    """The page's first-contentful-paint time (the entry can be recorded a frame after the load event)."""
    deadline = time.monotonic() + wait
    while True:
        entries = driver.execute_script("return performance.getEntriesByType('paint').map(e => [e.name, e.startTime])")
        found = dict(entries).get("first-contentful-paint")
        if found is not None or time.monotonic() > deadline:
            return float("nan") if found is None else float(found)
        time.sleep(0.05)


def paint(base: str, paths: list[str]) -> dict[str, Any]:
    """First contentful paint (Performance API ``paint`` entries) of each page, in headless Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "chromium"
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "chromedriver"))
    found: dict[str, Any] = {}
    try:
        driver.get(base + "/ui/login")
        driver.find_element(By.ID, "token").send_keys(os.environ["MODELOG_TOKEN"])
        driver.find_element(By.CSS_SELECTOR, "form.login button").click()
        for path in paths:
            paints = []
            for _ in range(3):
                driver.get(base + path)
                paints.append(_first_paint(driver))
            found[path] = {"first_contentful_paint_ms": statistics.median(paints)}
    finally:
        driver.quit()
    return found


def main(argv: list[str]) -> None:
    """Entry point of the child process."""
    if argv[0] == "seed-big":
        emit(seed_big(argv[1], argv[2], int(argv[3])))
    elif argv[0] == "pages":
        emit(pages(argv[1], int(argv[2]), argv[3:]))
    else:
        emit(paint(argv[1], argv[2:]))


if __name__ == "__main__":
    main(sys.argv[1:])
