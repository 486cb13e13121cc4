"""The Athena model of the emulator: query executions the tests seed or start, and their results.

moto's Athena has no BatchGetQueryExecution, reports zero statistics, stamps every time "now"
and serves results from a FIFO queue. The methods below replace moto's handling of query
executions on its ``AthenaResponse`` (moto dispatches ``X-Amz-Target`` by method name):

* ``AmazonAthena.LakeopsSeedQueryExecutions``: seed queries with a chosen state, submission and
  completion time, bytes scanned, engine/queue time, SQL, workgroup, database, DPU count;
* ``AmazonAthena.LakeopsSeedQueryResults``: rules that pick a started query's outcome and rows
  by matching its SQL text (``SqlContains`` / ``SqlRegex``; ``State``, ``StateChangeReason``,
  ``DelaySeconds``, ``DataScannedInBytes``, ``Columns``, ``Rows``), so parallel COUNT queries
  each get their own answer; a query stays RUNNING for its rule's delay;
* ``AmazonAthena.LakeopsApiCallCounts`` (Athena calls by action),
  ``AmazonAthena.LakeopsAllCallCounts`` (every service), ``AmazonAthena.LakeopsInjectFaults``,
  ``AmazonAthena.LakeopsInjectedFaults`` and ``AmazonAthena.LakeopsClearFaults`` (faults.py);
* ``StartQueryExecution``, ``GetQueryExecution``, ``BatchGetQueryExecution`` (1 to 50 ids,
  unknown ids in ``UnprocessedQueryExecutionIds``), ``ListQueryExecutions`` (newest first, at
  most 50 a page), ``StopQueryExecution`` (asynchronous as in Athena: a query seeded with
  ``StopTakesSeconds`` still reads RUNNING that long after the call), ``UpdateWorkGroup`` (enable / disable) and
  ``GetQueryResults`` (pages of ``MaxResults`` rows, 1 to 1,000, default 1,000; a SELECT's
  header row is the first row of the first page only) over that model.

The limits are AWS's (docs/emulator-contract.md cites each). State lives on moto's per-account,
per-region Athena backend, so ``POST /moto-api/reset`` clears it like everything else.
"""

import base64
import json
import re
import time
import uuid

from moto.athena.responses import AthenaResponse
from moto.core.responses import BaseResponse

import faults

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
DDL_PREFIXES = ("ALTER", "CREATE", "DESCRIBE", "DROP", "MSCK", "SHOW")
# Statements whose result set starts with a row of column labels.
RESULT_SET_PREFIXES = ("SELECT", "WITH", "VALUES", "TABLE")

# https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html
RESULTS_PAGE_MAX = 1000
# https://docs.aws.amazon.com/athena/latest/APIReference/API_ListQueryExecutions.html
LIST_PAGE_MAX = 50
# https://docs.aws.amazon.com/athena/latest/APIReference/API_BatchGetQueryExecution.html
BATCH_GET_MAX = 50


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


def _first_keyword(sql):
    """The statement's first word, past comments and opening parentheses."""
    text = re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.DOTALL)
    match = re.match(r"[\s(]*([A-Za-z]+)", text)
    return match.group(1).upper() if match else ""


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


def _max_results(value, low, high, default):
    """``MaxResults`` checked against the API's range: (number, None) or (None, error answer)."""
    if value is None:
        return default, None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        return None, _invalid(
            f"1 validation error detected: Value '{value}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value between {low} and {high}"
        )
    return number, None


def _results_token(qid, offset):
    return base64.urlsafe_b64encode(f"{qid}:{offset}".encode()).decode()


def _results_offset(qid, token):
    """The row offset a GetQueryResults ``NextToken`` stands for, or None if it is not this query's."""
    try:
        owner, offset = base64.urlsafe_b64decode(token.encode()).decode().rsplit(":", 1)
        return int(offset) if owner == qid and int(offset) > 0 else None
    except (ValueError, UnicodeDecodeError):
        return None


def _result_rows(q):
    """Every row of a finished query's result: the header row first for a SELECT."""
    rule = q.get("_rule") or {}
    columns = rule.get("Columns", ["_col0"])
    rows = []
    if q["StatementType"] == "DML" and _first_keyword(q["Query"]) in RESULT_SET_PREFIXES:
        rows.append({"Data": [{"VarCharValue": c} for c in columns]})
    for row in rule.get("Rows", []):
        rows.append({"Data": [{} if v is None else {"VarCharValue": str(v)} for v in row]})
    return columns, rows


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
                "_stop_takes": spec.get("StopTakesSeconds"),
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
        error = faults.add(self._get_param("Faults") or [])
        return _invalid(error) if error else json.dumps({})

    def lakeops_injected_faults(self):
        return json.dumps({"Faults": faults.FAULTS})

    def lakeops_clear_faults(self):
        faults.clear()
        return json.dumps({})

    def lakeops_all_call_counts(self):
        return json.dumps({"Counts": faults.CALLS})

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
        if not 1 <= len(ids) <= BATCH_GET_MAX:
            return _invalid(f"QueryExecutionIds must hold 1 to {BATCH_GET_MAX} ids")
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
        # The API's range is 0..50; 0 is answered like an absent MaxResults (a full page).
        max_results, error = _max_results(self._get_param("MaxResults"), 0, LIST_PAGE_MAX, LIST_PAGE_MAX)
        if error:
            return error
        max_results = max_results or LIST_PAGE_MAX
        token = self._get_param("NextToken")
        if token is not None and not str(token).isdigit():
            return _invalid("The NextToken is not valid")
        start = int(token or 0)
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
            # Athena cancels asynchronously: a query seeded with ``StopTakesSeconds`` is still
            # reported QUEUED / RUNNING that long after the call (0 by default: at once).
            takes = float(q.get("_stop_takes") or 0)
            if takes > 0:
                q["_finish_at"] = min(q.get("_finish_at") or now + takes, now + takes)
                q["_final_state"] = "CANCELLED"
                q["_final_reason"] = "Query was cancelled by user"
                return json.dumps({})
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
        max_results, error = _max_results(self._get_param("MaxResults"), 1, RESULTS_PAGE_MAX, RESULTS_PAGE_MAX)
        if error:
            return error
        q = self._lake.queries.get(qid)
        if q is None:
            return _invalid(f"QueryExecution {qid} was not found")
        _advance(q)
        if q["State"] != "SUCCEEDED":
            return _invalid(f"Query has not yet finished. Current state: {q['State']}")
        columns, rows = _result_rows(q)
        token = self._get_param("NextToken")
        start = 0
        if token is not None:
            start = _results_offset(qid, token)
            if start is None or start >= len(rows):
                return _invalid("The NextToken is not valid for this query")
        out = {
            "ResultSet": {
                "Rows": rows[start : start + max_results],
                "ResultSetMetadata": {"ColumnInfo": [{"Name": c, "Label": c, "Type": "varchar"} for c in columns]},
            },
            "UpdateCount": 0,
        }
        if start + max_results < len(rows):
            out["NextToken"] = _results_token(qid, start + max_results)
        return json.dumps(out)

    def call_action(self):
        try:
            action = self._get_action()
            calls = self._lake.calls
            calls[action] = calls.get(action, 0) + 1
        except Exception:  # counting must never break a call
            pass
        # Looked up at call time: BaseResponse.call_action is the fault hook once faults.py is installed.
        return BaseResponse.call_action(self)


def install():
    for name, member in list(vars(LakeopsAthena).items()):
        if not name.startswith("__"):
            setattr(AthenaResponse, name, member)
