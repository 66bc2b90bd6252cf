"""Model validation end to end (spec §2, issue #3): boto3 with client-side validation off, the corpus, strict members,
and a fuzz property test. Every expected message is AWS's format, exact."""
import json
import os
import random
import re
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import CORPUS, ROOT, make_client
from http_client import Reader, post

MODEL = json.load(open(os.path.join(ROOT, "Sources/AWSJSONProtocol/ServiceModel/sagemaker-cluster-model.json")))
ROLE = "arn:aws:iam::111122223333:role/hyperpod"
ROLE_PATTERN = r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$"
G1 = "instanceGroups.1.member"


def group(**changes):
    g = {
        "InstanceGroupName": "workers", "InstanceType": "ml.c5.xlarge", "InstanceCount": 2, "ExecutionRole": ROLE,
        "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-lifecycle/scripts/", "OnCreate": "on_create.sh"},
    }
    for key, value in changes.items():
        if value is None:
            g.pop(key, None)
        else:
            g[key] = value
    return g


@pytest.fixture
def unvalidated(server):
    """boto3 without client-side validation: what Go, Rust and JavaScript SDK users get."""
    return make_client(server.endpoint, parameter_validation=False)


def error_of(call):
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]


def is_model_validation_error(body):
    """A failure of the model stages (R8, R9, R14–R22), as opposed to a business rule's ValidationException."""
    message = body.get("message", "")
    return body.get("__type") == "SerializationException" or (
        body.get("__type") == "ValidationException"
        and (re.match(r"^\d+ validation errors? detected: ", message) or message.startswith("Parameter validation failed:")))


def passes_validation(call):
    """The request got past model validation (a 200 now that the operation exists; a business rule may still say no)."""
    try:
        call()
    except ClientError as e:
        error = e.response["Error"]
        assert not is_model_validation_error({"__type": error["Code"], "message": error["Message"]}), error


def test_R22_R301_bad_cluster_name_prints_the_1_44_pattern(unvalidated):
    """R301: the 1.44 model gave ClusterNameOrArn's pattern an outer group; the message prints it as the model has it."""
    error = error_of(lambda: unvalidated.describe_cluster(ClusterName="bad_name!"))
    assert error == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value 'bad_name!' at 'clusterName' failed to satisfy constraint: "
                   r"Member must satisfy regular expression pattern: ^((arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:cluster/[a-z0-9]{12})|([a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}))$",
    }


def test_R17_instance_count_7000(unvalidated):
    error = error_of(lambda: unvalidated.create_cluster(ClusterName="c", InstanceGroups=[group(InstanceCount=7000)]))
    assert error["Message"] == (f"1 validation error detected: Value '7000' at '{G1}.instanceCount' failed to satisfy "
                                "constraint: Member must have value less than or equal to 6758")


def test_R17_threads_per_core_3(unvalidated):
    error = error_of(lambda: unvalidated.create_cluster(ClusterName="c", InstanceGroups=[group(ThreadsPerCore=3)]))
    assert error["Message"] == (f"1 validation error detected: Value '3' at '{G1}.threadsPerCore' failed to satisfy "
                                "constraint: Member must have value less than or equal to 2")


def test_R17_bad_execution_role_arn(unvalidated):
    bad = "arn:aws:iam::111122223333:policy/NotARole"
    error = error_of(lambda: unvalidated.create_cluster(ClusterName="c", InstanceGroups=[group(ExecutionRole=bad)]))
    assert error["Message"] == (f"1 validation error detected: Value '{bad}' at '{G1}.executionRole' failed to satisfy "
                                f"constraint: Member must satisfy regular expression pattern: {ROLE_PATTERN}")


def test_R17_unknown_instance_type_lists_the_model_enum_in_order(unvalidated):
    error = error_of(lambda: unvalidated.create_cluster(ClusterName="c", InstanceGroups=[group(InstanceType="ml.p99.big")]))
    values = MODEL["shapes"]["ClusterInstanceType"]["enum"]
    assert error["Message"] == (f"1 validation error detected: Value 'ml.p99.big' at '{G1}.instanceType' failed to "
                                f"satisfy constraint: Member must satisfy enum value set: [{', '.join(values)}]")


