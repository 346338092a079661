"""The events feed: cursor semantics, long-poll, and resync after the log wrapped."""

from __future__ import annotations

import threading
import time

from conftest import Client, assert_problem

EVENTS = "/api/v1/events"


def events(client: Client, query: str, timeout: float = 30) -> dict:
    response = client.get(f"{EVENTS}?{query}" if query else EVENTS, timeout=timeout)
    assert response.status == 200, repr(response)
    assert response.content_type.startswith("application/json")
    body = response.json()
    assert isinstance(body["events"], list) and isinstance(body["next"], int) and isinstance(body["oldest"], int)
    return body


def collect(client: Client, after: int, task_id: str, until_type: str, within: float = 20) -> tuple[list[dict], int]:
    """Events for one task from `after` on, long-polling until one of `until_type` is seen."""
    deadline = time.monotonic() + within
    seen: list[dict] = []
    while time.monotonic() < deadline:
        body = events(client, f"after={after}&wait=5")
        seqs = [e["seq"] for e in body["events"]]
        assert seqs == sorted(seqs) and all(s > after for s in seqs), seqs
        if body["events"]:
            assert body["next"] == seqs[-1], body
        after = body["next"]
        seen.extend(e for e in body["events"] if e.get("task") == task_id)
        if any(e["type"] == until_type for e in seen):
            return seen, after
    raise AssertionError(f"no {until_type} for {task_id} within {within} s: {seen}")


def test_without_after_no_past_events(client: Client) -> None:
    client.submit({"n": 3}, wait="10")
    body = events(client, "")
    assert body["events"] == []
    assert body["next"] >= 1, "the submit above made events, so the head is past 0"
    head = body["next"]
    assert body["oldest"] <= head
    assert events(client, f"after={head}")["events"] == []
    status = client.status()
    assert status["events"]["head"] >= head


def test_task_life_in_events(client: Client) -> None:
    head = events(client, "")["next"]
    task = client.submit({"n": 300})
    seen, _ = collect(client, head, task["id"], "task.done")
    types = [e["type"] for e in seen]
    assert types.index("task.submitted") < types.index("task.done"), types
    done = next(e for e in seen if e["type"] == "task.done")
    assert done["n"] == 300 and done["digits"] == 63 and done["result"] == task_result(client, task["id"])
    assert isinstance(done["worker"], int) and done["duration"] >= 0
    for event in seen:
        assert isinstance(event["time"], str) and event["time"].endswith("Z"), event


def task_result(client: Client, task_id: str) -> str:
    return client.await_end(task_id)["result"]


def test_big_results_are_not_in_events(client: Client) -> None:
    head = events(client, "")["next"]
    task = client.submit({"n": 20000})
    seen, _ = collect(client, head, task["id"], "task.done")
    done = next(e for e in seen if e["type"] == "task.done")
    assert done["digits"] > 1000 and "result" not in done, done


def test_limit_pages_through(client: Client) -> None:
    head = events(client, "")["next"]
    for n in range(5):
        client.submit({"n": 900 + n}, wait="10")
    first = events(client, f"after={head}&limit=2")
    assert len(first["events"]) == 2
    assert first["next"] == first["events"][-1]["seq"]
    second = events(client, f"after={first['next']}&limit=2")
    assert second["events"][0]["seq"] > first["next"]


def test_long_poll_wakes_on_new_event(client: Client) -> None:
    head = events(client, "")["next"]
    answer: dict = {}

    def poll() -> None:
        started = time.monotonic()
        answer["body"] = events(client, f"after={head}&wait=30s", timeout=60)
        answer["elapsed"] = time.monotonic() - started

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    poller.join(0.5)
    assert poller.is_alive(), f"long-poll answered with no new event: {answer}"
    task = client.submit({"n": 17})
    poller.join(10)
    assert not poller.is_alive(), "long-poll not woken within 10 s of a new event"
    assert answer["elapsed"] < 15
    woke = answer["body"]["events"]
    assert woke and woke[0]["seq"] == head + 1, answer
    assert woke[0]["type"] == "task.submitted" and woke[0]["task"] == task["id"], woke
    # Leave the log quiet for the next test.
    assert client.await_end(task["id"])["state"] == "done"


def test_long_poll_elapses_empty(client: Client) -> None:
    head = events(client, "")["next"]
    started = time.monotonic()
    body = events(client, f"after={head}&wait=0.5")
    elapsed = time.monotonic() - started
    # Other tests of this module do not run at the same time, so the log is quiet.
    assert body["events"] == [] and body["next"] == head, body
    assert 0.4 <= elapsed < 5, elapsed


def test_cursor_expired_after_wrap(fibd_factory) -> None:
    daemon = fibd_factory("--workers", "1", "--event-log-size", "16")
    client = daemon.client
    for n in range(20):
        client.submit({"n": 100 + n}, wait="10")
    status = client.status()["events"]
    assert status["oldest"] > 1, status
    response = client.get(f"{EVENTS}?after=0")
    problem = assert_problem(response, 410, "cursor-expired")
    assert isinstance(problem.get("next"), int) and problem["next"] >= status["head"], problem
    # Resyncing from next works.
    assert events(client, f"after={problem['next']}")["events"] == []
    # The oldest kept cursor still works.
    body = events(client, f"after={status['oldest'] - 1}")
    assert body["events"] and body["events"][0]["seq"] == status["oldest"]
