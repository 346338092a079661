"""Submitting, reading, waiting for, listing and computing tasks."""

from __future__ import annotations

import re
import threading
import time

from conftest import ENDLESS_RECURSIVE_N, Client, fib

TIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def test_submit_then_get(client: Client) -> None:
    response = client.post("/api/v1/tasks", {"n": 40})
    assert response.status == 202, repr(response)
    assert response.content_type.startswith("application/json")
    task = response.json()
    assert response.header("Location") == f"/api/v1/tasks/{task['id']}"
    assert task["n"] == 40 and task["algorithm"] == "fast" and task["priority"] == 0
    assert task["state"] in ("queued", "running", "done")
    assert TIME_PATTERN.match(task["submitted_at"]), task
    assert isinstance(task["timeout"], (int, float)) and task["timeout"] > 0

    ended = client.await_end(task["id"], within=30)
    assert ended["state"] == "done", ended
    assert ended["result"] == str(fib(40)) and ended["digits"] == len(str(fib(40)))
    assert ended["attempts"] >= 1 and isinstance(ended["worker"], int)
    assert TIME_PATTERN.match(ended["started_at"]) and TIME_PATTERN.match(ended["finished_at"]), ended
    assert isinstance(ended["duration"], (int, float)) and ended["duration"] >= 0
    assert "error" not in ended


def test_submit_with_wait_answers_200_once_done(client: Client) -> None:
    started = time.monotonic()
    response = client.post("/api/v1/tasks?wait=30", {"n": 1234, "priority": 7, "timeout": 60})
    assert response.status == 200, repr(response)
    task = response.json()
    assert task["state"] == "done" and task["result"] == str(fib(1234)), task
    assert task["priority"] == 7 and task["timeout"] == 60
    assert time.monotonic() - started < 10, "a fast task should be answered at once, not at the end of the wait"


def test_get_with_wait_returns_when_task_ends(client: Client) -> None:
    task = client.submit({"n": 5000})
    started = time.monotonic()
    ended = client.task(task["id"], wait="30s")
    assert ended["state"] == "done", ended
    assert time.monotonic() - started < 10
    assert ended["result"] == str(fib(5000))


def test_get_with_wait_on_endless_task_is_answered_on_cancel(client: Client) -> None:
    task = client.submit({"n": ENDLESS_RECURSIVE_N, "algorithm": "recursive"})
    answer: dict = {}

    def long_poll() -> None:
        started = time.monotonic()
        answer["task"] = client.task(task["id"], wait="50s", timeout=70)
        answer["elapsed"] = time.monotonic() - started

    poller = threading.Thread(target=long_poll, daemon=True)
    try:
        poller.start()
        # The long-poll must still be held: the task does not end by itself.
        poller.join(1.0)
        assert poller.is_alive(), f"long-poll answered before the task ended: {answer}"
        cancel = client.cancel(task["id"])
        assert cancel.status == 200, repr(cancel)
        poller.join(10)
        assert not poller.is_alive(), "long-poll not answered within 10 s of the cancel"
        assert answer["task"]["state"] == "cancelled", answer
        assert isinstance(answer["task"].get("error"), str)
    finally:
        client.cancel(task["id"])


def test_get_with_short_wait_elapses(client: Client) -> None:
    task = client.submit({"n": ENDLESS_RECURSIVE_N - 1, "algorithm": "recursive"})
    try:
        started = time.monotonic()
        seen = client.task(task["id"], wait="500ms")
        elapsed = time.monotonic() - started
        assert seen["state"] in ("queued", "running"), seen
        assert 0.4 <= elapsed < 5, elapsed
    finally:
        client.cancel(task["id"])


def test_fib_million_as_text(client: Client) -> None:
    response = client.get("/api/v1/fib/1000000", headers={"Accept": "text/plain"}, timeout=120)
    assert response.status == 200, repr(response)
    assert response.content_type.startswith("text/plain"), response.content_type
    assert response.body.endswith(b"\n") and response.body.count(b"\n") == 1
    digits = response.body[:-1]
    assert len(digits) == 208988
    assert digits == str(fib(1_000_000)).encode()


def test_fib_json_by_default(client: Client) -> None:
    response = client.get("/api/v1/fib/1000")
    assert response.status == 200, repr(response)
    assert response.content_type.startswith("application/json")
    body = response.json()
    assert body == {"n": 1000, "algorithm": "fast", "digits": 209, "result": str(fib(1000))}


def test_fib_recursive(client: Client) -> None:
    response = client.get("/api/v1/fib/30?algorithm=recursive")
    assert response.status == 200, repr(response)
    assert response.json() == {"n": 30, "algorithm": "recursive", "digits": 6, "result": str(fib(30))}


def test_fib_zero_and_one(client: Client) -> None:
    for n in (0, 1, 2):
        body = client.get(f"/api/v1/fib/{n}").json()
        assert body["result"] == str(fib(n)) and body["digits"] == 1, body


def test_fib_timeout_is_422_task_timed_out(client: Client) -> None:
    from conftest import assert_problem

    response = client.get(f"/api/v1/fib/{ENDLESS_RECURSIVE_N}?algorithm=recursive&timeout=0.3")
    assert_problem(response, 422, "task-timed-out")


