"""lakeops extension of moto's Athena, and the launcher of the local AWS emulator.

moto (pinned in requirements-dev.txt: the extension patches its Athena response class, so the
version matters) speaks Glue, SNS, SQS, S3, Firehose and CloudWatch Logs well, but its Athena
has no BatchGetQueryExecution, reports zero statistics, stamps every time "now" and serves
results from a FIFO queue. This module replaces moto's handling of query executions with a
small model that the tests and the demo can drive:

* ``AmazonAthena.LakeopsSeedQueryExecutions``: seed queries with a chosen state, submission and
  completion time, bytes scanned, engine/queue time, SQL, workgroup, database, DPU count;
* ``AmazonAthena.LakeopsSeedQueryResults``: rules that pick a started query's outcome and rows by
  matching its SQL text (so parallel COUNT queries each get their own answer), optionally after
  a delay during which the query stays RUNNING;
* ``AmazonAthena.LakeopsApiCallCounts``: how many calls each Athena action received (benchmarks);
  ``AmazonAthena.LakeopsAllCallCounts``: the same for every service (the scale benchmark);
* ``AmazonAthena.LakeopsInjectFaults``: the next ``Count`` calls of one action of any service
  (``{"Service": "sns", "Action": "Publish", "Count": 6, "Kind": "error"}``) fail — ``throttle``
  (400 ``ThrottlingException``), ``error`` (500 ``InternalFailure``), or are slowed (``delay``,
  ``Seconds``) — serialized in the service's own protocol, so the SDK's retries see what AWS
  would send; ``AmazonAthena.LakeopsInjectedFaults`` tells how many were injected;
* ``BatchGetQueryExecution``, ``GetQueryExecution``, ``ListQueryExecutions`` (newest first, 50 a
  page), ``StopQueryExecution`` (RUNNING/QUEUED become CANCELLED; a seeded RUNNING query stays
  RUNNING until stopped), ``StartQueryExecution`` and ``GetQueryResults`` over that model.

It also teaches moto's CloudWatch the **Smithy RPC v2 CBOR** protocol, which the current AWS SDK
for Rust uses for CloudWatch (moto 5.2.5 speaks only the older query protocol): requests to
``/service/GraniteServiceVersion20100801/operation/<Op>`` are decoded from CBOR and handed to
moto's own CloudWatch backend (``PutMetricData``, ``GetMetricData``); the answers are encoded
back. The metric store and the statistics are moto's; only the wire format is adapted here.

State lives on moto's per-account, per-region Athena backend, so ``POST /moto-api/reset``
clears it like everything else.

Run: ``python lakeops_moto.py --port 5055`` (binds 127.0.0.1). The process exits by itself when
its parent dies, so a killed test run leaves no emulator behind.
"""

import argparse
import json
import os
import re
import sys
import threading
import time
import uuid

import copy

import moto.dynamodb.models as dynamodb_models
from moto.athena.responses import AthenaResponse
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
DDL_PREFIXES = ("ALTER", "CREATE", "DESCRIBE", "DROP", "MSCK", "SHOW")


class LakeState:
    def __init__(self):
        self.queries = {}  # id -> dict
        self.rules = []
        self.calls = {}


def _state(backend):
    st = getattr(backend, "_lakeops", None)
    if st is None:
        st = LakeState()
        backend._lakeops = st
    return st


def _epoch(value, default=None):
    """Accepts epoch seconds (number) or ISO-8601 text."""
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    from datetime import datetime

    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _statement_type(sql):
    return "DDL" if sql.lstrip().upper().startswith(DDL_PREFIXES) else "DML"


def _normalize(sql):
    return " ".join(sql.split()).lower()


def _advance(q, now=None):
    """A started query whose delay has passed reaches the outcome its rule chose."""
    now = now or time.time()
    if q["State"] in TERMINAL or q.get("_finish_at") is None:
        return
    if now >= q["_finish_at"]:
        q["State"] = q["_final_state"]
        q["StateChangeReason"] = q.get("_final_reason")
        q["CompletionDateTime"] = q["_finish_at"]
        q["EngineExecutionTimeInMillis"] = int((q["_finish_at"] - q["SubmissionDateTime"]) * 1000)


