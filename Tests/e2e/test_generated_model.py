"""The compiled-in service model is generated from the pinned botocore model (the `botocore==` line of
Tests/e2e/requirements.txt), never edited by hand (issue #15)."""
import os
import shutil
import subprocess
import sys

import botocore
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATOR = os.path.join(ROOT, "scripts/generate-service-model.py")
GENERATED = ["Sources/AWSJSONProtocol/ServiceModel/SageMakerOperations.swift",
             "Sources/AWSJSONProtocol/ServiceModel/sagemaker-cluster-model.json",
             "Sources/SageMakerShapes/SageMakerShapes.generated.swift"]


def pinned():
    with open(os.path.join(ROOT, "Tests/e2e/requirements.txt")) as f:
        return next(line.strip().split("==")[1] for line in f if line.startswith("botocore=="))


@pytest.fixture(autouse=True)
def pinned_botocore_only():
    if botocore.__version__ != pinned():
        # The check reads the installed model; the run on the pinned botocore (scripts/test.sh's first) makes it.
        pytest.skip(f"the generated-model check runs on the pinned botocore {pinned()}, not {botocore.__version__}")


def check(*extra):
    return subprocess.run([sys.executable, GENERATOR, "--check", *extra], capture_output=True, text=True)


def test_generated_model_is_current():
    result = check()
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("generated", GENERATED)
def test_a_hand_edited_generated_file_fails_the_check(tmp_path, generated):
    for path in GENERATED:
        os.makedirs(tmp_path / os.path.dirname(path), exist_ok=True)
        shutil.copy(os.path.join(ROOT, path), tmp_path / path)
    assert check("--against", str(tmp_path)).returncode == 0  # the copies match
    with open(tmp_path / generated, "a") as f:
        f.write("\n// edited by hand\n")
    result = check("--against", str(tmp_path))
    assert result.returncode != 0 and f"stale: {generated}" in result.stderr
