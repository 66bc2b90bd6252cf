#!/usr/bin/env python3
"""Prints what changed between two SageMaker service models for the HyperPod operations (issue #15): operations added
or removed, and, over every shape those operations reach, members, enum values, patterns and length/value bounds.

Usage: scripts/model-diff.py OLD-service-2.json[.gz] NEW-service-2.json[.gz]
"""
import gzip
import json
import re
import sys

# The HyperPod operations: clusters (with their extensions, operations, scheduler configs), training plans, compute
# quotas and reserved capacity; the tag operations they use.
HYPERPOD = re.compile(r"Cluster|TrainingPlan|ComputeQuota|ReservedCapacit")
TAG_OPERATIONS = ["AddTags", "ListTags", "DeleteTags"]


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def hyperpod_operations(model):
    return sorted(o for o in model["operations"] if HYPERPOD.search(o)) + TAG_OPERATIONS


def reachable(model, operations):
    shapes, seen = model["shapes"], set()

    def walk(name):
        if name in seen:
            return
        seen.add(name)
        shape = shapes[name]
        for key in ("member", "key", "value"):
            if key in shape:
                walk(shape[key]["shape"])
        for member in shape.get("members", {}).values():
            walk(member["shape"])

    for name in operations:
        op = model["operations"].get(name, {})
        for key in ("input", "output"):
            if key in op:
                walk(op[key]["shape"])
        for error in op.get("errors", []):
            walk(error["shape"])
    return seen


def listed(values, limit=12):
    values = sorted(values)
    text = ", ".join(values[:limit])
    return text + (f", … ({len(values)} in all)" if len(values) > limit else "")


def diff(old, new):
    """The lines of the summary."""
    lines = []
    old_ops, new_ops = set(hyperpod_operations(old)), set(hyperpod_operations(new))
    lines.append(f"HyperPod operations: {len(old_ops)} -> {len(new_ops)}")
    for name in sorted(new_ops - old_ops):
        lines.append(f"  + operation {name}")
    for name in sorted(old_ops - new_ops):
        lines.append(f"  - operation {name}")
    old_shapes, new_shapes = reachable(old, old_ops & set(old["operations"])), reachable(new, new_ops & set(new["operations"]))
    for name in sorted(new_shapes - old_shapes):
        if name not in old["shapes"]:
            lines.append(f"  + shape {name} ({new['shapes'][name]['type']})")
    for name in sorted(old_shapes & new_shapes):
        a, b = old["shapes"][name], new["shapes"][name]
        changes = []
        members_a, members_b = set(a.get("members", {})), set(b.get("members", {}))
        if members_b - members_a:
            changes.append(f"+ members {listed(members_b - members_a)}")
        if members_a - members_b:
            changes.append(f"- members {listed(members_a - members_b)}")
        required_a, required_b = set(a.get("required", [])), set(b.get("required", []))
        if required_a != required_b:
            changes.append(f"required {sorted(required_a)} -> {sorted(required_b)}")
        enum_a, enum_b = set(a.get("enum", [])), set(b.get("enum", []))
        if enum_b - enum_a:
            changes.append(f"+ enum values {listed(enum_b - enum_a)}")
        if enum_a - enum_b:
            changes.append(f"- enum values {listed(enum_a - enum_b)}")
        for key in ("pattern", "min", "max"):
            if a.get(key) != b.get(key):
                changes.append(f"{key} {a.get(key)!r} -> {b.get(key)!r}")
        if changes:
            lines.append(f"  ~ shape {name}: " + "; ".join(changes))
    return lines


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print("\n".join(diff(load(sys.argv[1]), load(sys.argv[2]))))


if __name__ == "__main__":
    main()
