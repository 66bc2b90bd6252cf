#!/usr/bin/env bash
# Runs every test of hyperpod-local: the Swift unit tests, the Python test kit's own checks (clients/python), then the
# end-to-end suite (pytest, through the kit's plugin) against the release binary on port 0.
#
# The end-to-end suite runs twice, once per SDK generation users run (issue #15): on today's clients, pinned in
# Tests/e2e/requirements.txt (its `botocore==` line is the model pin) and installed into .venv/, and on the older
# botocore 1.43 generation, Tests/e2e/requirements-botocore-1.43.txt in .venv-botocore-1.43/. The HyperPod CLI goes into
# .venv-sagemaker-hyperpod/. The Python on PATH is only used to create them and is left as it was.
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
ensure_venv .venv-botocore-1.43 Tests/e2e/requirements-botocore-1.43.txt
ensure_venv .venv-sagemaker-hyperpod Tests/e2e/requirements-sagemaker-hyperpod.txt
ensure_venv .venv clients/python/requirements-dev.txt
ensure_venv .venv Tests/e2e/requirements-browser.txt  # Selenium: the dashboard's browser tests (issue #20)
export HYPERPOD_SAGEMAKER_CORE_PYTHON="$PWD/.venv-sagemaker-hyperpod/bin/python"

# The test kit (clients/python, issue #19) goes into both end-to-end environments: the suite's fixtures are built on its
# pytest plugin. Editable, so the environments follow the kit's source; reinstalled on every run (a few seconds each,
# --no-deps: boto3 is pinned above) so that a change to its packaging, e.g. its pytest11 entry point, counts too.
for venv in .venv .venv-botocore-1.43; do
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e ./clients/python
done

# The release binary is built exactly as docker/Dockerfile's build stage builds it (static Swift runtime), so the
# end-to-end suite runs what the container ships and one release build serves both (a second one cost ~3 minutes).
BUILD_LINE=$(grep -o 'swift build -c release --static-swift-stdlib[^&]*--product hyperpod-local' docker/Dockerfile)
echo "== $BUILD_LINE"
$BUILD_LINE
echo "== swift test (unit tests)"
swift test
echo "== the container's runtime libraries (docker/Dockerfile, checked without Docker)"
scripts/check-runtime-deps.sh .build/release/hyperpod-local
echo "== the Python test kit: mypy --strict, its own tests (fake server, plugin, real binary, fresh-venv install), the example"
.venv/bin/python -m mypy --strict --config-file clients/python/pyproject.toml clients/python/src/hyperpod_local
HYPERPOD_LOCAL_BIN="${HYPERPOD_LOCAL_BIN:-$PWD/.build/release/hyperpod-local}" PATH="$PWD/.venv/bin:$PATH" \
  .venv/bin/python -m pytest -q -p no:cacheprovider clients/python/tests clients/python/examples
# Each run puts its own environment's AWS CLI first on PATH.
for venv in .venv .venv-botocore-1.43; do
  echo "== pytest Tests/e2e on $("$venv/bin/python" -c 'import botocore; print("botocore", botocore.__version__)') (end-to-end, real binary on port 0)"
  PATH="$PWD/$venv/bin:$PATH" "$venv/bin/python" -m pytest -q -rs -p no:cacheprovider Tests/e2e
done
