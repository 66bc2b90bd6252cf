"""Every constraint of the model, for the task-governance and training-plan operations (issue #17 must-show 3; §2,
R14–R22): a valid request with every member set is mutated one constraint at a time — a required member dropped, a
string one character too short or too long, a value outside its pattern or enum, a number or a list out of range — and
each variant must answer 400 ValidationException with the exact message the R16–R22 rules give.

The variants are generated from the server's own embedded model (the file the binary is built from), so a constraint
the model adds is covered without editing this file."""
import json
import os
import re
import urllib.request

import pytest

from conftest import ROOT

MODEL_PATH = os.path.join(ROOT, "Sources/AWSJSONProtocol/ServiceModel/sagemaker-cluster-model.json")
with open(MODEL_PATH) as f:
    MODEL = json.load(f)
SHAPES = MODEL["shapes"]

OPERATIONS = [
    "CreateClusterSchedulerConfig", "DescribeClusterSchedulerConfig", "ListClusterSchedulerConfigs", "UpdateClusterSchedulerConfig",
    "DeleteClusterSchedulerConfig", "CreateComputeQuota", "DescribeComputeQuota", "ListComputeQuotas", "UpdateComputeQuota",
    "DeleteComputeQuota", "SearchTrainingPlanOfferings", "CreateTrainingPlan", "DescribeTrainingPlan", "ListTrainingPlans",
    "ExtendTrainingPlan", "DescribeTrainingPlanExtensionHistory", "DescribeReservedCapacity", "ListUltraServersByReservedCapacity",
]

# Valid values for strings whose pattern a few generic candidates do not satisfy.
SAMPLES = {
    "ClusterArn": "arn:aws:sagemaker:us-east-1:000000000000:cluster/abcdefabcdef",
    "TrainingPlanArn": "arn:aws:sagemaker:us-east-1:000000000000:training-plan/plan",
    "ReservedCapacityArn": "arn:aws:sagemaker:us-east-1:000000000000:reserved-capacity/plan-rc1",
    "TrainingPlanOfferingId": "tpo-" + "0" * 64,
    "TrainingPlanExtensionOfferingId": "tpeo-" + "0" * 64,
    "UltraServerType": "ml.u-p6e-gb200x36",
}
CANDIDATES = ["abcdefabcdef", "a", "abc", "team-a", "plan", "0", "12", "x1"]
BAD_PATTERN_CANDIDATES = ["!", "#bad#", "a b", "-a", "_", "UPPER", ".", "\t"]


def java_to_python(pattern):
    """The model's Java patterns in Python's `re` for the ASCII values used here (`\\p{L}` and friends as ASCII)."""
    return (pattern.replace(r"\p{L}", "a-zA-Z").replace(r"\p{Z}", " ").replace(r"\p{N}", "0-9")
            .replace(r"\p{P}", r"!\"#%&'()*,\-./:;?@\[\\\]_{}").replace(r"\p{S}", r"$+<=>\^`|~")
            .replace(r"\p{M}", "\u0300").replace(r"\p{Alnum}", "a-zA-Z0-9"))


def matches(shape, value):
    pattern = shape.get("pattern")
    return pattern is None or re.fullmatch(java_to_python(pattern), value) is not None


def length_ok(shape, value):
    return shape.get("min", 0) <= len(value) <= shape.get("max", 1 << 30)


def sample_string(name, shape):
    if "enum" in shape:
        return shape["enum"][0]
    if name in SAMPLES:
        return SAMPLES[name]
    for candidate in CANDIDATES + ["a" * shape.get("min", 1)]:
        if length_ok(shape, candidate) and matches(shape, candidate):
            return candidate
    raise AssertionError(f"no sample value for string shape {name} ({shape})")


