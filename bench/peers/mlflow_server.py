"""Seed a running ``mlflow server`` through ``MlflowClient`` (the peer of ``bench.server_bench seed``).

Usage: python mlflow_server.py URL N
create_registered_model ``m`` + N x create_model_version over HTTP, then alias ``champion`` and
stage Production on version N/2. Prints one JSON line (versions/s through the server).
"""

import json
import logging
import sys
import time
import warnings
from importlib.metadata import version

warnings.filterwarnings("ignore")
logging.getLogger("mlflow").setLevel(logging.ERROR)


def main() -> None:
    """One run against the server at URL."""
    from mlflow import MlflowClient

    url, n = sys.argv[1], int(sys.argv[2])
    # The server refuses a local path without a run; a remote URI is stored as given (nothing is fetched).
    src = "s3://bench-bucket/model"
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    client.create_registered_model("m")
    client.create_model_version("m", source=src, run_id=None)  # warm-up, as for modelog
    started = time.perf_counter()
    for i in range(n):
        client.create_model_version("m", source=src, run_id=None, tags={"i": str(i)})
    elapsed = time.perf_counter() - started
    middle = str(n // 2)
    client.set_registered_model_alias("m", "champion", middle)
    client.transition_model_version_stage("m", middle, "Production")
    assert client.get_model_version_by_alias("m", "champion").version == middle
    print(json.dumps({"mlflow": version("mlflow"), "versions_per_s": n / elapsed, "version_ms": elapsed / n * 1000}),
          flush=True)


if __name__ == "__main__":
    main()
