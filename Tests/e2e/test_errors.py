"""Every kind of bad request gets the right status and a problem document, and the daemon keeps serving."""

from __future__ import annotations

import json
import socket

import pytest

from conftest import Client, Fibd, Response, assert_problem, raw_exchange, read_until_closed

TASKS = "/api/v1/tasks"


@pytest.mark.parametrize(
    ("raw", "slug", "status"),
    [
        (b"{", "malformed-json", 400),
        (b"not json at all", "malformed-json", 400),
        (b'"just a string"', "malformed-json", 400),
        (b"42", "malformed-json", 400),
        (b"", "malformed-json", 400),
        (b'{"n": "10"}', "invalid-task", 422),
        (b'{"n": 1.5}', "invalid-task", 422),
        (b'{"n": true}', "invalid-task", 422),
        (b'{"n": null}', "invalid-task", 422),
        (b"{}", "invalid-task", 422),
        (b'{"n": -1}', "invalid-task", 422),
        (b'{"n": 1e30}', "invalid-task", 422),
        (b'{"n": 1000000000000000000000000000000}', "invalid-task", 422),
        (b'{"n": 10000001}', "invalid-task", 422),
        (b'{"n": 94, "algorithm": "recursive"}', "invalid-task", 422),
        (b'{"n": 5, "algorithm": "quantum"}', "invalid-task", 422),
        (b'{"n": 5, "algorithm": 1}', "invalid-task", 422),
        (b'{"n": 5, "priority": 1001}', "invalid-task", 422),
        (b'{"n": 5, "priority": -1001}', "invalid-task", 422),
        (b'{"n": 5, "priority": 0.5}', "invalid-task", 422),
        (b'{"n": 5, "timeout": 0}', "invalid-task", 422),
        (b'{"n": 5, "timeout": -3}', "invalid-task", 422),
        (b'{"n": 5, "timeout": "soon"}', "invalid-task", 422),
        (b'{"n": 5, "colour": "blue"}', "invalid-task", 422),
        (b"[]", "batch-too-large", 422),
        (b'[{"n": 1}, 7]', "invalid-task", 422),
    ],
)
def test_bad_submit(client: Client, raw: bytes, slug: str, status: int) -> None:
    response = client.post(TASKS, raw=raw, headers={"Content-Type": "application/json"})
    if raw == b"[]":
        # An empty batch is named either way by the contract; both slugs are 422.
        assert response.status == 422, repr(response)
        assert response.json()["type"] in ("urn:fibd:problem:batch-too-large", "urn:fibd:problem:invalid-task")
        return
    assert_problem(response, status, slug)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"n": -1}, ["n", "0", "10000000"]),
        ({"n": 94, "algorithm": "recursive"}, ["93"]),
        ({"n": 5, "colour": "blue"}, ["colour"]),
        ([{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4, "algorithm": "nope"}], ["[3].algorithm", "fast", "recursive"]),
    ],
)
def test_invalid_task_detail_names_the_member(client: Client, body: object, words: list[str]) -> None:
    problem = assert_problem(client.post(TASKS, body), 422, "invalid-task")
    for word in words:
        assert word in problem["detail"], problem


def test_batch_over_max_batch(fibd_factory) -> None:
    daemon: Fibd = fibd_factory("--max-batch", "5")
    client = daemon.client
    assert client.post(TASKS, [{"n": i} for i in range(5)]).status == 202
    assert_problem(client.post(TASKS, [{"n": i} for i in range(6)]), 422, "batch-too-large")


def test_body_too_large(fibd_factory) -> None:
    daemon: Fibd = fibd_factory("--max-body", "4096")
    client = daemon.client
    body = json.dumps([{"n": i} for i in range(1000)]).encode()
    assert len(body) > 4096
    assert_problem(post_raw(daemon.tcp_port(), body), 413, "body-too-large")
    assert client.get("/healthz").status == 200


def test_default_max_body_is_one_mebibyte(shared_fibd: Fibd) -> None:
    body = b'{"n": 1, "pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert_problem(post_raw(shared_fibd.tcp_port(), body), 413, "body-too-large")


def post_raw(port: int, body: bytes) -> Response:
    head = f"POST {TASKS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return raw_exchange(port, head.encode() + body)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