def sample(name, depth=0):
    """A valid value of shape `name` with every member set (a union: its first member)."""
    shape = SHAPES[name]
    kind = shape["type"]
    if kind == "string":
        return sample_string(name, shape)
    if kind in ("integer", "long"):
        return max(shape.get("min", 1), 1) if shape.get("max", 1) >= 1 else shape.get("min", 0)
    if kind in ("float", "double"):
        return max(shape.get("min", 1), 1)
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return 1796601600
    if kind == "list":
        return [sample(shape["member"]["shape"], depth + 1)] * max(shape.get("min", 1), 1)
    if kind == "map":
        return {sample(shape["key"]["shape"]): sample(shape["value"]["shape"])}
    if kind == "structure":
        members = shape.get("memberOrder", sorted(shape["members"]))
        if shape.get("union"):
            members = members[:1]
        return {m: sample(shape["members"][m]["shape"], depth + 1) for m in members if depth < 6}
    raise AssertionError(f"unhandled shape type {kind}")


def render(value, shape_name):
    """R20: strings raw, numbers in decimal, lists [a, b], maps {k=v}, structures {Member=value} in model order."""
    shape = SHAPES[shape_name]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(render(v, shape["member"]["shape"]) for v in value) + "]"
    if isinstance(value, dict) and shape["type"] == "map":
        return "{" + ", ".join(f"{k}={render(v, shape['value']['shape'])}" for k, v in value.items()) + "}"
    if isinstance(value, dict):
        order = shape.get("memberOrder", sorted(shape["members"]))
        return "{" + ", ".join(f"{m}={render(value[m], shape['members'][m]['shape'])}" for m in order if m in value) + "}"
    return str(value)


def phrases(shape, value):
    """R17, R22: the failing constraints of a scalar or list value, in order (length, range, pattern, enum)."""
    out = []
    kind = shape["type"]
    if kind in ("string", "list", "map"):
        if "max" in shape and len(value) > shape["max"]:
            out.append(f"Member must have length less than or equal to {shape['max']}")
        if shape.get("min", 0) > 0 and len(value) < shape["min"]:
            out.append(f"Member must have length greater than or equal to {shape['min']}")
    if kind in ("integer", "long", "float", "double"):
        if "max" in shape and value > shape["max"]:
            out.append(f"Member must have value less than or equal to {render_number(shape['max'])}")
        if "min" in shape and value < shape["min"]:
            out.append(f"Member must have value greater than or equal to {render_number(shape['min'])}")
    if kind == "string" and "pattern" in shape and not matches(shape, value):
        out.append(f"Member must satisfy regular expression pattern: ^{shape['pattern']}$")
    if kind == "string" and "enum" in shape and value not in shape["enum"]:
        out.append(f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]")
    return out


def render_number(n):
    return str(int(n)) if float(n).is_integer() else str(n)


def lower_first(name):
    return name[0].lower() + name[1:]


def variants(operation):
    """(description, request, expected message) for every constraint reachable from the operation's input."""
    input_name = MODEL["operations"][operation]["input"]
    base = sample(input_name)
    found = []

    def walk(shape_name, path, getter_path):
        shape = SHAPES[shape_name]
        if shape.get("union"):
            return
        for member in shape.get("memberOrder", sorted(shape["members"])):
            member_shape_name = shape["members"][member]["shape"]
            member_shape = SHAPES[member_shape_name]
            member_path = path + [lower_first(member)]
            location = getter_path + [member]
            if member in shape.get("required", []):
                found.append((f"{'.'.join(member_path)} missing", mutate(base, location, None), "Value null at '"
                              + ".".join(member_path) + "' failed to satisfy constraint: Member must not be null"))
            for description, bad in bad_values(member_shape_name, member_shape):
                failing = phrases(member_shape, bad)
                if member_shape["type"] == "list" and not failing:
                    continue
                assert failing, (operation, member_path, description, bad)
                text = "; ".join(f"Value '{render(bad, member_shape_name)}' at '{'.'.join(member_path)}' failed to satisfy constraint: {p}"
                                 for p in failing)
                count = len(failing)
                prefix = "1 validation error detected: " if count == 1 else f"{count} validation errors detected: "
                found.append((f"{'.'.join(member_path)} {description}", mutate(base, location, bad), prefix + text))
            if member_shape["type"] == "structure":
                walk(member_shape_name, member_path, location)
            elif member_shape["type"] == "list" and SHAPES[member_shape["member"]["shape"]]["type"] == "structure":
                walk(member_shape["member"]["shape"], member_path + ["1", "member"], location + [0])
    walk(input_name, [], [])
    return base, [(d, r, "1 validation error detected: " + m if not m.startswith(("1 validation", "2 validation", "3 validation")) else m)
                  for d, r, m in found]


