"""Schemathesis fuzzes the daemon from the OpenAPI document it serves: no 5xx, no crash, every answer as documented.

The daemon runs with a queue far larger than the run can fill and task timeouts far shorter than the run, so no
503 is legitimate and any 5xx is a bug. A spec whose paths all answer 404 would pass vacuously, so the run's own
record (a HAR file) must show a 2xx answer from every documented operation, and the daemon's /metrics must agree.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import Fibd, load_openapi_source

# Examples per operation and phase: enough to reach every route's branches, small enough for about a minute.
MAX_EXAMPLES = 50
RUN_TIMEOUT = 240
METHODS = ("get", "put", "post", "delete", "patch")

# Answers that are right for valid input yet cannot be told from the schema alone. The check use_after_free is
# off: a cancelled task stays readable (DELETE cancels, it does not delete), so GET after DELETE is 200 by design.
CONFIG = """
[[operations]]
include-operation-id = "computeFibonacci"
# recursive with n > 93 (two parameters together) and tasks that time out or fail are 422 by contract.
checks.positive_data_acceptance.expected-statuses = ["2xx", "422"]

[[operations]]
include-operation-id = "getEvents"
# A cursor past the head is from another run: 410 cursor-expired tells the client to resync.
checks.positive_data_acceptance.expected-statuses = ["2xx", "410"]

[[operations]]
include-operation-id = "cancelTask"
# A task that is not there is 404 and one that ended is 409; this id is of a task already cancelled (200).
parameters = {{ id = "{cancelled}" }}
"""


def schemathesis_command() -> list[str]:
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        pytest.fail("schemathesis is not installed: run `make deps`")
    return [sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()"]


def operation_patterns(document: dict) -> dict[tuple[str, str], re.Pattern]:
    patterns = {}
    for path, item in document["paths"].items():
        regex = re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/?]+", re.escape(path)) + "$")
        for method in item:
            if method in METHODS:
                patterns[(method.upper(), path)] = regex
    return patterns


def test_schemathesis_finds_nothing(fibd_factory, tmp_path: Path) -> None:
    command = schemathesis_command()
    daemon: Fibd = fibd_factory(
        "--workers", "2", "--max-queue", "1000000", "--default-timeout", "0.2", "--max-timeout", "1",
        "--max-wait", "1", "--retain-time", "600",
    )
    client = daemon.client
    task = client.submit({"n": 88, "algorithm": "recursive", "priority": -1000})
    assert client.cancel(task["id"]).status == 200
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.format(cancelled=task["id"]))
    reports = tmp_path / "reports"
    base = f"http://127.0.0.1:{daemon.tcp_port()}"
    run = subprocess.run(
        [*command, "--config-file", str(config), "--no-color", "run", f"{base}/api/v1/openapi.json",
         "--checks", "all", "--exclude-checks", "use_after_free", "--max-examples", str(MAX_EXAMPLES),
         "--workers", "2", "--seed", "20261124",
         "--generation-database", "none", "--request-timeout", "20", "--report", "har",
         "--report-dir", str(reports)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"schemathesis found problems (exit {run.returncode}):\n{output[-20000:]}"
    assert daemon.process is not None and daemon.process.poll() is None, f"fibd died under the fuzzer\n{output}"

    hars = list(reports.glob("har-*.json"))
    assert len(hars) == 1, f"no HAR report in {reports}: {list(reports.iterdir())}"
    entries = json.loads(hars[0].read_text())["log"]["entries"]
    patterns = operation_patterns(json.loads(client.get("/api/v1/openapi.json").body))
    # Schemathesis reads the document itself (200) and does not test that operation.
    del patterns[("GET", "/api/v1/openapi.json")]
    answered: Counter[tuple[str, str]] = Counter()
    server_errors = []
    for entry in entries:
        status = entry["response"]["status"]
        if status >= 500:
            server_errors.append(f"{entry['request']['method']} {entry['request']['url']} -> {status}")
        path = entry["request"]["url"].removeprefix(base).split("?")[0]
        for (method, template), regex in patterns.items():
            if method == entry["request"]["method"] and regex.match(path) and 200 <= status < 300:
                answered[(method, template)] += 1
    assert not server_errors, "\n".join(server_errors[:20])
    unreached = sorted(operation for operation in patterns if answered[operation] == 0)
    assert not unreached, f"the fuzzer got no 2xx from {unreached}; answers per operation: {dict(answered)}"
    assert sum(answered.values()) >= 200, dict(answered)

    # The daemon's own count agrees: many 2xx, not a single 5xx.
    metrics = client.get("/metrics").body.decode()
    codes = {int(code): float(count) for code, count in
             re.findall(r'^fibd_http_requests_total\{code="(\d+)"\} (\S+)$', metrics, re.M)}
    assert sum(count for code, count in codes.items() if 200 <= code < 300) >= 200, codes
    assert not [code for code in codes if code >= 500], codes
    assert client.get("/healthz").status == 200
    assert client.submit({"n": 30}, wait="10")["state"] == "done"


def test_served_document_carries_the_daemon_limits(fibd_factory) -> None:
    daemon: Fibd = fibd_factory("--max-n", "5000", "--max-timeout", "2.5", "--max-batch", "7")
    served = daemon.client.get("/api/v1/openapi.json").json()
    written = load_openapi_source()
    submission = served["components"]["schemas"]["TaskSubmission"]
    assert submission["properties"]["n"]["maximum"] == 5000
    assert submission["properties"]["timeout"]["maximum"] == 2.5
    assert submission["then"]["properties"]["n"]["maximum"] == 93
    assert served["components"]["schemas"]["TaskBatch"]["maxItems"] == 7
    fib = {p["name"]: p for p in served["paths"]["/api/v1/fib/{n}"]["get"]["parameters"]}
    assert fib["n"]["schema"]["maximum"] == 5000 and fib["timeout"]["schema"]["maximum"] == 2.5
    # Nothing else differs from the document as written.
    submission["properties"]["n"]["maximum"] = 10000000
    submission["properties"]["timeout"]["maximum"] = 3600
    served["components"]["schemas"]["TaskBatch"]["maxItems"] = 1000
    fib["n"]["schema"]["maximum"] = 10000000
    fib["timeout"]["schema"]["maximum"] = 3600
    assert served == written
