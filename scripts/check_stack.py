#!/usr/bin/env python3
"""`make lint`: the stack `make deploy` creates, created in the emulator's CloudFormation, holds
what the template says — and so what the end-to-end harness builds (scripts/check_harness.py
ties the template's values to the harness's constants).

What `sam deploy` does, done offline: the SAM template is translated to CloudFormation by the
same library (samtranslator, the `AWS::Serverless-2016-10-31` transform) with each function's
code in S3 as `sam package` leaves it, then created as a stack by moto's CloudFormation with the
parameters `make deploy` passes (an alert e-mail; the rest their defaults), in-process
(`mock_aws`).

moto's CloudFormation cannot create every type the stack holds (it says which: SNS topic and
SQS queue policies, subscriptions, Glue tables, the Firehose stream, …). Those resources are
left out of the created stack and every reference to them (`Ref`, `Fn::GetAtt`, `Fn::Sub`,
`DependsOn`) replaced by a stand-in name or ARN; the script lists them, so what is not proven
here is said, not hidden. Everything else must reach CREATE_COMPLETE, and then, read back through
the AWS APIs: every function's runtime, handler, memory, timeout and environment
variable names; every queue's visibility timeout and receive count; every table's keys and
indexes; every SQS event source mapping's queue, batch size and response types; every schedule —
equal to the translated template's.

Fails with one line per difference. Needs the venv (`make setup`).
"""

import copy
import io
import json
import logging
import os
import re
import sys
import warnings
import zipfile

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(var, "testing")

import boto3  # noqa: E402
import botocore.exceptions  # noqa: E402
from cfnlint.decode import decode  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.cloudformation.parsing import NULL_MODELS, get_model_map  # noqa: E402
from samtranslator.model.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "infra", "template.yaml")
REGION = os.environ["AWS_DEFAULT_REGION"]
ACCOUNT = "123456789012"
BUCKET = "lakeops-artifacts"
STACK = "lakeops"
# What `make deploy` asks for (scripts/deploy.py): where alerts go, both ways, so the notifier
# and its queue are in the stack; the rest keep their defaults.
PARAMETERS = {
    "AlertEmail": "data-oncall@example.com",
    "ChatChannelsSecretName": "lakeops/chat-channels",
}


class NoManagedPolicies:
    """samtranslator looks managed policy names up in IAM; the template names none."""

    def load(self):
        return {}


def translated(s3):
    """The template as `sam deploy` hands it to CloudFormation."""
    template, problems = decode(TEMPLATE)
    if problems:
        raise SystemExit(f"stack: {TEMPLATE} does not read: {problems[0]}")
    template = json.loads(json.dumps(template, default=str))
    s3.create_bucket(Bucket=BUCKET)
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://{BUCKET}/{name}.zip"
            s3.put_object(Bucket=BUCKET, Key=f"{name}.zip", Body=code.getvalue())
    try:
        return transform(template, {}, NoManagedPolicies())
    except InvalidDocumentException as e:
        raise SystemExit(f"stack: the SAM transform refused the template: {e}")


def creatable(resource_type):
    return resource_type in get_model_map() and resource_type not in NULL_MODELS


def stand_in(name, attribute=None):
    """A name or ARN for a resource left out."""
    if attribute is None:
        return f"{STACK}-{name}"
    return f"arn:aws:lakeops-stand-in:{REGION}:{ACCOUNT}:{name}/{attribute}"


def without(node, left_out):
    """`node` with every reference to a resource in `left_out` replaced by its stand-in."""
    if isinstance(node, list):
        return [without(n, left_out) for n in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in left_out:
        return stand_in(node["Ref"])
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        name, attribute = target if isinstance(target, list) else target.split(".", 1)
        if name in left_out:
            return stand_in(name, attribute)
    if set(node) == {"Fn::Sub"}:
        text = node["Fn::Sub"]
        text, variables = (text, None) if isinstance(text, str) else (text[0], text[1])

        def replace(m):
            name, _, attribute = m.group(1).partition(".")
            return stand_in(name, attribute or None) if name in left_out else m.group(0)

        text = re.sub(r"\$\{([\w.]+)\}", replace, text)
        return {"Fn::Sub": text if variables is None else [text, without(variables, left_out)]}
    out = {k: without(v, left_out) for k, v in node.items()}
    if "DependsOn" in out:
        depends = out["DependsOn"]
        depends = [depends] if isinstance(depends, str) else depends
        kept = [d for d in depends if d not in left_out]
        if kept:
            out["DependsOn"] = kept
        else:
            del out["DependsOn"]
    return out


def creatable_part(template):
    """(the stack moto can create, {left-out logical id: type})."""
    left_out = {
        name: r["Type"] for name, r in template["Resources"].items() if not creatable(r["Type"])
    }
    kept = dict(template)
    kept["Resources"] = {
        name: without(r, left_out)
        for name, r in template["Resources"].items()
        if name not in left_out
    }
    if "Outputs" in kept:
        kept["Outputs"] = {k: without(v, left_out) for k, v in kept["Outputs"].items()}
    return kept, left_out


def create(template):
    cfn = boto3.client("cloudformation")
    try:
        cfn.create_stack(
            StackName=STACK,
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
    except botocore.exceptions.ClientError as e:
        raise SystemExit(f"stack: CloudFormation refused the translated template: {e}")
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise SystemExit(f"stack: {stack['StackStatus']}: {stack.get('StackStatusReason')}")
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=STACK)
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for page in pages
        for r in page["StackResourceSummaries"]
    }


def literal(value):
    """A template value that is a plain literal (not an intrinsic function), else None."""
    if isinstance(value, dict):
        return None
    return value


