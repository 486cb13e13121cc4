"""The Python baseline for the transformer benchmark: what the AWS CloudWatch Logs processor
blueprint does (base64, gunzip, json, one output line per event) plus JSON parsing of messages
and a few enrichment fields, as a Python team would write it. Prints the median seconds per
payload over >= 15 runs and >= 3 s.

Usage: python_baseline.py <file holding the awslogs.data base64 text>
"""
import base64
import datetime
import gzip
import json
import statistics
import sys
import time


def transform(data):
    payload = json.loads(gzip.decompress(base64.b64decode(data)))
    out = []
    for event in payload["logEvents"]:
        message = event["message"].rstrip("\n")
        record = {
            "timestamp": datetime.datetime.fromtimestamp(event["timestamp"] / 1000, datetime.timezone.utc).isoformat(),
            "event_id": event["id"],
            "account": payload["owner"],
            "log_group": payload["logGroup"],
            "log_stream": payload["logStream"],
            "message": message,
        }
        if message.lstrip().startswith("{"):
            try:
                record["fields"] = json.loads(message)
            except ValueError:
                pass
        out.append(json.dumps(record) + "\n")
    return "".join(out)


def main():
    data = open(sys.argv[1]).read()
    samples = []
    started = time.perf_counter()
    while len(samples) < 15 or time.perf_counter() - started < 3.0:
        t = time.perf_counter()
        transform(data)
        samples.append(time.perf_counter() - t)
    print(statistics.median(samples))


if __name__ == "__main__":
    main()
