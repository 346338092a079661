"""/metrics speaks the Prometheus text format and has the named series."""

from __future__ import annotations

import re

from conftest import Client

SERIES = [
    r'fibd_tasks\{state="done"\} \d+',
    r'fibd_tasks\{state="queued"\} \d+',
    r"fibd_tasks_submitted_total \d+",
    r"fibd_queue_depth \d+",
    r'fibd_task_duration_seconds_bucket\{le="[^"]+"\} \d+',
    r'fibd_task_duration_seconds_bucket\{le="\+Inf"\} \d+',
    r"fibd_task_duration_seconds_sum [0-9.e+-]+",
    r"fibd_task_duration_seconds_count \d+",
    r'fibd_workers\{state="idle"\} \d+',
    r"fibd_worker_restarts_total \d+",
    r'fibd_http_requests_total\{code="200"\} \d+',
    r"fibd_cache_hits_total \d+",
    r"fibd_cache_bytes \d+",
]


def sample(text: str, pattern: str) -> float:
    match = re.search(rf"^{pattern.split(' ')[0]} ([0-9.e+-]+)$", text, re.M)
    assert match, pattern
    return float(match.group(1))


def test_metrics_has_the_named_series(client: Client) -> None:
    for n in (10, 20, 10):
        assert client.submit({"n": n}, wait="10")["state"] == "done"
    response = client.get("/metrics")
    assert response.status == 200, repr(response)
    assert response.content_type.replace(" ", "").startswith("text/plain;version=0.0.4"), response.content_type
    text = response.body.decode()
    for pattern in SERIES:
        assert re.search(rf"^{pattern}$", text, re.M), f"no line matching {pattern!r} in\n{text}"
    assert re.search(r"^# TYPE fibd_task_duration_seconds histogram$", text, re.M)
    assert re.search(r"^# TYPE fibd_tasks_submitted_total counter$", text, re.M)
    assert sample(text, r"fibd_tasks_submitted_total \d+") >= 3
    assert sample(text, r"fibd_cache_hits_total \d+") >= 1
    assert sample(text, r"fibd_task_duration_seconds_count \d+") >= 2


def test_http_requests_are_counted(client: Client) -> None:
    def count(code: str) -> float:
        text = client.get("/metrics").body.decode()
        match = re.search(rf'^fibd_http_requests_total\{{code="{code}"\}} (\d+)$', text, re.M)
        return float(match.group(1)) if match else 0.0

    before = count("404")
    for _ in range(3):
        assert client.get("/no/such/path").status == 404
    assert count("404") >= before + 3
