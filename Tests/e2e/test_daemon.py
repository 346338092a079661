"""The daemon as a program: flags, config file, environment, --help, and a clean SIGTERM."""

from __future__ import annotations

import re
import subprocess

from conftest import FIBD_BINARY, await_pid_gone

FLAGS = [
    "--config", "--listen", "--workers", "--state-dir", "--www", "--max-n", "--max-queue", "--max-batch",
    "--max-body", "--default-timeout", "--max-timeout", "--max-wait", "--max-attempts", "--cache-size",
    "--retain-time", "--retain-count", "--retain-bytes", "--event-log-size", "--max-connections",
    "--idle-timeout", "--header-timeout", "--log-level", "--help", "--version",
]


def test_help_lists_every_flag() -> None:
    result = subprocess.run([str(FIBD_BINARY), "--help"], capture_output=True, timeout=20)
    assert result.returncode == 0, result
    text = (result.stdout + result.stderr).decode()
    missing = [flag for flag in FLAGS if not re.search(rf"{re.escape(flag)}\b", text)]
    assert not missing, f"--help does not mention {missing}:\n{text}"


def test_version() -> None:
    result = subprocess.run([str(FIBD_BINARY), "--version"], capture_output=True, timeout=20)
    assert result.returncode == 0, result
    assert re.search(r"\d+\.\d+", (result.stdout + result.stderr).decode()), result


def test_unknown_flag_fails() -> None:
    result = subprocess.run([str(FIBD_BINARY), "--no-such-flag"], capture_output=True, timeout=20)
    assert result.returncode != 0
    assert b"no-such-flag" in result.stdout + result.stderr


def test_defaults_in_status(fibd_factory) -> None:
    limits = fibd_factory().client.status()["limits"]
    assert limits["max_n"] == 10000000 and limits["max_queue"] == 100000 and limits["max_batch"] == 1000
    assert limits["max_body"] == 1048576 and limits["default_timeout"] == 300 and limits["max_timeout"] == 3600
    assert limits["max_wait"] == 60 and limits["max_attempts"] == 3


def test_config_file_sets_limits(fibd_factory, tmp_path) -> None:
    config = tmp_path / "fibd.conf"
    config.write_text("max-queue = 5\nmax-batch = 7\n")
    daemon = fibd_factory("--config", str(config))
    limits = daemon.client.status()["limits"]
    assert limits["max_queue"] == 5 and limits["max_batch"] == 7, limits


def test_environment_sets_limits(fibd_factory) -> None:
    daemon = fibd_factory(env={"FIBD_MAX_QUEUE": "5", "FIBD_MAX_ATTEMPTS": "2"})
    limits = daemon.client.status()["limits"]
    assert limits["max_queue"] == 5 and limits["max_attempts"] == 2, limits


def test_workers_flag_and_status(fibd_factory) -> None:
    client = fibd_factory("--workers", "3").client
    workers = client.workers()
    assert len(workers) == 3 and all(w["state"] == "idle" and isinstance(w["pid"], int) for w in workers), workers
    status = client.status()
    assert status["workers"]["total"] == 3 and status["workers"]["idle"] == 3, status["workers"]
    assert status["uptime_seconds"] >= 0 and status["version"]


def test_sigterm_stops_daemon_and_workers(fibd_factory) -> None:
    daemon = fibd_factory("--workers", "2")
    pids = [w["pid"] for w in daemon.client.workers()]
    assert len(pids) == 2
    assert daemon.client.submit({"n": 20, "algorithm": "recursive"}, wait="10s")["state"] == "done"
    daemon.stop()
    assert daemon.stop_problem is None, daemon.stop_problem
    assert daemon.exit_code == 0, f"exit code {daemon.exit_code}\n{daemon.log()}"
    # The workers' exits are written before the store closes: a clean stop logs no error.
    errors = [line for line in daemon.log().splitlines() if line.startswith(("<0>", "<1>", "<2>", "<3>"))]
    assert not errors, daemon.log()
    for pid in pids:
        await_pid_gone(pid, within=10)


def test_a_worker_started_by_hand_logs_why_it_leaves() -> None:
    # `fibd worker` is internal: without its channel on fd 3 it leaves, and says so through the
    # daemon's log path (here stderr, a pipe: sd-daemon priority prefixes), not in silence.
    result = subprocess.run(
        [str(FIBD_BINARY), "worker"], capture_output=True, timeout=20, stdin=subprocess.DEVNULL, close_fds=True
    )
    assert result.returncode == 74, result
    lines = result.stderr.decode().splitlines()
    assert any(line.startswith("<3>") and "fibd worker is internal" in line for line in lines), lines
