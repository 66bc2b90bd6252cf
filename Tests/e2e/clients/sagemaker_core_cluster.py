"""Drives hyperpod-local with sagemaker-core's `Cluster` resource (from the sagemaker-hyperpod package), as its users
do. Run by test_sagemaker_core.py with the interpreter of the virtual environment that holds sagemaker-hyperpod
(its botocore is newer than the one the rest of the suite pins). Needs AWS_ENDPOINT_URL_SAGEMAKER and HYPERPOD_ADMIN;
the server runs on a manual clock, and time moves through the admin API only. Prints one JSON line of findings."""
import json
import os
import urllib.request

import boto3
from sagemaker_core.main.resources import Cluster
from sagemaker_core.main.shapes import ClusterInstanceGroupDetails

ADMIN = os.environ["HYPERPOD_ADMIN"]
ROLE = "arn:aws:iam::111122223333:role/hyperpod"
LCC = {"SourceS3Uri": "s3://my-bucket/lcc/", "OnCreate": "on_create.sh"}


def admin(path, body):
    request = urllib.request.Request(ADMIN + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
client = session.client("sagemaker")
client.create_cluster(
    ClusterName="core", VpcConfig={"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0aaa"]},
    Orchestrator={"Eks": {"ClusterArn": "arn:aws:eks:us-east-1:111122223333:cluster/core"}},
    InstanceGroups=[{"InstanceGroupName": "workers", "InstanceType": "ml.c5.xlarge", "InstanceCount": 3,
                     "ExecutionRole": ROLE, "LifeCycleConfig": LCC}])
findings = {}
cluster = Cluster.get(cluster_name="core", session=session)
findings["get"] = cluster.cluster_status
admin("/_hyperpod/settle", {"maxSeconds": 600})
findings["refresh"] = cluster.refresh().cluster_status
findings["groups"] = [(g.instance_group_name, g.current_count, g.target_count) for g in cluster.instance_groups]
nodes = list(cluster.get_all_nodes())
findings["nodes"] = sorted(n.instance_status.status for n in nodes)
# sagemaker-core sends the resource's `instance_groups` as UpdateClusterSoftware's `InstanceGroups`; refreshed from
# DescribeCluster they are group details, which botocore refuses client-side (before any request is sent, against AWS
# too). Users narrow them to the group names first, as here.
cluster.instance_groups = [ClusterInstanceGroupDetails(instance_group_name=g.instance_group_name) for g in cluster.instance_groups]
cluster.update_software(image_id="ami-0123456789abcdef0")
findings["after_update_software"] = cluster.refresh().cluster_status
admin("/_hyperpod/settle", {"maxSeconds": 600})
group = cluster.refresh().instance_groups[0]
findings["software"] = (group.software_update_status, group.current_image_id)
deleted = cluster.batch_delete_nodes(node_ids=[nodes[0].instance_id])
findings["batch_delete"] = deleted.successful
admin("/_hyperpod/settle", {"maxSeconds": 600})
findings["after_delete_nodes"] = cluster.refresh().instance_groups[0].target_count
cluster.delete()
admin("/_hyperpod/settle", {"maxSeconds": 600})
cluster.wait_for_delete(poll=1, timeout=30)
findings["deleted"] = True
print(json.dumps(findings))