def test_wrong_content_type(client: Client, content_type: str) -> None:
    response = client.post(TASKS, raw=b'{"n": 3}', headers={"Content-Type": content_type})
    assert_problem(response, 415, "unsupported-media-type")


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v2/tasks", "/api/v1/tasks/abc/def", "/api/v1/fib"])
def test_unknown_route(client: Client, path: str) -> None:
    assert_problem(client.get(path), 404, "not-found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/tasks", {"GET", "POST"}),
        ("PATCH", "/api/v1/tasks/xyz", {"GET", "DELETE"}),
        ("DELETE", "/api/v1/status", {"GET"}),
        ("POST", "/api/v1/workers", {"GET"}),
        ("POST", "/api/v1/events", {"GET"}),
        ("POST", "/healthz", {"GET"}),
        ("DELETE", "/api/v1/fib/10", {"GET"}),
        ("PUT", "/metrics", {"GET"}),
    ],
)
def test_wrong_method(client: Client, method: str, path: str, allowed: set[str]) -> None:
    response = client.request(method, path, raw=b"")
    assert_problem(response, 405, "method-not-allowed")
    allow = {m.strip().upper() for m in (response.header("Allow") or "").split(",") if m.strip()}
    assert allowed <= allow, f"Allow: {response.header('Allow')!r}"
    assert method not in allow


@pytest.mark.parametrize("wait", ["abc", "-1", "1h", "10x", "1..5", "%20"])
def test_bad_wait_value(client: Client, wait: str) -> None:
    task = client.submit({"n": 3}, wait="10")
    assert_problem(client.get(f"/api/v1/tasks/{task['id']}?wait={wait}"), 400, "invalid-parameter")
    assert_problem(client.post(f"{TASKS}?wait={wait}", {"n": 3}), 400, "invalid-parameter")
    assert_problem(client.get(f"/api/v1/events?after=0&wait={wait}"), 400, "invalid-parameter")


@pytest.mark.parametrize("wait", ["0", "0.5", "1s", "500ms", "0m"])
def test_good_wait_values(client: Client, wait: str) -> None:
    task = client.submit({"n": 4}, wait="10")
    assert client.get(f"/api/v1/tasks/{task['id']}?wait={wait}").status == 200


@pytest.mark.parametrize(
    "query", ["state=bogus", "state=done,bogus", "limit=0", "limit=1001", "limit=x", "cursor=%00garbage%21"]
)
def test_bad_list_parameters(client: Client, query: str) -> None:
    assert_problem(client.get(f"{TASKS}?{query}"), 400, "invalid-parameter")


@pytest.mark.parametrize("query", ["after=x", "after=-1", "limit=0", "limit=10001"])
def test_bad_event_parameters(client: Client, query: str) -> None:
    assert_problem(client.get(f"/api/v1/events?{query}"), 400, "invalid-parameter")


def test_unknown_task_id(client: Client) -> None:
    assert_problem(client.get("/api/v1/tasks/no-such-task"), 404, "task-not-found")
    assert_problem(client.delete("/api/v1/tasks/no-such-task"), 404, "task-not-found")
    assert_problem(client.get("/api/v1/tasks/no-such-task?wait=1"), 404, "task-not-found")


@pytest.mark.parametrize(
    "path",
    ["/api/v1/fib/-1", "/api/v1/fib/abc", "/api/v1/fib/1e3", "/api/v1/fib/10000001", "/api/v1/fib/94?algorithm=recursive"],
)
def test_bad_fib(client: Client, path: str) -> None:
    assert_problem(client.get(path), 422, "invalid-task")


def test_malformed_http_is_400_then_closed(shared_fibd: Fibd) -> None:
    with socket.create_connection(("127.0.0.1", shared_fibd.tcp_port()), timeout=10) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        data = read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 400"), data[:200]
    assert b"urn:fibd:problem:bad-request" in data


def test_headers_too_large_is_431(shared_fibd: Fibd) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    response = raw_exchange(shared_fibd.tcp_port(), request)
    assert_problem(response, 431, "headers-too-large")


def test_header_timeout_is_408(fibd_factory) -> None:
    daemon: Fibd = fibd_factory("--header-timeout", "1")
    with socket.create_connection(("127.0.0.1", daemon.tcp_port()), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        data = read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert b"urn:fibd:problem:request-timeout" in data


def test_still_serving_after_all_that(client: Client) -> None:
    assert client.get("/healthz").status == 200
    assert client.submit({"n": 90}, wait="10")["state"] == "done"
