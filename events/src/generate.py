"""Regenerates the gzip+base64 sample events in events/ from the readable payloads below.

Run: python3 events/src/generate.py   (standard library only; output is deterministic)
"""
import base64
import gzip
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.dirname(HERE)


def pack(payload):
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode()


GROUP = "/aws/lambda/orders-ingest"
STREAM = "2026/11/23/[$LATEST]8f0c6d1e2a3b4c5d6e7f8091a2b3c4d5"
REQ = "3f6a1c2e-9b7d-4e1a-8c5f-0d2b4a6e8c1f"
T0 = 1795424400000  # 2026-11-23T09:00:00Z

data_message = {
    "messageType": "DATA_MESSAGE",
    "owner": "123456789012",
    "logGroup": GROUP,
    "logStream": STREAM,
    "subscriptionFilters": ["lakeops-logs"],
    "policyLevel": "ACCOUNT_LEVEL_POLICY",
    "logEvents": [
        {"id": "38000000000000000000000000000000000000000000000000000000", "timestamp": T0,
         "message": f"START RequestId: {REQ} Version: $LATEST\n"},
        {"id": "38000000000000000000000000000000000000000000000000000001", "timestamp": T0 + 12,
         "message": json.dumps({"level": "INFO", "message": "batch received", "orders": 412,
                                "customer_email": "jane.doe@example.com"}) + "\n"},
        {"id": "38000000000000000000000000000000000000000000000000000002", "timestamp": T0 + 840,
         "message": f"2026-11-23T06:20:00.840Z\t{REQ}\tERROR\tInvoke Error \t{{\"errorType\":\"KeyError\",\"errorMessage\":\"'order_id'\"}}\n"},
        {"id": "38000000000000000000000000000000000000000000000000000003", "timestamp": T0 + 845,
         "message": f"END RequestId: {REQ}\n"},
        {"id": "38000000000000000000000000000000000000000000000000000004", "timestamp": T0 + 845,
         "message": f"REPORT RequestId: {REQ}\tDuration: 843.21 ms\tBilled Duration: 844 ms\tMemory Size: 512 MB\tMax Memory Used: 187 MB\tInit Duration: 412.77 ms\t\n"},
    ],
}