def differ(problems, what, deployed, template):
    if template is not None and deployed != template:
        problems.append(f"{what}: deployed {deployed!r}, the template says {template!r}")


def check_function(problems, name, physical, props):
    got = boto3.client("lambda").get_function_configuration(FunctionName=physical)
    # Not `Architectures`: moto's CloudFormation creates every function as x86_64 whatever the
    # template says (arm64 is shown by `sam build`'s artifacts, docs/deploy.md).
    for key in ("Runtime", "Handler", "MemorySize", "Timeout"):
        differ(problems, f"{name}.{key}", got.get(key), literal(props.get(key)))
    wanted = {
        k
        for k, v in props.get("Environment", {}).get("Variables", {}).items()
        if not (isinstance(v, dict) and "Fn::If" in v)
    }
    have = set(got.get("Environment", {}).get("Variables", {}))
    if wanted - have:
        problems.append(f"{name}: environment variables not deployed: {sorted(wanted - have)}")


def check_queue(problems, name, url, props):
    attrs = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    want = literal(props.get("VisibilityTimeout"))
    differ(problems, f"{name}.VisibilityTimeout", int(attrs["VisibilityTimeout"]),
           None if want is None else int(want))
    redrive = props.get("RedrivePolicy")
    if redrive:
        got = json.loads(attrs.get("RedrivePolicy", "{}"))
        differ(problems, f"{name}.RedrivePolicy.maxReceiveCount",
               int(got.get("maxReceiveCount", 0)), int(redrive["maxReceiveCount"]))


def check_table(problems, name, physical, props):
    got = boto3.client("dynamodb").describe_table(TableName=physical)["Table"]
    differ(problems, f"{name}.KeySchema", got["KeySchema"], props.get("KeySchema"))
    indexes = lambda gsis: sorted((g["IndexName"], json.dumps(g["KeySchema"])) for g in gsis)
    differ(problems, f"{name}.GlobalSecondaryIndexes",
           indexes(got.get("GlobalSecondaryIndexes", [])),
           indexes(props.get("GlobalSecondaryIndexes", [])))


def check_mapping(problems, name, props, physical):
    function = physical[props["FunctionName"]["Ref"]]
    queue = props["EventSourceArn"]["Fn::GetAtt"][0]
    mappings = boto3.client("lambda").list_event_source_mappings(FunctionName=function)[
        "EventSourceMappings"
    ]
    hits = [m for m in mappings if m["EventSourceArn"].endswith(":" + physical[queue].rsplit("/", 1)[-1])]
    if len(hits) != 1:
        problems.append(f"{name}: {len(hits)} mappings from {queue} to {function}, not 1")
        return
    differ(problems, f"{name}.BatchSize", hits[0].get("BatchSize"), literal(props.get("BatchSize")))
    differ(problems, f"{name}.FunctionResponseTypes", hits[0].get("FunctionResponseTypes"),
           props.get("FunctionResponseTypes"))


def check_rule(problems, name, physical, props):
    got = boto3.client("events").describe_rule(Name=physical.split("|")[0].rsplit("/", 1)[-1])
    differ(problems, f"{name}.ScheduleExpression", got.get("ScheduleExpression"),
           literal(props.get("ScheduleExpression")))


CHECKS = {
    "AWS::Lambda::Function": check_function,
    "AWS::SQS::Queue": check_queue,
    "AWS::DynamoDB::Table": check_table,
    "AWS::Events::Rule": check_rule,
}


def check(template, physical):
    problems = []
    checked = {}
    for name, r in template["Resources"].items():
        if name not in physical:
            if "Condition" not in r:
                problems.append(f"{name} ({r['Type']}) was not created")
            continue
        props = r.get("Properties", {})
        if r["Type"] in CHECKS:
            CHECKS[r["Type"]](problems, name, physical[name], props)
        elif r["Type"] == "AWS::Lambda::EventSourceMapping" and "Ref" in props.get("FunctionName", {}):
            check_mapping(problems, name, props, physical)
        else:
            continue
        checked[r["Type"]] = checked.get(r["Type"], 0) + 1
    return problems, checked


def can_fail(kept, physical):
    """The check finds a function whose memory is not the template's, and a queue whose
    visibility timeout is not (a check that cannot fail proves nothing)."""
    wrong = copy.deepcopy(kept)
    for r in wrong["Resources"].values():
        if r["Type"] == "AWS::Lambda::Function":
            r["Properties"]["MemorySize"] = 12345
        if r["Type"] == "AWS::SQS::Queue":
            r["Properties"]["VisibilityTimeout"] = 4321
    problems, _ = check(wrong, physical)
    found = {p.split(":")[0].rsplit(".", 1)[-1] for p in problems}
    return {"MemorySize", "VisibilityTimeout"} <= found


def main():
    warnings.filterwarnings("ignore")
    logging.getLogger("moto").setLevel(logging.ERROR)
    with mock_aws():
        full = translated(boto3.client("s3"))
        kept, left_out = creatable_part(full)
        physical = create(kept)
        problems, checked = check(kept, physical)
        if not can_fail(kept, physical):
            problems.append("the check did not see a changed MemorySize and VisibilityTimeout")
    for p in problems:
        print(f"stack: {p}")
    if problems:
        return 1
    types = sorted(set(left_out.values()))
    print(
        f"stack: the translated template's {len(full['Resources'])} resources: "
        f"{len(physical)} created by the emulator's CloudFormation (CREATE_COMPLETE), "
        + ", ".join(f"{n} {t.split('::', 1)[1]}" for t, n in sorted(checked.items()))
        + " read back equal to the template; "
        f"{len(left_out)} of types it cannot create left out ({', '.join(t.split('::', 1)[1] for t in types)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
