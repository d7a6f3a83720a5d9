"""CloudWatch gateway: alarm states and metric values for the release monitor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bluegreen.aws.errors import aws_errors

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws


def alarm_states(aws: Aws, names: Sequence[str]) -> dict[str, str]:
    """Alarm name -> state (OK | ALARM | INSUFFICIENT_DATA) for the alarms that exist."""
    states: dict[str, str] = {}
    names = list(dict.fromkeys(names))
    for i in range(0, len(names), 100):
        chunk = names[i : i + 100]
        with aws_errors(resource=", ".join(chunk)):
            resp = aws.cloudwatch().describe_alarms(
                AlarmNames=chunk, AlarmTypes=["MetricAlarm", "CompositeAlarm"], MaxRecords=100
            )
        for alarm in [*resp.get("MetricAlarms", []), *resp.get("CompositeAlarms", [])]:
            name = alarm.get("AlarmName")
            if name:
                states[name] = str(alarm.get("StateValue", "INSUFFICIENT_DATA"))
    return states


def missing_alarms(aws: Aws, names: Sequence[str]) -> list[str]:
    found = alarm_states(aws, names)
    return [n for n in names if n not in found]


@dataclass(frozen=True)
class MetricQuery:
    id: str  # [a-z][a-zA-Z0-9_]*
    namespace: str
    metric: str
    stat: str
    period: int
    dimensions: dict[str, str] = field(default_factory=dict)


def latest_values(
    aws: Aws, queries: Sequence[MetricQuery], start: datetime, end: datetime
) -> dict[str, float | None]:
    """Query id -> the most recent datapoint in [start, end] (None when there is none)."""
    if not queries:
        return {}
    data: list[Any] = [
        {
            "Id": q.id,
            "MetricStat": {
                "Metric": {
                    "Namespace": q.namespace,
                    "MetricName": q.metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in q.dimensions.items()],
                },
                "Period": q.period,
                "Stat": q.stat,
            },
            "ReturnData": True,
        }
        for q in queries
    ]
    out: dict[str, float | None] = {q.id: None for q in queries}
    best: dict[str, datetime] = {}
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "MetricDataQueries": data,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampDescending",
        }
        if token:
            kwargs["NextToken"] = token
        with aws_errors(resource="cloudwatch:GetMetricData"):
            resp = aws.cloudwatch().get_metric_data(**kwargs)
        for res in resp.get("MetricDataResults", []):
            qid = res.get("Id", "")
            for ts, value in zip(res.get("Timestamps", []), res.get("Values", []), strict=False):
                if qid not in best or ts > best[qid]:
                    best[qid] = ts
                    out[qid] = float(value)
        token = resp.get("NextToken")
        if not token:
            return out
