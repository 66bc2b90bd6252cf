"""Drives hyperpod-local with sagemaker-core's `TrainingPlan` resource (issue #16, must-show 2): create from an
offering, get, refresh, wait_for_status and get_all, as its users do. Run by test_sagemaker_core.py with the interpreter
of the virtual environment that holds sagemaker-hyperpod. Needs AWS_ENDPOINT_URL_SAGEMAKER and HYPERPOD_ADMIN; the
server runs on a manual clock. Prints one JSON line of findings."""
import json
import os
import time
import urllib.request

import boto3
from sagemaker_core.main.resources import TrainingPlan

ADMIN = os.environ["HYPERPOD_ADMIN"]


def admin(path, body):
    request = urllib.request.Request(ADMIN + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


# A UTC midnight two days ahead of the wall clock (the manual clock starts at the wall time and never goes back).
admin("/_hyperpod/clock", {"set": (int(time.time()) // 86400 + 2) * 86400})
session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
client = session.client("sagemaker")
offering = client.search_training_plan_offerings(InstanceType="ml.p5.48xlarge", InstanceCount=8, DurationHours=48,
                                                 TargetResources=["hyperpod-cluster"])["TrainingPlanOfferings"][0]
findings = {}
plan = TrainingPlan.create(training_plan_name="core-plan", training_plan_offering_id=offering["TrainingPlanOfferingId"], session=session)
findings["created"] = [plan.training_plan_name, plan.status, plan.upfront_fee]
admin("/_hyperpod/clock", {"advanceSeconds": 1})  # T_payment
findings["refresh"] = plan.refresh().status
plan.wait_for_status("Scheduled", poll=1, timeout=10)
got = TrainingPlan.get(training_plan_name="core-plan", session=session)
rc = got.reserved_capacity_summaries[0]
findings["get"] = [got.training_plan_arn, got.total_instance_count, got.available_instance_count, rc.availability_zone, rc.status]
admin("/_hyperpod/clock", {"set": int(got.start_time.timestamp())})
findings["window"] = plan.refresh().status
findings["all"] = [p.training_plan_name for p in TrainingPlan.get_all(session=session)]
print(json.dumps(findings))
