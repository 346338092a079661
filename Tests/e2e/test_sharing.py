"""Sharing of computations, and the opt-out: identical tasks (same n and algorithm) share one computation and the
result cache, unless a task is submitted with "shared": false (Dask's pure=False); the flag survives a restart."""

from __future__ import annotations

import os
import time

from conftest import (
    ENDLESS_RECURSIVE_N,
    Client,
    Fibd,
    FibdFactory,
    assert_problem,
    await_pid_gone,
    calibrated_recursive_n,
    fib,
)

ENDLESS = {"n": ENDLESS_RECURSIVE_N, "algorithm": "recursive"}


def await_events(client: Client, after: int, predicate, what: str, within: float = 20.0) -> list[dict]:
    """Long-polls the event feed from `after` until the events seen satisfy `predicate`; returns them."""
    deadline = time.monotonic() + within
    seen: list[dict] = []
    cursor = after
    while not predicate(seen):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {what} within {within} s: {seen}"
        response = client.get(f"/api/v1/events?after={cursor}&wait={remaining:.3f}", timeout=remaining + 10)
        assert response.status == 200, repr(response)
        body = response.json()
        seen += body["events"]
        cursor = body["next"]
    return seen


def started_workers(events: list[dict], ids: set[str]) -> dict[str, int]:
    return {e["task"]: e["worker"] for e in events if e["type"] == "task.started" and e.get("task") in ids}


def test_identical_unshared_tasks_run_at_once_on_two_workers_and_both_compute(fibd_factory: FibdFactory) -> None:
    daemon = fibd_factory("--workers", "2")
    client = daemon.client
    n = calibrated_recursive_n(client, 1.0)
    cursor = client.get("/api/v1/events").json()["next"]
    before = client.status()["tasks"]["deduplicated"]

    unshared = {"n": n, "algorithm": "recursive", "shared": False}
    tasks = client.submit([unshared, unshared], expect=(202,))["tasks"]
    ids = {t["id"] for t in tasks}
    assert all(t["shared"] is False for t in tasks), tasks
    events = await_events(client, cursor, lambda seen: len(started_workers(seen, ids)) == 2, "two starts")
    pids = started_workers(events, ids)
    assert len(set(pids.values())) == 2, f"one worker each: {pids}"
    # Both run at the same time: the second started before the first ended.
    ended_before_start = [e for e in events if e["type"] == "task.done" and e.get("task") in ids]
    assert not ended_before_start, events

    for task in tasks:
        ended = client.await_end(task["id"], within=60)
        assert ended["state"] == "done", ended
        assert ended["cached"] is False and ended["shared"] is False, ended
        assert int(ended["result"]) == fib(n)
        assert ended["worker"] == pids[task["id"]], ended
    assert client.status()["tasks"]["deduplicated"] == before, "no unshared task joined a computation"

    # The cache has F(n) now: a shared task is answered from it, an unshared one computes again.
    cached = client.submit({"n": n, "algorithm": "recursive"}, wait="30")
    assert cached["cached"] is True and cached["shared"] is True, cached
    again = client.submit(unshared, wait="60")
    again = client.await_end(again["id"], within=60)
    assert again["state"] == "done" and again["cached"] is False, again


def test_a_shared_duplicate_still_coalesces_beside_an_unshared_one(fibd_factory: FibdFactory) -> None:
    daemon = fibd_factory("--workers", "2")
    client = daemon.client
    before = client.status()["tasks"]["deduplicated"]
    unshared, shared, twin = client.submit([{**ENDLESS, "shared": False}, ENDLESS, ENDLESS], expect=(202,))["tasks"]
    # Two idle workers took the two computations at once.
    assert unshared["state"] == shared["state"] == twin["state"] == "running", (unshared, shared, twin)
    assert shared["worker"] == twin["worker"], "the shared pair runs as one computation"
    assert unshared["worker"] != shared["worker"], "the unshared task has a worker of its own"
    assert (shared["shared"], twin["shared"], unshared["shared"]) == (True, True, False)
    assert client.status()["tasks"]["deduplicated"] == before + 1

    # A later unshared task joins neither: no worker is free, so it waits.
    late = client.submit({**ENDLESS, "shared": False}, expect=(202,))
    assert late["state"] == "queued" and late["worker"] is None, late

    for task in (late, unshared, shared, twin):
        assert client.cancel(task["id"]).json()["state"] == "cancelled"
    await_pid_gone(unshared["worker"])
    await_pid_gone(shared["worker"])


def test_a_queued_unshared_task_is_still_unshared_after_a_restart(fibd_factory: FibdFactory) -> None:
    first = fibd_factory("--workers", "1", "--drain-timeout", "0.5")
    client = first.client
    running = client.submit(ENDLESS, expect=(202,))
    assert running["state"] == "running", running
    # Identical to the running task, but unshared: it does not join it and waits for a worker.
    queued = client.submit({**ENDLESS, "shared": False}, expect=(202,))
    assert queued["state"] == "queued" and queued["shared"] is False, queued
    first.stop()
    assert first.exit_code == 0, first.log()

    # The same state directory, now with two workers.
    args = [*first.args[: first.args.index("--workers")], "--workers", "2"]
    second = Fibd(args=args, env={k: v for k, v in os.environ.items() if not k.startswith("FIBD_")}, name="second")
    fibd_factory.started.append(second)
    second.start()
    client = second.client
    assert client.task(queued["id"])["shared"] is False
    assert client.task(running["id"])["shared"] is True
    # Both are queued again at start and run at once: two computations on two workers, not one.
    both = {running["id"], queued["id"]}
    events = await_events(client, 0, lambda seen: len(started_workers(seen, both)) == 2, "both restarted")
    pids = started_workers(events, both)
    assert len(set(pids.values())) == 2, pids
    for task_id in both:
        assert client.cancel(task_id).json()["state"] == "cancelled"


def test_shared_must_be_a_boolean(client: Client) -> None:
    for value in ("false", 0, 1, [], {}):
        response = client.post("/api/v1/tasks", {"n": 5, "shared": value})
        problem = assert_problem(response, 422, "invalid-task")
        assert "shared must be a boolean" in problem["detail"], problem
    response = client.post("/api/v1/tasks", [{"n": 5}, {"n": 6, "shared": "no"}])
    problem = assert_problem(response, 422, "invalid-task")
    assert problem["detail"].startswith("[1].shared must be a boolean"), problem
    # null is the default, like the other optional members.
    assert client.submit({"n": 5, "shared": None}, wait="10")["shared"] is True
    problem = assert_problem(client.post("/api/v1/tasks", {"n": 5, "pure": False}), 422, "invalid-task")
    assert "shared" in problem["detail"], problem


def test_fib_takes_shared_false(client: Client) -> None:
    assert client.get("/api/v1/fib/300").status == 200
    response = client.get("/api/v1/fib/300?shared=false")
    assert response.status == 200, repr(response)
    assert int(response.json()["result"]) == fib(300)
    problem = assert_problem(client.get("/api/v1/fib/300?shared=maybe"), 422, "invalid-task")
    assert "shared must be true or false" in problem["detail"], problem
