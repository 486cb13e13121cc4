#!/usr/bin/env python3
"""`make lint`: the end-to-end harness (tests/src/*.rs) builds the resources infra/template.yaml
deploys — queue visibility and receive counts, the event source mappings' batch sizes, table keys
and indexes — so the tested resources are the deployed ones.

How the harness says what it mirrors: a `pub const` in tests/src/*.rs whose doc comment names one
or more template paths in backticks, `Resource.Properties.Key.Sub` (`Metadata.` too; a list item
is picked by a field: `GlobalSecondaryIndexes[IndexName=in-flight]`):

    /// Template: `QueryEventsQueue.Properties.RedrivePolicy.maxReceiveCount`.
    pub const EVENT_QUEUE_MAX_RECEIVE_COUNT: u32 = 5;

Its value (an integer, a string, `&[..]` of those or of tuples, or a path to a constant of the
shared crate, `lakeops::query_index::IN_FLIGHT_INDEX`) must equal the template's, after
resolving `!FindInMap`; a queue's `!GetAtt X.Arn` compares as X's QueueName. Key schemas compare
as (attribute, key type) in order, attribute definitions and non-key attributes as sets.

Every template value the harness must mirror needs such a constant (a new queue, mapping, table
or index is reported until the harness makes it): of each queue with a redrive policy its name,
VisibilityTimeout and RedrivePolicy (maxReceiveCount, the DLQ); of each SQS event source its
queue, BatchSize, FunctionResponseTypes and the function's binary; of each DynamoDB table its
name, billing mode, KeySchema, AttributeDefinitions and each GSI (name, keys, projection); each
SNS topic's name.

Fails with one line per mismatch naming the template path and the harness constant.

`--limits` prints each function's MemorySize and Timeout (Globals, then the function; the
`Functions` mapping through !FindInMap) as JSON, by binary: the harness reads it to hold each
function to its limits (tests/src/template.rs, tests/src/usage.rs).
"""

import ast
import copy
import glob
import json
import os
import re
import sys

from cfnlint.decode import decode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(ROOT, "tests", "src", "*.rs")
SHARED = os.path.join(ROOT, "shared", "src")
# SAM's defaults when neither Globals nor the function says.
DEFAULT_MEMORY_MB = 128
DEFAULT_TIMEOUT_SECONDS = 3

# A `pub const` and the `///` lines right above it.
CONST = re.compile(r"((?:^[ \t]*///[^\n]*\n)+)[ \t]*pub const (\w+)\s*:[^=]+=\s*(.+?);[ \t]*$", re.M | re.S)
TEMPLATE_PATH = re.compile(r"`([A-Z]\w*\.(?:Properties|Metadata)\.[^`\s]+)`")


