"""Who may call what (issue #18): `--auth verify` checks every SageMaker request's SigV4 signature against the
credentials of `--identities`; `--auth enforce` then evaluates the caller's IAM identity-based policies. Driven by
boto3, botocore's own signer (for requests a client would not send: tampered bodies and headers, gzip bodies, old dates)
and the AWS CLI. Every refused call is shown to change nothing. Codes, statuses and texts: docs/authentication.md."""
import datetime
import gzip
import http.client
import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import make_client, require_client
from test_clusters import admin, group
from test_update_cluster import error_of, settle

ACCOUNT = "123456789012"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:user/deployer"
SESSION_ACCOUNT = "210987654321"
SESSION = f"arn:aws:sts::{SESSION_ACCOUNT}:assumed-role/Builder/ci-run"
TOKEN = "FwoGZXIvYXdzEJr//////////wEaDHRlc3Qtc2Vzc2lvbi10b2tlbg=="
MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
            "Key and signing method. Consult the service documentation for details.")
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"}]}

IDENTITIES = {
    "principals": {DEPLOYER: {"policies": [ALLOW_ALL]}, SESSION: {"policies": [ALLOW_ALL]}},
    "credentials": [
        {"accessKeyId": "AKIADEPLOYER0000001", "secretAccessKey": "s3cr3t-deployer-key-0001", "principal": DEPLOYER},
        {"accessKeyId": "ASIASESSION00000001", "secretAccessKey": "t3mp-session-key-0001", "principal": SESSION,
         "sessionToken": TOKEN},
    ],
}


def write_identities(path, identities):
    path.write_text(json.dumps(identities))
    return str(path)


@pytest.fixture
def verifying(make_server, tmp_path):
    return make_server("--clock", "manual", "--auth", "verify", "--identities", write_identities(tmp_path / "ids.json", IDENTITIES))


def client(server, key="AKIADEPLOYER0000001", secret="s3cr3t-deployer-key-0001", token=None, region="us-east-1"):
    import boto3
    from botocore.config import Config
    return boto3.client("sagemaker", endpoint_url=server.endpoint, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token, config=Config(retries={"max_attempts": 1}))


def signed(server, operation, body, key="AKIADEPLOYER0000001", secret="s3cr3t-deployer-key-0001", token=None,
           headers=None, gzipped=False):
    """A request signed by botocore's SigV4 signer, as (headers, body bytes), for the test to send as is or altered."""
    data = json.dumps(body).encode()
    if gzipped:
        data = gzip.compress(data)
    request = AWSRequest(method="POST", url=server.endpoint + "/", data=data, headers={
        "X-Amz-Target": f"SageMaker.{operation}", "Content-Type": "application/x-amz-json-1.1",
        **({"Content-Encoding": "gzip"} if gzipped else {}), **(headers or {})})
    SigV4Auth(Credentials(key, secret, token), "sagemaker", "us-east-1").add_auth(request)
    return dict(request.headers.items()), data


def send(server, headers, data):
    """POST / with exactly these headers and bytes; returns (status, JSON body)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    connection.request("POST", "/", body=data, headers=headers)
    response = connection.getresponse()
    answer = (response.status, json.loads(response.read() or b"{}"))
    connection.close()
    return answer


def clusters_of(server, account=ACCOUNT):
    return [c["ClusterName"] for c in admin(server, f"/_hyperpod/state?account={account}&region=us-east-1")["clusters"]]


def create_body(name, count=1, tags=None):
    body = {"ClusterName": name, "InstanceGroups": [group("g", count)]}
    if tags:
        body["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return body


# --- verify: what succeeds -------------------------------------------------------------------------------------------

def test_R28_verify_a_correctly_signed_call_succeeds_in_its_principals_account(verifying):
    sm = client(verifying)
    arn = sm.create_cluster(**create_body("signed"))["ClusterArn"]
    assert arn.startswith(f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:cluster/")  # the principal's account, not the key's
    settle(verifying)
    assert sm.describe_cluster(ClusterName="signed")["ClusterStatus"] == "InService"
    # Temporary credentials of an assumed-role session: signed with the session token, in the session's account.
    session = client(verifying, key="ASIASESSION00000001", secret="t3mp-session-key-0001", token=TOKEN)
    assert session.list_clusters()["ClusterSummaries"] == []
    other = session.create_cluster(**create_body("from-a-session"))["ClusterArn"]
    assert f":{SESSION_ACCOUNT}:cluster/" in other
    assert clusters_of(verifying, SESSION_ACCOUNT) == ["from-a-session"]


def test_R28_verify_signs_a_gzip_body_as_sent_and_unsigned_admin_routes_still_answer(verifying):
    headers, data = signed(verifying, "CreateCluster", create_body("zipped", count=2), gzipped=True)
    status, body = send(verifying, headers, data)
    assert status == 200, body
    assert clusters_of(verifying) == ["zipped"]
    # The admin API is never SigV4-checked (§14a): the test harness keeps driving the clock unsigned.
    assert admin(verifying, "/_hyperpod/clock")["mode"] == "manual"


def at(offset_minutes):
    """Patches botocore's signer to sign at the wall clock plus `offset_minutes`."""
    moment = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(minutes=offset_minutes)
    return mock.patch("botocore.auth.get_current_datetime", return_value=moment)


