#!/usr/bin/env bash
# Runs every test of hyperpod-local: the Swift unit tests, then the end-to-end suite (pytest) against the release
# binary on port 0. Installs the Python clients the end-to-end tests drive (pinned in Tests/e2e/requirements.txt)
# when they are missing or at other versions.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 - <<'PY' 2>/dev/null
import sys, importlib.metadata as m
wanted = dict(l.split("==") for l in open("Tests/e2e/requirements.txt") if "==" in l and not l.startswith("#"))
sys.exit(any(m.version(n) != v.strip() for n, v in wanted.items()))
PY
then
  echo "== installing test clients (Tests/e2e/requirements.txt)"
  python3 -m pip install -q -r Tests/e2e/requirements.txt
fi

# sagemaker-core's Cluster resource (issue #6) runs from its own virtual environment: its botocore is newer.
VENV=.venv-sagemaker-hyperpod
if ! "$VENV/bin/python" - <<'PY' 2>/dev/null
import sys, importlib.metadata as m
wanted = dict(l.split("==") for l in open("Tests/e2e/requirements-sagemaker-hyperpod.txt") if "==" in l and not l.startswith("#"))
sys.exit(any(m.version(n) != v.strip() for n, v in wanted.items()))
PY
then
  echo "== installing sagemaker-hyperpod into $VENV (Tests/e2e/requirements-sagemaker-hyperpod.txt)"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q -r Tests/e2e/requirements-sagemaker-hyperpod.txt
fi
export HYPERPOD_SAGEMAKER_CORE_PYTHON="$PWD/$VENV/bin/python"

echo "== swift build -c release"
swift build -c release --product hyperpod-local
echo "== swift test (unit tests)"
swift test
echo "== the container's runtime libraries (docker/Dockerfile, checked without Docker)"
scripts/check-runtime-deps.sh
echo "== pytest Tests/e2e (end-to-end, real binary on port 0)"
python3 -m pytest -q Tests/e2e