def test_R16_missing_instance_group_name(unvalidated):
    error = error_of(lambda: unvalidated.create_cluster(ClusterName="c", InstanceGroups=[group(InstanceGroupName=None)]))
    assert error["Message"] == (f"1 validation error detected: Value null at '{G1}.instanceGroupName' failed to satisfy "
                                "constraint: Member must not be null")


def test_R16_two_violations_in_one_request_are_counted_and_joined(unvalidated):
    error = error_of(lambda: unvalidated.create_cluster(
        ClusterName="bad_name!", InstanceGroups=[group(InstanceCount=-1)]))
    assert error["Message"] == (
        "2 validation errors detected: Value 'bad_name!' at 'clusterName' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$; "
        f"Value '-1' at '{G1}.instanceCount' failed to satisfy constraint: Member must have value greater than or equal to 0")


def test_R18_R20_101_instance_groups(unvalidated):
    groups = [group(InstanceGroupName=f"g{i}") for i in range(101)]
    message = error_of(lambda: unvalidated.create_cluster(ClusterName="c", InstanceGroups=groups))["Message"]
    assert message.startswith("1 validation error detected: Value '[")
    assert message.endswith("]' at 'instanceGroups' failed to satisfy constraint: "
                            "Member must have length less than or equal to 100")


def test_R19_empty_string_in_security_group_ids(unvalidated):
    error = error_of(lambda: unvalidated.create_cluster(
        ClusterName="c", InstanceGroups=[group()], VpcConfig={"SecurityGroupIds": [""], "Subnets": ["subnet-0abc"]}))
    assert error["Message"] == (
        "1 validation error detected: Value '[]' at 'vpcConfig.securityGroupIds' failed to satisfy constraint: Member "
        "must satisfy constraint: [Member must have length less than or equal to 32, Member must satisfy regular "
        "expression pattern: ^[-0-9a-zA-Z]+$]")


def test_R65_source_s3_uri_without_sagemaker_prefix_is_accepted(unvalidated):
    lcc = {"SourceS3Uri": "s3://my-team-bucket/lifecycle/", "OnCreate": "on_create.sh"}
    passes_validation(lambda: unvalidated.create_cluster(ClusterName="c", InstanceGroups=[group(LifeCycleConfig=lcc)]))


def test_R15_s3_uri_with_empty_bucket_fails_the_pattern(unvalidated):
    lcc = {"SourceS3Uri": "s3:///lifecycle", "OnCreate": "on_create.sh"}
    error = error_of(lambda: unvalidated.create_cluster(ClusterName="c", InstanceGroups=[group(LifeCycleConfig=lcc)]))
    assert error["Message"] == (
        f"1 validation error detected: Value 's3:///lifecycle' at '{G1}.lifeCycleConfig.sourceS3Uri' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: ^(https|s3)://([^/]+)/?(.*)$")


def test_R8_string_for_an_integer_is_a_serialization_exception(unvalidated):
    error = error_of(lambda: unvalidated.create_cluster(ClusterName="c", InstanceGroups=[group(InstanceCount="2")]))
    assert error == {"Code": "SerializationException",
                     "Message": f"Unexpected JSON type at '{G1}.instanceCount': expected integer, found string"}


def test_R8_float_for_an_integer_is_a_serialization_exception(unvalidated):
    error = error_of(lambda: unvalidated.create_cluster(ClusterName="c", InstanceGroups=[group(InstanceCount=2.5)]))
    assert error == {"Code": "SerializationException", "Message": f"Value at '{G1}.instanceCount' is not a valid 32-bit integer"}


