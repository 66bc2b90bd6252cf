#!/usr/bin/env bash
# Runs every test of hyperpod-local: the Swift unit tests, then the end-to-end suite (pytest) against the release
# binary on port 0.
#
# The Python clients the end-to-end tests drive are pinned in Tests/e2e/requirements.txt and installed into this
# repository's own virtual environment, .venv/ (the HyperPod CLI, which needs a newer botocore, into
# .venv-sagemaker-hyperpod/); the Python on PATH is only used to create them and is left as it was.
# A client that is missing on this machine (the Ruby SDK) is skipped with a one-line reason, except under CI=true,
# where a missing client fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

# ensure_venv DIR REQUIREMENTS: DIR holds a virtual environment with exactly the pinned versions of REQUIREMENTS.
ensure_venv() {
  local dir=$1 requirements=$2
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" - "$requirements" <<'PY' 2>/dev/null
import sys, importlib.metadata as m
wanted = dict(l.strip().split("==") for l in open(sys.argv[1]) if "==" in l and not l.startswith("#"))
sys.exit(any(m.version(n) != v for n, v in wanted.items()))
PY
  then
    return
  fi
  echo "== installing the pinned test clients into $dir ($requirements)"
  "$PYTHON" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
}

ensure_venv .venv Tests/e2e/requirements.txt
ensure_venv .venv-sagemaker-hyperpod Tests/e2e/requirements-sagemaker-hyperpod.txt
export HYPERPOD_SAGEMAKER_CORE_PYTHON="$PWD/.venv-sagemaker-hyperpod/bin/python"
# The AWS CLI the tests run is the pinned one in .venv/bin.
export PATH="$PWD/.venv/bin:$PATH"

echo "== swift build -c release"
swift build -c release --product hyperpod-local
echo "== swift test (unit tests)"
swift test
echo "== the container's runtime libraries (docker/Dockerfile, checked without Docker)"
scripts/check-runtime-deps.sh
echo "== pytest Tests/e2e (end-to-end, real binary on port 0)"
.venv/bin/python -m pytest -q -rs Tests/e2e
