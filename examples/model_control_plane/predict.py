"""Consumer pipeline: predict with the production version of ``demo`` and link the predictions to it.

No new model version is created: the run is linked to the production version, and each
run adds a new link version of the ``predictions`` artifact, so the history shows them all.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np

from modelog import ArtifactConfig, ModelConfig, ModelStages, get_step_context, pipeline, step

MODEL = ModelConfig(name="demo", version=ModelStages.PRODUCTION)


@step
def predict() -> Annotated[np.ndarray, "predictions", ArtifactConfig(name="predictions")]:
    """Predict the held-out rows stored with the production version, with its classifier."""
    version = get_step_context().model_version
    classifier = version.load_artifact("classifier")
    features = version.load_artifact("test_dataset").drop(columns="target")
    return np.asarray(classifier.predict(features))


@pipeline(enable_cache=False, model_config=MODEL)
def consumer() -> None:
    """Predict with the production model."""
    predict()


if __name__ == "__main__":
    run = consumer()
    version = run.model_version
    predictions = run.steps["predict"]["predictions"]
    print(f"predicted {len(predictions.value)} rows with model {version.model_name!r} version {version.number} "
          f"(run {run.id})")