def test_R8_object_for_a_list_is_a_serialization_exception(server):
    # botocore cannot even serialize this; other SDKs' hand-built requests can send it.
    sock = server.connect()
    sock.sendall(post("SageMaker.CreateCluster", json.dumps({"ClusterName": "c", "InstanceGroups": {"a": group()}}).encode()))
    response = Reader(sock).response()
    assert response.status == 400
    assert json.loads(response.body) == {"__type": "SerializationException",
                                         "message": "Unexpected JSON type at 'instanceGroups': expected list, found object"}


def test_R8_non_number_timestamp_is_a_serialization_exception(server):
    sock = server.connect()
    sock.sendall(post("SageMaker.ListClusters", json.dumps({"CreationTimeAfter": "yesterday"}).encode()))
    response = Reader(sock).response()
    assert response.status == 400
    assert json.loads(response.body) == {"__type": "SerializationException",
                                         "message": "Unexpected JSON type at 'creationTimeAfter': expected timestamp, found string"}


# The corpus: every request file, its outcome at the validation layer (Tests/Fixtures/README.md).

def corpus_request(name):
    with open(os.path.join(CORPUS, name)) as f:
        body = json.load(f)
    if isinstance(body, list):  # an --instance-groups argument
        body = {"ClusterName": "wrapped", "InstanceGroups": body}
    return body


TAINT_NULLS = lambda group, taint: (  # noqa: E731
    f"Value null at 'instanceGroups.{group}.member.kubernetesConfig.taints.{taint}.member.key' failed to satisfy constraint: Member must not be null; "
    f"Value null at 'instanceGroups.{group}.member.kubernetesConfig.taints.{taint}.member.effect' failed to satisfy constraint: Member must not be null")
ROLE_PLACEHOLDER = lambda n: (  # noqa: E731
    f"Value '${{ROLE}}' at 'instanceGroups.{n}.member.executionRole' failed to satisfy constraint: Member must have length greater than or equal to 20; "
    f"Value '${{ROLE}}' at 'instanceGroups.{n}.member.executionRole' failed to satisfy constraint: Member must satisfy regular expression pattern: {ROLE_PATTERN}")
ID_PLACEHOLDER = lambda value, member: (  # noqa: E731
    f"Value '[{value}]' at 'vpcConfig.{member}' failed to satisfy constraint: Member must satisfy constraint: "
    "[Member must have length less than or equal to 32, Member must satisfy regular expression pattern: ^[-0-9a-zA-Z]+$]")

# File → (operation, None when model validation passes, else the exact ValidationException message). Business rules
# come after model validation: the R64 file passes the model and is then refused by that rule (checked below).
CORPUS_OUTCOMES = {
    "adt_create-cluster-eks-deephealth-noderecovery.json": ("CreateCluster", None),
    "adt_create-cluster-eks-unknown-fields-burnin-resilience.json": ("CreateCluster", None),
    "adt_create-cluster-slurm-login-controller-worker-template.json": ("CreateCluster",
        "8 validation errors detected: " + "; ".join([ROLE_PLACEHOLDER(1), ROLE_PLACEHOLDER(2), ROLE_PLACEHOLDER(3),
                                                      ID_PLACEHOLDER("$SECURITY_GROUP", "securityGroupIds"),
                                                      ID_PLACEHOLDER("$SUBNET_ID", "subnets")])),
    "adt_instance-groups-arg-slurm-c5-trn1.json": ("CreateCluster", None),
    "aiops_create-cluster-eks-continuous-tiered.json": ("CreateCluster", None),
    # Rejected by a business rule (R64), which comes after model validation.
    "aiops_create-cluster-eks-with-rig-REJECTED.json": ("CreateCluster", None),
    "awsblog_update-cluster-enable-karpenter-FROM-CLI-FLAGS.json": ("UpdateCluster", None),
    "awsdocs_create-cluster-eks-karpenter-continuous.json": ("CreateCluster", None),
    "awsdocs_create-cluster-eks-labels-taints-lowercase-keys.json": ("CreateCluster",
        "4 validation errors detected: " + TAINT_NULLS(1, 1) + "; " + TAINT_NULLS(1, 2)),
    "awsdocs_create-cluster-slurm-api-driven-slurmconfig.json": ("CreateCluster", None),
    "awsdocs_update-cluster-delete-instance-group.json": ("UpdateCluster", None),
    "awsdocs_update-cluster-k8s-labels-partial-group.json": ("UpdateCluster",
        "4 validation errors detected: "
        "Value null at 'instanceGroups.1.member.instanceCount' failed to satisfy constraint: Member must not be null; "
        "Value null at 'instanceGroups.1.member.executionRole' failed to satisfy constraint: Member must not be null; "
        + TAINT_NULLS(1, 1)),
    "awsdocs_update-cluster-scale-down-to-1.json": ("UpdateCluster", None),
    "furuya_create-cluster-minimal-with-comment-key.json": ("CreateCluster",
        "1 validation error detected: Value null at 'clusterName' failed to satisfy constraint: Member must not be null"),
    "hypcli_update-cluster-instance-groups-arg-missing-role.json": ("UpdateCluster",
        "1 validation error detected: Value null at 'instanceGroups.1.member.executionRole' failed to satisfy constraint: Member must not be null"),
    "moto_create-cluster-two-groups-test-fixture.json": ("CreateCluster", None),
    "qingyuan_instance-groups-arg-slurm-g5.json": ("CreateCluster", None),
}


