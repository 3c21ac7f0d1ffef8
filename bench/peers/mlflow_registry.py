"""MLflow model registry on a sqlite:/// URI, same workload as peer-benchmarks.md (B3).

Usage: python mlflow_registry.py DIR N
create_registered_model + N x create_model_version, then search_model_versions (all N),
get_model_version, get_model_version_by_alias. Prints one JSON line.
"""

import json
import logging
import os
import statistics
import sys
import time
import warnings
from importlib.metadata import version

warnings.filterwarnings("ignore")
logging.getLogger("mlflow").setLevel(logging.ERROR)
logging.getLogger("alembic").setLevel(logging.ERROR)


def med_ms(fn, k):
    """Median milliseconds of ``k`` calls."""
    times = []
    for _ in range(k):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    """One run on a fresh database."""
    from mlflow import MlflowClient

    directory, n = sys.argv[1], int(sys.argv[2])
    src = os.path.join(directory, "model_dir")
    os.makedirs(src, exist_ok=True)
    uri = f"sqlite:///{directory}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.search_registered_models(max_results=1)
    client.create_registered_model("m")
    started = time.perf_counter()
    for i in range(n):
        client.create_model_version("m", source=src, run_id=None, tags={"i": str(i)})
    out = {"mlflow": version("mlflow"), "versions_per_s": n / (time.perf_counter() - started)}
    found = []
    out["search_all_ms"] = med_ms(lambda: found.append(len(client.search_model_versions("name='m'"))), 5)
    assert found[-1] == n, found[-1]
    out["get_version_ms"] = med_ms(lambda: client.get_model_version("m", str(n // 2)), 20)
    client.set_registered_model_alias("m", "champion", str(n // 2))
    out["get_by_alias_ms"] = med_ms(lambda: client.get_model_version_by_alias("m", "champion"), 20)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