def test_R29_verify_dates_are_judged_on_the_wall_clock_15_minutes_either_way(verifying):
    sm = client(verifying)
    with at(-10):
        assert sm.list_clusters()["ClusterSummaries"] == []
    with at(+10):
        assert sm.list_clusters()["ClusterSummaries"] == []
    # The virtual clock is irrelevant: a month of virtual time later, a request signed now still passes.
    admin(verifying, "/_hyperpod/clock", {"advanceSeconds": 30 * 86400})
    assert sm.list_clusters()["ClusterSummaries"] == []
    with at(-20):
        code, message = error_of(sm.create_cluster, **create_body("too-old"))
    assert code == "InvalidSignatureException"
    match = re.fullmatch(r"Signature expired: (\d{8}T\d{6}Z) is now earlier than (\d{8}T\d{6}Z) \((\d{8}T\d{6}Z) - 15 min\.\)", message)
    assert match, message
    signed_at, limit, now = (datetime.datetime.strptime(g, "%Y%m%dT%H%M%SZ") for g in match.groups())
    assert now - limit == datetime.timedelta(minutes=15)
    assert abs((now - signed_at) - datetime.timedelta(minutes=20)) < datetime.timedelta(seconds=5)
    with at(+20):
        code, message = error_of(sm.create_cluster, **create_body("too-new"))
    assert code == "InvalidSignatureException"
    assert re.fullmatch(r"Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 15 min\.\)", message)
    assert clusters_of(verifying) == []  # neither refused create left anything


# --- verify: each failure, its code, status and message, and nothing changed ----------------------------------------