class Unresolved(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# The harness side


def rust_value(text, consts):
    """A Rust constant expression as Python: literals, `&[..]`, tuples; a name of another
    constant; `lakeops::<module>::<NAME>` (read from shared/src/<module>.rs)."""
    text = text.strip()
    m = re.fullmatch(r"lakeops::(\w+)::(\w+)", text)
    if m:
        path = os.path.join(SHARED, f"{m.group(1)}.rs")
        if not os.path.exists(path):
            path = os.path.join(SHARED, m.group(1), "mod.rs")
        found = re.search(rf"pub const {m.group(2)}\s*:[^=]+=\s*(.+?);", open(path).read(), re.S)
        if not found:
            raise Unresolved(f"{text} not found in {os.path.relpath(path, ROOT)}")
        return rust_value(found.group(1), {})
    if re.fullmatch(r"[A-Z][A-Z0-9_]*", text):
        if text not in consts:
            raise Unresolved(f"constant {text} not found in tests/src")
        return rust_value(consts[text], consts)
    py = re.sub(r"&\s*(?:'static\s*)?\[", "[", text)
    py = re.sub(r"\b(\d[\d_]*)(?:u|i)(?:8|16|32|64|128|size)\b", r"\1", py)
    py = re.sub(r",\s*([\])])", r"\1", py)
    try:
        return ast.literal_eval(py)
    except (ValueError, SyntaxError) as e:
        raise Unresolved(f"cannot read `{text}` as a value ({e})")


def harness_constants():
    """[(constant, file, [template paths], value expression)] and {name: expression} of all."""
    tagged = []
    every = {}
    for path in sorted(glob.glob(HARNESS)):
        text = open(path).read()
        for m in re.finditer(r"^[ \t]*(?:pub )?const (\w+)\s*:[^=]+=\s*(.+?);[ \t]*$", text, re.M | re.S):
            every[m.group(1)] = m.group(2)
        for m in CONST.finditer(text):
            paths = TEMPLATE_PATH.findall(m.group(1))
            if paths:
                tagged.append((m.group(2), os.path.relpath(path, ROOT), paths, m.group(3)))
    return tagged, every


# ---------------------------------------------------------------------------------------------
# The template side


def split_path(path):
    return re.findall(r"[^.\[]+(?:\[[^\]]*\])?", path)


def lookup(template, path):
    node = template.get("Resources", {})
    for part in split_path(path):
        m = re.fullmatch(r"([^\[]+)(?:\[(\w+)=([^\]]+)\])?", part)
        key, field, wanted = m.groups()
        if not isinstance(node, dict) or key not in node:
            raise Unresolved(f"{path}: no {key} in the template")
        node = node[key]
        if field:
            hits = [i for i in node if isinstance(i, dict) and i.get(field) == wanted]
            if len(hits) != 1:
                raise Unresolved(f"{path}: no single item with {field} = {wanted}")
            node = hits[0]
    return node


def resolve(template, value):
    if isinstance(value, dict) and len(value) == 1:
        (fn, args), = value.items()
        if fn == "Fn::FindInMap":
            names = [resolve(template, a) for a in args[:3]]
            if not all(isinstance(n, str) for n in names):
                raise Unresolved(f"!FindInMap {args}: keys are not literal")
            try:
                return resolve(template, template["Mappings"][names[0]][names[1]][names[2]])
            except KeyError:
                raise Unresolved(f"!FindInMap {names}: not in Mappings")
        if fn == "Fn::GetAtt":
            res, attr = args if isinstance(args, list) else args.split(".", 1)
            target = template["Resources"].get(res, {})
            if attr == "Arn" and target.get("Type") == "AWS::SQS::Queue":
                return resolve(template, target.get("Properties", {}).get("QueueName"))
        raise Unresolved(f"{fn} {args} cannot be resolved to a value")
    if isinstance(value, list):
        return [resolve(template, v) for v in value]
    return value


def normalise(path, value):
    """The comparable form of a value at `path` (template or harness)."""
    last = (split_path(path) or [""])[-1]
    if last == "KeySchema":
        if value and isinstance(value[0], dict):
            return [(k["AttributeName"], k["KeyType"]) for k in value]
        return [tuple(k) for k in value]
    if last == "AttributeDefinitions":
        if value and isinstance(value[0], dict):
            return sorted((a["AttributeName"], a["AttributeType"]) for a in value)
        return sorted(tuple(a) for a in value)
    if last == "NonKeyAttributes":
        return sorted(value)
    if isinstance(value, (list, tuple)):
        return [normalise("", v) for v in value]
    # YAML may give a number as text ("5"); the harness never does.
    if isinstance(value, str) and re.fullmatch(r"\d+", value):
        return int(value)
    return value


def required_paths(template):
    """Template paths the harness must mirror."""
    out = []
    for name, res in template.get("Resources", {}).items():
        if not isinstance(res, dict):
            continue
        kind, props = res.get("Type"), res.get("Properties", {})
        if kind == "AWS::SQS::Queue" and "RedrivePolicy" in props:
            for p in ["QueueName", "VisibilityTimeout", "RedrivePolicy.maxReceiveCount", "RedrivePolicy.deadLetterTargetArn"]:
                out.append(f"{name}.Properties.{p}")
        elif kind == "AWS::SNS::Topic":
            out.append(f"{name}.Properties.TopicName")
        elif kind == "AWS::DynamoDB::Table":
            for p in ["TableName", "BillingMode", "KeySchema", "AttributeDefinitions"]:
                out.append(f"{name}.Properties.{p}")
            for gsi in props.get("GlobalSecondaryIndexes", []):
                base = f"{name}.Properties.GlobalSecondaryIndexes[IndexName={gsi['IndexName']}]"
                out += [f"{base}.IndexName", f"{base}.KeySchema", f"{base}.Projection.ProjectionType"]
                if "NonKeyAttributes" in gsi.get("Projection", {}):
                    out.append(f"{base}.Projection.NonKeyAttributes")
        elif kind == "AWS::Serverless::Function":
            for event, spec in props.get("Events", {}).items():
                if spec.get("Type") == "SQS":
                    base = f"{name}.Properties.Events.{event}.Properties"
                    out += [f"{base}.Queue", f"{base}.BatchSize", f"{base}.FunctionResponseTypes"]
                    out.append(f"{name}.Metadata.BuildProperties.Binary")
    return out


def check(template, tagged, every):
    problems = []
    covered = set()
    checked = 0
    for const, file, paths, expression in tagged:
        try:
            value = rust_value(expression, every)
        except Unresolved as e:
            problems.append(f"{file} {const}: {e}")
            continue
        for path in paths:
            covered.add(path)
            try:
                want = resolve(template, lookup(template, path))
            except Unresolved as e:
                problems.append(f"template {e} (harness {file} {const} = {expression.strip()})")
                continue
            checked += 1
            if path.endswith("].IndexName"):
                # The name the selector picked must be the name the harness uses.
                want = re.search(r"\[IndexName=([^\]]+)\]", path).group(1)
            if normalise(path, want) != normalise(path, value):
                problems.append(f"template {path} = {want!r}, harness {file} {const} = {value!r}")
    for path in required_paths(template):
        if path not in covered:
            problems.append(f"template {path} has no harness constant (a `pub const` in tests/src naming it)")
    return problems, checked


# ---------------------------------------------------------------------------------------------
# Function limits


def function_limits(template):
    """{binary: {resource, memory_mb, timeout_seconds}}."""
    globals_ = template.get("Globals", {}).get("Function", {})
    out = {}
    for name, res in template.get("Resources", {}).items():
        if not isinstance(res, dict) or res.get("Type") != "AWS::Serverless::Function":
            continue
        binary = res.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        if not binary:
            raise Unresolved(f"{name}: no Metadata.BuildProperties.Binary")
        props = res.get("Properties", {})
        limits = {"resource": name}
        for key, field, default in [("MemorySize", "memory_mb", DEFAULT_MEMORY_MB), ("Timeout", "timeout_seconds", DEFAULT_TIMEOUT_SECONDS)]:
            value = resolve(template, props.get(key, globals_.get(key, default)))
            if not isinstance(value, int):
                raise Unresolved(f"{name}.{key} = {value!r} is not a number")
            limits[field] = value
        out[binary] = limits
    if not out:
        raise Unresolved("no functions in the template")
    return out


# ---------------------------------------------------------------------------------------------
# Queue mappings as AWS advises them


def mapping_problems(template):
    """Each function an SQS queue triggers (Lambda Developer Guide, "Using Lambda with Amazon
    SQS" and "Configuring maximum concurrency for Amazon SQS event sources"):
    - the queue's VisibilityTimeout is at least 6 x the function's Timeout, so a batch still being
      worked on, or waiting out a throttle, is not handed out again and counted toward the DLQ;
    - reserved concurrency, if set, is at least the mapping's MaximumConcurrency (which must then
      be set): the mapping does not see reserved concurrency, and a throttled batch goes back;
    - the queue is its only trigger, so no scheduled run shares its timeout or its pool."""
    problems = []
    globals_ = template.get("Globals", {}).get("Function", {})
    for name, res in template.get("Resources", {}).items():
        if not isinstance(res, dict) or res.get("Type") != "AWS::Serverless::Function":
            continue
        props = res.get("Properties", {})
        events = props.get("Events", {})
        mappings = {e: spec["Properties"] for e, spec in events.items() if spec.get("Type") == "SQS"}
        if not mappings:
            continue
        others = sorted(e for e, spec in events.items() if spec.get("Type") != "SQS")
        if others:
            problems.append(f"{name}: an SQS-triggered function with other triggers too ({', '.join(others)}); give them their own function")
        timeout = resolve(template, props.get("Timeout", globals_.get("Timeout", DEFAULT_TIMEOUT_SECONDS)))
        reserved = props.get("ReservedConcurrentExecutions")
        for event, mapping in mappings.items():
            queue = mapping["Queue"]["Fn::GetAtt"]
            queue = queue[0] if isinstance(queue, list) else queue.split(".")[0]
            visibility = resolve(template, template["Resources"][queue]["Properties"].get("VisibilityTimeout", 30))
            if int(visibility) < 6 * int(timeout):
                problems.append(f"{name}.{event}: {queue} VisibilityTimeout {visibility} s is less than 6 x the function's Timeout {timeout} s")
            maximum = mapping.get("ScalingConfig", {}).get("MaximumConcurrency")
            if reserved is not None and (maximum is None or int(reserved) < int(maximum)):
                problems.append(f"{name}.{event}: ReservedConcurrentExecutions {reserved} without a MaximumConcurrency at most that high ({maximum})")
    return problems


# ---------------------------------------------------------------------------------------------


def self_test(template, tagged, every):
    """The check must notice a changed receive count, a changed projection and a table the
    harness does not make."""
    cases = []
    changed = copy.deepcopy(template)
    changed["Resources"]["QueryEventsQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] = 99
    cases.append((changed, "QueryEventsQueue.Properties.RedrivePolicy.maxReceiveCount = 99"))
    changed = copy.deepcopy(template)
    gsis = changed["Resources"]["QueryIndexTable"]["Properties"]["GlobalSecondaryIndexes"]
    next(g for g in gsis if g["IndexName"] == "completed")["Projection"] = {"ProjectionType": "KEYS_ONLY"}
    cases.append((changed, "[IndexName=completed].Projection.ProjectionType = 'KEYS_ONLY'"))
    changed = copy.deepcopy(template)
    changed["Resources"]["ExtraTable"] = copy.deepcopy(changed["Resources"]["AlertLedgerTable"])
    cases.append((changed, "template ExtraTable.Properties.KeySchema has no harness constant"))
    changed = copy.deepcopy(template)
    changed["Mappings"]["Functions"]["QueryCostFeed"]["Timeout"] = 600
    cases.append((changed, "VisibilityTimeout 360 s is less than 6 x the function's Timeout 600 s"))
    changed = copy.deepcopy(template)
    changed["Resources"]["QueryCostFeedFunction"]["Properties"]["ReservedConcurrentExecutions"] = 2
    cases.append((changed, "ReservedConcurrentExecutions 2 without a MaximumConcurrency at most that high"))
    for broken, expected in cases:
        problems, _ = check(broken, tagged, every)
        problems += mapping_problems(broken)
        if not any(expected in p for p in problems):
            sys.exit(f"check_harness self-test: a template with that change passed ({expected!r} not reported)")


def main():
    template, matches = decode(os.path.join(ROOT, "infra", "template.yaml"))
    if matches:
        sys.exit(f"check_harness: cannot read the template: {matches}")
    if sys.argv[1:] == ["--limits"]:
        try:
            print(json.dumps(function_limits(template), indent=1, sort_keys=True))
        except Unresolved as e:
            sys.exit(f"check_harness: {e}")
        return
    if sys.argv[1:]:
        sys.exit("usage: check_harness.py [--limits]")
    tagged, every = harness_constants()
    self_test(template, tagged, every)
    problems, checked = check(template, tagged, every)
    problems += mapping_problems(template)
    try:
        limits = function_limits(template)
    except Unresolved as e:
        problems.append(f"function limits: {e}")
        limits = {}
    if problems:
        print("The e2e harness does not build what the template deploys:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print(
        f"e2e harness matches the template: {checked} values of {len(tagged)} constants (self-test passed); limits "
        + ", ".join(f"{b} {l['memory_mb']} MB / {l['timeout_seconds']} s" for b, l in sorted(limits.items()))
    )


if __name__ == "__main__":
    main()
