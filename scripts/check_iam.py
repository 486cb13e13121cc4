#!/usr/bin/env python3
"""`make lint`: every function's IAM policy in infra/template.yaml lists exactly the actions its
code calls — no fewer (it would fail in AWS), no more (least privilege) — plus the actions AWS
needs on the caller's behalf for a call it makes (IMPLIED below, each with its reason).

"What the code calls" is read from the source, not guessed: the operation names of every AWS SDK
crate in Cargo.lock (the directories under the crate's `src/operation/`) are looked for as SDK
fluent calls (`.list_query_executions()`) in the function's crate and in the shared-crate
functions it reaches (by name, transitively: over-counting only makes the check stricter), test
modules left out. An operation `op_name` of `aws-sdk-<service>` is the IAM action
`<service>:OpName`.

Also refused: wildcard actions (`*` in an action name).
"""

import glob
import os
import re
import sys

from cfnlint.decode import decode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Actions AWS performs with the caller's credentials for a call the code makes.
IMPLIED = {
    "sqs:SendMessage": {
        "kms:Decrypt": "the queue is encrypted with the stack's KMS key (the event source mapping also reads it as the function's role)",
        "kms:GenerateDataKey": "the queue is encrypted with the stack's KMS key",
    },
    "sns:Publish": {
        "kms:Decrypt": "the alert topic is encrypted with the stack's KMS key",
        "kms:GenerateDataKey": "the alert topic is encrypted with the stack's KMS key",
    },
    "athena:StartQueryExecution": {
        "glue:GetDatabase": "Athena resolves the query's tables in the Glue catalog as the caller",
        "glue:GetTable": "Athena resolves the query's tables in the Glue catalog as the caller",
        "glue:GetPartitions": "Athena plans partitioned tables as the caller",
        "s3:GetObject": "Athena reads the table data as the caller",
        "s3:ListBucket": "Athena lists the table data as the caller",
        "s3:GetBucketLocation": "Athena checks the data and result buckets' regions as the caller",
        "s3:PutObject": "Athena writes query results to the output location as the caller",
        "s3:AbortMultipartUpload": "Athena abandons result uploads of a stopped query as the caller",
        "athena:GetDataCatalog": "Athena looks up a federated source's data catalog as the caller",
        "lambda:InvokeFunction": "Athena invokes a federated source's connector as the caller",
        "s3:ListMultipartUploadParts": "Athena reads a connector's spilled results as the caller",
    },
}

# API operations whose IAM action has another name (the S3 listing calls are authorised by the
# bucket-level `s3:ListBucket`, per the S3 actions reference).
# DynamoDB transactions are authorised item by item by the underlying actions (DynamoDB Developer
# Guide, "Using IAM with DynamoDB transactions"); lakeops' transactions hold only updates.
ACTION_OF_OPERATION = {
    "dynamodb:TransactWriteItems": "dynamodb:UpdateItem",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
}

SERVICE_OF_CRATE = {
    "athena": "athena",
    "glue": "glue",
    "sns": "sns",
    "sqs": "sqs",
    "s3": "s3",
    "firehose": "firehose",
    "dynamodb": "dynamodb",
    "cloudwatch": "cloudwatch",
    "secretsmanager": "secretsmanager",
}


def sdk_operations():
    """{op_name: iam action} for every SDK crate in Cargo.lock that maps to a service above."""
    lock = open(os.path.join(ROOT, "Cargo.lock")).read()
    cargo_home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    ops = {}
    for name, version in re.findall(r'name = "aws-sdk-(\w+)"\nversion = "([^"]+)"', lock):
        service = SERVICE_OF_CRATE.get(name)
        if service is None:
            continue
        dirs = glob.glob(f"{cargo_home}/registry/src/*/aws-sdk-{name}-{version}/src/operation")
        if not dirs:
            sys.exit(f"check_iam: aws-sdk-{name} {version} sources not found (run a cargo build first)")
        for op in os.listdir(dirs[0]):
            if os.path.isdir(os.path.join(dirs[0], op)):
                pascal = "".join(w.capitalize() for w in op.split("_"))
                action = f"{service}:{pascal}"
                ops.setdefault(op, set()).add(ACTION_OF_OPERATION.get(action, action))
    return ops