def test_R29_verify_each_failure_answers_AWS_code_status_and_message_and_changes_nothing(verifying):
    sm = client(verifying)
    sm.create_cluster(**create_body("keep"))
    settle(verifying)
    before = admin(verifying, f"/_hyperpod/state?account={ACCOUNT}&region=us-east-1")
    describe = {"ClusterName": "keep"}

    # Missing Authorization header.
    headers, data = signed(verifying, "DeleteCluster", describe)
    del headers["Authorization"]
    assert send(verifying, headers, data) == (403, {"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"})

    # Malformed header: a credential without SignedHeaders and Signature.
    headers, data = signed(verifying, "DeleteCluster", describe)
    headers["Authorization"] = headers["Authorization"].split(",")[0]
    status, body = send(verifying, headers, data)
    assert (status, body["__type"]) == (400, "IncompleteSignatureException")
    assert body["message"] == ("Authorization header requires 'Signature' parameter. Authorization header requires "
                               f"'SignedHeaders' parameter. Authorization={headers['Authorization']}")

    # Tampered body: signed for one cluster, sent for another.
    headers, data = signed(verifying, "DeleteCluster", {"ClusterName": "other"})
    status, body = send(verifying, headers, json.dumps(describe).encode())
    assert (status, body["__type"]) == (400, "InvalidSignatureException")
    assert body["message"].startswith(MISMATCH + "\n\nThe Canonical String for this request should have been\n'POST\n/\n")
    assert "\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in body["message"]

    # Tampered signed header: a signed DescribeCluster turned into a DeleteCluster.
    headers, data = signed(verifying, "DescribeCluster", describe)
    headers["X-Amz-Target"] = "SageMaker.DeleteCluster"
    status, body = send(verifying, headers, data)
    assert (status, body["__type"]) == (400, "InvalidSignatureException") and body["message"].startswith(MISMATCH)

    # Wrong secret, through boto3.
    code, message = error_of(client(verifying, secret="not-the-secret").delete_cluster, ClusterName="keep")
    assert code == "InvalidSignatureException" and message.startswith(MISMATCH)

    # Unknown access key; a session credential with a wrong token, and without one.
    for stranger in [client(verifying, key="AKIAUNKNOWN00000001"),
                     client(verifying, key="ASIASESSION00000001", secret="t3mp-session-key-0001", token="forged"),
                     client(verifying, key="ASIASESSION00000001", secret="t3mp-session-key-0001")]:
        assert error_of(stranger.delete_cluster, ClusterName="keep") == (
            "UnrecognizedClientException", "The security token included in the request is invalid.")

    # Expired date.
    with at(-16):
        code, message = error_of(sm.delete_cluster, ClusterName="keep")
    assert code == "InvalidSignatureException" and message.startswith("Signature expired: ")

    # A credential scoped to another service.
    headers, data = signed(verifying, "DeleteCluster", describe)
    headers["Authorization"] = headers["Authorization"].replace("/sagemaker/", "/dynamodb/")
    assert send(verifying, headers, data) == (400, {"__type": "InvalidSignatureException",
                                                    "message": "Credential should be scoped to correct service: 'sagemaker'. "})

    after = admin(verifying, f"/_hyperpod/state?account={ACCOUNT}&region=us-east-1")
    assert after == before  # no refused call changed anything
    assert sm.describe_cluster(ClusterName="keep")["ClusterStatus"] == "InService"


def test_R29_verify_the_status_and_error_header_of_a_refusal_as_an_SDK_reads_them(verifying):
    headers, data = signed(verifying, "ListClusters", {})
    headers["Authorization"] = headers["Authorization"][:-4] + "0000"
    connection = http.client.HTTPConnection(verifying.host, verifying.port, timeout=10)
    connection.request("POST", "/", body=data, headers=headers)
    response = connection.getresponse()
    assert response.status == 400
    assert response.getheader("x-amzn-ErrorType") == "InvalidSignatureException"
    assert response.getheader("Content-Type") == "application/x-amz-json-1.1"
    assert re.fullmatch(r"[0-9a-f-]{36}", response.getheader("x-amzn-RequestId"))
    connection.close()


def test_R28_the_AWS_CLI_in_verify_mode(verifying):
    require_client("AWS CLI", "awscli", ["aws", "--version"])

    def aws(*args, secret="s3cr3t-deployer-key-0001", key="AKIADEPLOYER0000001", token=None):
        env = dict(os.environ, AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION="us-east-1",
                   AWS_MAX_ATTEMPTS="1")
        env.pop("AWS_SESSION_TOKEN", None)
        if token:
            env["AWS_SESSION_TOKEN"] = token
        return subprocess.run(["aws", "--endpoint-url", verifying.endpoint, "sagemaker", *args], capture_output=True,
                              text=True, env=env, timeout=60)

    created = aws("create-cluster", "--cluster-name", "cli", "--instance-groups", json.dumps([group("g", 1)]))
    assert created.returncode == 0, created.stderr
    assert f":{ACCOUNT}:cluster/" in json.loads(created.stdout)["ClusterArn"]
    session = aws("list-clusters", key="ASIASESSION00000001", secret="t3mp-session-key-0001", token=TOKEN)
    assert session.returncode == 0 and json.loads(session.stdout)["ClusterSummaries"] == []
    wrong = aws("delete-cluster", "--cluster-name", "cli", secret="wrong")
    assert wrong.returncode != 0
    assert "An error occurred (InvalidSignatureException) when calling the DeleteCluster operation: " + MISMATCH in wrong.stderr
    unknown = aws("delete-cluster", "--cluster-name", "cli", key="AKIANOBODY000000001")
    assert ("An error occurred (UnrecognizedClientException) when calling the DeleteCluster operation: "
            "The security token included in the request is invalid.") in unknown.stderr
    assert clusters_of(verifying) == ["cli"]


