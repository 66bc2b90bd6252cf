"""Seed files (issue #7): `serve --seed DIR` loads CreateCluster requests at start, idempotently, settled on request."""
import json
import os

import pytest
from botocore.exceptions import ClientError

from conftest import ROOT, Server, make_client

SEEDS = os.path.join(ROOT, "Seeds")


def seeded(server):
    sm = make_client(server.endpoint)
    return {c["ClusterName"]: c["ClusterStatus"] for c in sm.list_clusters()["ClusterSummaries"]}, sm


def test_seeds_load_once_settled_across_restarts(tmp_path):
    db = str(tmp_path / "state.sqlite")
    arns = {}
    for _ in range(2):
        server = Server("--db", db, "--clock", "manual", "--seed", SEEDS, in_memory=False)
        try:
            clusters, sm = seeded(server)
            assert clusters == {"slurm-training": "InService", "eks-inference": "InService"}
            for name in clusters:
                d = sm.describe_cluster(ClusterName=name)
                assert all(g["CurrentCount"] == g["TargetCount"] and g["Status"] == "InService" for g in d["InstanceGroups"])
                arns.setdefault(name, d["ClusterArn"])
                assert d["ClusterArn"] == arns[name]  # the second start left them alone
            assert len(sm.list_cluster_nodes(ClusterName="slurm-training", MaxResults=100)["ClusterNodeSummaries"]) == 6
            assert sm.list_tags(ResourceArn=arns["slurm-training"])["Tags"] == [{"Key": "team", "Value": "research"}]
        finally:
            server.stop()


def test_seed_partitions_and_a_random_seed_together(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({
        "ClusterName": "elsewhere", "account": "123456789012", "region": "eu-west-1", "state": "Creating",
        "InstanceGroups": [{"InstanceGroupName": "g", "InstanceType": "ml.c5.xlarge", "InstanceCount": 1,
                            "ExecutionRole": "arn:aws:iam::123456789012:role/r"}]}))
    server = Server("--clock", "manual", "--seed", str(tmp_path), "--seed", "42")
    try:
        assert seeded(server)[0] == {}
        other = make_client(server.endpoint, region="eu-west-1", access_key="123456789012")
        assert other.describe_cluster(ClusterName="elsewhere")["ClusterStatus"] == "Creating"
    finally:
        server.stop()


def test_a_bad_seed_file_stops_the_start_with_its_name(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"ClusterName": "x", "InstanceGroups": []}))
    with pytest.raises(RuntimeError) as caught:
        Server("--seed", str(tmp_path))
    assert "bad.json" in str(caught.value)
