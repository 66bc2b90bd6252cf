"""Real clients end to end (issue #7, must-show 1): the AWS CLI, aiobotocore, sagemaker-core's Cluster resource and the
HyperPod CLI (`hyp`), each through its own endpoint setting. sagemaker-core and hyp run from the virtual environment
scripts/test.sh makes (their botocore is newer than the one the rest of the suite pins)."""
import asyncio
import json
import os
import subprocess

import botocore
import pytest

from conftest import ROOT, make_client, require_client
from test_clusters import CORPUS, admin, group

VENV_PYTHON = os.environ.get("HYPERPOD_SAGEMAKER_CORE_PYTHON", os.path.join(ROOT, ".venv-sagemaker-hyperpod", "bin", "python"))
CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients")


def aws(server, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1", AWS_MAX_ATTEMPTS="1")
    run = subprocess.run(["aws", "--endpoint-url", server.endpoint, "sagemaker", *args], capture_output=True, text=True,
                         env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout) if run.stdout.strip() else {}


def test_aws_cli_create_describe_update_list_nodes_delete(make_server):
    server = make_server("--clock", "manual")
    source = os.path.join(CORPUS, "moto_create-cluster-two-groups-test-fixture.json")
    with open(source) as f:
        request = json.load(f)
    name = request["ClusterName"]
    arn = aws(server, "create-cluster", "--cli-input-json", f"file://{source}")["ClusterArn"]
    admin(server, "/_hyperpod/settle", {})
    assert aws(server, "describe-cluster", "--cluster-name", name)["ClusterStatus"] == "InService"
    first = request["InstanceGroups"][0]
    updated = dict(first, InstanceCount=first["InstanceCount"] + 1)
    assert aws(server, "update-cluster", "--cluster-name", name, "--instance-groups", json.dumps([updated]))["ClusterArn"] == arn
    admin(server, "/_hyperpod/settle", {})
    nodes = aws(server, "list-cluster-nodes", "--cluster-name", name)["ClusterNodeSummaries"]  # the CLI pages by itself
    assert len(nodes) == sum(g["InstanceCount"] for g in request["InstanceGroups"]) + 1
    assert aws(server, "delete-cluster", "--cluster-name", name)["ClusterArn"] == arn
    admin(server, "/_hyperpod/settle", {})
    assert aws(server, "list-clusters")["ClusterSummaries"] == []


def test_aiobotocore_async_describe_and_list(make_server):
    if tuple(int(p) for p in botocore.__version__.split(".")[:2]) >= (1, 44):
        # Not a missing client: no aiobotocore release accepts botocore 1.44 yet. The botocore 1.43 run (scripts/test.sh
        # runs the suite on both SDK generations) covers it.
        pytest.skip(f"aiobotocore runs in the botocore 1.43 run; no release supports botocore {botocore.__version__}")
    from aiobotocore.session import get_session
    server = make_server("--clock", "manual")
    sm = make_client(server.endpoint)
    for name in ["async-a", "async-b"]:
        sm.create_cluster(ClusterName=name, InstanceGroups=[group("g", 1)])
    admin(server, "/_hyperpod/settle", {})

    async def main():
        session = get_session()
        async with session.create_client("sagemaker", endpoint_url=server.endpoint, region_name="us-east-1",
                                         aws_access_key_id="x", aws_secret_access_key="x") as client:
            described = await asyncio.gather(*(client.describe_cluster(ClusterName=n) for n in ["async-a", "async-b"]))
            listed = await client.list_clusters(SortBy="NAME")
            nodes = [n async for page in client.get_paginator("list_cluster_nodes").paginate(ClusterName="async-a")
                     for n in page["ClusterNodeSummaries"]]
            return described, listed, nodes

    described, listed, nodes = asyncio.run(main())
    assert [d["ClusterStatus"] for d in described] == ["InService", "InService"]
    assert [c["ClusterName"] for c in listed["ClusterSummaries"]] == ["async-a", "async-b"]
    assert len(nodes) == 1 and nodes[0]["InstanceStatus"]["Status"] == "Running"


def venv_env(server):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL_SAGEMAKER=server.endpoint, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", COLUMNS="120")
    return env


def test_sagemaker_core_create_wait_update_delete_wait(make_server):
    assert os.path.exists(VENV_PYTHON), f"{VENV_PYTHON} is missing: scripts/test.sh installs sagemaker-hyperpod into it"
    server = make_server("--timing", "instant")
    run = subprocess.run([VENV_PYTHON, os.path.join(CLIENTS, "sagemaker_core_lifecycle.py")], env=venv_env(server),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    last = run.stdout.strip().splitlines()[-1]
    findings = json.loads(last[last.index("{"):])
    assert findings == {"created": True, "status": "InService", "after_update": [["workers", 3, 3]], "deleted": True}
    assert "InternalFailure" not in server.log()


def test_hyperpod_cli_updates_node_recovery(make_server):
    hyp = os.path.join(os.path.dirname(VENV_PYTHON), "hyp")
    assert os.path.exists(hyp), f"{hyp} is missing: scripts/test.sh installs sagemaker-hyperpod"
    server = make_server("--clock", "manual")
    sm = make_client(server.endpoint)
    sm.create_cluster(ClusterName="hyp-cluster", InstanceGroups=[group("g", 1)])
    admin(server, "/_hyperpod/settle", {})
    run = subprocess.run([hyp, "update", "cluster", "--cluster-name", "hyp-cluster", "--node-recovery", "None",
                          "--region", "us-east-1"], env=venv_env(server), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert sm.describe_cluster(ClusterName="hyp-cluster")["NodeRecovery"] == "None"


def test_a_second_sdk_ruby_aws_sdk_core_with_its_own_http_stack_and_error_parser(make_server):
    """AWS SDK for Ruby v3 (Debian's ruby-aws-sdk-core, installed by .ci/run): a SageMaker client built from the
    model the server embeds, SigV4-signed with a 12-digit access key (the account, R24), Net::HTTP underneath."""
    require_client("ruby", "ruby-aws-sdk-core", probe=["ruby", "-e", "require 'aws-sdk-core'"])
    server = make_server("--clock", "manual")
    model = os.path.join(ROOT, "Sources", "AWSJSONProtocol", "ServiceModel", "sagemaker-cluster-model.json")
    run = subprocess.run(["ruby", os.path.join(CLIENTS, "ruby_sagemaker.rb"), model], env=dict(os.environ, ENDPOINT=server.endpoint),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    findings = json.loads(run.stdout.strip().splitlines()[-1])
    assert findings["arn"].startswith("arn:aws:sagemaker:us-east-1:111122223333:cluster/")
    assert findings["status"] == "Creating" and findings["creation_time_class"] == "Time"
    assert findings["error"] == ["HyperPodRuby::Errors::ResourceNotFound", "ResourceNotFound",
                                 "Could not find cluster 'arn:aws:sagemaker:us-east-1:111122223333:cluster/missing'", 400]
    assert findings["validation"][0] == "ValidationException" and "instanceCount" in findings["validation"][1]
    assert findings["listed"] == ["ruby"]
