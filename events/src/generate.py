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
