"""One ``MlflowClient`` script for the ``mlflow-api`` section, run against ``mlflow server`` and ``modelog server``.

Usage: python mlflow_api_client.py URL N
create_registered_model ``m`` + N x create_model_version (source, run id, one tag), alias ``champion``
on version N/2, then get_model_version_by_alias and search_model_versions (all N) repeated. The
same script and the same interpreter for both servers; the token (modelog) comes from
``$MLFLOW_TRACKING_TOKEN``, which ``mlflow server`` (no auth app) ignores. Prints one JSON line.
"""

import json
import logging
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore")
logging.getLogger("mlflow").setLevel(logging.ERROR)

ALIAS_CALLS, SEARCH_CALLS = 200, 5


def med_ms(fn, k):
    """Median milliseconds of ``k`` calls."""
    times = []
    for _ in range(k):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    """One run against the server at URL."""
    from mlflow import MlflowClient

    url, n = sys.argv[1], int(sys.argv[2])
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    client.create_registered_model("m")
    started = time.perf_counter()
    for i in range(n):
        client.create_model_version("m", source=f"s3://bench-bucket/m/{i}", run_id=f"run-{i}", tags={"i": str(i)})
    create_s = time.perf_counter() - started
    middle = str(n // 2)
    client.set_registered_model_alias("m", "champion", middle)
    assert client.get_model_version_by_alias("m", "champion").version == middle
    alias_ms = med_ms(lambda: client.get_model_version_by_alias("m", "champion"), ALIAS_CALLS)

    def search():
        found = client.search_model_versions("name = 'm'", max_results=n)
        assert len(found) == n, len(found)

    search_ms = med_ms(search, SEARCH_CALLS)
    print(json.dumps({"create_version_ms": create_s / n * 1000, "versions_per_s": n / create_s,
                      "alias_ms": alias_ms, "search_all_ms": search_ms}), flush=True)


if __name__ == "__main__":
    main()
