#!/usr/bin/env bash
# The long versions of the crash-safety and soak tests (issue #8): 20 SIGKILLs during writes, then 64 keep-alive
# clients for 60 s. The default test command (scripts/test.sh) runs short versions of the same tests.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product hyperpod-local
export HYPERPOD_STRESS_KILLS="${HYPERPOD_STRESS_KILLS:-20}"
export HYPERPOD_STRESS_SOAK_SECONDS="${HYPERPOD_STRESS_SOAK_SECONDS:-60}"
export HYPERPOD_STRESS_CLIENTS="${HYPERPOD_STRESS_CLIENTS:-64}"
python3 -m pytest -q -s Tests/e2e/test_stress.py "$@"  # -s: each test prints its figures
