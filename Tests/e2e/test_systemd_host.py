"""fibd and systemd's protocols on this host, without systemd as PID 1: socket activation through
systemd-socket-activate, sd_notify read from a datagram socket the test owns (NOTIFY_SOCKET), and journald fields
read back with `journalctl -o json` from a standalone journald the test starts and stops."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from conftest import FIBD_BINARY, Client, Fibd, FibdFactory, calibrated_recursive_n, wait_until

JOURNALD = Path("/lib/systemd/systemd-journald")
JOURNAL_SOCKET = Path("/run/systemd/journal/socket")
JOURNALD_DROPIN = Path("/run/systemd/journald.conf.d/zz-fibd-test-standalone.conf")

MESSAGE_IDS = {
    "task submitted": "4732d7fc414545659def84f714a2ba25",
    "task started": "6ce776e12935403b827769963415e56d",
    "task done": "fabf8ede67124a68914e171ac50e88eb",
    "worker spawned": "7d6793f72f83418094925c00f65e93e1",
    "configuration reloaded": "efd1f536878043b595fe295284f79303",
    "stopping": "7e99c780eb4544de98048d2fcb9537fe",
}


# ---------------------------------------------------------------------------------------------------------------
# The notify socket


class NotifySocket:
    """A unix datagram socket standing in for systemd's notify socket; keeps every datagram with its arrival time."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self.on_message: Callable[[str], None] | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._read, name="notify", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            text = data.decode("utf-8", "replace")
            if self.on_message is not None:
                self.on_message(text)
            with self._cond:
                self.messages.append((time.monotonic(), text))
                self._cond.notify_all()

    def assignments(self, since: int = 0) -> list[tuple[int, float, str]]:
        """Every NAME=value received, with the index of its datagram and its arrival time."""
        with self._cond:
            return [(index, at, line) for index, (at, text) in enumerate(self.messages)
                    if index >= since for line in text.split("\n") if line]

    def count(self) -> int:
        with self._cond:
            return len(self.messages)

    def wait_for(self, predicate: Callable[[str], bool], what: str, since: int = 0, within: float = 15.0) -> int:
        """Waits for a datagram (from index `since` on) with an assignment matching; returns the datagram's index."""
        deadline = time.monotonic() + within
        with self._cond:
            while True:
                for index in range(since, len(self.messages)):
                    if any(predicate(line) for line in self.messages[index][1].split("\n")):
                        return index
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no notify message {what} within {within} s; got {self.messages}")
                self._cond.wait(remaining)

    def close(self) -> None:
        self._closed = True
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    listener = NotifySocket(tmp_path / "notify.sock")
    yield listener
    listener.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def can_connect(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------------------------
# sd_notify


def test_ready_after_listeners_then_status_and_stopping(fibd_factory: FibdFactory, notify: NotifySocket) -> None:
    port = free_port()
    reachable_at_ready: list[bool] = []
    notify.on_message = lambda text: reachable_at_ready.append(can_connect(port)) if "READY=1" in text else None
    daemon = fibd_factory("--listen", f"127.0.0.1:{port}", "--workers", "2", listen_default=False,
                          env={"NOTIFY_SOCKET": str(notify.path)})
    ready = notify.wait_for(lambda line: line == "READY=1", "READY=1")
    assert reachable_at_ready[:1] == [True], "READY=1 came before the listener accepted connections"
    assert [w["state"] for w in daemon.client.workers()] == ["idle", "idle"], "READY=1 before every worker answered"
    statuses = [line for _, _, line in notify.assignments() if line.startswith("STATUS=")]
    assert "STATUS=2 workers, 0 running, 0 queued, 0 done" in statuses, statuses
    assert not any(line.startswith("WATCHDOG=") for _, _, line in notify.assignments()), "no watchdog was asked for"

    client = daemon.client
    task = client.submit({"n": 1000, "algorithm": "fast"}, wait="10")
    assert client.await_end(task["id"])["state"] == "done"
    notify.wait_for(lambda line: line == "STATUS=2 workers, 0 running, 0 queued, 1 done", "STATUS with 1 done",
                    since=ready)

    mark = notify.count()
    daemon.stop()
    assert daemon.exit_code == 0, daemon.log()
    notify.wait_for(lambda line: line == "STOPPING=1", "STOPPING=1", since=mark, within=5)


def test_status_is_rate_limited(fibd_factory: FibdFactory, notify: NotifySocket) -> None:
    daemon = fibd_factory("--workers", "2", env={"NOTIFY_SOCKET": str(notify.path)})
    ready = notify.wait_for(lambda line: line == "READY=1", "READY=1")
    started = time.monotonic()
    tasks = [daemon.client.submit({"n": n, "algorithm": "fast"}) for n in range(2000, 2200)]
    for task in tasks:
        daemon.client.await_end(task["id"])
    elapsed = time.monotonic() - started
    notify.wait_for(lambda line: line.endswith(" 0 queued, 200 done"), "STATUS with 200 done", since=ready)
    statuses = [at for _, at, line in notify.assignments(since=ready + 1) if line.startswith("STATUS=")]
    # At most one STATUS per 100 ms (plus the last one after the burst).
    assert len(statuses) <= elapsed / 0.1 + 3, (len(statuses), elapsed)


def test_watchdog_at_half_the_timeout(fibd_factory: FibdFactory, notify: NotifySocket) -> None:
    fibd_factory("--workers", "1", env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "200000"})
    notify.wait_for(lambda line: line == "READY=1", "READY=1")
    first = notify.wait_for(lambda line: line == "WATCHDOG=1", "WATCHDOG=1")
    window_start = notify.messages[first][0]
    time.sleep(1.55)
    beats = [at for _, at, line in notify.assignments() if line == "WATCHDOG=1" and window_start <= at]
    in_window = [at for at in beats if at <= window_start + 1.5]
    # Every 100 ms: 15 in 1.5 s; a loaded 2-CPU machine may be late now and then, never early.
    assert 11 <= len(in_window) <= 17, [round(at - window_start, 3) for at in beats]


