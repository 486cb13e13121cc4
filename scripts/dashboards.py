#!/usr/bin/env python3
"""The lakeops dashboard, defined once, written twice: as the CloudWatch dashboard body inside
infra/template.yaml (between the `# BEGIN/END generated dashboard` markers) and as a Grafana
dashboard (CloudWatch data source) in infra/grafana/lakeops.json.

    python3 scripts/dashboards.py          # rewrite both
    python3 scripts/dashboards.py --check  # fail if either is out of date (`make lint`)

Every panel is a CloudWatch SEARCH expression, so a new workgroup, check or function shows up
without editing the dashboard. Metric names are the ones the functions emit (docs/reference/metrics.md).
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "infra", "template.yaml")
GRAFANA = os.path.join(ROOT, "infra", "grafana", "lakeops.json")
BEGIN = "      # BEGIN generated dashboard (scripts/dashboards.py; edit there, then `make dashboards`)\n"
END = "      # END generated dashboard\n"

NS = "{ns}"  # the functions' namespace: ${MetricsNamespace} in CloudWatch, $namespace in Grafana


def search(schema, metrics, extra=""):
    names = " OR ".join(f'"{m}"' for m in metrics)
    return f"SEARCH('{{{schema}}} MetricName=({names}){extra}', '{{stat}}', {{period}})"


# (title, expression, statistic, period seconds, unit label)
PANELS = [
    ("Athena spend per workgroup per day (USD)", search(f"{NS},WorkGroup", ["QueryCostUSD"]), "Sum", 86400, "USD"),
    ("Expensive queries per hour, by workgroup", search(f"{NS},WorkGroup", ["ExpensiveQueryCount"]), "Sum", 3600, "queries"),
    ("Data scanned per hour, by workgroup", search(f"{NS},WorkGroup", ["DataScannedBytes"]), "Sum", 3600, "bytes"),
    ("Long queries warned / stopped, by workgroup", search(f"{NS},WorkGroup", ["QueriesWarned", "QueriesStopped"]), "Sum", 300, "queries"),
    ("Oldest running query (minutes), by workgroup", search(f"{NS},WorkGroup", ["OldestRunningQueryMinutes"]), "Maximum", 300, "minutes"),
    ("Reconciliation: row difference, by check", search(f"{NS},Check", ["RowDiff"]), "Maximum", 86400, "rows"),
    ("Reconciliation: data age (seconds), by check", search(f"{NS},Check", ["SourceAgeSeconds", "TargetAgeSeconds"]), "Maximum", 86400, "seconds"),
    ("Reconciliation: failed checks", search(f"{NS},Check", ["CheckFailed"]), "Sum", 86400, "checks"),
    ("Logs: events in, records out, dropped, failed", search(NS, ["EventsIn", "RecordsOut", "Dropped", "DeliveryFailed", "DecodeFailed"]), "Sum", 300, "events"),
    ("Logs: Lambda REPORT durations, by function (ms)", search(f"{NS},FunctionName", ["Duration"]), "Maximum", 300, "ms"),
    ("lakeops functions: errors and throttles", search("AWS/Lambda,FunctionName", ["Errors", "Throttles"], " lakeops"), "Sum", 300, "invocations"),
    ("Chat: alerts delivered / retried / refused, by channel", search(f"{NS},Channel", ["AlertsDelivered", "DeliveryRetries", "AlertsRejected"]), "Sum", 300, "alerts"),
    ("Chat: oldest alert waiting (s) and messages in the notifier queues", search("AWS/SQS,QueueName", ["ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible"], " lakeops-alert-notifier"), "Maximum", 300, "s / messages"),
    ("Failed events waiting (lakeops-failed-events)", search("AWS/SQS,QueueName", ["ApproximateNumberOfMessagesVisible"], " lakeops-failed-events"), "Maximum", 300, "messages"),
]


def expression(template, namespace, stat, period):
    return template.replace("{ns}", namespace).replace("{stat}", stat).replace("{period}", str(period))


def cloudwatch_body():
    widgets = []
    for i, (title, expr, stat, period, unit) in enumerate(PANELS):
        widgets.append({
            "type": "metric",
            "x": (i % 2) * 12,
            "y": (i // 2) * 6,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": "${AWS::Region}",
                "view": "timeSeries",
                "stat": stat,
                "period": period,
                "yAxis": {"left": {"label": unit, "showUnits": False}},
                "metrics": [[{"expression": expression(expr, "${MetricsNamespace}", stat, period), "id": "e1"}]],
            },
        })
    return json.dumps({"widgets": widgets}, indent=2)


def grafana():
    panels = []
    for i, (title, expr, stat, period, unit) in enumerate(PANELS):
        panels.append({
            "id": i + 1,
            "type": "timeseries",
            "title": title,
            "gridPos": {"x": (i % 2) * 12, "y": (i // 2) * 8, "w": 12, "h": 8},
            "datasource": {"type": "cloudwatch", "uid": "${datasource}"},
            "fieldConfig": {"defaults": {"custom": {"axisLabel": unit}}, "overrides": []},
            "targets": [{
                "refId": "A",
                "datasource": {"type": "cloudwatch", "uid": "${datasource}"},
                "queryMode": "Metrics",
                "metricQueryType": 0,
                "metricEditorMode": 1,
                "expression": expression(expr, "$namespace", stat, period),
                "region": "$region",
                "statistic": stat,
                "period": str(period),
                "id": "",
                "namespace": "",
                "metricName": "",
                "dimensions": {},
                "matchExact": True,
            }],
        })
    return json.dumps({
        "title": "lakeops",
        "uid": "lakeops",
        "tags": ["lakeops", "athena", "data-lake"],
        "timezone": "browser",
        "schemaVersion": 39,
        "time": {"from": "now-7d", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "cloudwatch", "label": "CloudWatch"},
            {"name": "region", "type": "custom", "query": "us-east-1,ap-northeast-2,eu-west-1,us-west-2",
             "current": {"text": "us-east-1", "value": "us-east-1"}, "label": "Region"},
            {"name": "namespace", "type": "textbox", "query": "Lakeops",
             "current": {"text": "Lakeops", "value": "Lakeops"}, "label": "Metrics namespace"},
        ]},
        "panels": panels,
    }, indent=2) + "\n"


def template_with_dashboard(template):
    start = template.index(BEGIN) + len(BEGIN)
    end = template.index(END)
    body = "      DashboardBody: !Sub |\n" + "".join(
        f"        {line}\n" for line in cloudwatch_body().splitlines()
    )
    return template[:start] + body + template[end:]


def main():
    check = "--check" in sys.argv
    template = open(TEMPLATE).read()
    wanted_template = template_with_dashboard(template)
    wanted_grafana = grafana()
    current_grafana = open(GRAFANA).read() if os.path.exists(GRAFANA) else ""
    if check:
        stale = [p for p, ok in [(TEMPLATE, wanted_template == template), (GRAFANA, wanted_grafana == current_grafana)] if not ok]
        if stale:
            sys.exit("dashboards out of date (run `make dashboards`): " + ", ".join(os.path.relpath(p, ROOT) for p in stale))
        print(f"dashboards up to date ({len(PANELS)} panels, CloudWatch and Grafana)")
        return
    os.makedirs(os.path.dirname(GRAFANA), exist_ok=True)
    open(TEMPLATE, "w").write(wanted_template)
    open(GRAFANA, "w").write(wanted_grafana)
    print(f"wrote {len(PANELS)} panels to infra/template.yaml and infra/grafana/lakeops.json")


if __name__ == "__main__":
    main()