def test_corpus_table_covers_every_request_file():
    requests = {f for f in os.listdir(CORPUS) if f.endswith(".json") and "RESPONSE" not in f}
    assert requests == set(CORPUS_OUTCOMES)


def reset(server):
    """Each corpus file runs in a fresh partition (several share a cluster name; INDEX.md)."""
    urllib.request.urlopen(urllib.request.Request(server.endpoint + "/_hyperpod/reset", data=b"{}", method="POST")).read()


@pytest.mark.parametrize("name", sorted(CORPUS_OUTCOMES))
def test_corpus_request_gets_its_validation_outcome(server, name):
    operation, message = CORPUS_OUTCOMES[name]
    reset(server)
    sock = server.connect()
    sock.sendall(post(f"SageMaker.{operation}", json.dumps(corpus_request(name)).encode()))
    response = Reader(sock).response()
    body = json.loads(response.body)
    if message is None:
        assert not is_model_validation_error(body), body
        if name == "aiops_create-cluster-eks-with-rig-REJECTED.json":
            assert body == {"__type": "ValidationException", "message": "Found RestrictedInstanceGroups in the cluster "
                            "input. Please remove RestrictedInstanceGroups from the request and try again."}  # R64
        elif operation == "CreateCluster":
            assert response.status == 200 and body["ClusterArn"].startswith("arn:aws:sagemaker:"), body
        else:  # passes the model; the fresh partition has no such cluster (R68: resolve comes next)
            assert response.status == 400 and body["__type"] == "ResourceNotFound", body
    else:
        assert response.status == 400
        assert body == {"__type": "ValidationException", "message": message}
    sock.close()


def test_R9_unknown_members_are_ignored_and_logged(server):
    sock = server.connect()
    reset(server)
    sock.sendall(post("SageMaker.CreateCluster", json.dumps(corpus_request(
        "adt_create-cluster-eks-unknown-fields-burnin-resilience.json")).encode()))
    response = Reader(sock).response()
    assert response.status == 200, response.body
    lines = [l for l in server.log().splitlines() if response.header("x-amzn-RequestId") in l and "unknown_members" in l]
    assert len(lines) == 1 and " notice " in lines[0]  # once per request, at notice (issue #15)
    assert "InstanceGroups[0].EnableBurnInTest" in lines[0] and "input.ResilienceConfig" in lines[0]  # each with its path


def test_R9_strict_members_rejects_them_in_botocore_wording(make_server):
    server = make_server("--strict-members")
    sock = server.connect()
    sock.sendall(post("SageMaker.CreateCluster", json.dumps(corpus_request(
        "adt_create-cluster-eks-unknown-fields-burnin-resilience.json")).encode()))
    response = Reader(sock).response()
    body = json.loads(response.body)
    assert response.status == 400 and body["__type"] == "ValidationException"
    lines = body["message"].split("\n")
    assert lines[0] == "Parameter validation failed:"
    assert any(l.startswith('Unknown parameter in ') and '"EnableBurnInTest"' in l for l in lines[1:])
    assert any('"ResilienceConfig"' in l for l in lines[1:])


