"""Drives hyperpod-local with sagemaker-core's `ClusterSchedulerConfig` and `ComputeQuota` resources (issue #17,
must-show 2): create, wait, update, delete, as their users do. Run by test_sagemaker_core.py with the interpreter of the
virtual environment that holds sagemaker-hyperpod, against a server on `--timing instant` (every reconcile ends at
once, so the waits return on their first poll). Needs AWS_ENDPOINT_URL_SAGEMAKER, the AWS credential variables and
HYPERPOD_ADMIN. Prints one JSON line of findings."""
import json
import os
import urllib.request

import boto3
from sagemaker_core.main.resources import ClusterSchedulerConfig, ComputeQuota
from sagemaker_core.main.shapes import ComputeQuotaConfig, ComputeQuotaResourceConfig, ComputeQuotaTarget, PriorityClass, SchedulerConfig

ADMIN = os.environ["HYPERPOD_ADMIN"]


def admin(path, body):
    request = urllib.request.Request(ADMIN + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


session = boto3.Session(region_name="us-east-1")
client = session.client("sagemaker")
cluster = client.create_cluster(
    ClusterName="gov", VpcConfig={"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0aaa"]},
    NodeProvisioningMode="Continuous", Orchestrator={"Eks": {"ClusterArn": "arn:aws:eks:us-east-1:111122223333:cluster/gov"}},
    InstanceGroups=[{"InstanceGroupName": "gpu", "InstanceType": "ml.p5.48xlarge", "InstanceCount": 2,
                     "ExecutionRole": "arn:aws:iam::111122223333:role/hyperpod",
                     "LifeCycleConfig": {"SourceS3Uri": "s3://my-bucket/lcc/", "OnCreate": "on_create.sh"}}])["ClusterArn"]
admin("/_hyperpod/settle", {"maxSeconds": 600})
findings = {}

policy = ClusterSchedulerConfig.create(
    name="cluster-policy", cluster_arn=cluster, session=session,
    scheduler_config=SchedulerConfig(priority_classes=[PriorityClass(name="inference", weight=90)], fair_share="Enabled"))
policy.wait_for_status("Created", poll=1, timeout=10)
findings["policy_created"] = [policy.status, policy.cluster_scheduler_config_version, policy.scheduler_config.fair_share]
policy.update(target_version=policy.cluster_scheduler_config_version,
              scheduler_config=SchedulerConfig(priority_classes=[PriorityClass(name="training", weight=70)]))
policy.wait_for_status("Updated", poll=1, timeout=10)
# The resource's refresh asks for the version it holds (ClusterSchedulerConfigVersion 1): that version's content with the
# current status (R275). `get` without a version reads the latest.
findings["policy_refreshed"] = [policy.status, policy.cluster_scheduler_config_version]
latest = ClusterSchedulerConfig.get(cluster_scheduler_config_id=policy.cluster_scheduler_config_id, session=session)
findings["policy_updated"] = [latest.status, latest.cluster_scheduler_config_version, [c.name for c in latest.scheduler_config.priority_classes]]

quota = ComputeQuota.create(
    name="team-a-quota", cluster_arn=cluster, session=session,
    compute_quota_config=ComputeQuotaConfig(compute_quota_resources=[ComputeQuotaResourceConfig(instance_type="ml.p5.48xlarge", count=1)]),
    compute_quota_target=ComputeQuotaTarget(team_name="team-a", fair_share_weight=10))
quota.wait_for_status("Created", poll=1, timeout=10)
findings["quota_created"] = [quota.status, quota.compute_quota_version, quota.compute_quota_target.team_name,
                             quota.compute_quota_config.resource_sharing_config.strategy]
quota.update(target_version=quota.compute_quota_version, activation_state="Disabled")
quota.wait_for_status("Updated", poll=1, timeout=10)
latest_quota = ComputeQuota.get(compute_quota_id=quota.compute_quota_id, session=session)
findings["quota_updated"] = [latest_quota.status, latest_quota.compute_quota_version, latest_quota.activation_state]
findings["listed"] = sorted(q.compute_quota_id == quota.compute_quota_id for q in ComputeQuota.get_all(session=session))

quota.delete()
quota.wait_for_delete(poll=1, timeout=10)
policy.delete()
policy.wait_for_delete(poll=1, timeout=10)
findings["deleted"] = [ComputeQuota.get(compute_quota_id=quota.compute_quota_id, session=session).status,
                       ClusterSchedulerConfig.get(cluster_scheduler_config_id=policy.cluster_scheduler_config_id, session=session).status]
print(json.dumps(findings))