def test_watchdog_pid_for_another_process_is_ignored(fibd_factory: FibdFactory, notify: NotifySocket) -> None:
    fibd_factory("--workers", "1", env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "100000",
                                        "WATCHDOG_PID": "1"})
    ready = notify.wait_for(lambda line: line == "READY=1", "READY=1")
    time.sleep(0.3)
    assert not any(line == "WATCHDOG=1" for _, _, line in notify.assignments()), notify.messages[ready:]


def test_sighup_reloads_and_resizes_without_losing_a_task(
    fibd_factory: FibdFactory, notify: NotifySocket, tmp_path: Path
) -> None:
    config = tmp_path / "fibd.conf"
    config.write_text("workers = 1\nmax-queue = 100\n")
    daemon = fibd_factory("--config", str(config), env={"NOTIFY_SOCKET": str(notify.path)})
    client = daemon.client
    notify.wait_for(lambda line: line == "READY=1", "READY=1")

    # Grow: 1 -> 3 workers, new limits.
    config.write_text("workers = 3\nmax-queue = 7\n")
    mark = notify.count()
    before = time.monotonic()
    os.kill(daemon.pid, signal.SIGHUP)
    reloading = notify.wait_for(lambda line: line == "RELOADING=1", "RELOADING=1", since=mark)
    lines = notify.messages[reloading][1].split("\n")
    stamps = [int(line.split("=", 1)[1]) for line in lines if line.startswith("MONOTONIC_USEC=")]
    assert len(stamps) == 1 and before * 1e6 - 1e6 <= stamps[0] <= time.monotonic() * 1e6 + 1e6, lines
    notify.wait_for(lambda line: line == "READY=1", "READY=1 after RELOADING=1", since=reloading + 1)
    workers = wait_until(lambda: _accept_len(client.workers(), 3, idle=True), 15, "3 idle workers")
    assert client.status()["limits"]["max_queue"] == 7
    notify.wait_for(lambda line: line.startswith("STATUS=3 workers,"), "STATUS with 3 workers", since=reloading)

    # Shrink 3 -> 1 while all three are busy: each task still ends done.
    n = calibrated_recursive_n(client, 1.0)
    tasks = [client.submit({"n": n + offset, "algorithm": "recursive"}) for offset in range(3)]
    wait_until(lambda: all(w["state"] == "busy" for w in client.workers()), 15, "3 busy workers")
    config.write_text("workers = 1\n")
    mark = notify.count()
    os.kill(daemon.pid, signal.SIGHUP)
    reloading = notify.wait_for(lambda line: line == "RELOADING=1", "RELOADING=1", since=mark)
    notify.wait_for(lambda line: line == "READY=1", "READY=1 after RELOADING=1", since=reloading + 1)
    for task in tasks:
        ended = client.await_end(task["id"], within=60)
        assert ended["state"] == "done" and ended["attempts"] == 1, ended
    wait_until(lambda: _accept_len(client.workers(), 1, idle=True), 15, "1 idle worker")
    old_pids = {w["pid"] for w in workers}
    assert client.workers()[0]["pid"] in old_pids, "the staying worker was not restarted"

    # A configuration that does not load is refused and the running one kept.
    config.write_text("workers = banana\n")
    mark = notify.count()
    os.kill(daemon.pid, signal.SIGHUP)
    reloading = notify.wait_for(lambda line: line == "RELOADING=1", "RELOADING=1", since=mark)
    notify.wait_for(lambda line: line == "READY=1", "READY=1 after a refused reload", since=reloading + 1)
    wait_until(lambda: any("reload failed" in line for line in daemon.lines), 5, "'reload failed' in the log")
    assert len(client.workers()) == 1 and client.get("/healthz").status == 200