# Fuzz property: random JSON anywhere in CreateCluster and UpdateCluster requests never yields a 500 or a crash.

def random_json(rng, depth=0):
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0: return None
    if kind == 1: return rng.choice([True, False])
    if kind == 2: return rng.choice([0, -1, 1, 2, 6758, 6759, 2**31 - 1, 2**31, -2**63, 2**64, 10**30])
    if kind == 3: return rng.choice([0.5, -0.0, 1e308, 7.0, 1e-300])
    if kind == 4: return rng.choice(["", " ", "\n", "a" * 3000, "ü\u0000\u2028", "\ud83d\ude00", "ml.c5.xlarge", "arn:aws:iam::111122223333:role/x", "s3://b/x"])
    if kind == 5: return "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(0, 40)))
    if kind == 6: return [random_json(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if kind == 7: return {rng.choice(["Key", "Value", "x", "InstanceCount", ""]): random_json(rng, depth + 1) for _ in range(rng.randrange(0, 4))}
    return [{"InstanceGroupName": random_json(rng, depth + 1), "InstanceCount": random_json(rng, depth + 1)}]


def member_paths(shape_name, prefix=(), depth=0):
    """Every member path of a shape (lists step into element 0), depth-limited."""
    shape = MODEL["shapes"][shape_name]
    if depth > 6:
        return
    if shape["type"] == "structure":
        for name in shape["memberOrder"]:
            yield prefix + (name,)
            yield from member_paths(shape["members"][name]["shape"], prefix + (name,), depth + 1)
    elif shape["type"] == "list":
        yield from member_paths(shape["member"]["shape"], prefix + (0,), depth + 1)


def set_path(document, path, value):
    node = document
    for step, next_step in zip(path, path[1:]):
        if isinstance(step, int):
            while not isinstance(node, list) or len(node) <= step:
                return
            node = node[step]
        else:
            if not isinstance(node, dict):
                return
            node = node.setdefault(step, [] if isinstance(next_step, int) else {})
            if isinstance(next_step, int) and isinstance(node, list) and not node:
                node.append({})
    if isinstance(node, dict) and not isinstance(path[-1], int):
        node[path[-1]] = value


@pytest.mark.parametrize("operation", ["CreateCluster", "UpdateCluster"])
def test_fuzz_random_json_in_every_member_never_yields_a_500(server, operation):
    rng = random.Random(20261130)
    paths = list(member_paths(f"{operation}Request"))
    assert len(paths) > 100
    sock = server.connect()
    reader = Reader(sock)
    statuses = {}
    passed_model_validation = 0
    for i in range(1500):
        document = {"ClusterName": "fuzz", "InstanceGroups": [group()]}
        for path in rng.sample(paths, rng.randrange(1, 4)):
            set_path(document, path, random_json(rng))
        body = json.dumps(document).encode()
        sock.sendall(post(f"SageMaker.{operation}", body))
        response = reader.response()
        statuses[response.status] = statuses.get(response.status, 0) + 1
        assert response.status in (200, 400, 501), (response.status, body[:500])
        parsed = json.loads(response.body)
        passed_model_validation += not is_model_validation_error(parsed)
        if response.status == 200:
            assert parsed["ClusterArn"].startswith("arn:aws:sagemaker:")
        else:
            assert parsed["__type"] in ("ValidationException", "SerializationException", "NotImplementedException",
                                        "ResourceInUse", "ResourceNotFound", "ConflictException", "ResourceLimitExceeded"), parsed
    assert statuses.get(400, 0) > 500  # most random values are caught…
    assert passed_model_validation > 20  # …and some pass model validation
    sock.close()
    assert server.process.poll() is None
