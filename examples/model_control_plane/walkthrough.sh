#!/usr/bin/env bash
# The Model Control Plane walkthrough, top to bottom (see README.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
PYTHON="${PYTHON:-python3}"

# a registry of its own: a fresh one when none is named; never wipe or write into someone else's
if [ -z "${MODELOG_HOME:-}" ] && [ -z "${MODELOG_DATABASE_URL:-}" ]; then
  MODELOG_HOME="$(mktemp -d)"
  export MODELOG_HOME
  echo "Using a fresh registry in $MODELOG_HOME"
fi
events="$(modelog log head -o json | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["position"])')"
if [ "$events" != "0" ]; then
  echo "walkthrough: refusing to run against a registry that already holds $events events; use a fresh one (MODELOG_HOME=\"\$(mktemp -d)\" with MODELOG_DATABASE_URL unset)" >&2
  exit 1
fi

# install needed integrations
modelog integration install sklearn -y

# verify existing models (a fresh registry: none yet)
modelog model list

# run training pipeline: creates model demo, version 1, links two datasets and one model object
"$PYTHON" train.py

# new model `demo` created
modelog model list

# new model version `1` created
modelog model version list demo

# list dataset artifacts - train and test are here
modelog model version artifacts demo 1

# list model objects - trained classifier here
modelog model version model_objects demo 1

# list deployments - none
modelog model version deployments demo 1

# list runs - only training run linked
modelog model version runs demo 1

# describe the production version: its accuracy (logged by the evaluate step), artifacts, runs, stages
modelog model show demo
modelog model version show demo production

# run prediction pipeline: uses the production version, links predictions as a versioned artifact
"$PYTHON" predict.py

# no new model version created, just consuming existing model
modelog model version list demo

# list dataset and predictions artifacts
modelog model version artifacts demo 1

# run prediction pipeline again: links predictions link version 2 to the same model version
"$PYTHON" predict.py

# list dataset and predictions (2 versions now) artifacts
modelog model version artifacts demo 1

# list runs, prediction runs are also here
modelog model version runs demo 1

# update existing model via CLI
modelog model update demo -t tag1 -t tag2 -e "some ethical implications"

# create a model via CLI
modelog model register -n demo_cli -d "created from cli" -t cli

# clean up
modelog model delete demo_cli -y
modelog model delete demo -y