def _accept_len(workers: list[dict], count: int, idle: bool) -> list[dict] | None:
    if len(workers) != count or (idle and any(w["state"] != "idle" for w in workers)):
        return None
    return workers


def test_sigterm_drains_running_tasks_and_answers_long_polls(fibd_factory: FibdFactory, notify: NotifySocket) -> None:
    daemon = fibd_factory("--workers", "1", env={"NOTIFY_SOCKET": str(notify.path)})
    client = daemon.client
    notify.wait_for(lambda line: line == "READY=1", "READY=1")
    n = calibrated_recursive_n(client, 1.0)
    task = client.submit({"n": n, "algorithm": "recursive"})
    wait_until(lambda: client.task(task["id"])["state"] == "running", 10, "the task to run")
    answers: list[dict] = []
    events: list[int] = []
    waiter = threading.Thread(target=lambda: answers.append(client.task(task["id"], wait="60")))
    event_waiter = threading.Thread(target=lambda: events.append(client.get("/api/v1/events?wait=60").status))
    waiter.start()
    event_waiter.start()
    time.sleep(0.2)
    stopped_at = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    notify.wait_for(lambda line: line == "STOPPING=1", "STOPPING=1", within=5)
    daemon.exit_code = daemon.process.wait(30)
    waiter.join(10)
    event_waiter.join(10)
    assert daemon.process.returncode == 0, daemon.log()
    assert answers and answers[0]["state"] == "done", answers
    assert events == [200], events
    assert time.monotonic() - stopped_at < 20


def test_drain_timeout_bounds_the_stop(fibd_factory: FibdFactory, notify: NotifySocket) -> None:
    daemon = fibd_factory("--workers", "1", "--drain-timeout", "0.5", env={"NOTIFY_SOCKET": str(notify.path)})
    client = daemon.client
    task = client.submit({"n": 90, "algorithm": "recursive"})
    wait_until(lambda: client.task(task["id"])["state"] == "running", 10, "the task to run")
    answers: list[dict] = []
    waiter = threading.Thread(target=lambda: answers.append(client.task(task["id"], wait="60")))
    waiter.start()
    time.sleep(0.2)
    started = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    daemon.exit_code = daemon.process.wait(15)
    waiter.join(10)
    assert daemon.process.returncode == 0, daemon.log()
    assert time.monotonic() - started < 8, "the drain timeout was not kept"
    assert answers and answers[0]["state"] == "running", answers


