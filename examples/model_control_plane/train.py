"""Producer pipeline: train a classifier on a scikit-learn built-in dataset and promote it to production.

Runs in the context of model ``demo``: every run creates a new model version, links the
train/test datasets (data artifacts) and the trained classifier (model object) to it,
and promotes that version to production. A failure deletes the new version again.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelog import ModelArtifactConfig, ModelConfig, ModelStages, get_step_context, pipeline, step

MODEL = ModelConfig(
    name="demo",
    license="Apache",
    description="Show case Model Control Plane.",
    create_new_model_version=True,
    delete_new_version_on_failure=True,
)


@step
def load_data() -> tuple[Annotated[pd.DataFrame, "train_dataset"], Annotated[pd.DataFrame, "test_dataset"]]:
    """Split the breast-cancer dataset (ships with scikit-learn) into train and test frames."""
    frame = load_breast_cancer(as_frame=True).frame
    train, test = train_test_split(frame, test_size=0.25, random_state=42, stratify=frame["target"])
    return train, test


@step
def train_model(train_dataset: pd.DataFrame) -> Annotated[ClassifierMixin, "classifier", ModelArtifactConfig()]:
    """Fit a scaled logistic regression on the training frame."""
    features, target = train_dataset.drop(columns="target"), train_dataset["target"]
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, target)


@step
def evaluate(classifier: ClassifierMixin, test_dataset: pd.DataFrame) -> None:
    """Report the classifier's accuracy on the held-out frame and log it on the model version."""
    accuracy = classifier.score(test_dataset.drop(columns="target"), test_dataset["target"])
    get_step_context().model_version.log_metadata({"accuracy": round(float(accuracy), 4),
                                                   "test_rows": len(test_dataset)})
    print(f"test accuracy: {accuracy:.3f}")


@step
def promote() -> None:
    """Promote the version this run created to production (archiving the previous holder)."""
    get_step_context().model_version.set_stage(ModelStages.PRODUCTION, force=True)


@pipeline(enable_cache=False, model_config=MODEL)
def producer() -> None:
    """Load data, train, evaluate, promote."""
    train, test = load_data()
    classifier = train_model(train)
    evaluate(classifier, test)
    promote()


if __name__ == "__main__":
    run = producer()
    version = run.model_version
    print(f"trained model {version.model_name!r} version {version.number} (run {run.id}); stage {version.stage.value}")