control_message = {
    "messageType": "CONTROL_MESSAGE",
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [{"id": "", "timestamp": T0, "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}],
}

glue_message = {
    "messageType": "DATA_MESSAGE",
    "owner": "123456789012",
    "logGroup": "/aws-glue/jobs/error",
    "logStream": "jr_5b0c9e1f2a3d4c5b6a7980e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c",
    "subscriptionFilters": ["lakeops-logs"],
    "logEvents": [
        {"id": "38000000000000000000000000000000000000000000000000000100", "timestamp": T0 + 5000,
         "message": "26/11/23 06:20:05 ERROR GlueLogger: Job failed: AnalysisException: Path does not exist: s3://lake-raw/orders/dt=2026-11-22"},
    ],
}

# Failed invocations as current runtimes log them (shapes: corpus/log-lines.txt in the
# transformer). Out of memory, reported on the REPORT line:
OOM_REQ = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
oom_message = {
    "messageType": "DATA_MESSAGE",
    "owner": "123456789012",
    "logGroup": "/aws/lambda/payments-api",
    "logStream": "2026/11/23/[$LATEST]1a2b3c4d5e6f708192a3b4c5d6e7f809",
    "subscriptionFilters": ["lakeops-logs"],
    "logEvents": [
        {"id": "38000000000000000000000000000000000000000000000000000200", "timestamp": T0 + 10000,
         "message": f"START RequestId: {OOM_REQ} Version: $LATEST\n"},
        {"id": "38000000000000000000000000000000000000000000000000000201", "timestamp": T0 + 11893,
         "message": f"END RequestId: {OOM_REQ}\n"},
        {"id": "38000000000000000000000000000000000000000000000000000202", "timestamp": T0 + 11893,
         "message": f"REPORT RequestId: {OOM_REQ}\tDuration: 1893.20 ms\tBilled Duration: 1894 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory\n"},
    ],
}

# The Python runtime's unhandled exception: one event of \r-separated lines.
PY_REQ = "8d2e3f4a-5b6c-4d7e-9f8a-0b1c2d3e4f5a"
python_message = {
    "messageType": "DATA_MESSAGE",
    "owner": "123456789012",
    "logGroup": "/aws/lambda/report-builder",
    "logStream": "2026/11/23/[$LATEST]2b3c4d5e6f708192a3b4c5d6e7f8091a",
    "subscriptionFilters": ["lakeops-logs"],
    "logEvents": [
        {"id": "38000000000000000000000000000000000000000000000000000300", "timestamp": T0 + 20000,
         "message": f"START RequestId: {PY_REQ} Version: $LATEST\n"},
        {"id": "38000000000000000000000000000000000000000000000000000301", "timestamp": T0 + 20012,
         "message": "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, in rare cases, a Lambda runtime update can cause unexpected function behavior.\r[ERROR] ZeroDivisionError: division by zero\rTraceback (most recent call last):\r  File \"/var/task/app.py\", line 12, in handler\r    return total / count\n"},
        {"id": "38000000000000000000000000000000000000000000000000000302", "timestamp": T0 + 20013,
         "message": f"END RequestId: {PY_REQ}\n"},
        {"id": "38000000000000000000000000000000000000000000000000000303", "timestamp": T0 + 20013,
         "message": f"REPORT RequestId: {PY_REQ}\tDuration: 12.95 ms\tBilled Duration: 13 ms\tMemory Size: 256 MB\tMax Memory Used: 61 MB\t\n"},
    ],
}


def write(name, obj):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


write("cloudwatch-logs-subscription.json", {"awslogs": {"data": pack(data_message)}})
write("cloudwatch-logs-control-message.json", {"awslogs": {"data": pack(control_message)}})
write("firehose-cloudwatch-logs.json", {
    "invocationId": "d3bd1f64-7a1b-4b4c-9d5e-8f6a1c2e3b4d",
    "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/lakeops-logs",
    "region": "us-east-1",
    "records": [
        {"recordId": "49546986683135544286507457936321625675700192471156785154",
         "approximateArrivalTimestamp": T0 + 900, "data": pack(data_message)},
        {"recordId": "49546986683135544286507457936321625675700192471156785155",
         "approximateArrivalTimestamp": T0 + 901, "data": pack(control_message)},
        {"recordId": "49546986683135544286507457936321625675700192471156785156",
         "approximateArrivalTimestamp": T0 + 5100, "data": pack(glue_message)},
    ],
})
write("cloudwatch-logs-out-of-memory.json", {"awslogs": {"data": pack(oom_message)}})
write("cloudwatch-logs-python-unhandled.json", {"awslogs": {"data": pack(python_message)}})
def an_hour_later(message):
    """The same batch an hour later: another alert-interval bucket (the e2e test's SNS outage)."""
    later = json.loads(json.dumps(message))
    for e in later["logEvents"]:
        e["timestamp"] += 3600000
        e["id"] = e["id"][:-4] + "9" + e["id"][-3:]
    return later


write("firehose-cloudwatch-logs-failures.json", {
    "invocationId": "e4ce2a75-8b2c-4c5d-8e6f-9a7b2d3f4c5e",
    "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/lakeops-logs",
    "region": "us-east-1",
    "records": [
        {"recordId": "49546986683135544286507457936321625675700192471156785200",
         "approximateArrivalTimestamp": T0 + 3612000, "data": pack(an_hour_later(oom_message))},
        {"recordId": "49546986683135544286507457936321625675700192471156785201",
         "approximateArrivalTimestamp": T0 + 3612001, "data": pack(control_message)},
        {"recordId": "49546986683135544286507457936321625675700192471156785202",
         "approximateArrivalTimestamp": T0 + 3621000, "data": pack(an_hour_later(python_message))},
    ],
})


# alert-notifier: an SQS batch as its event source mapping delivers it. Each body is the SNS
# envelope of a message on the alert topic: a lakeops alert (the ExpensiveQuery of the alert
# corpus, captured from the functions) and a CloudWatch alarm notification.
CORPUS = os.path.join(os.path.dirname(OUT), "functions", "alert-notifier", "tests", "alerts")
TOPIC = "arn:aws:sns:us-east-1:123456789012:lakeops-alerts"


def sns_envelope(n, subject, message, timestamp):
    return {
        "Type": "Notification",
        "MessageId": f"8a4b3c2d-0000-4000-8000-00000000000{n}",
        "TopicArn": TOPIC,
        "Subject": subject,
        "Message": message,
        "Timestamp": timestamp,
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-example.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=example",
    }


def sqs_record(n, body, queue="lakeops-alert-notifier"):
    return {
        "messageId": f"0e6f6a4c-1c5e-4d0e-9d3a-00000000000{n}",
        "receiptHandle": f"AQEB-example-{n}",
        "body": json.dumps(body, separators=(",", ":")),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(T0 + 1000),
                       "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": str(T0 + 1100)},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
        "awsRegion": "us-east-1",
    }


with open(os.path.join(CORPUS, "ExpensiveQuery.json")) as f:
    expensive = json.load(f)
with open(os.path.join(CORPUS, "CloudWatchAlarm.sns.json")) as f:
    alarm = json.load(f)
write("sqs-alert-notifier.json", {"Records": [
    sqs_record(1, sns_envelope(1, "[lakeops] CRITICAL: " + expensive["title"],
                               json.dumps(expensive, separators=(",", ":")), "2026-11-23T09:00:01.000Z")),
    sqs_record(2, sns_envelope(2, 'ALARM: "lakeops-long-query-killer-errors" in US East (N. Virginia)',
                               json.dumps(alarm, separators=(",", ":")), "2026-11-24T02:55:01.000Z")),
]})


# query-cost-watcher's feed of the query index: the state-change events of one query as the
# EventBridge rule delivers them to lakeops-query-events — out of order (the end first) and one
# of them twice, as EventBridge may (best effort, at least once). The query is the one of
# athena-query-state-change.json; the shape is AWS's documented "Athena Query State Change".
with open(os.path.join(OUT, "athena-query-state-change.json")) as f:
    succeeded = json.load(f)


def state_event(state, previous, sequence, time):
    e = json.loads(json.dumps(succeeded))
    e["id"] = e["id"][:-1] + str(sequence)
    e["time"] = time
    e["detail"]["currentState"] = state
    e["detail"]["sequenceNumber"] = str(sequence)
    if previous:
        e["detail"]["previousState"] = previous
    else:
        del e["detail"]["previousState"]
    return e


# Who ran it: CloudTrail's record of the same query's StartQueryExecution as EventBridge delivers
# it ("AWS API Call via CloudTrail"; the record's shape is the Athena User Guide's CloudTrail
# example), by an IAM Identity Center user in the Athena console. On the same queue, before the
# state changes it names.
started = {
    "version": "0",
    "id": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
    "detail-type": "AWS API Call via CloudTrail",
    "source": "aws.athena",
    "account": "123456789012",
    "time": "2026-11-23T08:54:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLESSOROLE:jane.doe@example.com",
            "arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DataAnalyst_0a1b2c3d4e5f6789/jane.doe@example.com",
            "accountId": "123456789012",
            "accessKeyId": "ASIAEXAMPLEKEYID",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLESSOROLE",
                    "arn": "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_DataAnalyst_0a1b2c3d4e5f6789",
                    "accountId": "123456789012",
                    "userName": "AWSReservedSSO_DataAnalyst_0a1b2c3d4e5f6789",
                },
                "attributes": {"creationDate": "2026-11-23T08:00:00Z", "mfaAuthenticated": "false"},
            },
        },
        "eventTime": "2026-11-23T08:54:00Z",
        "eventSource": "athena.amazonaws.com",
        "eventName": "StartQueryExecution",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-internal/3",
        "requestParameters": {
            "queryString": "SELECT * FROM sales.orders o, sales.lineitems l WHERE o.id = l.order_id",
            "queryExecutionContext": {"database": "sales", "catalog": "AwsDataCatalog"},
            "workGroup": "analytics",
            "clientRequestToken": "16bc6e70-f972-4260-b18a-db1b623cb35c",
        },
        "responseElements": {"queryExecutionId": succeeded["detail"]["queryExecutionId"]},
        "requestID": "f5039b01-305f-11e7-b146-c3fc56a7dc7a",
        "eventID": "c97cf8c8-6112-467a-8777-53bb38f83fd5",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": "123456789012",
        "eventCategory": "Management",
    },
}
write("cloudtrail-start-query-execution.json", started)

QUEUE = "lakeops-query-events"
write("sqs-query-events.json", {"Records": [
    sqs_record(0, started, QUEUE),
    sqs_record(1, succeeded, QUEUE),
    sqs_record(2, state_event("RUNNING", "QUEUED", 2, "2026-11-23T08:54:01Z"), QUEUE),
    sqs_record(3, state_event("QUEUED", None, 1, "2026-11-23T08:54:00Z"), QUEUE),
    sqs_record(4, succeeded, QUEUE),
]})