def test_batch_of_fifty(client: Client) -> None:
    ns = [i * 37 for i in range(50)]
    response = client.post("/api/v1/tasks?wait=60", [{"n": n} for n in ns], timeout=90)
    assert response.status == 200, repr(response)
    tasks = response.json()["tasks"]
    assert [t["n"] for t in tasks] == ns, "batch answer must keep the order submitted"
    assert len({t["id"] for t in tasks}) == 50
    for task in tasks:
        assert task["state"] == "done", task
        assert task["result"] == str(fib(task["n"])), task["n"]


def test_batch_without_wait_is_202(client: Client) -> None:
    response = client.post("/api/v1/tasks", [{"n": 11}, {"n": 12, "algorithm": "recursive"}])
    assert response.status == 202, repr(response)
    tasks = response.json()["tasks"]
    assert [(t["n"], t["algorithm"]) for t in tasks] == [(11, "fast"), (12, "recursive")]
    for task in tasks:
        assert client.await_end(task["id"])["result"] == str(fib(task["n"]))


def test_finished_n_is_cached(client: Client) -> None:
    first = client.submit({"n": 4321}, wait="30")
    first = client.await_end(first["id"])
    assert first["state"] == "done"
    response = client.post("/api/v1/tasks", {"n": 4321})
    assert response.status == 202, repr(response)
    again = response.json()
    assert again["id"] != first["id"]
    assert again["cached"] is True and again["state"] == "done", again
    assert again["result"] == first["result"]


def test_form_content_type_is_read_as_json(client: Client) -> None:
    response = client.post(
        "/api/v1/tasks?wait=30",
        raw=b'{"n": 21}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 200, repr(response)
    assert response.json()["result"] == "10946"
    for content_type in (None, "application/vnd.fibd+json", "application/json; charset=utf-8"):
        headers = {"Content-Type": content_type} if content_type else {}
        response = client.post("/api/v1/tasks?wait=30", raw=b'{"n": 22}', headers=headers)
        assert response.status == 200, f"{content_type}: {response!r}"


def test_list_tasks_paginates_oldest_first(client: Client) -> None:
    ids = [client.submit({"n": 700 + i}, wait="30")["id"] for i in range(5)]
    for task_id in ids:
        client.await_end(task_id)
    seen: list[dict] = []
    cursor = None
    for _ in range(1000):
        path = "/api/v1/tasks?state=done&limit=2" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(path)
        assert response.status == 200, repr(response)
        page = response.json()
        assert len(page["tasks"]) <= 2
        seen.extend(page["tasks"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    else:
        raise AssertionError("pagination did not end")
    assert all(t["state"] == "done" for t in seen)
    assert all("result" not in t for t in seen), "list items omit result"
    listed = [t["id"] for t in seen if t["id"] in ids]
    assert listed == ids, "oldest submission first, every page"
    stamps = [t["submitted_at"] for t in seen]
    assert stamps == sorted(stamps)


def test_list_tasks_by_state(client: Client) -> None:
    task = client.submit({"n": ENDLESS_RECURSIVE_N - 2, "algorithm": "recursive"})
    try:
        response = client.get("/api/v1/tasks?state=queued,running")
        assert response.status == 200, repr(response)
        page = response.json()
        assert task["id"] in [t["id"] for t in page["tasks"]]
        assert all(t["state"] in ("queued", "running") for t in page["tasks"])
    finally:
        client.cancel(task["id"])


def test_cancel_twice_and_cancel_ended(client: Client) -> None:
    from conftest import assert_problem

    task = client.submit({"n": ENDLESS_RECURSIVE_N - 3, "algorithm": "recursive"})
    first = client.cancel(task["id"])
    assert first.status == 200 and first.json()["state"] == "cancelled", repr(first)
    second = client.cancel(task["id"])
    assert second.status == 200 and second.json()["state"] == "cancelled", repr(second)

    done = client.submit({"n": 77}, wait="30")
    assert done["state"] == "done"
    assert_problem(client.cancel(done["id"]), 409, "task-ended")


def test_fib_client_disconnect_cancels_its_task(client: Client) -> None:
    from conftest import wait_until

    n = ENDLESS_RECURSIVE_N - 5
    conn = client.connect()
    try:
        conn.request("GET", f"/api/v1/fib/{n}?algorithm=recursive")

        def live_task() -> dict | None:
            page = client.get("/api/v1/tasks?state=queued,running").json()
            return next((t for t in page["tasks"] if t["n"] == n and t["algorithm"] == "recursive"), None)

        task = wait_until(live_task, 10, f"the task of GET /api/v1/fib/{n} to be queued")
    finally:
        conn.close()
    ended = client.await_task(task["id"], lambda t: t["state"] == "cancelled", "cancelled after disconnect", 10)
    assert ended["state"] == "cancelled"


def test_wait_is_clamped_to_max_wait(fibd_factory) -> None:
    daemon = fibd_factory("--workers", "1", "--max-wait", "1")
    client = daemon.client
    task = client.submit({"n": ENDLESS_RECURSIVE_N, "algorithm": "recursive"})
    try:
        for wait in ("3600", "2m", "2861641430"):
            started = time.monotonic()
            response = client.get(f"/api/v1/tasks/{task['id']}?wait={wait}", timeout=30)
            elapsed = time.monotonic() - started
            assert response.status == 200, f"wait={wait}: {response!r}"
            assert response.json()["state"] == "running"
            assert 0.9 <= elapsed < 10, f"wait={wait} held {elapsed:.2f} s with --max-wait 1"
    finally:
        client.cancel(task["id"])
