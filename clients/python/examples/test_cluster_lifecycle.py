"""Create a cluster, see it come into service, scale it, then cut capacity and see the next scale-up fail."""
GROUP = {"InstanceGroupName": "workers", "InstanceType": "ml.c5.xlarge", "InstanceCount": 2,
         "ExecutionRole": "arn:aws:iam::111122223333:role/hyperpod",
         "LifeCycleConfig": {"SourceS3Uri": "s3://my-bucket/lcc/", "OnCreate": "on_create.sh"}}


def workers(sagemaker):
    group = sagemaker.describe_cluster(ClusterName="demo")["InstanceGroups"][0]
    return group["CurrentCount"], group["TargetCount"]


def test_create_scale_and_run_out_of_capacity(hyperpod_local, sagemaker):
    sagemaker.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    hyperpod_local.clock.advance(1)                       # one virtual second: still setting up
    assert sagemaker.describe_cluster(ClusterName="demo")["ClusterStatus"] == "Creating"
    hyperpod_local.wait_for("demo", "InService")          # moves the virtual clock; never sleeps
    assert workers(sagemaker) == (2, 2)
    sagemaker.update_cluster(ClusterName="demo", InstanceGroups=[{**GROUP, "InstanceCount": 4}])
    hyperpod_local.wait_for("demo", "InService")
    assert workers(sagemaker) == (4, 4)
    hyperpod_local.capacity.set({"ml.c5.xlarge": 0})      # no more ml.c5.xlarge may launch
    sagemaker.update_cluster(ClusterName="demo", InstanceGroups=[{**GROUP, "InstanceCount": 6}])
    assert hyperpod_local.settle().settled
    cluster = sagemaker.describe_cluster(ClusterName="demo")
    assert cluster["ClusterStatus"] == "InService" and workers(sagemaker) == (4, 4)
    assert "do not have sufficient capacity" in cluster["FailureMessage"]
