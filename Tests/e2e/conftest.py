"""End-to-end harness: starts the real fibd binary and talks HTTP to it over real sockets.

The binary is FIBD_BINARY (default .build/debug/fibd in the repository). Every wait here has its own deadline, so
no test can hang: a daemon that never says it is ready, a request that is never answered, a process that never
exits all fail with the daemon's log attached.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FIBD_BINARY = Path(os.environ.get("FIBD_BINARY", REPO_ROOT / ".build" / "debug" / "fibd"))
OPENAPI_SOURCE = REPO_ROOT / "Sources" / "FibServer" / "API" / "OpenAPIDocument.swift"

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
REQUEST_TIMEOUT = 30.0

# Long enough to never finish in a test: F(90) by naive recursion is about 10^19 calls.
ENDLESS_RECURSIVE_N = 90

sys.set_int_max_str_digits(0)

# ---------------------------------------------------------------------------------------------------------------
# Reference values

def fib(n: int) -> int:
    """Exact F(n) by fast doubling, the reference every answer is compared with."""

    def pair(k: int) -> tuple[int, int]:
        if k == 0:
            return 0, 1
        a, b = pair(k >> 1)
        c = a * (2 * b - a)
        d = a * a + b * b
        return (d, c + d) if k & 1 else (c, d)

    return pair(n)[0]

# ---------------------------------------------------------------------------------------------------------------
# HTTP

@dataclass
class Response:
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    elapsed: float

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise AssertionError(f"response {self.status} is not JSON: {self.body[:500]!r}") from error

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.content_type} {self.body[:300]!r}>"

class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix domain socket."""

    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock

def send(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> Response:
    """One request on an existing connection (so keep-alive can be tested)."""
    all_headers = dict(headers or {})
    data = raw
    if data is None and body is not None:
        data = json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    started = time.monotonic()
    conn.request(method, path, body=data, headers=all_headers)
    reply = conn.getresponse()
    payload = reply.read()
    return Response(reply.status, reply.reason, reply.headers, payload, time.monotonic() - started)

class Client:
    """A small HTTP client for one fibd listener; each call opens its own connection unless told otherwise."""

    def __init__(self, host: str, port: int | None = None, unix_path: str | None = None):
        self.host = host
        self.port = port
        self.unix_path = unix_path

    def connect(self, timeout: float = REQUEST_TIMEOUT) -> http.client.HTTPConnection:
        if self.unix_path is not None:
            return UnixHTTPConnection(self.unix_path, timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> Response:
        conn = self.connect(timeout)
        try:
            return send(conn, method, path, body=body, headers=headers, raw=raw)
        finally:
            conn.close()

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Response:
        return self.request("POST", path, body=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)

    # -- task helpers -----------------------------------------------------------------------------------------

    def submit(self, task: dict[str, Any], wait: str | None = None, expect: tuple[int, ...] = (200, 202)) -> dict:
        path = "/api/v1/tasks" + (f"?wait={wait}" if wait is not None else "")
        response = self.post(path, task)
        assert response.status in expect, f"submit {task}: {response!r}"
        return response.json()

    def task(self, task_id: str, wait: str | None = None, timeout: float = REQUEST_TIMEOUT) -> dict:
        path = f"/api/v1/tasks/{task_id}" + (f"?wait={wait}" if wait is not None else "")
        response = self.get(path, timeout=timeout)
        assert response.status == 200, f"GET task {task_id}: {response!r}"
        return response.json()

    def await_end(self, task_id: str, within: float = 30.0) -> dict:
        """Long-polls the task until it ends; fails if it has not ended within `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            remaining = deadline - time.monotonic()
            task = self.task(task_id, wait=f"{max(remaining, 0.0):.3f}", timeout=remaining + 10)
            if task["state"] not in ("queued", "running"):
                return task
            if time.monotonic() >= deadline:
                raise AssertionError(f"task {task_id} did not end within {within} s: {task}")

    def await_task(self, task_id: str, predicate: Callable[[dict], bool], what: str, within: float = 15.0) -> dict:
        return wait_until(lambda: _accept(self.task(task_id), predicate), within, f"task {task_id} {what}")

    def cancel(self, task_id: str) -> Response:
        return self.delete(f"/api/v1/tasks/{task_id}")

    def workers(self) -> list[dict]:
        response = self.get("/api/v1/workers")
        assert response.status == 200, repr(response)
        return response.json()["workers"]

    def status(self) -> dict:
        response = self.get("/api/v1/status")
        assert response.status == 200, repr(response)
        return response.json()

def raw_exchange(port: int, request: bytes, timeout: float = 15.0, host: str = "127.0.0.1") -> Response:
    """Sends raw bytes and parses one response, even if the server answers (and stops reading) before the
    request is all sent, as it may for a body over --max-body."""
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        payload = reply.read()
        return Response(reply.status, reply.reason, reply.headers, payload, time.monotonic() - started)


def read_until_closed(sock: socket.socket, limit: float = 20.0) -> bytes:
    """Everything the server sends until it closes (a reset counts as closed)."""
    sock.settimeout(limit)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return data
        if not chunk:
            return data
        data += chunk


def _accept(value: Any, predicate: Callable[[Any], bool]) -> Any:
    return value if predicate(value) else None

def wait_until(probe: Callable[[], Any], within: float, what: str, interval: float = 0.02) -> Any:
    """Polls an outside condition (a process state, another process's pid) until it holds or the deadline passes."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        time.sleep(interval)

def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False
    return state != "Z"

def await_pid_gone(pid: int, within: float = 10.0) -> None:
    wait_until(lambda: not pid_alive(pid), within, f"pid {pid} to exit")

def assert_problem(response: Response, status: int, slug: str) -> dict:
    """The response is an RFC 9457 problem document of the given status and type."""
    assert response.status == status, f"expected {status} {slug}, got {response!r}"
    assert response.content_type.split(";")[0].strip() == "application/problem+json", repr(response)
    problem = response.json()
    assert problem.get("type") == f"urn:fibd:problem:{slug}", problem
    assert problem.get("status") == status, problem
    assert isinstance(problem.get("title"), str) and problem["title"], problem
    assert isinstance(problem.get("detail"), str), problem
    return problem

def load_openapi_source() -> dict:
    """The OpenAPI document as written in the Swift source (what the daemon serves)."""
    source = OPENAPI_SOURCE.read_text()
    match = re.search(r'#"""\n(.*?)\n[ \t]*"""#', source, re.S)
    assert match, f"no raw JSON literal in {OPENAPI_SOURCE}"
    return json.loads(match.group(1))

# ---------------------------------------------------------------------------------------------------------------
# The daemon

LISTEN_LINE = re.compile(r"listening on (?P<addr>\S+)")

@dataclass
class Fibd:
    """One running fibd process and what it printed."""

    args: list[str]
    env: dict[str, str]
    name: str
    process: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)
    listeners: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    eof: threading.Event = field(default_factory=threading.Event)
    exit_code: int | None = None
    stop_problem: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- life cycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        if not FIBD_BINARY.exists():
            pytest.fail(f"fibd binary not found at {FIBD_BINARY} (build it, or set FIBD_BINARY)")
        self.process = subprocess.Popen(
            [str(FIBD_BINARY), *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        threading.Thread(target=self._read_output, name=f"{self.name}-log", daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.ready.wait(0.05):
            if self.process.poll() is not None:
                self.exit_code = self.process.returncode
                self.eof.wait(2)
                pytest.fail(f"fibd exited with {self.process.returncode} before ready\n{self.log()}")
            if time.monotonic() >= deadline:
                self.stop()
                pytest.fail(f"fibd not ready within {READY_TIMEOUT} s\n{self.log()}")
        if not self.listeners:
            self.stop()
            pytest.fail(f"fibd said ready but printed no 'listening on' line\n{self.log()}")

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self.lines.append(line)
            match = LISTEN_LINE.search(line)
            if match and not self.ready.is_set():
                self.listeners.append(match.group("addr").rstrip(".,;"))
            if "fibd is ready" in line:
                self.ready.set()
        self.eof.set()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; records a problem if SIGTERM did not end it."""
        if self.process is None or self.exit_code is not None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.exit_code = self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.stop_problem = f"fibd did not exit within {STOP_TIMEOUT} s of SIGTERM; killed"
                os.killpg(self.process.pid, signal.SIGKILL)
                self.exit_code = self.process.wait(10)
        else:
            # A test may stop the daemon itself (SIGTERM and wait); only an unclean exit is a problem.
            self.exit_code = self.process.returncode
            if self.exit_code != 0:
                self.stop_problem = f"fibd had already exited with {self.exit_code} before the test ended"
        self.eof.wait(5)

    def log(self, last: int = 300) -> str:
        with self._lock:
            lines = self.lines[-last:]
        return f"---- fibd {' '.join(self.args)} (last {len(lines)} lines) ----\n" + "\n".join(lines)

    # -- addresses --------------------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def tcp_port(self, host: str = "127.0.0.1") -> int:
        prefix = f"[{host}]:" if ":" in host else f"{host}:"
        for addr in self.listeners:
            if addr.startswith(prefix):
                return int(addr[len(prefix):])
        raise AssertionError(f"no listener on {host} among {self.listeners}\n{self.log()}")

    @property
    def client(self) -> Client:
        return Client("127.0.0.1", self.tcp_port())

class FibdFactory:
    """Starts daemons for one scope and stops them all at its end."""

    def __init__(self, tmp_dir: Path):
        self.tmp_dir = tmp_dir
        self.started: list[Fibd] = []

    def __call__(self, *flags: str, env: dict[str, str] | None = None, listen_default: bool = True) -> Fibd:
        state_dir = self.tmp_dir / f"state-{len(self.started)}"
        state_dir.mkdir(parents=True, exist_ok=True)
        args = (["--listen", "127.0.0.1:0"] if listen_default else []) + ["--state-dir", str(state_dir)]
        args += list(flags)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("FIBD_")}
        full_env.update(env or {})
        daemon = Fibd(args=args, env=full_env, name=f"fibd-{len(self.started)}")
        self.started.append(daemon)
        daemon.start()
        return daemon

    def stop_all(self) -> list[str]:
        problems = []
        for daemon in self.started:
            daemon.stop()
            if daemon.stop_problem:
                problems.append(f"{daemon.stop_problem}\n{daemon.log()}")
        return problems

    def logs(self) -> str:
        return "\n".join(daemon.log() for daemon in self.started)

@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)

def _finish(factory: FibdFactory, failed: bool) -> None:
    problems = factory.stop_all()
    if failed:
        print(factory.logs())
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)

@pytest.fixture
def fibd_factory(request: pytest.FixtureRequest, tmp_path: Path):
    """Starts a daemon with given flags for this test: `daemon = fibd_factory("--workers", "1")`."""
    factory = FibdFactory(tmp_path)
    yield factory
    report = getattr(request.node, "rep_call", None)
    _finish(factory, failed=report is not None and report.failed)

@pytest.fixture(scope="module")
def shared_fibd(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One daemon with default flags for every test of a module that does not disturb the pool."""
    factory = FibdFactory(tmp_path_factory.mktemp("shared"))
    daemon = factory("--workers", "2")
    yield daemon
    failed = any(getattr(item, "rep_call", None) is not None and item.rep_call.failed
                 for item in request.session.items if item.module is request.module)
    _finish(factory, failed)

@pytest.fixture
def client(shared_fibd: Fibd) -> Client:
    return shared_fibd.client

@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]

def calibrated_recursive_n(client: Client, seconds: float) -> int:
    """The recursive n whose computation takes about `seconds` on this machine and build (debug or release).

    Time grows as phi^n; one measured run of a short task gives the scale.
    """
    probe_n = 30
    while True:
        task = client.submit({"n": probe_n, "algorithm": "recursive"}, wait="30")
        task = client.await_end(task["id"], within=60)
        assert task["state"] == "done", task
        duration = task["duration"] or 0.0
        if duration >= 0.05 or probe_n >= 40:
            break
        probe_n += 3
    phi = (1 + 5**0.5) / 2

    steps = math.log(seconds / max(duration, 1e-4)) / math.log(phi)
    return max(probe_n + 1, min(60, probe_n + round(steps)))