def mutate(document, location, value):
    """A deep copy of `document` with the member at `location` set to `value` (None: removed)."""
    copy = json.loads(json.dumps(document))
    target = copy
    for key in location[:-1]:
        target = target[key]
    if value is None:
        del target[location[-1]]
    else:
        target[location[-1]] = value
    return copy


def bad_values(name, shape):
    """Values of a member's shape that break one of its constraints each."""
    kind = shape["type"]
    out = []
    if kind == "string":
        base = sample_string(name, shape) if "enum" not in shape else "x"
        if "enum" in shape:
            out.append(("outside its enum", "NotAValue"))
            return out
        if shape.get("min", 0) > 0:
            out.append(("too short", base[: shape["min"] - 1] if len(base) >= shape["min"] else ""))
        if "max" in shape:
            out.append(("too long", (base * (shape["max"] // max(len(base), 1) + 2))[: shape["max"] + 1]))
        if "pattern" in shape:
            for candidate in BAD_PATTERN_CANDIDATES:
                padded = candidate * max(1, shape.get("min", 1))
                padded = padded[: max(shape.get("min", 1), len(candidate))]
                if length_ok(shape, padded) and not matches(shape, padded):
                    out.append(("outside its pattern", padded))
                    break
    elif kind in ("integer", "long"):
        if "min" in shape:
            out.append(("below its minimum", int(shape["min"]) - 1))
        if "max" in shape:
            out.append(("above its maximum", int(shape["max"]) + 1))
    elif kind in ("float", "double"):
        if "min" in shape:
            out.append(("below its minimum", int(shape["min"]) - 1))
        if "max" in shape and shape["max"] < 1e15:
            out.append(("above its maximum", int(shape["max"]) + 1))
    elif kind == "list":
        element = sample(shape["member"]["shape"])
        if shape.get("min", 0) > 0:
            out.append(("with too few elements", [element] * (shape["min"] - 1)))
        if "max" in shape and shape["max"] <= 200:
            out.append(("with too many elements", [element] * (shape["max"] + 1)))
    return out


def call(server, operation, body):
    request = urllib.request.Request(server.endpoint + "/", data=json.dumps(body).encode(), method="POST", headers={
        "X-Amz-Target": f"SageMaker.{operation}", "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261206/us-east-1/sagemaker/aws4_request, SignedHeaders=host, Signature=0"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_R14_R16_R17_R18_R22_every_constraint_of_the_operation_answers_its_exact_message(server, operation):
    base, cases = variants(operation)
    status, answer = call(server, operation, base)
    assert not (status == 400 and answer.get("__type") == "ValidationException" and "validation error" in answer.get("message", "")), answer
    assert cases, operation
    mismatches = []
    for description, body, expected in cases:
        status, answer = call(server, operation, body)
        got = (status, answer.get("__type"), answer.get("message") or answer.get("Message"))
        if got != (400, "ValidationException", expected):
            mismatches.append((description, expected, got))
    assert not mismatches, "\n".join(f"{d}:\n  expected {e}\n  got      {g}" for d, e, g in mismatches)


def test_the_variants_cover_every_constraint_of_the_ten_task_governance_operations():
    """The generator reaches every constrained member: counts per operation, so a silently skipped member shows."""
    counts = {op: len(variants(op)[1]) for op in OPERATIONS[:10]}
    assert all(n >= 2 for n in counts.values()), counts  # every one has at least its id (required, pattern)
    assert sum(counts.values()) >= 120, counts
