"""The compiled-in service model is generated from the pinned botocore model, never edited by hand."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_generated_model_is_current():
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts/generate-service-model.py"), "--check"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
