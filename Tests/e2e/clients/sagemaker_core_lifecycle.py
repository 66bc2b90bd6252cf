"""sagemaker-core's Cluster lifecycle against hyperpod-local (issue #7): Cluster.create → wait_for_status("InService")
→ update → delete → wait_for_delete. The server runs with --timing instant, so every wait ends at its first poll.
Needs AWS_ENDPOINT_URL_SAGEMAKER. Prints one JSON line of findings."""
import json

import boto3
from sagemaker_core.main.resources import Cluster
from sagemaker_core.main.shapes import ClusterInstanceGroupSpecification, ClusterLifeCycleConfig

session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
lcc = ClusterLifeCycleConfig(source_s3_uri="s3://my-bucket/lcc/", on_create="on_create.sh")
cluster = Cluster.create(
    cluster_name="core-lifecycle", session=session, region="us-east-1",
    instance_groups=[ClusterInstanceGroupSpecification(
        instance_group_name="workers", instance_type="ml.c5.xlarge", instance_count=2,
        execution_role="arn:aws:iam::111122223333:role/hyperpod", life_cycle_config=lcc)])
findings = {"created": cluster.cluster_arn.startswith("arn:aws:sagemaker:us-east-1:")}
cluster.wait_for_status(target_status="InService", poll=1, timeout=30)
findings["status"] = cluster.cluster_status
cluster.update(instance_groups=[ClusterInstanceGroupSpecification(
    instance_group_name="workers", instance_type="ml.c5.xlarge", instance_count=3,
    execution_role="arn:aws:iam::111122223333:role/hyperpod", life_cycle_config=lcc)])
cluster.wait_for_status(target_status="InService", poll=1, timeout=30)
findings["after_update"] = [(g.instance_group_name, g.current_count, g.target_count) for g in cluster.refresh().instance_groups]
cluster.delete()
cluster.wait_for_delete(poll=1, timeout=30)
findings["deleted"] = True
print(json.dumps(findings))