# --- the identities file: listing, reload ---------------------------------------------------------------------------

def test_the_identities_are_listed_with_secrets_masked_and_reload_takes_effect_at_once(verifying, tmp_path):
    listing = admin(verifying, "/_hyperpod/auth")
    assert listing["mode"] == "verify"
    assert listing["principals"][SESSION] == {"account": SESSION_ACCOUNT, "policies": 1, "statements": 1}
    masked = {c["accessKeyId"]: c for c in listing["credentials"]}
    assert masked["AKIADEPLOYER0000001"]["secretAccessKey"] == "****0001"
    assert masked["ASIASESSION00000001"]["sessionToken"] == "****bg=="
    assert "s3cr3t" not in json.dumps(listing) and TOKEN not in json.dumps(listing)

    newcomer = client(verifying, key="AKIANEWCOMER0000001", secret="n3w-secret-value-0001")
    assert error_of(newcomer.list_clusters)[0] == "UnrecognizedClientException"
    grown = json.loads(json.dumps(IDENTITIES))
    grown["credentials"].append({"accessKeyId": "AKIANEWCOMER0000001", "secretAccessKey": "n3w-secret-value-0001",
                                 "principal": DEPLOYER})
    write_identities(tmp_path / "ids.json", grown)
    assert len(admin(verifying, "/_hyperpod/auth/reload", {})["credentials"]) == 3
    assert newcomer.list_clusters()["ClusterSummaries"] == []

    # A broken file is refused with its fault named, and the identities in effect stay.
    (tmp_path / "ids.json").write_text('{"principals": {"arn:aws:iam::1:user/x": {}}}')
    with pytest.raises(urllib.error.HTTPError) as refused:
        admin(verifying, "/_hyperpod/auth/reload", {})
    assert refused.value.code == 400
    assert "not a principal ARN" in json.load(refused.value)["error"]
    assert newcomer.list_clusters()["ClusterSummaries"] == []


# --- enforce: the policy matrix ---------------------------------------------------------------------------------------

TEAMS = "111111111111"


def principal(name):
    return f"arn:aws:iam::{TEAMS}:user/{name}"


def statement(effect, action, resource="*", condition=None, negate_action=False):
    s = {"Effect": effect, ("NotAction" if negate_action else "Action"): action, "Resource": resource}
    if condition:
        s["Condition"] = condition
    return s


