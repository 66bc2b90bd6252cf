"""AWS JSON 1.1 envelope, end to end: boto3, the AWS CLI and raw HTTP against the real binary (spec §1, §14a)."""
import email.utils
import json
import os
import re
import subprocess
import time
import http.client

import pytest
from botocore.exceptions import ClientError

from conftest import make_client
from http_client import Reader, post

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def raw(server, method="POST", path="/", body=b"{}", headers=None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


def test_R5_R32_boto3_describe_cluster_gets_a_parseable_aws_error(sagemaker):
    with pytest.raises(ClientError) as caught:
        sagemaker.describe_cluster(ClusterName="any-name")
    error = caught.value.response
    assert error["Error"]["Code"] == "ResourceNotFound"
    assert error["Error"]["Message"] == "Could not find cluster 'arn:aws:sagemaker:us-east-1:000000000000:cluster/any-name'"
    assert UUID4.match(error["ResponseMetadata"]["RequestId"])
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ResourceNotFound"


def test_R4_boto3_unimplemented_operation_gets_501_naming_it(sagemaker):
    with pytest.raises(ClientError) as caught:
        sagemaker.list_training_jobs()
    error = caught.value.response
    assert error["Error"] == {"Code": "NotImplementedException",
                              "Message": "Operation ListTrainingJobs is not implemented by hyperpod-local"}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_R4_boto3_every_sagemaker_operation_it_calls_gets_an_aws_error_not_a_crash(sagemaker):
    for call in (
        lambda: sagemaker.describe_cluster(ClusterName="nothing-here"),
        lambda: sagemaker.delete_cluster(ClusterName="c"),
        lambda: sagemaker.list_training_jobs(),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 501)
        assert caught.value.response["Error"]["Code"]
        assert caught.value.response["Error"]["Message"]


def test_R5_request_ids_are_new_lowercase_uuid4_per_request(server):
    ids = set()
    for _ in range(20):
        response, _ = raw(server, headers={"X-Amz-Target": "SageMaker.DescribeCluster"})
        request_id = response.getheader("x-amzn-RequestId")
        assert UUID4.match(request_id), request_id
        ids.add(request_id)
    assert len(ids) == 20


def test_R5_every_response_has_a_current_http_date(server):
    for method, path, headers in (
        ("GET", "/_hyperpod/health", {}),
        ("POST", "/", {"X-Amz-Target": "SageMaker.DescribeCluster"}),
        ("GET", "/nowhere", {}),
    ):
        response, _ = raw(server, method=method, path=path, headers=headers)
        date = email.utils.parsedate_to_datetime(response.getheader("Date"))
        assert abs(date.timestamp() - time.time()) < 5
        assert UUID4.match(response.getheader("x-amzn-RequestId"))


def test_R4_missing_target_is_400_unknown_operation(server):
    response, data = raw(server, headers={"Content-Type": "application/x-amz-json-1.1"})
    assert response.status == 400
    assert response.getheader("x-amzn-ErrorType") == "UnknownOperationException"
    assert json.loads(data) == {"__type": "UnknownOperationException", "message": "Missing X-Amz-Target header"}


@pytest.mark.parametrize("target", ["SageMaker.NoSuchThing", "Glue.GetTable", "SageMaker", "sagemaker.DescribeCluster"])
def test_R4_unknown_target_is_400_unknown_operation(server, target):
    response, data = raw(server, headers={"X-Amz-Target": target})
    assert response.status == 400
    assert json.loads(data) == {"__type": "UnknownOperationException", "message": f"Unknown operation {target}"}


def test_R4_model_operation_not_implemented_is_501_naming_it(server):
    response, data = raw(server, headers={"X-Amz-Target": "SageMaker.CreateTrainingJob"})
    assert response.status == 501
    assert json.loads(data) == {
        "__type": "NotImplementedException",
        "message": "Operation CreateTrainingJob is not implemented by hyperpod-local",
    }


@pytest.mark.parametrize("body,message", [
    (b"{not json", "Unable to parse request body as JSON"),
    (b"\xff\xfe", "Unable to parse request body as JSON"),
    (b"[]", "Request body must be a JSON object"),
    (b"42", "Request body must be a JSON object"),
    (b"[" * 100000, "Unable to parse request body as JSON"),
])
def test_R8_body_that_is_not_a_json_object_is_400_serialization_exception(server, body, message):
    response, data = raw(server, body=body, headers={"X-Amz-Target": "SageMaker.DescribeCluster"})
    assert response.status == 400
    assert response.getheader("Content-Type") == "application/x-amz-json-1.1"
    assert json.loads(data) == {"__type": "SerializationException", "message": message}


@pytest.mark.parametrize("content_type", ["application/x-amz-json-1.1", "application/json", "text/plain", None])
def test_R2_any_content_type_is_parsed_as_json(server, content_type):
    headers = {"X-Amz-Target": "SageMaker.DescribeCluster"}
    if content_type:
        headers["Content-Type"] = content_type
    response, data = raw(server, body=b"[1]", headers=headers)
    assert json.loads(data)["message"] == "Request body must be a JSON object"
    assert response.getheader("Content-Type") == "application/x-amz-json-1.1"


@pytest.mark.parametrize("method,path", [("GET", "/"), ("POST", "/2017-07-24/clusters"), ("DELETE", "/"), ("GET", "/index.html")])
def test_R1_other_methods_and_paths_are_404_json(server, method, path):
    response, data = raw(server, method=method, path=path, body=None, headers={"X-Amz-Target": "SageMaker.DescribeCluster"})
    assert response.status == 404
    assert json.loads(data)["__type"] == "UnknownOperationException"
    assert b"<html" not in data.lower()


def test_RA1_health(server):
    response, data = raw(server, method="GET", path="/_hyperpod/health", body=None)
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/json"
    health = json.loads(data)
    assert set(health) == {"status", "version", "uptimeSeconds"}
    assert health["status"] == "running"
    assert re.match(r"^\d+\.\d+\.\d+$", health["version"])
    assert isinstance(health["uptimeSeconds"], int) and health["uptimeSeconds"] >= 0


def test_R1_admin_unknown_route_is_404_error_json(server):
    response, data = raw(server, method="GET", path="/_hyperpod/nothing-here", body=None)
    assert response.status == 404
    assert "error" in json.loads(data)


def test_R5_aws_cli_describe_cluster_reports_the_error(server):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
               AWS_DEFAULT_REGION="us-east-1", AWS_MAX_ATTEMPTS="1")
    result = subprocess.run(
        ["aws", "sagemaker", "describe-cluster", "--cluster-name", "demo", "--endpoint-url", server.endpoint],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode != 0
    assert "ResourceNotFound" in result.stderr
    assert "Could not find cluster 'arn:aws:sagemaker:us-east-1:000000000000:cluster/demo'" in result.stderr


def test_R24_R25_R26_identity_comes_from_the_sigv4_credential_scope(server):
    # A real SigV4-signing client: a 12-digit access key is the account, the scope's region is the region, and the
    # ARN partition follows the region.
    for region, key, partition, account in (
        ("ap-northeast-1", "123456789012", "aws", "123456789012"),
        ("cn-north-1", "AKIAIOSFODNN7EXAMPLE", "aws-cn", "000000000000"),
    ):
        client = make_client(server.endpoint, region=region, access_key=key)
        with pytest.raises(ClientError) as caught:
            client.describe_cluster(ClusterName="x")
        assert caught.value.response["Error"]["Message"] == (
            f"Could not find cluster 'arn:{partition}:sagemaker:{region}:{account}:cluster/x'")


def test_R7_request_log_names_operation_status_code_latency_and_request_id(server):
    response, _ = raw(server, body=b'{"ClusterName":"x"}', headers={"X-Amz-Target": "SageMaker.DescribeCluster"})
    request_id = response.getheader("x-amzn-RequestId")
    # The line is written (unbuffered stderr) before the response is sent.
    line = next(l for l in server.log().splitlines() if request_id in l)
    for field in ("aws.operation=DescribeCluster", "http.status=400", "aws.error_code=ResourceNotFound", "latency_ms="):
        assert field in line, line
