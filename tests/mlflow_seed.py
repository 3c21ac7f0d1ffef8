"""Fill an MLflow model registry through MLflow's own client: run by the MLflow virtualenv's Python.

Usage: python tests/mlflow_seed.py sqlite:///path/mlflow.db
Prints one JSON object: every version MLflow reports (``search_model_versions``), by model, so a
test compares the import with what MLflow itself says.

The registry (what ``tests/integration/test_mlflow_import.py`` expects):

* ``churn``: description, tags ``team=growth`` and ``data/source=warehouse`` (a ``/``: no modelog tag);
  versions 1-6: 2 and 6 deleted, 3 and 5 both in Production (archive_existing_versions=False),
  4 in Staging, 1 tagged ``candidate=yes`` and made by a run; aliases ``champion`` -> 5, ``previous`` -> 3
  and ``production`` -> 1 (a stage name: no modelog alias).
* ``fraud``: versions 1 (Archived) and 2, no aliases.
* ``empty``: no versions.
"""

import json
import logging
import sys
import warnings

warnings.filterwarnings("ignore")
logging.getLogger("mlflow").setLevel(logging.ERROR)


def main() -> None:
    """Create the registry at the URI given and print what MLflow reports."""
    from mlflow import MlflowClient

    uri = sys.argv[1]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("churn", tags={"team": "growth", "data/source": "warehouse"},
                                   description="Predicts churn")
    run_id = client.create_run(experiment_id="0").info.run_id  # the run that made version 1
    for number in range(1, 7):
        tags = {"candidate": "yes"} if number == 1 else None
        client.create_model_version("churn", source=f"s3://models/churn/{number}", run_id=run_id if number == 1
                                    else None, tags=tags, description=f"churn v{number}")
    client.set_model_version_tag("churn", "1", "reviewed", "")
    client.delete_model_version("churn", "2")
    client.delete_model_version("churn", "6")
    client.transition_model_version_stage("churn", "3", "Production")
    client.transition_model_version_stage("churn", "4", "Staging")
    client.transition_model_version_stage("churn", "5", "Production", archive_existing_versions=False)
    client.set_registered_model_alias("churn", "champion", "5")
    client.set_registered_model_alias("churn", "previous", "3")
    client.set_registered_model_alias("churn", "production", "1")

    client.create_registered_model("fraud")
    client.create_model_version("fraud", source="s3://models/fraud/1", run_id=None)
    client.create_model_version("fraud", source="s3://models/fraud/2", run_id=None)
    client.transition_model_version_stage("fraud", "1", "Archived")

    client.create_registered_model("empty")

    seen = {}
    for version in client.search_model_versions():
        seen.setdefault(version.name, {})[version.version] = {
            "stage": version.current_stage, "creation_timestamp": version.creation_timestamp,
            "last_updated_timestamp": version.last_updated_timestamp, "source": version.source,
            "tags": dict(version.tags), "description": version.description, "run_id": version.run_id or None,
        }
    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    main()