def test_fatal_start_up_error_sends_errno(notify: NotifySocket, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIBD_")}
        env["NOTIFY_SOCKET"] = str(notify.path)
        result = subprocess.run([str(FIBD_BINARY), "--listen", f"127.0.0.1:{port}", "--workers", "1",
                                 "--state-dir", str(tmp_path)], env=env, capture_output=True, timeout=30)
    assert result.returncode != 0, result
    notify.wait_for(lambda line: line.startswith("ERRNO=") and int(line[6:]) > 0, "ERRNO=", within=5)
    assert b"cannot listen" in result.stderr, result.stderr


def test_stderr_lines_carry_syslog_priority_prefixes(fibd_factory: FibdFactory) -> None:
    daemon = fibd_factory("--workers", "1")
    ready = [line for line in daemon.lines if "fibd is ready" in line]
    assert ready and ready[0].startswith("<6>fibd is ready"), daemon.log()
    assert any(line.startswith("<6>listening on 127.0.0.1:") for line in daemon.lines), daemon.log()


# ---------------------------------------------------------------------------------------------------------------
# Socket activation


class ActivatedFibd:
    """systemd-socket-activate holding the listeners; fibd is exec'd on the first connection."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.lines: list[str] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            with self.lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def has(self, text: str) -> bool:
        with self.lock:
            return any(text in line for line in self.lines)

    def log(self) -> str:
        with self.lock:
            return "\n".join(self.lines)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
                return -9
        return self.process.returncode


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None, reason="systemd-socket-activate not installed")
def test_socket_activation_tcp_and_unix(tmp_path: Path, notify: NotifySocket) -> None:
    port = free_port()
    unix_path = tmp_path / "fibd.sock"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIBD_")}
    env["NOTIFY_SOCKET"] = str(notify.path)
    activated = ActivatedFibd(
        ["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "-l", str(unix_path),
         "--fdname=web:local", "-E", "NOTIFY_SOCKET",
         str(FIBD_BINARY), "--workers", "1", "--listen", "127.0.0.1:1", "--state-dir", str(tmp_path)], env)
    try:
        wait_until(lambda: unix_path.exists() and activated.has(f"127.0.0.1:{port}"), 10, "the sockets")
        assert not activated.has("fibd is ready"), "fibd started before the first connection"
        # The first connection starts fibd, and it is answered.
        first = Client("127.0.0.1", port).get("/api/v1/fib/50")
        assert first.status == 200 and first.json()["result"] == "12586269025", first
        assert activated.has(f"listening on 127.0.0.1:{port} (inherited)"), activated.log()
        assert activated.has(f"listening on unix:{unix_path} (inherited)") or activated.has(
            f"listening on {unix_path} (inherited)"), activated.log()
        with activated.lock:
            bound_default = [line for line in activated.lines if line.endswith("listening on 127.0.0.1:1")]
        assert not bound_default, "fibd bound --listen although it was activated"
        notify.wait_for(lambda line: line == "READY=1", "READY=1")
        via_unix = Client("localhost", unix_path=str(unix_path)).get("/api/v1/fib/10")
        assert via_unix.status == 200 and via_unix.json()["result"] == "55", via_unix
        assert activated.process.poll() is None
    finally:
        code = activated.stop()
    assert code == 0, activated.log()
    # The socket file belongs to whoever bound it: fibd neither removes nor shuts it down.
    assert unix_path.exists()


# ---------------------------------------------------------------------------------------------------------------
# journald


@pytest.fixture(scope="module")
def journald() -> Iterator[None]:
    """A standalone, volatile journald for this module; one already running on the host is used as it is."""
    if JOURNAL_SOCKET.exists() and _journal_alive():
        yield
        return
    if not JOURNALD.exists():
        pytest.skip(f"{JOURNALD} not installed: cannot read fibd's journal fields back on this machine")
    if os.geteuid() != 0:
        pytest.skip("a standalone systemd-journald needs root (it creates /run/systemd/journal)")
    JOURNALD_DROPIN.parent.mkdir(parents=True, exist_ok=True)
    JOURNALD_DROPIN.write_text("[Journal]\nStorage=volatile\nReadKMsg=no\nAudit=no\nForwardToSyslog=no\n"
                               "ForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\n")
    env = dict(os.environ, SYSTEMD_LOG_TARGET="console")
    process = subprocess.Popen([str(JOURNALD)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not JOURNAL_SOCKET.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.poll() is not None and process.stdout else ""
                pytest.skip(f"systemd-journald cannot run on this machine: {output[-500:]}")
            time.sleep(0.05)
        yield
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        shutil.rmtree("/run/systemd/journal", ignore_errors=True)
        shutil.rmtree("/run/log/journal", ignore_errors=True)
        JOURNALD_DROPIN.unlink(missing_ok=True)
        try:
            JOURNALD_DROPIN.parent.rmdir()
        except OSError:
            pass


def _journal_alive() -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.connect(str(JOURNAL_SOCKET))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def journal_entries(pid: int) -> list[dict]:
    result = subprocess.run(["journalctl", "-o", "json", "--no-pager", f"_PID={pid}"],
                            capture_output=True, timeout=20)
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_journal_fields(journald: None, tmp_path: Path, notify: NotifySocket) -> None:
    port = free_port()
    # stderr is a pipe whose device and inode JOURNAL_STREAM names, as systemd sets it up: fibd logs to journald.
    read_end, write_end = os.pipe()
    stat = os.fstat(write_end)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIBD_")}
    env.update(NOTIFY_SOCKET=str(notify.path), JOURNAL_STREAM=f"{stat.st_dev}:{stat.st_ino}")
    process = subprocess.Popen(
        [str(FIBD_BINARY), "--listen", f"127.0.0.1:{port}", "--workers", "1", "--log-level", "debug",
         "--state-dir", str(tmp_path)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=write_end, env=env, start_new_session=True)
    os.close(write_end)
    try:
        notify.wait_for(lambda line: line == "READY=1", "READY=1", within=30)
        client = Client("127.0.0.1", port)
        task = client.submit({"n": 300, "algorithm": "fast"}, wait="10")
        assert client.await_end(task["id"])["state"] == "done"

        def task_entries() -> list[dict] | None:
            entries = journal_entries(process.pid)
            found = [e for e in entries if e.get("FIBD_TASK_ID") == task["id"]]
            return entries if any(e["MESSAGE"] == "task done" for e in found) else None

        entries = wait_until(task_entries, 15, "the task's journal entries", interval=0.2)
        by_message = {e["MESSAGE"]: e for e in entries}
        done = by_message["task done"]
        assert done["MESSAGE_ID"] == MESSAGE_IDS["task done"]
        assert done["SYSLOG_IDENTIFIER"] == "fibd" and done["PRIORITY"] == "7"
        assert done["FIBD_N"] == "300" and done["FIBD_ALGORITHM"] == "fast" and done["FIBD_ATTEMPT"] == "1"
        assert int(done["FIBD_DURATION_USEC"]) >= 0 and int(done["FIBD_WORKER_PID"]) > 0
        assert done["CODE_FILE"].endswith(".swift") and int(done["CODE_LINE"]) > 0 and done["CODE_FUNC"]
        started = by_message["task started"]
        assert started["MESSAGE_ID"] == MESSAGE_IDS["task started"] and started["FIBD_TASK_ID"] == task["id"]
        assert started["FIBD_WORKER_PID"] == done["FIBD_WORKER_PID"]
        assert by_message["task submitted"]["MESSAGE_ID"] == MESSAGE_IDS["task submitted"]
        spawned = by_message["worker spawned"]
        assert spawned["MESSAGE_ID"] == MESSAGE_IDS["worker spawned"] and int(spawned["FIBD_WORKER_PID"]) > 0
        assert by_message["fibd is ready"]["PRIORITY"] == "6"
        assert any(m.startswith("listening on 127.0.0.1:") for m in by_message)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        code = process.wait(20)
        os.set_blocking(read_end, False)
        try:
            leftover = os.read(read_end, 65536)
        except BlockingIOError:
            leftover = b""
        os.close(read_end)
    assert code == 0
    assert leftover == b"", f"fibd wrote to stderr although it was the journal stream: {leftover[:500]!r}"
    stopping = wait_until(lambda: [e for e in journal_entries(process.pid) if e["MESSAGE"] == "stopping"], 10,
                          "the stop in the journal", interval=0.2)
    assert stopping[0]["MESSAGE_ID"] == MESSAGE_IDS["stopping"] and stopping[0]["FIBD_SIGNAL"] == "SIGTERM"