POLICIES = {
    "admin": [statement("Allow", "sagemaker:*")],
    "reader": [statement("Allow", ["sagemaker:Describe*", "sagemaker:List*"])],
    # Everything on clusters of its account but deletion: an explicit deny beats the allow.
    "operator": [statement("Allow", "sagemaker:*Cluster*", f"arn:aws:sagemaker:us-east-1:{TEAMS}:cluster/*"),
                 statement("Allow", "sagemaker:ListClusters"),
                 statement("Deny", "sagemaker:DeleteCluster")],
    # Only clusters tagged team=a, and only creates that tag them so, with no keys but team and owner.
    "team-a": [statement("Allow", "sagemaker:*", condition={"StringEquals": {"aws:ResourceTag/team": "a"}}),
               statement("Allow", ["sagemaker:CreateCluster", "sagemaker:AddTags"], condition={
                   "StringEquals": {"aws:RequestTag/team": "a"}, "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "owner"]}})],
    # Anything but deletes.
    "no-deletes": [statement("Allow", "sagemaker:Delete*", negate_action=True)],
    # Anything, in us-west-2 only.
    "west": [statement("Allow", "sagemaker:*", condition={"StringEquals": {"aws:RequestedRegion": "us-west-2"}})],
    # Creates without the AddTags that tag-on-create needs.
    "untagger": [statement("Allow", ["sagemaker:CreateCluster", "sagemaker:DescribeCluster"])],
}


def team_identities():
    identities = {"principals": {}, "credentials": []}
    for name, statements in POLICIES.items():
        identities["principals"][principal(name)] = {"policies": [{"Version": "2012-10-17", "Statement": statements}]}
        identities["credentials"].append({"accessKeyId": f"AKIA{name.upper().replace('-', '')}", "secretAccessKey": f"{name}-secret",
                                          "principal": principal(name)})
    return identities


@pytest.fixture
def enforcing(make_server, tmp_path):
    server = make_server("--clock", "manual", "--auth", "enforce", "--identities",
                         write_identities(tmp_path / "teams.json", team_identities()))
    server.identities_path = tmp_path / "teams.json"
    return server


def as_(server, name, region="us-east-1"):
    return client(server, key=f"AKIA{name.upper().replace('-', '')}", secret=f"{name}-secret", region=region)


def denied(action, resource, name, explicit=False):
    on = "" if resource == "*" else f" on resource: {resource}"
    reason = "with an explicit deny in an identity-based policy" if explicit else \
        f"because no identity-based policy allows the sagemaker:{action} action"
    return ("AccessDeniedException", f"User: {principal(name)} is not authorized to perform: sagemaker:{action}{on} {reason}")


def test_enforce_policy_matrix_action_wildcards_resources_tags_explicit_deny_and_NotAction(enforcing):
    admin_sm = as_(enforcing, "admin")
    a = admin_sm.create_cluster(**create_body("team-a-cluster", tags={"team": "a"}))["ClusterArn"]
    b = admin_sm.create_cluster(**create_body("team-b-cluster", tags={"team": "b"}))["ClusterArn"]
    settle(enforcing)

    def state():
        dump = admin(enforcing, f"/_hyperpod/state?account={TEAMS}&region=us-east-1")
        return {key: value for key, value in dump.items() if key != "clock"}

    before = state()

    reader, operator, team_a = as_(enforcing, "reader"), as_(enforcing, "operator"), as_(enforcing, "team-a")
    no_deletes, west, untagger = as_(enforcing, "no-deletes"), as_(enforcing, "west"), as_(enforcing, "untagger")
    # Action wildcards: Describe* and List* allow reads, nothing else.
    assert reader.describe_cluster(ClusterName="team-a-cluster")["ClusterArn"] == a
    assert len(reader.list_clusters()["ClusterSummaries"]) == 2
    assert error_of(reader.delete_cluster, ClusterName="team-a-cluster") == denied("DeleteCluster", a, "reader")
    assert error_of(reader.update_cluster, ClusterName=b, InstanceGroups=[group("g", 3)]) == denied("UpdateCluster", b, "reader")
    # A call on no one resource leaves "on resource" out, as IAM does.
    assert error_of(reader.search_training_plan_offerings, InstanceType="ml.p5.48xlarge", InstanceCount=1, DurationHours=24,
                    TargetResources=["hyperpod-cluster"]) == denied("SearchTrainingPlanOfferings", "*", "reader")
    # Resource ARN patterns with *Cluster*: allowed on clusters, not on what is not a cluster.
    assert operator.describe_cluster(ClusterName="team-b-cluster")["ClusterArn"] == b
    assert len(operator.list_cluster_nodes(ClusterName=b)["ClusterNodeSummaries"]) == 1
    assert error_of(operator.list_training_plans) == denied("ListTrainingPlans", "*", "operator")
    # An explicit deny wins over the allow.
    assert error_of(operator.delete_cluster, ClusterName="team-b-cluster") == denied("DeleteCluster", b, "operator", explicit=True)
    # Tag conditions: the resource's tags, the request's tags and its tag keys.
    assert team_a.describe_cluster(ClusterName="team-a-cluster")["ClusterArn"] == a
    assert error_of(team_a.describe_cluster, ClusterName="team-b-cluster") == denied("DescribeCluster", b, "team-a")
    assert error_of(team_a.update_cluster, ClusterName="team-b-cluster", InstanceGroups=[group("g", 3)]) == \
        denied("UpdateCluster", b, "team-a")
    new = f"arn:aws:sagemaker:us-east-1:{TEAMS}:cluster/"
    assert error_of(team_a.create_cluster, **create_body("b-by-a", tags={"team": "b"})) == denied("CreateCluster", new + "b-by-a", "team-a")
    assert error_of(team_a.create_cluster, **create_body("extra-key", tags={"team": "a", "cost": "x"})) == \
        denied("CreateCluster", new + "extra-key", "team-a")
    # NotAction: everything but Delete*.
    assert no_deletes.describe_cluster(ClusterName="team-b-cluster")["ClusterArn"] == b
    assert error_of(no_deletes.delete_cluster, ClusterName="team-b-cluster") == denied("DeleteCluster", b, "no-deletes")
    # aws:RequestedRegion: nothing in us-east-1.
    assert error_of(west.list_clusters) == denied("ListClusters", "*", "west")
    # Tag-on-create also needs sagemaker:AddTags on the new cluster.
    assert error_of(untagger.create_cluster, **create_body("tagged", tags={"k": "v"})) == denied("AddTags", new + "tagged", "untagger")

    assert state() == before  # no refused write changed anything

    # What is allowed does happen: the same principals, within their policies.
    assert team_a.create_cluster(**create_body("a-by-a", tags={"team": "a", "owner": "me"}))["ClusterArn"].startswith(new)
    team_a.update_cluster(ClusterName="team-a-cluster", InstanceGroups=[group("g", 2)])
    no_deletes.update_cluster(ClusterName="team-b-cluster", InstanceGroups=[group("g", 2)])
    assert untagger.create_cluster(**create_body("untagged"))["ClusterArn"].startswith(new)
    west_cluster = as_(enforcing, "west", region="us-west-2").create_cluster(**create_body("west"))["ClusterArn"]
    assert west_cluster.startswith(f"arn:aws:sagemaker:us-west-2:{TEAMS}:cluster/")
    settle(enforcing)
    assert admin_sm.describe_cluster(ClusterName="team-b-cluster")["InstanceGroups"][0]["CurrentCount"] == 2
    assert sorted(c["ClusterName"] for c in admin_sm.list_clusters()["ClusterSummaries"]) == \
        ["a-by-a", "team-a-cluster", "team-b-cluster", "untagged"]


def test_enforce_a_policy_on_one_clusters_ARN_after_a_reload(enforcing):
    admin_sm = as_(enforcing, "admin")
    one = admin_sm.create_cluster(**create_body("one"))["ClusterArn"]
    two = admin_sm.create_cluster(**create_body("two"))["ClusterArn"]
    identities = team_identities()
    identities["principals"][principal("reader")]["policies"] = [{"Version": "2012-10-17", "Statement": [
        statement("Allow", "sagemaker:DescribeCluster", one[:-1] + "?")]}]  # `?`: exactly one character
    write_identities(enforcing.identities_path, identities)
    admin(enforcing, "/_hyperpod/auth/reload", {})
    reader = as_(enforcing, "reader")
    assert reader.describe_cluster(ClusterName=one)["ClusterName"] == "one"
    assert reader.describe_cluster(ClusterName="one")["ClusterArn"] == one  # a name resolves to the same ARN
    assert error_of(reader.describe_cluster, ClusterName="two") == denied("DescribeCluster", two, "reader")
    # An unknown cluster is named by its name; being denied, the caller does not learn it does not exist.
    assert error_of(reader.describe_cluster, ClusterName="ghost") == \
        denied("DescribeCluster", f"arn:aws:sagemaker:us-east-1:{TEAMS}:cluster/ghost", "reader")
    assert error_of(reader.list_clusters) == denied("ListClusters", "*", "reader")


def test_enforce_a_principal_without_policies_and_a_cached_answer_are_both_refused(enforcing):
    """DescribeCluster answers come from a cache in the other modes; under enforce every call meets the policies."""
    admin_sm = as_(enforcing, "admin")
    arn = admin_sm.create_cluster(**create_body("cached"))["ClusterArn"]
    for _ in range(3):
        admin_sm.describe_cluster(ClusterName="cached")  # warms the cache for this body
    identities = team_identities()
    identities["principals"][principal("admin")]["policies"] = []
    write_identities(enforcing.identities_path, identities)
    admin(enforcing, "/_hyperpod/auth/reload", {})
    assert error_of(admin_sm.describe_cluster, ClusterName="cached") == denied("DescribeCluster", arn, "admin")


# --- start-up ----------------------------------------------------------------------------------------------------------

def run_serve(*args, env=None):
    from test_startup import run
    return run("serve", "--in-memory", "--port", "0", *args, env=env, timeout=10)


def test_serving_the_admin_API_beyond_loopback_without_a_token_refuses_to_start(make_server):
    started = run_serve("--host", "0.0.0.0")
    assert started.returncode == 1 and started.stdout == ""
    assert started.stderr.startswith("Error: refusing to serve the admin API without a token on 0.0.0.0, an address other "
                                     "machines can reach")
    assert "--admin-token" in started.stderr and "--admin-open" in started.stderr
    assert run_serve("--host", "::", env={"HYPERPOD_LOCAL_LOG_LEVEL": "error"}).returncode == 1
    # With a token, with --admin-open, or with the admin API off, it starts; on loopback it always did.
    for flags in [["--admin-token", "t0ken"], ["--admin-open"], ["--admin", "off"]]:
        server = make_server("--host", "0.0.0.0", *flags)
        assert make_client(f"http://127.0.0.1:{server.port}").list_clusters()["ClusterSummaries"] == []
    server = make_server("--host", "0.0.0.0", env={"HYPERPOD_LOCAL_ADMIN_TOKEN": "t0ken"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/_hyperpod/reset", data=b"{}", timeout=5)
    assert refused.value.code == 403
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/_hyperpod/reset", data=b"{}",
                                     headers={"X-Hyperpod-Admin-Token": "t0ken"})
    assert json.load(urllib.request.urlopen(request, timeout=5)) == {"reset": True}
    assert json.load(urllib.request.urlopen(f"http://127.0.0.1:{server.port}/_hyperpod/health", timeout=5))["status"] == "running"


def test_verify_and_enforce_need_a_usable_identities_file(tmp_path):
    missing = run_serve("--auth", "verify")
    assert missing.returncode != 0 and "--auth verify needs --identities FILE" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"principals": {DEPLOYER: {"policies": [{"Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sagemaker:*", "Resource": "*"}]}]}}}))
    refused = run_serve("--auth", "enforce", "--identities", str(bad))
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"Error: identities file {bad}: principals[\"{DEPLOYER}\"].policies[0].Statement[0] has Principal: an "
        "identity-based policy names no principal (its principal is the one it is attached to)")
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"principals": {DEPLOYER: {"policies": [{"Statement": [{"Effect": "Allow", "Action": "sagemaker:*",
        "Resource": "*", "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}}]}]}}}))
    refused = run_serve("--auth", "verify", "--identities", str(unknown))
    assert refused.returncode == 1 and 'unsupported condition operator "NumericLessThan"' in refused.stderr


def test_R28_parse_stays_the_default_and_takes_any_signature(make_server):
    server = make_server()
    sm = client(server, key="123456789012", secret="anything")
    assert sm.create_cluster(**create_body("parsed"))["ClusterArn"].startswith("arn:aws:sagemaker:us-east-1:123456789012:")
    assert admin(server, "/_hyperpod/auth")["mode"] == "parse"
    headers, data = signed(server, "ListClusters", {}, key="123456789012")
    headers["Authorization"] = headers["Authorization"][:-8] + "deadbeef"
    assert send(server, headers, data)[0] == 200


# --- what an attack found (each was a way past the policies or the token) ----------------------------------------------

def test_enforce_calls_naming_a_cluster_by_ClusterArn_meet_its_tags(enforcing):
    """ListClusterExtensions, the attach/detach and extension calls name the cluster by `ClusterArn`: the cluster and its
    tags are the resource, not `*`."""
    admin_sm = as_(enforcing, "admin")
    a = admin_sm.create_cluster(**create_body("team-a-cluster", tags={"team": "a"}))["ClusterArn"]
    b = admin_sm.create_cluster(**create_body("team-b-cluster", tags={"team": "b"}))["ClusterArn"]
    settle(enforcing)
    team_a = as_(enforcing, "team-a")
    if not hasattr(team_a, "list_cluster_extensions"):
        pytest.skip("the ClusterArn operations and MoveClusterNodes are new in botocore 1.44; this SDK has no method for them")
    assert team_a.list_cluster_extensions(ClusterArn=a)["Extensions"] == []
    assert error_of(team_a.list_cluster_extensions, ClusterArn=b) == denied("ListClusterExtensions", b, "team-a")
    # MoveClusterNodes acts on two clusters: both must be allowed.
    code, message = error_of(team_a.move_cluster_nodes, SourceClusterArn=a, SourceInstanceGroupName="g", TargetClusterArn=b,
                             TargetInstanceGroupName="g", InstanceCount=1)
    assert (code, message) == denied("MoveClusterNodes", b, "team-a")


def test_enforce_a_plan_named_in_other_letter_case_is_the_plans_own_ARN_with_its_tags(enforcing):
    admin_sm = as_(enforcing, "admin")
    offering = admin_sm.search_training_plan_offerings(InstanceType="ml.p5.48xlarge", InstanceCount=2, DurationHours=24,
                                                        TargetResources=["hyperpod-cluster"])["TrainingPlanOfferings"][0]
    arn = admin_sm.create_training_plan(TrainingPlanName="secretplan", TrainingPlanOfferingId=offering["TrainingPlanOfferingId"],
                                        Tags=[{"Key": "env", "Value": "prod"}])["TrainingPlanArn"]
    rc = admin_sm.describe_training_plan(TrainingPlanName=arn)["ReservedCapacitySummaries"][0]["ReservedCapacityArn"]
    identities = team_identities()
    identities["principals"][principal("reader")]["policies"].append({"Statement": [
        statement("Deny", "sagemaker:*", arn),
        statement("Deny", "sagemaker:*", condition={"StringEquals": {"aws:ResourceTag/env": "prod"}})]})
    write_identities(enforcing.identities_path, identities)
    admin(enforcing, "/_hyperpod/auth/reload", {})
    reader = as_(enforcing, "reader")
    shouted = arn.replace("secretplan", "SecretPlan")
    assert admin_sm.describe_training_plan(TrainingPlanName=shouted)["TrainingPlanArn"] == arn  # the handler ignores case
    for call, kwargs, action in [(reader.describe_training_plan, {"TrainingPlanName": shouted}, "DescribeTrainingPlan"),
                                 (reader.list_tags, {"ResourceArn": shouted}, "ListTags")]:
        assert error_of(call, **kwargs) == denied(action, arn, "reader", explicit=True)
    # The plan's reserved capacity carries the plan's tags.
    assert error_of(reader.describe_reserved_capacity, ReservedCapacityArn=rc) == \
        denied("DescribeReservedCapacity", rc, "reader", explicit=True)
    assert admin_sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]


def test_verify_an_injected_API_error_answers_only_after_authentication(verifying):
    admin(verifying, "/_hyperpod/faults", {"kind": "api-error", "operation": "*", "code": "ThrottlingException", "probability": 1})
    headers, data = signed(verifying, "ListClusters", {})
    del headers["Authorization"]
    assert send(verifying, headers, data)[0:1] == (403,)
    assert error_of(client(verifying, secret="wrong").list_clusters)[0] == "InvalidSignatureException"
    assert error_of(client(verifying).list_clusters)[0] == "ThrottlingException"


def test_the_admin_token_must_match_exactly_and_cannot_be_empty(make_server):
    server = make_server("--admin-token", "T0ken")

    def reset(token):
        request = urllib.request.Request(f"{server.endpoint}/_hyperpod/reset", data=b"{}", headers={"X-Hyperpod-Admin-Token": token})
        try:
            return urllib.request.urlopen(request, timeout=5).status
        except urllib.error.HTTPError as refused:
            return refused.code

    assert reset("T0ken") == 200
    for wrong in ["T0ken" + "x" * 256, "T0ken" + "x" * 255, "T0ke", "", "t0ken", "x" * 261]:
        assert reset(wrong) == 403, wrong
    empty = run_serve("--host", "0.0.0.0", "--admin-token", "")
    assert empty.returncode != 0 and "--admin-token must not be empty" in empty.stderr
    # An empty variable is no token: beyond loopback that still refuses to start.
    assert run_serve("--host", "0.0.0.0", env={"HYPERPOD_LOCAL_ADMIN_TOKEN": ""}).returncode == 1
