"""The ``mlflow-api`` section of ``python -m bench``: one ``MlflowClient`` script against both servers.

The same script (:file:`bench/peers/mlflow_api_client.py`), run by the same interpreter (MLflow's
own, in ``.venv-bench-mlflow``), against ``mlflow server`` and against ``modelog server``'s MLflow
API, both on SQLite with one worker, in one run: creating 1,000 versions, getting a version by
alias, searching all 1,000 versions. The servers run one after the other, never side by side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.common import MLFLOW_VENV, scratch_dir, sqlite_url
from bench.servers import ServerProcess, mlflow_server, modelog_server, server_token

if TYPE_CHECKING:
    from bench.run import Bench

SECTION = "mlflow-api"
#: What the client script reports, how it is shown, and which way is better.
MEASURES = (("create_version_ms", "create_model_version, ms per version"),
            ("alias_ms", "get_model_version_by_alias, median ms"),
            ("search_all_ms", "search_model_versions (all versions), median ms"))


def mlflow_api(bench: Bench, n: int) -> None:
    """Create ``n`` versions, get by alias, search all ``n``: through MlflowClient against both servers."""
    print(f"[{SECTION}] {n} versions through MlflowClient", flush=True)
    python = MLFLOW_VENV / "bin" / "python"
    if not (MLFLOW_VENV / "bin" / "mlflow").exists():
        from bench.run import MLFLOW_INSTALL

        bench.add(SECTION, "mlflow", "not installed", "", f"run: {MLFLOW_INSTALL}")
        return
    script = [str(python), "bench/peers/mlflow_api_client.py"]
    found: dict[str, dict[str, float]] = {}
    with mlflow_server(scratch_dir("mlflow_api_")) as peer:
        found["mlflow server"] = _measure(bench, "mlflow server", peer, [*script, peer.url, str(n)], {})
    with modelog_server(sqlite_url(scratch_dir("mlflow_api_modelog_")),
                        scratch_dir("mlflow_api_home_") / "home") as ours:
        token = server_token(ours) or ""
        found["modelog server"] = _measure(bench, "modelog server", ours, [*script, ours.url, str(n)],
                                           {"MLFLOW_TRACKING_TOKEN": token})
    for key, label in MEASURES:
        bench.ratio(SECTION, f"{label.split(',')[0]}: mlflow ms / modelog ms", found["mlflow server"][key],
                    found["modelog server"][key], ">= 5")


def _measure(bench: Bench, who: str, server: ServerProcess, argv: list[str],
             env: dict[str, str]) -> dict[str, float]:
    result, command = bench.child(argv, env=env, shown_env=" ".join(f"{k}=..." for k in env))
    for key, label in MEASURES:
        bench.add(SECTION, f"{who}: {label}", float(result[key]), "ms", command, note="1 run")
    return {key: float(result[key]) for key, _ in MEASURES}