def _to_api(q):
    _advance(q)
    status = {"State": q["State"], "SubmissionDateTime": q["SubmissionDateTime"]}
    if q.get("CompletionDateTime") is not None:
        status["CompletionDateTime"] = q["CompletionDateTime"]
    if q.get("StateChangeReason"):
        status["StateChangeReason"] = q["StateChangeReason"]
    if q.get("ErrorCategory") is not None:
        status["AthenaError"] = {"ErrorCategory": q["ErrorCategory"], "ErrorType": q.get("ErrorType", 0)}
    stats = {
        "DataScannedInBytes": q.get("DataScannedInBytes", 0),
        "EngineExecutionTimeInMillis": q.get("EngineExecutionTimeInMillis", 0),
        "QueryQueueTimeInMillis": q.get("QueryQueueTimeInMillis", 0),
    }
    if q.get("CompletionDateTime") is not None:
        stats["TotalExecutionTimeInMillis"] = int((q["CompletionDateTime"] - q["SubmissionDateTime"]) * 1000)
    if q.get("DpuCount") is not None:
        stats["DpuCount"] = q["DpuCount"]
    context = {}
    if q.get("Database"):
        context["Database"] = q["Database"]
    if q.get("Catalog"):
        context["Catalog"] = q["Catalog"]
    return {
        "QueryExecutionId": q["QueryExecutionId"],
        "Query": q["Query"],
        "StatementType": q["StatementType"],
        "WorkGroup": q["WorkGroup"],
        "QueryExecutionContext": context,
        "Status": status,
        "Statistics": stats,
        "ResultConfiguration": {"OutputLocation": f"s3://lakeops-athena-results/{q['QueryExecutionId']}.csv"},
        "EngineVersion": {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"},
    }


def _invalid(msg):
    return json.dumps({"__type": "InvalidRequestException", "Message": msg}), {"status": 400}


# --- fault injection (every service) ---------------------------------------------------------

FAULTS = []  # [{"Service", "Action", "Count", "Kind", "Seconds", "Injected"}]
CALLS = {}  # {service: {action: calls received}}, every service (the scale benchmark's counts)
FAULT_KINDS = {
    "throttle": ("ThrottlingException", "Rate exceeded (lakeops fault injection)", 400),
    "error": ("InternalFailure", "Internal failure (lakeops fault injection)", 500),
}


class _InjectedFault(ServiceException):
    pass


_base_call_action = BaseResponse.call_action


def _call_action_with_faults(self):
    try:
        service = type(self).__module__.split(".")[1]
        action = self._get_action()
    except Exception:
        return _base_call_action(self)
    per_service = CALLS.setdefault(service, {})
    per_service[action] = per_service.get(action, 0) + 1
    for rule in FAULTS:
        if rule["Service"] == service and rule["Action"] == action and rule["Count"] > 0:
            rule["Count"] -= 1
            rule["Injected"] += 1
            if rule["Kind"] == "delay":
                time.sleep(float(rule.get("Seconds") or 1))
                break
            code, message, status = FAULT_KINDS[rule["Kind"]]
            _, headers, body = self.serialized(ActionResult(_InjectedFault(code, message)))
            headers["status"] = status
            return status, headers, body
    return _base_call_action(self)


BaseResponse.call_action = _call_action_with_faults


# --- DynamoDB transactions at volume ------------------------------------------------------------
# moto backs each TransactWriteItems up by deep-copying every table it names, so a transaction
# costs the whole table (the scale benchmark prices tens of thousands of queries into one). The
# same all-or-nothing result, backing up only the items the transaction names: moto's own
# rollback is given the table itself back, and the named items are restored here.

_moto_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items
_TRANSACTIONS = threading.Lock()


class _NoTableCopy:
    """Stands in for the `copy` module inside moto's transaction: tables are not copied."""

    @staticmethod
    def deepcopy(value, *args):
        return value


def _transact_write_items_backing_up_items(self, transact_items):
    with _TRANSACTIONS:
        # Items written by transactions (the scale benchmark's write-unit model: 2 per item).
        per_service = CALLS.setdefault("dynamodb", {})
        per_service["TransactWriteItems.items"] = per_service.get("TransactWriteItems.items", 0) + len(transact_items)
        backups = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op.get("Key")
            if key is None:
                continue
            current = self.get_item(op["TableName"], key)
            backups.append((op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
        dynamodb_models.copy = _NoTableCopy
        try:
            return _moto_transact_write_items(self, transact_items)
        except Exception:
            for table_name, key, attributes in backups:
                if attributes is None:
                    try:
                        self.delete_item(table_name, key)
                    except Exception:
                        pass
                else:
                    self.put_item(table_name, attributes)
            raise
        finally:
            dynamodb_models.copy = copy


dynamodb_models.DynamoDBBackend.transact_write_items = _transact_write_items_backing_up_items


class LakeopsAthena:
    """Methods grafted onto moto's AthenaResponse (moto dispatches X-Amz-Target by method name)."""

    @property
    def _lake(self):
        return _state(self.athena_backend)

    # --- extension-only actions -------------------------------------------------------------

    def lakeops_seed_query_executions(self):
        ids = []
        now = time.time()
        for spec in self._get_param("QueryExecutions") or []:
            qid = spec.get("QueryExecutionId") or str(uuid.uuid4())
            sql = spec.get("Query", "SELECT 1")
            state = spec.get("State", "SUCCEEDED")
            submitted = _epoch(spec.get("SubmissionDateTime"), now)
            completed = _epoch(spec.get("CompletionDateTime"))
            if state in TERMINAL and completed is None:
                completed = submitted + spec.get("EngineExecutionTimeInMillis", 1000) / 1000.0
            if state not in TERMINAL:
                completed = None
            self._lake.queries[qid] = {
                "QueryExecutionId": qid,
                "Query": sql,
                "StatementType": spec.get("StatementType") or _statement_type(sql),
                "WorkGroup": spec.get("WorkGroup", "primary"),
                "Database": spec.get("Database"),
                "Catalog": spec.get("Catalog", "AwsDataCatalog"),
                "State": state,
                "StateChangeReason": spec.get("StateChangeReason"),
                "SubmissionDateTime": submitted,
                "CompletionDateTime": completed,
                "DataScannedInBytes": int(spec.get("DataScannedInBytes", 0)),
                "EngineExecutionTimeInMillis": int(spec.get("EngineExecutionTimeInMillis", 0)),
                "QueryQueueTimeInMillis": int(spec.get("QueryQueueTimeInMillis", 0)),
                "DpuCount": spec.get("DpuCount"),
                "ErrorCategory": spec.get("ErrorCategory"),
                "ErrorType": spec.get("ErrorType"),
            }
            ids.append(qid)
        return json.dumps({"QueryExecutionIds": ids})

    def lakeops_seed_query_results(self):
        for rule in self._get_param("Rules") or []:
            if not rule.get("SqlContains") and not rule.get("SqlRegex"):
                return _invalid("each rule needs SqlContains or SqlRegex")
            self._lake.rules.append(rule)
        return json.dumps({"RuleCount": len(self._lake.rules)})

    def lakeops_inject_faults(self):
        for f in self._get_param("Faults") or []:
            kind = f.get("Kind", "error")
            if kind not in FAULT_KINDS and kind != "delay":
                return _invalid(f"fault kind {kind!r} is not throttle, error or delay")
            FAULTS.append(
                {
                    "Service": f["Service"],
                    "Action": f["Action"],
                    "Count": int(f.get("Count", 1)),
                    "Kind": kind,
                    "Seconds": f.get("Seconds"),
                    "Injected": 0,
                }
            )
        return json.dumps({})

    def lakeops_injected_faults(self):
        return json.dumps({"Faults": FAULTS})

    def lakeops_all_call_counts(self):
        return json.dumps({"Counts": CALLS})

    def lakeops_api_call_counts(self):
        return json.dumps({"Counts": self._lake.calls})

    # --- Athena actions over the model -------------------------------------------------------

    def start_query_execution(self):
        sql = self._get_param("QueryString") or ""
        workgroup = self._get_param("WorkGroup") or "primary"
        if not self.athena_backend.get_work_group(workgroup):
            return _invalid(f"WorkGroup {workgroup} is not found.")
        context = self._get_param("QueryExecutionContext") or {}
        rule = self._matching_rule(sql)
        now = time.time()
        qid = str(uuid.uuid4())
        if rule is None:
            final_state, reason, delay, scanned = "FAILED", "lakeops emulator: no result rule matches this SQL", 0, 0
        else:
            final_state = rule.get("State", "SUCCEEDED")
            reason = rule.get("StateChangeReason")
            delay = float(rule.get("DelaySeconds", 0))
            scanned = int(rule.get("DataScannedInBytes", 0))
        self._lake.queries[qid] = {
            "QueryExecutionId": qid,
            "Query": sql,
            "StatementType": _statement_type(sql),
            "WorkGroup": workgroup,
            "Database": context.get("Database"),
            "Catalog": context.get("Catalog", "AwsDataCatalog"),
            "State": "RUNNING",
            "SubmissionDateTime": now,
            "CompletionDateTime": None,
            "DataScannedInBytes": scanned,
            "_finish_at": now + delay,
            "_final_state": final_state,
            "_final_reason": reason,
            "_rule": rule,
        }
        _advance(self._lake.queries[qid], now)
        return json.dumps({"QueryExecutionId": qid})

    def _matching_rule(self, sql):
        norm = _normalize(sql)
        for rule in self._lake.rules:
            if rule.get("SqlContains") and _normalize(rule["SqlContains"]) in norm:
                return rule
            if rule.get("SqlRegex") and re.search(rule["SqlRegex"], sql, re.IGNORECASE | re.DOTALL):
                return rule
        return None

    def get_query_execution(self):
        qid = self._get_param("QueryExecutionId")
        q = self._lake.queries.get(qid)
        if q is None:
            return _invalid(f"QueryExecution {qid} was not found")
        return json.dumps({"QueryExecution": _to_api(q)})

    def batch_get_query_execution(self):
        ids = self._get_param("QueryExecutionIds") or []
        if not 1 <= len(ids) <= 50:
            return _invalid("QueryExecutionIds must hold 1 to 50 ids")
        found, missing = [], []
        for qid in ids:
            q = self._lake.queries.get(qid)
            if q is None:
                missing.append({"QueryExecutionId": qid, "ErrorCode": "INVALID_INPUT", "ErrorMessage": "not found"})
            else:
                found.append(_to_api(q))
        return json.dumps({"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing})

    def list_query_executions(self):
        workgroup = self._get_param("WorkGroup") or "primary"
        max_results = min(int(self._get_param("MaxResults") or 50), 50)
        start = int(self._get_param("NextToken") or 0)
        mine = [q for q in self._lake.queries.values() if q["WorkGroup"] == workgroup]
        mine.sort(key=lambda q: q["SubmissionDateTime"], reverse=True)
        page = mine[start : start + max_results]
        out = {"QueryExecutionIds": [q["QueryExecutionId"] for q in page]}
        if start + max_results < len(mine):
            out["NextToken"] = str(start + max_results)
        return json.dumps(out)

    def stop_query_execution(self):
        qid = self._get_param("QueryExecutionId")
        q = self._lake.queries.get(qid)
        if q is None:
            return _invalid(f"QueryExecution {qid} was not found")
        _advance(q)
        if q["State"] not in TERMINAL:
            now = time.time()
            q["State"] = "CANCELLED"
            q["StateChangeReason"] = "Query was cancelled by user"
            q["CompletionDateTime"] = now
            q["_finish_at"] = None
        return json.dumps({})

    def update_work_group(self):
        """UpdateWorkGroup, as far as lakeops needs it (moto has none): enable or disable."""
        name = self._get_param("WorkGroup")
        wg = self.athena_backend.work_groups.get(name)
        if wg is None:
            return _invalid(f"WorkGroup {name} is not found.")
        state = self._get_param("State")
        if state is not None:
            if state not in ("ENABLED", "DISABLED"):
                return _invalid(f"State {state} is not ENABLED or DISABLED")
            wg.state = state
        return json.dumps({})

    def get_query_results(self):
        qid = self._get_param("QueryExecutionId")
        q = self._lake.queries.get(qid)
        if q is None:
            return _invalid(f"QueryExecution {qid} was not found")
        _advance(q)
        if q["State"] != "SUCCEEDED":
            return _invalid(f"Query has not yet finished. Current state: {q['State']}")
        rule = q.get("_rule") or {}
        columns = rule.get("Columns", ["_col0"])
        rows = [{"Data": [{"VarCharValue": c} for c in columns]}]
        for row in rule.get("Rows", []):
            rows.append({"Data": [{} if v is None else {"VarCharValue": str(v)} for v in row]})
        return json.dumps(
            {
                "ResultSet": {
                    "Rows": rows,
                    "ResultSetMetadata": {"ColumnInfo": [{"Name": c, "Label": c, "Type": "varchar"} for c in columns]},
                },
                "UpdateCount": 0,
            }
        )

    def call_action(self):
        try:
            action = self._get_action()
            calls = self._lake.calls
            calls[action] = calls.get(action, 0) + 1
        except Exception:  # counting must never break a call
            pass
        return _original_call_action(self)


_original_call_action = AthenaResponse.call_action
for _name, _member in list(vars(LakeopsAthena).items()):
    if not _name.startswith("__"):
        setattr(AthenaResponse, _name, _member)


# --- CloudWatch over Smithy RPC v2 CBOR ------------------------------------------------------

CBOR_PATH = "{0}/service/GraniteServiceVersion20100801/operation/(?P<operation>[A-Za-z]+)$"


def _naive_utc(value):
    """moto keeps metric timestamps as naive UTC datetimes."""
    from datetime import datetime, timezone

    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc).replace(tzinfo=None)
    return value


def _aware_utc(value):
    from datetime import timezone

    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _cbor_response(status, body, error_type=None):
    import cbor2

    headers = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
    if error_type:
        body = {"__type": error_type, "message": body}
    return status, headers, cbor2.dumps(body, datetime_as_timestamp=True, timezone=None)


def cloudwatch_cbor_dispatch(request, full_url, headers):
    import cbor2
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core.exceptions import ServiceException

    operation = full_url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    try:
        params = cbor2.loads(request.data) if request.data else {}
    except Exception as exc:  # a malformed body is the caller's error, as on AWS
        return _cbor_response(400, f"body is not CBOR: {exc}", "SerializationException")
    auth = headers.get("Authorization", "")
    match = re.search(r"Credential=[^/]+/\d+/([^/]+)/", auth)
    region = match.group(1) if match else "us-east-1"
    backend = cloudwatch_backends["123456789012"][region]
    try:
        if operation == "PutMetricData":
            data = []
            for datum in params.get("MetricData", []):
                datum = dict(datum)
                if "Timestamp" in datum:
                    datum["Timestamp"] = _naive_utc(datum["Timestamp"])
                data.append(datum)
            backend.put_metric_data(params["Namespace"], data)
            return _cbor_response(200, {})
        if operation == "GetMetricData":
            results = backend.get_metric_data(
                queries=params.get("MetricDataQueries", []),
                start_time=_naive_utc(params["StartTime"]),
                end_time=_naive_utc(params["EndTime"]),
                scan_by=params.get("ScanBy") or "TimestampDescending",
            )
            out = [
                {
                    "Id": r["id"],
                    "Label": r["label"],
                    "Timestamps": [_aware_utc(t) for t in r["timestamps"]],
                    "Values": [float(v) for v in r["values"]],
                    "StatusCode": r["status_code"],
                }
                for r in results
            ]
            return _cbor_response(200, {"MetricDataResults": out, "Messages": []})
    except ServiceException as exc:
        return _cbor_response(400, exc.message, exc.code)
    except (KeyError, ValueError, TypeError) as exc:
        return _cbor_response(400, f"invalid {operation} request: {exc}", "InvalidParameterValue")
    return _cbor_response(400, f"{operation} is not emulated over CBOR", "UnknownOperationException")


def _install_cloudwatch_cbor():
    import moto.cloudwatch.urls as urls

    urls.url_paths[CBOR_PATH] = cloudwatch_cbor_dispatch


def _exit_with_parent():
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def main():
    parser = argparse.ArgumentParser(description="moto server with the lakeops Athena extension")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    _install_cloudwatch_cbor()
    from moto import server

    sys.argv = [sys.argv[0], "-H", args.host, "-p", str(args.port)]
    server.main([ "-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    main()
