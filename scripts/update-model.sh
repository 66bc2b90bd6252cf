#!/usr/bin/env bash
# Moves hyperpod-local to another botocore service model (issue #15):
#   scripts/update-model.sh [VERSION]     (default: the newest botocore on PyPI)
# 1. fetches the SageMaker model of the pinned botocore and of VERSION (the wheels go to .build-model/, git-ignored);
# 2. prints what changed for the HyperPod operations: operations, members, enum values, patterns, bounds
#    (scripts/model-diff.py), so you know what to build;
# 3. moves the pin — the `botocore==` line of Tests/e2e/requirements.txt, the one place it is recorded (boto3, whose
#    versions move in step, with it) — and regenerates every generated file (scripts/generate-service-model.py).
# Then: swift build, scripts/test.sh (test_generated_model fails while a generated file does not match the pin).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
REQUIREMENTS=Tests/e2e/requirements.txt
OLD=$(sed -n 's/^botocore==//p' "$REQUIREMENTS")
NEW=${1:-$("$PYTHON" -m pip index versions botocore 2>/dev/null | sed -n '1s/^botocore (\(.*\))$/\1/p')}
[ -n "$NEW" ] || { echo "update-model.sh: cannot tell the newest botocore (pip index versions botocore); name a version" >&2; exit 2; }

OLD_MODEL=$("$PYTHON" scripts/generate-service-model.py --fetch "$OLD")
NEW_MODEL=$("$PYTHON" scripts/generate-service-model.py --fetch "$NEW")
echo "== botocore $OLD -> $NEW: what changed for the HyperPod operations"
"$PYTHON" scripts/model-diff.py "$OLD_MODEL" "$NEW_MODEL"
sed -i "s/^botocore==.*/botocore==$NEW/; s/^boto3==.*/boto3==$NEW/" "$REQUIREMENTS"
echo "== pinned botocore $NEW in $REQUIREMENTS; regenerating"
"$PYTHON" scripts/generate-service-model.py --model "$NEW_MODEL"