def without_tests(text):
    """The code without its test module and comments. A `#[cfg(test)] mod x;` declaration is
    passed over: only an inline test module ends the code."""
    text = re.sub(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*;", "", text)
    i = text.find("#[cfg(test)]")
    code = text if i < 0 else text[:i]
    return re.sub(r"(^|\s)//[^\n]*", r"\1", code)


def sdk_calls(text, ops):
    """IAM actions of the SDK fluent calls in a text; an operation of service S counts only in a
    file that names the `aws_sdk_S` crate (so `.query()` on an Athena type is not DynamoDB Query)."""
    out = set()
    for op in re.findall(r"\.(\w+)\(\)", text):
        for action in ops.get(op, ()):
            if f"aws_sdk_{action.split(':')[0]}" in text:
                out.add(action)
    return out


def called_names(text):
    return set(re.findall(r"\b(\w+)\s*(?:::<[^>]*>)?\(", text))


def library_functions(ops, root):
    """Every fn of the library code under `root` (a crate's `src`, binaries' entry files left
    out): {name: (actions it calls directly, names it calls, files)}. A fn's body is taken as the
    text up to the next `fn` (close enough for reach: it can only over-count)."""
    fns = {}
    for path in sorted(glob.glob(os.path.join(root, "**", "*.rs"), recursive=True)):
        rel = os.path.relpath(path, root)
        if rel == "main.rs" or rel.startswith("bin" + os.sep):
            continue
        text = without_tests(open(path).read())
        uses = " ".join(f"aws_sdk_{svc}" for svc in SERVICE_OF_CRATE if f"aws_sdk_{svc}" in text)
        starts = [(m.start(), m.group(1)) for m in re.finditer(r"\bfn\s+(\w+)", text)]
        for i, (start, name) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
            body = text[start + 2 + len(name) + 1 : end]
            actions, names, files = fns.get(name, (set(), set(), set()))
            fns[name] = (
                actions | sdk_calls(uses + "\n" + body, ops),
                names | called_names(body),
                files | {os.path.relpath(path, ROOT)},
            )
    return fns


def shared_functions(ops):
    return library_functions(ops, os.path.join(ROOT, "shared", "src"))


def entry_points():
    """{binary: (its crate's src directory, its entry file)} from the function crates'
    Cargo.toml: `[[bin]]` sections (name, path), else the package's `src/main.rs`. A crate can
    host more than one function (the cost watcher's library runs as query-cost-watcher and
    query-cost-feed); each is checked from its own entry file."""
    out = {}
    for manifest in sorted(glob.glob(os.path.join(ROOT, "functions", "*", "Cargo.toml"))):
        crate = os.path.dirname(manifest)
        text = open(manifest).read()
        bins = re.findall(r'\[\[bin\]\]\s*\nname\s*=\s*"([^"]+)"\s*\npath\s*=\s*"([^"]+)"', text)
        if not bins:
            bins = [(os.path.basename(crate), "src/main.rs")]
        for name, path in bins:
            out[name] = (os.path.join(crate, "src"), os.path.join(crate, path))
    return out


def called_actions(binary, ops, shared):
    """{action: where} the function's code calls: from its entry file, through the fns of its
    crate's library and of the shared crate it reaches (by name, transitively)."""
    src, entry = entry_points()[binary]
    reach = dict(shared)
    for name, (actions, names, files) in library_functions(ops, src).items():
        a, n, f = reach.get(name, (set(), set(), set()))
        reach[name] = (a | actions, n | names, f | files)
    called = {}
    text = without_tests(open(entry).read())
    for action in sdk_calls(text, ops):
        called.setdefault(action, os.path.relpath(entry, ROOT))
    seen = set()
    todo = called_names(text) & reach.keys()
    while todo:
        name = todo.pop()
        seen.add(name)
        actions, more, files = reach[name]
        for action in actions:
            called.setdefault(action, f"{'/'.join(sorted(files))} fn {name}")
        todo |= (more & reach.keys()) - seen
    return called


def as_list(v):
    return v if isinstance(v, list) else [v]


def statements(items):
    """A policy's statements; one under `!If [condition, statement, AWS::NoValue]` counts with
    the statements of both branches (the check is about what the policy can ever grant)."""
    for st in items:
        if isinstance(st, dict) and "Fn::If" in st:
            yield from statements([b for b in st["Fn::If"][1:] if isinstance(b, dict) and "Action" in b])
        else:
            yield st


def check(template, ops, shared):
    """(problems, one line per function)."""
    problems = []
    report = []
    for name, res in template["Resources"].items():
        if not isinstance(res, dict) or res.get("Type") != "AWS::Serverless::Function":
            continue
        binary = res["Metadata"]["BuildProperties"]["Binary"]
        granted = set()
        for policy in res["Properties"].get("Policies", []):
            for st in statements(policy.get("Statement", [])):
                granted |= set(as_list(st["Action"]))
        called = called_actions(binary, ops, shared)
        implied = {}
        for action in called:
            implied.update(IMPLIED.get(action, {}))
        for a in sorted(granted):
            if "*" in a:
                problems.append(f"{name}: wildcard action {a}")
        for a, where in sorted(called.items()):
            if a not in granted:
                problems.append(f"{name}: code calls {a} ({where}) but the policy does not allow it")
        for a in sorted(granted - set(called) - set(implied)):
            problems.append(f"{name}: policy allows {a}, which {binary} never calls")
        report.append(f"{binary}: {len(called)} called + {len(granted - set(called))} implied = {len(granted)} granted")
    if not report:
        problems.append("no functions found in the template")
    return problems, report


def self_test(template, ops, shared):
    """The check must fail on a policy missing a called action, and on one with an extra action."""
    import copy

    missing = copy.deepcopy(template)
    stmts = missing["Resources"]["LongQueryKillerFunction"]["Properties"]["Policies"][0]["Statement"]
    for st in stmts:
        st["Action"] = [a for a in as_list(st["Action"]) if a != "athena:StopQueryExecution"]
    extra = copy.deepcopy(template)
    extra["Resources"]["LongQueryKillerFunction"]["Properties"]["Policies"][0]["Statement"].append(
        {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "*"}
    )
    for broken, expected in [(missing, "code calls athena:StopQueryExecution"), (extra, "policy allows s3:DeleteObject")]:
        problems, _ = check(broken, ops, shared)
        if not any(expected in p for p in problems):
            sys.exit(f"check_iam self-test: a policy with that change passed ({expected!r} not reported)")


def main():
    template, matches = decode(os.path.join(ROOT, "infra", "template.yaml"))
    if matches:
        sys.exit(f"check_iam: cannot read the template: {matches}")
    ops = sdk_operations()
    shared = shared_functions(ops)
    self_test(template, ops, shared)
    problems, report = check(template, ops, shared)
    if problems:
        print("IAM policies do not match the code:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("IAM actions match the code (self-test passed) — " + "; ".join(report))


if __name__ == "__main__":
    main()
