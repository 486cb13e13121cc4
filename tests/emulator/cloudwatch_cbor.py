"""CloudWatch over the Smithy RPC v2 CBOR protocol, which moto's CloudWatch does not speak.

The current AWS SDK for Rust talks to CloudWatch in RPC v2 CBOR; moto 5.2.5 speaks only the
older query protocol. Requests to ``/service/GraniteServiceVersion20100801/operation/<Op>`` are
decoded from CBOR here and handed to moto's own CloudWatch backend (``PutMetricData``,
``GetMetricData``); the answers are encoded back. The metric store and the statistics are
moto's; only the wire format is adapted.
"""

import re

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


def install():
    import moto.cloudwatch.urls as urls

    urls.url_paths[CBOR_PATH] = cloudwatch_cbor_dispatch
