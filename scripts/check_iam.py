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

Also refused: wildcard actions (`*` in an action name); an alert-topic policy that lets any role
but the functions whose code publishes (and CloudWatch alarms) publish, or that lets anyone
subscribe an endpoint the stack did not name (docs/security.md).

Resources, in scripts/iam_resources.py (docs/iam.md): each function's keys in the shared DynamoDB
tables (`dynamodb:LeadingKeys`, read from the code), `Resource: "*"` only for actions without a
resource scope, Scan and Query only on the indexes the code names, no grant built from a blank
or `*` parameter default.
"""

import glob
import os
import re
import sys

from cfnlint.decode import decode

from iam_resources import as_list, resource_problems, statements
from iam_resources import self_test as resource_self_test

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
    "lambda": "lambda",
    "cloudwatchlogs": "logs",
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
    """{op_name: {(iam action, sdk crate)}} for every SDK crate in Cargo.lock that maps to a
    service above."""
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
                ops.setdefault(op, set()).add((ACTION_OF_OPERATION.get(action, action), name))
    return ops


def without_tests(text):
    """The code without its test module and comments. A `#[cfg(test)] mod x;` declaration is
    passed over: only an inline test module ends the code."""
    text = re.sub(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*;", "", text)
    i = text.find("#[cfg(test)]")
    code = text if i < 0 else text[:i]
    return re.sub(r"(^|\s)//[^\n]*", r"\1", code)


def sdk_calls(text, ops):
    """IAM actions of the SDK fluent calls in a text; an operation of crate `aws-sdk-C` counts
    only in a file that names the `aws_sdk_C` crate (so `.query()` on an Athena type is not
    DynamoDB Query, and CloudWatch is not CloudWatch Logs)."""
    out = set()
    for op in re.findall(r"\.(\w+)\(\)", text):
        for action, crate in ops.get(op, ()):
            if re.search(rf"\baws_sdk_{crate}\b", text):
                out.add(action)
    return out


def called_names(text):
    return set(re.findall(r"\b(\w+)\s*(?:::<[^>]*>)?\(", text))


def library_functions(ops, root):
    """Every fn of the library code under `root` (a crate's `src`, binaries' entry files left
    out): {name: (actions it calls directly, names it calls, files, bodies)}. A fn's body is taken
    as the text up to the next `fn` (close enough for reach: it can only over-count). Parsed once
    per root."""
    if root in _PARSED:
        return _PARSED[root]
    fns = {}
    for path in sorted(glob.glob(os.path.join(root, "**", "*.rs"), recursive=True)):
        rel = os.path.relpath(path, root)
        if rel == "main.rs" or rel.startswith("bin" + os.sep):
            continue
        text = without_tests(open(path).read())
        uses = " ".join(f"aws_sdk_{c}" for c in SERVICE_OF_CRATE if re.search(rf"\baws_sdk_{c}\b", text))
        starts = [(m.start(), m.group(1)) for m in re.finditer(r"\bfn\s+(\w+)", text)]
        for i, (start, name) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
            body = text[start + 2 + len(name) + 1 : end]
            actions, names, files, bodies = fns.get(name, (set(), set(), set(), []))
            fns[name] = (
                actions | sdk_calls(uses + "\n" + body, ops),
                names | called_names(body),
                files | {os.path.relpath(path, ROOT)},
                bodies + [uses + "\n" + body],
            )
    _PARSED[root] = fns
    return fns


_PARSED = {}


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


def reach(binary, ops, shared):
    """(the entry file's text, {name: (actions, names, files, bodies)} of every fn the function's
    code reaches from it: the fns of its crate's library and of the shared crate, by name,
    transitively). Computed once per function."""
    if binary in _REACH:
        return _REACH[binary]
    src, entry = entry_points()[binary]
    fns = dict(shared)
    for name, (actions, names, files, bodies) in library_functions(ops, src).items():
        a, n, f, b = fns.get(name, (set(), set(), set(), []))
        fns[name] = (a | actions, n | names, f | files, b + bodies)
    text = without_tests(open(entry).read())
    seen = set()
    todo = called_names(text) & fns.keys()
    while todo:
        name = todo.pop()
        seen.add(name)
        todo |= (fns[name][1] & fns.keys()) - seen
    _REACH[binary] = (text, {name: fns[name] for name in seen})
    return _REACH[binary]


_REACH = {}


def called_actions(binary, ops, shared):
    """{action: where} the function's code calls: from its entry file, through the fns it
    reaches ([`reach`])."""
    text, reached = reach(binary, ops, shared)
    called = {}
    for action in sdk_calls(text, ops):
        called.setdefault(action, os.path.relpath(entry_points()[binary][1], ROOT))
    for name, (actions, _, files, _) in sorted(reached.items()):
        for action in actions:
            called.setdefault(action, f"{'/'.join(sorted(files))} fn {name}")
    return called


def code_of(binary, ops, shared):
    """What the resource checks read of a function: its crate's `FUNCTION` name; the texts it
    reaches ([`reach`]: entry file, fn bodies, and the bodies of the core crate's fns those call
    by name, e.g. its key formatters: core makes no AWS call, so it is not in the action reach);
    the `&str` constants of its crate and of the shared crate. Test modules left out."""
    if binary not in _CODE:
        text, reached = reach(binary, ops, shared)
        texts = [text] + [body for fn in reached.values() for body in fn[3]]
        core = library_functions(ops, os.path.join(ROOT, "core", "src"))
        for name in sorted(set().union(*(called_names(t) for t in texts)) & core.keys()):
            texts += core[name][3]
        src = entry_points()[binary][0]
        consts = {}
        for path in sorted(glob.glob(os.path.join(ROOT, "shared", "src", "**", "*.rs"), recursive=True)
                           + glob.glob(os.path.join(src, "**", "*.rs"), recursive=True)):
            consts.update(re.findall(r'\bconst\s+(\w+)\s*:\s*&str\s*=\s*"([^"]*)"', without_tests(open(path).read())))
        _CODE[binary] = (consts.get("FUNCTION", "{FUNCTION}"), texts, consts)
    return _CODE[binary]


_CODE = {}


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


def get_att_role(value):
    """`!GetAtt XFunctionRole.Arn` (either decoded form) → `XFunction`, else None."""
    att = value.get("Fn::GetAtt") if isinstance(value, dict) else None
    if isinstance(att, str):
        att = att.split(".", 1)
    if isinstance(att, list) and att[0].endswith("FunctionRole") and att[1:] == ["Arn"]:
        return att[0][: -len("Role")]
    return None


def topic_policy_problems(template, ops, shared):
    """The alert topic: Publish denied to every principal but the roles of the functions whose
    code publishes (and AWS services: CloudWatch alarms), Subscribe denied but to named endpoints
    or principals. Same-account callers reach the topic through their own IAM policies, so only
    an explicit deny keeps them out."""
    resources = template["Resources"]
    policy = next((r for r in resources.values() if isinstance(r, dict) and r.get("Type") == "AWS::SNS::TopicPolicy"), None)
    if policy is None:
        return ["no AWS::SNS::TopicPolicy for the alert topic"]
    stmts = list(statements(policy["Properties"]["PolicyDocument"]["Statement"]))
    denies = {a: st for st in stmts if st.get("Effect") == "Deny" and st.get("Principal") == "*"
              for a in as_list(st["Action"]) if "Condition" in st and ("ArnNotEquals" in st["Condition"])}
    problems = []
    publish = denies.get("sns:Publish")
    publishers = {
        name for name, res in resources.items()
        if isinstance(res, dict) and res.get("Type") == "AWS::Serverless::Function"
        and "sns:Publish" in called_actions(res["Metadata"]["BuildProperties"]["Binary"], ops, shared)
    }
    if publish is None:
        problems.append("alert topic: no Deny of sns:Publish to all but the suite's roles")
    else:
        if publish["Condition"].get("Bool", {}).get("aws:PrincipalIsAWSService") != "false":
            problems.append("alert topic: the Publish deny must spare only AWS services (aws:PrincipalIsAWSService false)")
        spared = {get_att_role(v) for v in as_list(publish["Condition"]["ArnNotEquals"].get("aws:PrincipalArn", []))}
        for extra in sorted(spared - publishers, key=str):
            problems.append(f"alert topic: {extra} may publish but its code never does")
        for missing in sorted(publishers - spared):
            problems.append(f"alert topic: {missing} publishes but the topic policy denies it")
    subscribe = denies.get("sns:Subscribe")
    if subscribe is None or "StringNotEquals" not in subscribe["Condition"]:
        problems.append("alert topic: no Deny of sns:Subscribe but to the stack's endpoints or named principals")
    return problems


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
    # A widened topic policy: the notifier (which never publishes) spared; the subscribe deny gone.
    wide = copy.deepcopy(template)
    doc = wide["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"]
    for st in doc["Statement"]:
        if st.get("Sid") == "PublishOnlyBySuiteFunctionsAndAlarms":
            st["Condition"]["ArnNotEquals"]["aws:PrincipalArn"].append({"Fn::GetAtt": ["AlertNotifierFunctionRole", "Arn"]})
    doc["Statement"] = [st for st in doc["Statement"] if st.get("Sid") != "SubscribeOnlyStackEndpointsOrNamedPrincipals"]
    problems = topic_policy_problems(wide, ops, shared)
    for expected in ["AlertNotifierFunction may publish", "no Deny of sns:Subscribe"]:
        if not any(expected in p for p in problems):
            sys.exit(f"check_iam self-test: a widened topic policy passed ({expected!r} not reported)")


def main():
    template, matches = decode(os.path.join(ROOT, "infra", "template.yaml"))
    if matches:
        sys.exit(f"check_iam: cannot read the template: {matches}")
    ops = sdk_operations()
    shared = shared_functions(ops)
    code = lambda binary: code_of(binary, ops, shared)  # noqa: E731
    self_test(template, ops, shared)
    widened = resource_self_test(template, code)
    problems, report = check(template, ops, shared)
    problems += topic_policy_problems(template, ops, shared)
    resources, keys = resource_problems(template, code)
    problems += resources
    if problems:
        print("IAM policies do not match the code:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("IAM actions match the code (self-test passed) — " + "; ".join(report))
    print("IAM resources match the code; each function's keys (dynamodb:LeadingKeys):\n  " + "\n  ".join(keys))
    print("Self-test: each widened policy fails the check:\n  " + "\n  ".join(widened))


if __name__ == "__main__":
    main()
