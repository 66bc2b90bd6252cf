"""sagemaker-core's `Cluster` resource (from the sagemaker-hyperpod package) against the server (issue #6, must-show 3):
Cluster.get, refresh, get_all_nodes, update_software, batch_delete_nodes and wait_for_delete. The client runs in its own
virtual environment (scripts/test.sh makes it; HYPERPOD_SAGEMAKER_CORE_PYTHON names its interpreter)."""
import json
import os
import subprocess

from conftest import ROOT

PYTHON = os.environ.get("HYPERPOD_SAGEMAKER_CORE_PYTHON", os.path.join(ROOT, ".venv-sagemaker-hyperpod", "bin", "python"))
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients", "sagemaker_core_cluster.py")


def test_sagemaker_core_cluster_resource_runs_its_calls(make_server):
    assert os.path.exists(PYTHON), f"{PYTHON} is missing: scripts/test.sh installs sagemaker-hyperpod into it"
    server = make_server("--clock", "manual")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL_SAGEMAKER=server.endpoint, HYPERPOD_ADMIN=server.endpoint, COLUMNS="120")
    run = subprocess.run([PYTHON, SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    findings = json.loads(run.stdout.strip().splitlines()[-1][run.stdout.strip().splitlines()[-1].index("{"):])
    assert findings["get"] == "Creating" and findings["refresh"] == "InService"
    assert findings["groups"] == [["workers", 3, 3]]
    assert findings["nodes"] == ["Running", "Running", "Running"]
    assert findings["after_update_software"] == "SystemUpdating"
    assert findings["software"] == ["Succeeded", "ami-0123456789abcdef0"]
    assert len(findings["batch_delete"]) == 1 and findings["after_delete_nodes"] == 2
    assert findings["deleted"] is True
    assert "InternalFailure" not in server.log()


def test_R209_R210_R213_sagemaker_core_training_plan_resource_creates_gets_and_refreshes(make_server):
    """Issue #16 must-show 2: sagemaker-core's `TrainingPlan` created from an offering, read with get, refresh,
    wait_for_status and get_all."""
    assert os.path.exists(PYTHON), f"{PYTHON} is missing: scripts/test.sh installs sagemaker-hyperpod into it"
    server = make_server("--clock", "manual")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL_SAGEMAKER=server.endpoint, HYPERPOD_ADMIN=server.endpoint)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients", "sagemaker_core_training_plan.py")
    run = subprocess.run([PYTHON, script], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    findings = json.loads(run.stdout.strip().splitlines()[-1])
    assert findings["created"] == ["core-plan", "Pending", "3840.00"]  # 10.00 × 8 × 48
    assert findings["refresh"] == "Scheduled"
    assert findings["get"] == ["arn:aws:sagemaker:us-east-1:000000000000:training-plan/core-plan", 8, 8, "us-east-1a", "Scheduled"]
    assert findings["window"] == "Active"
    assert findings["all"] == ["core-plan"]
    assert "InternalFailure" not in server.log()


def test_R250_R266_R271_sagemaker_core_scheduler_config_and_compute_quota_resources(make_server):
    """Issue #17 must-show 2: sagemaker-core's `ClusterSchedulerConfig` and `ComputeQuota` created, waited for, updated
    (with their current version as TargetVersion) and deleted."""
    assert os.path.exists(PYTHON), f"{PYTHON} is missing: scripts/test.sh installs sagemaker-hyperpod into it"
    server = make_server("--clock", "manual", "--timing", "instant")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL_SAGEMAKER=server.endpoint, HYPERPOD_ADMIN=server.endpoint, AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1", COLUMNS="120")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients", "sagemaker_core_task_governance.py")
    run = subprocess.run([PYTHON, script], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    last = run.stdout.strip().splitlines()[-1]
    findings = json.loads(last[last.index("{"):])  # the wait panel's last border shares the line
    assert findings["policy_created"] == ["Created", 1, "Enabled"]
    assert findings["policy_refreshed"] == ["Updated", 1]
    assert findings["policy_updated"] == ["Updated", 2, ["training"]]
    assert findings["quota_created"] == ["Created", 1, "team-a", "LendAndBorrow"]
    assert findings["quota_updated"] == ["Updated", 2, "Disabled"]
    assert findings["listed"] == [True]
    assert findings["deleted"] == ["Deleted", "Deleted"]
    assert "InternalFailure" not in server.log()
