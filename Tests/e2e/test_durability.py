"""Durable state: fibd keeps every task it answered 202 for through restarts, SIGKILL of its main process and
SIGKILL of its whole process group (workers too); long-poll cursors from before a restart read on or are told
to resync, never given wrong events; a damaged database stops it at start with a message, never a reset.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import FIBD_BINARY, Client, Fibd, assert_problem, await_pid_gone, fib, send, wait_until

def start_daemon(state_dir: Path, name: str, *flags: str) -> Fibd:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIBD_")}
    daemon = Fibd(
        args=["--listen", "127.0.0.1:0", "--state-dir", str(state_dir), *flags], env=env, name=name)
    daemon.start()
    return daemon

def kill_daemon(daemon: Fibd, whole_group: bool) -> None:
    """SIGKILL, as a crash or the OOM killer would: of the main process only, or of its whole process group."""
    assert daemon.process is not None
    workers = [w["pid"] for w in daemon.client.workers() if w.get("pid")] if whole_group else []
    if whole_group:
        os.killpg(daemon.pid, signal.SIGKILL)
    else:
        daemon.process.send_signal(signal.SIGKILL)
    daemon.exit_code = daemon.process.wait(10)
    daemon.eof.wait(5)
    for pid in workers:
        await_pid_gone(pid)

def event_identity(event: dict) -> tuple:
    return (event["type"], event.get("task"), event.get("time"), event.get("worker"), event.get("attempt"))

@pytest.fixture
def daemons():
    started: list[Fibd] = []
    yield started
    for daemon in started:
        daemon.stop()

# ---------------------------------------------------------------------------------------------------------------

def test_done_tasks_and_event_cursors_survive_a_clean_restart(tmp_path: Path, daemons: list[Fibd]) -> None:
    first = start_daemon(tmp_path, "first", "--workers", "2")
    daemons.append(first)
    client = first.client
    done = client.submit({"n": 1000}, wait="10")
    assert done["state"] == "done", done
    cursor = client.get("/api/v1/events").json()["next"]
    batch = client.submit([{"n": n} for n in range(2000, 2010)], wait="10")["tasks"]
    seen = client.get(f"/api/v1/events?after={cursor}").json()["events"]
    assert seen, "the batch made events"
    first.stop()
    assert first.exit_code == 0, first.log()

    second = start_daemon(tmp_path, "second", "--workers", "2")
    daemons.append(second)
    client = second.client
    for task in [done, *batch]:
        again = client.task(task["id"])
        assert again["state"] == "done", again
        assert int(again["result"]) == fib(again["n"])
        assert again["submitted_at"] == task["submitted_at"]
    # The cursor from before the restart reads the very events it missed, with the same seqs.
    after = client.get(f"/api/v1/events?after={cursor}&limit=10000").json()
    replayed = {e["seq"]: event_identity(e) for e in after["events"]}
    for event in seen:
        assert replayed.get(event["seq"]) == event_identity(event), (event, after)
    # New tasks get new ids.
    fresh = client.submit({"n": 7}, wait="10")
    assert fresh["id"] not in {t["id"] for t in [done, *batch]}
    assert fresh["id"] > max(t["id"] for t in [done, *batch])

def test_a_cursor_older_than_the_kept_events_is_told_to_resync_after_a_restart(
    tmp_path: Path, daemons: list[Fibd]
) -> None:
    flags = ("--workers", "1", "--event-log-size", "8")
    first = start_daemon(tmp_path, "first", *flags)
    daemons.append(first)
    first.client.submit([{"n": n} for n in range(100, 110)], wait="10")
    head = first.client.get("/api/v1/events").json()["next"]
    assert head > 8
    kill_daemon(first, whole_group=True)

    second = start_daemon(tmp_path, "second", *flags)
    daemons.append(second)
    problem = assert_problem(second.client.get("/api/v1/events?after=1"), 410, "cursor-expired")
    assert problem["next"] >= head
    # The newest cursor reads on: the events after it are the new run's, numbered after the old ones.
    fresh = second.client.get(f"/api/v1/events?after={head}").json()
    assert all(event["seq"] > head for event in fresh["events"]), fresh

def test_a_task_cut_off_at_its_last_attempt_fails_with_a_clear_error(tmp_path: Path, daemons: list[Fibd]) -> None:
    first = start_daemon(tmp_path, "first", "--workers", "1", "--max-attempts", "1")
    daemons.append(first)
    endless = first.client.submit({"n": 90, "algorithm": "recursive", "timeout": 600})
    queued = first.client.submit({"n": 89, "algorithm": "recursive", "timeout": 600})
    first.client.await_task(endless["id"], lambda t: t["state"] == "running", "running")
    kill_daemon(first, whole_group=False)

    second = start_daemon(tmp_path, "second", "--workers", "1", "--max-attempts", "1")
    daemons.append(second)
    failed = second.client.task(endless["id"])
    assert failed["state"] == "failed", failed
    assert "fibd stopped" in failed["error"] and "attempt 1 of 1" in failed["error"], failed
    # The one that waited was never tried: it runs now, its first attempt.
    second.client.await_task(queued["id"], lambda t: t["state"] == "running" and t["attempts"] == 1, "running")
    assert second.client.cancel(queued["id"]).status == 200

def refused_start(state_dir: Path) -> str:
    """Starts fibd on `state_dir`, which must refuse to start; returns what it printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIBD_")}
    result = subprocess.run(
        [str(FIBD_BINARY), "--listen", "127.0.0.1:0", "--workers", "1", "--state-dir", str(state_dir)],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    output = (result.stdout + result.stderr).decode("utf-8", "replace")
    assert result.returncode != 0, output
    return output


def test_a_damaged_database_stops_fibd_at_start_and_is_left_alone(tmp_path: Path) -> None:
    database = tmp_path / "fibd.db"
    garbage = bytes((i * 7 + 3) % 256 for i in range(16384))
    database.write_bytes(garbage)
    output = refused_start(tmp_path)
    assert str(database) in output, output
    assert "move the file aside" in output, output
    assert "fibd is ready" not in output, output
    assert database.read_bytes() == garbage

def test_a_second_fibd_on_the_same_state_directory_is_refused(tmp_path: Path, daemons: list[Fibd]) -> None:
    first = start_daemon(tmp_path, "first", "--workers", "1")
    daemons.append(first)
    output = refused_start(tmp_path)
    assert "in use by another process" in output, output
    assert first.client.get("/healthz").status == 200

# ---------------------------------------------------------------------------------------------------------------
# The crash test

TOTAL_TASKS = 3000
KILLS = 4
BATCH = 20
SUBMITTERS = 3

class CrashRun:
    """Submitters and an events reader that follow the daemon across restarts."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.lock = threading.Lock()
        self.client: Client | None = None
        self.generation = 0
        self.up = threading.Event()
        self.stop = threading.Event()
        self.acknowledged: dict[str, tuple[int, str]] = {}
        self.duplicates: list[str] = []
        self.events: dict[int, tuple] = {}
        self.event_conflicts: list[str] = []
        self.resyncs = 0
        self.replayed = 0
        self.errors: list[str] = []
        self.requests = self._requests()

    def _requests(self) -> list[dict]:
        """A mix of fast tasks (quick, distinct n) and short recursive ones (a few ms each), so that some are
        queued and some running whenever the daemon is killed."""
        requests = []
        for _ in range(TOTAL_TASKS):
            if self.rng.random() < 0.25:
                requests.append({"n": self.rng.randrange(22, 31), "algorithm": "recursive"})
            else:
                requests.append({"n": self.rng.randrange(0, 30000), "algorithm": "fast"})
        return requests

    def attach(self, client: Client) -> None:
        with self.lock:
            self.client = client
            self.generation += 1
        self.up.set()

    def detach(self) -> None:
        self.up.clear()

    def current(self) -> tuple[Client | None, int]:
        with self.lock:
            return self.client, self.generation

    @property
    def acknowledged_count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def submitter(self, batches: list[list[dict]]) -> None:
        for batch in batches:
            while not self.stop.is_set():
                if not self.up.wait(0.1):
                    continue
                client, _ = self.current()
                assert client is not None
                try:
                    response = client.post("/api/v1/tasks", batch, timeout=20)
                except OSError:
                    time.sleep(0.02)  # killed under us: not acknowledged, send again to the next daemon
                    continue
                if response.status == 503:
                    time.sleep(0.05)
                    continue
                if response.status != 202:
                    self.errors.append(f"submit: {response!r}")
                    return
                tasks = response.json()["tasks"]
                with self.lock:
                    for task, request in zip(tasks, batch):
                        if task["id"] in self.acknowledged:
                            self.duplicates.append(task["id"])
                        self.acknowledged[task["id"]] = (request["n"], request["algorithm"])
                break

    def event_reader(self) -> None:
        """Long-polls the events with its cursor across restarts: each seq it is given must always mean the
        same event, and a cursor the new daemon cannot serve must get 410 with the head to resync from."""
        cursor: int | None = None
        generation = 0
        while not self.stop.is_set():
            if not self.up.wait(0.1):
                continue
            client, current = self.current()
            assert client is not None
            path = "/api/v1/events?wait=0.5&limit=2000" + (f"&after={cursor}" if cursor is not None else "")
            try:
                response = client.get(path, timeout=10)
            except OSError:
                time.sleep(0.02)
                continue
            if response.status == 410:
                problem = response.json()
                if problem.get("type") != "urn:fibd:problem:cursor-expired" or "next" not in problem:
                    self.errors.append(f"events 410 without a resync point: {problem}")
                    return
                cursor = problem["next"]
                self.resyncs += 1
                continue
            if response.status != 200:
                self.errors.append(f"events: {response!r}")
                return
            body = response.json()
            if current != generation and cursor is not None:
                self.replayed += len(body["events"])
            generation = current
            expected = (cursor or 0) + 1
            for event in body["events"]:
                if cursor is not None and event["seq"] != expected:
                    self.event_conflicts.append(f"after {cursor}: seq {event['seq']}, expected {expected}")
                expected = event["seq"] + 1
                identity = event_identity(event)
                known = self.events.setdefault(event["seq"], identity)
                if known != identity:
                    self.event_conflicts.append(f"seq {event['seq']} was {known}, now {identity}")
            cursor = body["next"]

def test_no_acknowledged_task_is_lost_or_duplicated_across_sigkills(tmp_path: Path, daemons: list[Fibd]) -> None:
    rng = random.Random(20261124)
    run = CrashRun(rng)
    flags = ("--workers", "2", "--max-attempts", "10", "--event-log-size", "100000")
    daemon = start_daemon(tmp_path, "crash-0", *flags)
    daemons.append(daemon)
    run.attach(daemon.client)

    batches = [run.requests[i:i + BATCH] for i in range(0, TOTAL_TASKS, BATCH)]
    threads = [
        threading.Thread(target=run.submitter, args=(batches[k::SUBMITTERS],), daemon=True)
        for k in range(SUBMITTERS)
    ]
    threads.append(threading.Thread(target=run.event_reader, daemon=True))
    for thread in threads:
        thread.start()

    kill_points = sorted(rng.sample(range(TOTAL_TASKS // 10, TOTAL_TASKS * 9 // 10), KILLS))
    states_at_kill = []
    try:
        for index, point in enumerate(kill_points):
            wait_until(lambda: run.acknowledged_count >= point or run.errors, 60, f"{point} tasks acknowledged")
            assert not run.errors, run.errors
            time.sleep(rng.uniform(0, 0.05))
            status = daemon.client.status()["tasks"]
            states_at_kill.append((status["queued"], status["running"]))
            run.detach()
            kill_daemon(daemon, whole_group=index % 2 == 1)
            daemon = start_daemon(tmp_path, f"crash-{index + 1}", *flags)
            daemons.append(daemon)
            run.attach(daemon.client)
        for thread in threads[:SUBMITTERS]:
            thread.join(90)
            assert not thread.is_alive(), "submitters did not finish"
    finally:
        run.stop.set()
    threads[-1].join(10)
    assert not run.errors, run.errors
    assert not run.duplicates, f"ids answered twice: {run.duplicates[:10]}"
    assert run.acknowledged_count == TOTAL_TASKS, run.acknowledged_count
    # The kills came while there was work in flight, or the test proves little.
    assert any(queued + running > 0 for queued, running in states_at_kill), states_at_kill

    client = daemon.client
    connection = client.connect(timeout=60)
    try:
        for task_id, (n, algorithm) in run.acknowledged.items():
            response = send(connection, "GET", f"/api/v1/tasks/{task_id}?wait=60")
            assert response.status == 200, f"acknowledged task {task_id} (n={n}) is gone: {response!r}"
            task = response.json()
            assert task["state"] == "done", task
            assert task["n"] == n and task["algorithm"] == algorithm, task
            assert int(task["result"]) == fib(n), task
            assert task["attempts"] <= 10, task
    finally:
        connection.close()

    # Every task the daemon holds appears once in its listing.
    listed: list[str] = []
    cursor = None
    while True:
        path = "/api/v1/tasks?limit=1000" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(path).json()
        listed += [t["id"] for t in page["tasks"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(listed) == len(set(listed))
    assert set(run.acknowledged) <= set(listed)

    assert not run.event_conflicts, run.event_conflicts[:10]
    print(f"kills at {kill_points} acknowledged; queued/running at each kill: {states_at_kill}; "
          f"events seen {len(run.events)}, replayed after restarts {run.replayed}, resyncs {run.resyncs}")
