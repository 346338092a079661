"""The worker pool seen from outside: cancel, timeouts, crashes, coalescing of identical tasks, a full queue."""

from __future__ import annotations

import os
import signal

from conftest import (
    ENDLESS_RECURSIVE_N,
    Client,
    assert_problem,
    await_pid_gone,
    calibrated_recursive_n,
    fib,
    pid_alive,
    wait_until,
)

ENDLESS = {"n": ENDLESS_RECURSIVE_N, "algorithm": "recursive"}


def await_running(client: Client, task_id: str, attempts: int = 1, other_than: int | None = None) -> dict:
    """The task once it runs its `attempts`-th attempt on a live worker (other than a pid that was killed)."""
    return client.await_task(
        task_id,
        lambda t: t["state"] == "running"
        and t["attempts"] == attempts
        and isinstance(t["worker"], int)
        and t["worker"] != other_than
        and pid_alive(t["worker"]),
        f"running attempt {attempts}",
        within=20,
    )


def test_cancel_running_kills_and_replaces_worker(fibd_factory) -> None:
    daemon = fibd_factory("--workers", "2")
    client = daemon.client
    task = client.submit(ENDLESS)
    running = await_running(client, task["id"])
    pid = running["worker"]
    assert any(w["pid"] == pid and w["state"] == "busy" and w["task"] == task["id"] for w in client.workers())

    response = client.cancel(task["id"])
    assert response.status == 200, repr(response)
    cancelled = response.json()
    assert cancelled["state"] == "cancelled" and isinstance(cancelled.get("error"), str), cancelled
    assert client.task(task["id"])["state"] == "cancelled"

    await_pid_gone(pid, within=10)
    workers = wait_until(
        lambda: (ws := client.workers())
        and len([w for w in ws if isinstance(w["pid"], int) and w["pid"] != pid and w["state"] == "idle"]) == 2
        and ws,
        15,
        "a new idle worker in place of the killed one",
    )
    assert pid not in [w["pid"] for w in workers]
    assert sum(w["restarts"] for w in workers) >= 1, workers


def test_timeout_ends_timed_out(fibd_factory) -> None:
    daemon = fibd_factory("--workers", "1")
    client = daemon.client
    task = client.submit({**ENDLESS, "timeout": 0.5})
    ended = client.await_end(task["id"], within=20)
    assert ended["state"] == "timed_out", ended
    assert isinstance(ended.get("error"), str) and ended["error"], ended
    assert ended["duration"] is None or ended["duration"] >= 0.4, ended
    # The pool must have recovered: a new task runs.
    after = client.submit({"n": 55}, wait="20")
    assert client.await_end(after["id"])["result"] == str(fib(55))


def test_identical_tasks_share_one_computation(fibd_factory) -> None:
    daemon = fibd_factory("--workers", "1")
    client = daemon.client
    first = client.submit(ENDLESS)
    running = await_running(client, first["id"])
    pid = running["worker"]

    response = client.post("/api/v1/tasks", ENDLESS)
    assert response.status == 202, repr(response)
    second = response.json()
    assert second["id"] != first["id"]
    assert second["state"] == "running" and second["worker"] == pid, second

    status = client.status()
    assert status["tasks"]["deduplicated"] >= 1, status["tasks"]

    # Cancelling one of the two keeps the shared computation (and its worker) alive.
    assert client.cancel(first["id"]).json()["state"] == "cancelled"
    still = client.task(second["id"])
    assert still["state"] == "running" and still["worker"] == pid, still
    assert pid_alive(pid)

    assert client.cancel(second["id"]).json()["state"] == "cancelled"
    await_pid_gone(pid)


def test_full_queue_is_503_with_retry_after(fibd_factory) -> None:
    daemon = fibd_factory("--workers", "1", "--max-queue", "2")
    client = daemon.client
    ids = []
    try:
        running = client.submit(ENDLESS)
        ids.append(running["id"])
        await_running(client, running["id"])
        for n in (ENDLESS_RECURSIVE_N - 1, ENDLESS_RECURSIVE_N - 2):
            queued = client.submit({"n": n, "algorithm": "recursive"}, expect=(202,))
            assert queued["state"] == "queued", queued
            ids.append(queued["id"])

        response = client.post("/api/v1/tasks", {"n": ENDLESS_RECURSIVE_N - 3, "algorithm": "recursive"})
        assert_problem(response, 503, "queue-full")
        retry_after = response.header("Retry-After")
        assert retry_after is not None and retry_after.strip().isdigit(), response.headers

        # A batch is all or nothing.
        before = client.status()["tasks"]["submitted"]
        batch = client.post("/api/v1/tasks", [{"n": 5}, {"n": 6}])
        assert_problem(batch, 503, "queue-full")
        assert client.status()["tasks"]["submitted"] == before

        fib_response = client.get("/api/v1/fib/12345")
        assert_problem(fib_response, 503, "queue-full")
    finally:
        for task_id in ids:
            client.cancel(task_id)
    assert client.submit({"n": 9}, wait="20")["state"] == "done"


def test_killed_worker_task_is_retried_on_a_new_worker(fibd_factory) -> None:
    daemon = fibd_factory("--workers", "2")
    client = daemon.client
    n = calibrated_recursive_n(client, seconds=2.0)
    task = client.submit({"n": n, "algorithm": "recursive"})
    first = await_running(client, task["id"])
    os.kill(first["worker"], signal.SIGKILL)

    ended = client.await_end(task["id"], within=120)
    assert ended["state"] == "done", ended
    assert ended["attempts"] == 2, ended
    assert ended["worker"] != first["worker"], ended
    assert ended["result"] == str(fib(n))
    assert not pid_alive(first["worker"])


def test_task_killed_three_times_fails_naming_sigkill(fibd_factory) -> None:
    daemon = fibd_factory("--workers", "1")
    client = daemon.client
    task = client.submit(ENDLESS)
    killed: int | None = None
    for attempt in (1, 2, 3):
        running = await_running(client, task["id"], attempts=attempt, other_than=killed)
        killed = running["worker"]
        os.kill(killed, signal.SIGKILL)
        await_pid_gone(killed)
    ended = client.await_end(task["id"], within=20)
    assert ended["state"] == "failed", ended
    assert ended["attempts"] == 3, ended
    assert "SIGKILL" in ended.get("error", ""), ended
    # The pool is whole again.
    assert client.submit({"n": 30}, wait="20")["state"] == "done"


def test_higher_priority_runs_first(fibd_factory) -> None:
    daemon = fibd_factory("--workers", "1")
    client = daemon.client
    blocker = client.submit(ENDLESS)
    await_running(client, blocker["id"])
    low = client.submit({"n": 1001, "priority": -5}, expect=(202,))
    high = client.submit({"n": 1002, "priority": 900}, expect=(202,))
    middle = client.submit({"n": 1003}, expect=(202,))
    head = client.get("/api/v1/events").json()["next"]
    assert client.cancel(blocker["id"]).status == 200
    for task in (low, high, middle):
        assert client.await_end(task["id"])["state"] == "done"
    body = client.get(f"/api/v1/events?after={head}").json()
    started = [e["task"] for e in body["events"] if e["type"] == "task.started"]
    assert started == [high["id"], middle["id"], low["id"]], body["events"]
