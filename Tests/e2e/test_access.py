"""Access control: loopback by default, and an optional bearer token read from a private file (or the systemd
credential fibd-token) that guards the mutating routes, or every route but the probes."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import FIBD_BINARY, Client, Fibd, assert_problem, wait_until

TOKEN = "s3cret-token-0123456789abcdef"
TASKS = "/api/v1/tasks"


def token_file(directory: Path, token: str = TOKEN, mode: int = 0o600, name: str = "token") -> Path:
    path = directory / name
    path.write_text(token + "\n")
    path.chmod(mode)
    return path


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_unauthorized(response, invalid: bool) -> None:
    assert_problem(response, 401, "unauthorized")
    challenge = response.header("WWW-Authenticate") or ""
    assert challenge.startswith('Bearer realm="fibd"'), challenge
    assert ('error="invalid_token"' in challenge) == invalid, challenge


def run_refused(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """fibd must refuse to start: it exits on its own with a message and never says it is listening."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FIBD_")}
    full_env.update(env or {})
    result = subprocess.run([str(FIBD_BINARY), "--listen", "127.0.0.1:0", "--workers", "1", *args],
                            capture_output=True, text=True, timeout=30, env=full_env, stdin=subprocess.DEVNULL)
    assert result.returncode != 0, result
    assert "listening on" not in result.stdout + result.stderr
    return result


def test_listens_on_loopback_only_by_default() -> None:
    # Binding the default port here could collide with another daemon, so read the default from --help.
    help_text = subprocess.run([str(FIBD_BINARY), "--help"], capture_output=True, text=True, timeout=10).stdout
    listen = next(line for line in help_text.splitlines() if line.strip().startswith("--listen"))
    assert "(default: 127.0.0.1:8787)" in listen, listen
    assert "--token-file FILE" in help_text and "--token-scope SCOPE" in help_text, help_text


