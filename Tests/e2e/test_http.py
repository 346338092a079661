"""HTTP behaviour: health, readiness, HEAD, gzip, keep-alive, and the other kinds of listener."""

from __future__ import annotations

import gzip
import http.client
import socket
import time
import uuid

import pytest

from conftest import Client, Fibd, fib, read_until_closed, send


def test_healthz_and_readyz(client: Client) -> None:
    health = client.get("/healthz")
    assert health.status == 200 and health.content_type.startswith("application/json")
    assert health.json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status == 200 and ready.json() == {"status": "ready"}


def test_head_has_headers_and_no_body(client: Client) -> None:
    get = client.get("/api/v1/status")
    head = client.request("HEAD", "/api/v1/status")
    assert head.status == 200 and head.body == b""
    assert head.content_type == get.content_type


def test_gzip_on_large_response(client: Client) -> None:
    plain = client.get("/api/v1/fib/100000", headers={"Accept": "text/plain"})
    assert plain.status == 200 and plain.header("Content-Encoding") in (None, "identity")
    zipped = client.get("/api/v1/fib/100000", headers={"Accept": "text/plain", "Accept-Encoding": "gzip"})
    assert zipped.status == 200, repr(zipped)
    assert zipped.header("Content-Encoding") == "gzip", zipped.headers
    assert len(zipped.body) < len(plain.body)
    assert gzip.decompress(zipped.body) == plain.body == f"{fib(100000)}\n".encode()


def test_keep_alive_serves_many_requests_on_one_connection(client: Client) -> None:
    conn = client.connect()
    try:
        first = send(conn, "GET", "/healthz")
        sock = conn.sock
        assert first.status == 200
        task = send(conn, "POST", "/api/v1/tasks?wait=10", body={"n": 33})
        assert task.status == 200 and task.json()["result"] == str(fib(33))
        for path in ("/api/v1/status", "/api/v1/workers", f"/api/v1/tasks/{task.json()['id']}", "/nope", "/readyz"):
            response = send(conn, "GET", path)
            assert response.status in (200, 404), repr(response)
            assert conn.sock is sock, f"connection was not kept alive after {path}"
        assert send(conn, "HEAD", "/healthz").status == 200
        assert conn.sock is sock
    finally:
        conn.close()


def test_pipelined_requests_answer_in_order(shared_fibd: Fibd) -> None:
    with socket.create_connection(("127.0.0.1", shared_fibd.tcp_port()), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_until_closed(sock)
    assert data.count(b"HTTP/1.1 200") == 2, data
    assert data.index(b'"ok"') < data.index(b'"ready"')


def test_unix_socket_listener(fibd_factory) -> None:
    path = f"/tmp/fibd-e2e-{uuid.uuid4().hex[:12]}.sock"
    daemon = fibd_factory("--listen", f"unix:{path}")
    assert f"unix:{path}" in daemon.listeners, daemon.listeners
    client = Client("localhost", unix_path=path)
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.submit({"n": 50}, wait="10")["result"] == str(fib(50))


def ipv6_loopback_works() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback_works(), reason="no IPv6 loopback on this machine")
def test_ipv6_listener(fibd_factory) -> None:
    daemon = fibd_factory("--listen", "[::1]:0")
    port = daemon.tcp_port("::1")
    client = Client("::1", port)
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.submit({"n": 51}, wait="10")["result"] == str(fib(51))
    # The IPv4 listener given first is still there.
    assert daemon.client.get("/healthz").status == 200


def test_idle_keep_alive_connection_is_closed(fibd_factory) -> None:
    daemon = fibd_factory("--idle-timeout", "1")
    with socket.create_connection(("127.0.0.1", daemon.tcp_port()), timeout=20) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        data = read_until_closed(sock)
        held = time.monotonic() - started
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    assert held < 5, f"idle connection held {held:.1f} s with --idle-timeout 1"


def test_connections_over_max_are_closed_at_accept(fibd_factory) -> None:
    daemon = fibd_factory("--max-connections", "2")
    port = daemon.tcp_port()
    held = [Client("127.0.0.1", port).connect() for _ in range(2)]
    try:
        for conn in held:
            assert send(conn, "GET", "/healthz").status == 200
        with socket.create_connection(("127.0.0.1", port), timeout=10) as extra:
            try:
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            assert read_until_closed(extra) == b"", "a connection over --max-connections was served"
        for conn in held:
            assert send(conn, "GET", "/healthz").status == 200
    finally:
        for conn in held:
            conn.close()
    # Once the held connections are gone, new ones are served again.
    assert wait_for_service(Client("127.0.0.1", port))


def wait_for_service(client: Client) -> bool:
    from conftest import wait_until

    def served() -> bool:
        try:
            return client.get("/healthz", timeout=5).status == 200
        except (ConnectionError, http.client.HTTPException):
            return False

    return wait_until(served, 10, "the daemon to accept connections again")