def test_token_guards_mutating_routes(fibd_factory, tmp_path: Path) -> None:
    daemon: Fibd = fibd_factory("--token-file", str(token_file(tmp_path)))
    client = daemon.client
    # Reads stay open.
    for path in ("/api/v1/status", "/api/v1/tasks", "/healthz", "/metrics", "/", "/api/v1/openapi.json"):
        assert client.get(path).status == 200, path
    # Writes need the token: missing, wrong, malformed, other schemes.
    assert_unauthorized(client.post(TASKS, {"n": 5}), invalid=False)
    assert_unauthorized(client.post(TASKS, {"n": 5}, headers=bearer("wrong-token-0123456789abcdef")), invalid=True)
    assert_unauthorized(client.post(TASKS, {"n": 5}, headers=bearer(TOKEN[:-1])), invalid=True)
    assert_unauthorized(client.post(TASKS, {"n": 5}, headers=bearer(TOKEN + "x")), invalid=True)
    assert_unauthorized(client.post(TASKS, {"n": 5}, headers={"Authorization": f"Basic {TOKEN}"}), invalid=False)
    assert_unauthorized(client.post(TASKS, {"n": 5}, headers={"Authorization": "Bearer"}), invalid=False)
    # The unauthorised submit made nothing.
    assert client.status()["tasks"]["submitted"] == 0
    task = client.post(TASKS, {"n": 5}, headers=bearer()).json()
    assert task["state"] in ("queued", "running", "done")
    assert client.post(TASKS, {"n": 6}, headers={"Authorization": f"bearer  {TOKEN}"}).status == 202
    assert_unauthorized(client.delete(f"{TASKS}/{task['id']}"), invalid=False)
    assert client.delete(f"{TASKS}/{task['id']}", headers=bearer()).status in (200, 409)
    # A method no route has is 401 before 405: nothing is told to a client without the token.
    assert_unauthorized(client.request("PUT", "/api/v1/status", raw=b""), invalid=False)
    assert_problem(client.request("PUT", "/api/v1/status", raw=b"", headers=bearer()), 405, "method-not-allowed")

    # The served document says which operations need the token.
    document = client.get("/api/v1/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    for path, method in ((TASKS, "post"), (TASKS + "/{id}", "delete")):
        operation = document["paths"][path][method]
        assert operation["security"] == [{"bearerToken": []}], (path, method)
        assert "401" in operation["responses"]
    assert "security" not in document["paths"][TASKS]["get"]
    assert "security" not in document["paths"]["/healthz"]["get"]


def test_token_scope_all_guards_everything_but_the_probes(fibd_factory, tmp_path: Path) -> None:
    daemon: Fibd = fibd_factory("--token-file", str(token_file(tmp_path)), "--token-scope", "all")
    client = daemon.client
    for path in ("/healthz", "/readyz"):
        assert client.get(path).status == 200, path
        assert client.request("HEAD", path).status == 200, path
    for path in ("/api/v1/status", "/api/v1/tasks", "/metrics", "/", "/status", "/api/v1/openapi.json",
                 "/api/v1/events", "/no/such/page"):
        assert_unauthorized(client.get(path), invalid=False)
        assert_unauthorized(client.get(path, headers=bearer("x" * len(TOKEN))), invalid=True)
    assert client.get("/api/v1/status", headers=bearer()).status == 200
    assert client.get("/metrics", headers=bearer()).status == 200
    assert_problem(client.get("/no/such/page", headers=bearer()), 404, "not-found")
    document = client.get("/api/v1/openapi.json", headers=bearer()).json()
    assert document["paths"]["/api/v1/status"]["get"]["security"] == [{"bearerToken": []}]
    assert "security" not in document["paths"]["/healthz"]["get"]
    assert "security" not in document["paths"]["/readyz"]["get"]


def test_token_from_the_environment_and_the_config_file(fibd_factory, tmp_path: Path) -> None:
    path = token_file(tmp_path)
    from_env = fibd_factory(env={"FIBD_TOKEN_FILE": str(path), "FIBD_TOKEN_SCOPE": "all"})
    assert_unauthorized(from_env.client.get("/api/v1/status"), invalid=False)
    config = tmp_path / "fibd.conf"
    config.write_text(f"token-file = {path}\n")
    from_file = fibd_factory("--config", str(config))
    assert_unauthorized(from_file.client.post(TASKS, {"n": 1}), invalid=False)
    assert from_file.client.post(TASKS, {"n": 1}, headers=bearer()).status == 202


def test_systemd_credential_is_the_default_token(fibd_factory, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    token_file(credentials, token="credential-token-abcdefghijklmnop", mode=0o400, name="fibd-token")
    daemon: Fibd = fibd_factory(env={"CREDENTIALS_DIRECTORY": str(credentials)})
    client = daemon.client
    assert_unauthorized(client.post(TASKS, {"n": 1}, headers=bearer()), invalid=True)
    assert client.post(TASKS, {"n": 1}, headers=bearer("credential-token-abcdefghijklmnop")).status == 202


@pytest.mark.parametrize(
    ("mode", "token", "words"),
    [
        (0o644, TOKEN, ["every user", "chmod o-rw"]),
        (0o606, TOKEN, ["every user"]),
        (0o600, "short", ["at least 16"]),
        (0o600, "", ["at least 16"]),
        (0o600, "has a space in the middle of it", ["printable ASCII"]),
    ],
)
def test_unusable_token_file_stops_the_start(tmp_path: Path, mode: int, token: str, words: list[str]) -> None:
    path = token_file(tmp_path, token=token, mode=mode)
    result = run_refused("--state-dir", str(tmp_path / "state"), "--token-file", str(path))
    output = result.stdout + result.stderr
    assert str(path) in output, output
    for word in words:
        assert word in output, output


def test_missing_token_file_and_token_on_the_command_line_are_refused(tmp_path: Path) -> None:
    output = run_refused("--state-dir", str(tmp_path / "s1"), "--token-file", str(tmp_path / "absent")).stderr
    assert "absent" in output and "No such file" in output, output
    result = run_refused("--token", TOKEN)
    assert "--token-file" in result.stderr and TOKEN not in result.stderr, result.stderr
    assert "mutating or all" in run_refused("--token-scope", "everything").stderr


def test_sighup_rereads_the_token(fibd_factory, tmp_path: Path) -> None:
    path = token_file(tmp_path)
    daemon: Fibd = fibd_factory("--token-file", str(path))
    client = daemon.client
    assert client.post(TASKS, {"n": 2}, headers=bearer()).status == 202

    def reloads() -> int:
        return sum("configuration reloaded" in line or "reload failed" in line for line in daemon.lines)

    new_token = "rotated-token-zyxwvutsrq987654"
    token_file(tmp_path, token=new_token)
    before = reloads()
    os.kill(daemon.pid, signal.SIGHUP)
    wait_until(lambda: reloads() > before, 15, "the reload")
    assert client.post(TASKS, {"n": 3}, headers=bearer(new_token)).status == 202
    assert_unauthorized(client.post(TASKS, {"n": 3}, headers=bearer()), invalid=True)

    # A token file that became unusable fails the reload: the running token stays in force.
    path.chmod(0o644)
    before = reloads()
    os.kill(daemon.pid, signal.SIGHUP)
    wait_until(lambda: reloads() > before, 15, "the reload")
    assert any("reload failed" in line and "chmod" in line for line in daemon.lines), daemon.log()
    assert client.post(TASKS, {"n": 4}, headers=bearer(new_token)).status == 202
    assert_unauthorized(client.post(TASKS, {"n": 4}), invalid=False)


def test_still_serving(fibd_factory, tmp_path: Path) -> None:
    daemon: Fibd = fibd_factory("--token-file", str(token_file(tmp_path)))
    client: Client = daemon.client
    for _ in range(20):
        assert_unauthorized(client.post(TASKS, {"n": 1}, headers=bearer("guess-" + "0" * 20)), invalid=True)
    response = client.post(TASKS + "?wait=10", {"n": 50}, headers=bearer())
    assert response.status == 200 and response.json()["state"] == "done"
