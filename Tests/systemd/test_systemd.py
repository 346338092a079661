"""fibd's .deb under a real systemd: PID 1 of a Debian bookworm container booted with systemd-nspawn.

The root file system is built once under /var/tmp by rootfs.sh (debootstrap, about a minute) and booted with
--volatile=overlay, so every run starts from the same clean system. The tests run in file order and share one
container: install, socket activation, a task, status line, journal fields, hardening, reload, drain, start
again, kill -9, remove. FIBD_DEB names the package (default .build/deb/fibd.deb; `make systemd-test` builds it).
"""

import json
import os
import re
import shlex
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEB = os.path.realpath(os.environ.get("FIBD_DEB", os.path.join(ROOT, ".build", "deb", "fibd.deb")))
DEB_IN_CONTAINER = "/mnt/fibd-deb/" + os.path.basename(DEB)
BASE = "http://127.0.0.1:8787"
COMMAND_TIMEOUT = 120

if os.geteuid() != 0:
    pytest.skip("booting a container with systemd-nspawn needs root", allow_module_level=True)


def inside(*command, timeout=COMMAND_TIMEOUT, check=True, stdin=None):
    """Runs a command in the container; returns its standard output."""
    result = subprocess.run(
        [os.path.join(HERE, "exec.sh"), *command], capture_output=True, text=True, timeout=timeout, input=stdin
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{shlex.join(command)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result.stdout


def status_of(*command, timeout=COMMAND_TIMEOUT):
    """The exit status and output of a command in the container."""
    result = subprocess.run(
        [os.path.join(HERE, "exec.sh"), *command], capture_output=True, text=True, timeout=timeout
    )
    return result.returncode, result.stdout.strip()


def http(method, path, body=None, timeout=60):
    """An HTTP request made with curl inside the container: (status, parsed JSON body or text)."""
    command = ["curl", "-sS", "--max-time", str(timeout), "-X", method, "-o", "-", "-w", "\n%{http_code}"]
    if body is not None:
        command += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    output = inside(*command, BASE + path, timeout=timeout + 10)
    text, _, code = output.rpartition("\n")
    try:
        return int(code), json.loads(text)
    except json.JSONDecodeError:
        return int(code), text


def show(unit, prop):
    return inside("systemctl", "show", "-p", prop, "--value", unit).strip()


def wait_until(condition, timeout, what):
    """Polls condition() until it returns something true; fails with what after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def fibonacci(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def journal(*matches):
    output = inside("journalctl", "-b", "-u", "fibd.service", "-o", "json", "--no-pager", *matches)
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def full_journal(unit, *matches):
    """Every record of a unit since boot, each field in full (--all: journalctl shows a field over 4 KB
    as null otherwise); a value that is not printable UTF-8 comes as a list of bytes, made text here."""
    output = inside("journalctl", "-b", "-u", unit, "-o", "json", "--all", "--no-pager", *matches)
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    return [
        {name: bytes(value).decode() if isinstance(value, list) else value for name, value in record.items()}
        for record in records
    ]


# fibd(8): the MESSAGE_ID of a reload, done or refused.
RELOAD_MESSAGE_ID = "efd1f536878043b595fe295284f79303"


def workers():
    code, body = http("GET", "/api/v1/workers")
    assert code == 200, body
    return body["workers"]


def write_config(text):
    inside("sh", "-c", "cat > /etc/fibd/fibd.conf", stdin=text)


@pytest.fixture(scope="module", autouse=True)
def container():
    assert os.path.exists(DEB), f"no package at {DEB} (make deb)"
    depends = subprocess.run(
        ["dpkg-deb", "-f", DEB, "Depends"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    packages = sorted({re.split(r"[\s(]", entry.split("|")[0].strip())[0] for entry in depends.split(",")})
    # Built once (about a minute) and reused; the package's libraries are added to it when missing.
    subprocess.run([os.path.join(HERE, "rootfs.sh"), *packages], check=True, timeout=900)
    subprocess.run([os.path.join(HERE, "down.sh")], capture_output=True, timeout=60)
    subprocess.run(
        [os.path.join(HERE, "up.sh"), f"--bind-ro={os.path.dirname(DEB)}:/mnt/fibd-deb"], check=True, timeout=120
    )
    try:
        yield
    finally:
        subprocess.run([os.path.join(HERE, "down.sh")], timeout=120)


# State carried from one test to the next (they run in file order on one container).
state = {}


def test_installing_the_package_enables_and_starts_the_socket():
    inside("dpkg", "-i", DEB_IN_CONTAINER)
    assert status_of("systemctl", "is-enabled", "fibd.socket") == (0, "enabled")
    assert status_of("systemctl", "is-active", "fibd.socket") == (0, "active")
    # Nothing has connected yet, so fibd itself is not running.
    assert status_of("systemctl", "is-active", "fibd.service")[1] == "inactive"
    assert inside("systemd-analyze", "verify", "fibd.socket", "fibd.service") == ""
    # Task lifecycle records are logged at debug level (a busy daemon ends thousands of tasks a
    # second); the journal test below reads them, so this daemon logs at debug.
    write_config("log-level = debug\n")


def test_the_first_connection_starts_fibd():
    code, body = http("GET", "/healthz")
    assert (code, body) == (200, {"status": "ok"})
    assert show("fibd.service", "ActiveState") == "active"
    state["pid"] = int(show("fibd.service", "MainPID"))
    assert state["pid"] > 0
    # The IPv6 listener of fibd.socket reaches the same fibd.
    output = inside("curl", "-sS", "--max-time", "10", "http://[::1]:8787/healthz")
    assert json.loads(output) == {"status": "ok"}


def test_a_task_is_submitted_and_awaited():
    code, task = http("POST", "/api/v1/tasks?wait=30s", {"n": 1000})
    assert code == 200, task
    assert task["state"] == "done" and task["result"] == str(fibonacci(1000))
    state["task"] = task


def test_systemctl_status_shows_the_status_line():
    # The line changes when fibd's reporter catches up with the task just done, which may fall between the two
    # reads: both are read again until they agree.
    def agreed():
        text = show("fibd.service", "StatusText")
        status = inside("systemctl", "status", "--no-pager", "fibd.service", check=False)
        return (text, status) if f'Status: "{text}"' in status else None

    text, _ = wait_until(agreed, 10, "systemctl status to show fibd's status line")
    assert "worker" in text.lower(), text


def test_the_journal_has_fibd_fields():
    task = state["task"]

    def task_records():
        return [record for record in journal(f"FIBD_TASK_ID={task['id']}")]

    records = wait_until(task_records, 10, f"journal records of task {task['id']}")
    for record in records:
        assert record["_SYSTEMD_UNIT"] == "fibd.service"
        assert record.get("MESSAGE_ID"), record
        assert record.get("PRIORITY"), record
    fields = set().union(*records)
    for field in ("FIBD_N", "FIBD_ALGORITHM", "FIBD_WORKER_PID", "FIBD_DURATION_USEC", "CODE_FILE", "CODE_LINE"):
        assert field in fields, f"{field} not in {sorted(fields)}"
    assert {record["FIBD_N"] for record in records if "FIBD_N" in record} == {"1000"}
    assert {record["FIBD_ALGORITHM"] for record in records if "FIBD_ALGORITHM" in record} == {"fast"}
    # A done task has a duration, and the distinct event kinds have distinct message ids.
    assert any("FIBD_DURATION_USEC" in record for record in records)
    assert len({record["MESSAGE_ID"] for record in records}) >= 2


def test_fibd_really_runs_under_the_hardening():
    pid = state["pid"]
    status = inside("cat", f"/proc/{pid}/status")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    uid = int(fields["Uid"].split()[0])
    assert uid != 0, "DynamicUser=yes gives fibd a user of its own"
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2", "SystemCallFilter= is in force"
    assert int(fields["CapEff"].strip(), 16) == 0
    # The workers were started with posix_spawn on /proc/self/exe, and fibd samples their /proc/<pid>/stat.
    pool = workers()
    assert pool and all(worker["pid"] for worker in pool), pool
    children = set(map(int, inside("pgrep", "-P", str(pid)).split()))
    for worker in pool:
        assert worker["pid"] in children
        assert inside("readlink", f"/proc/{worker['pid']}/exe").strip() == "/usr/bin/fibd"
    code, body = http("GET", "/api/v1/workers")
    assert any(worker["rss_bytes"] > 0 for worker in body["workers"]), body
    # What fibd reads for its CPU quota is readable in its own mount namespace, as its own user.
    cgroup_lines = inside("cat", f"/proc/{pid}/cgroup").splitlines()
    quota_files = []
    for line in cgroup_lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            quota_files.append(f"/sys/fs/cgroup{path}/cpu.max")
            quota_files.append(f"/sys/fs/cgroup/unified{path}/cpu.max")
        elif "cpu" in controllers.split(","):
            quota_files.append(f"/sys/fs/cgroup/{controllers}{path}/cpu.cfs_quota_us")
    readable = []
    for path in quota_files:
        # Its user namespace (PrivateUsers=yes) and mount namespace (ProtectProc=, ProcSubset=, ...), as its user.
        code, _ = status_of("nsenter", "-t", str(pid), "-U", "-m", "-S", str(uid), "-G", str(uid),
                            "head", "-c", "64", f"/proc/{pid}/stat", f"/proc/{pid}/cgroup", path)
        if code == 0:
            readable.append(path)
    assert readable, f"none of {quota_files} is readable inside fibd's sandbox"
    # ... and the pool has one worker per usable CPU.
    usable = int(inside("nproc").strip())
    assert len(pool) == usable


def test_reload_resizes_the_pool_without_losing_a_task():
    pid = state["pid"]
    start = len(workers())
    # A task that runs across the reload (recursive F(42) takes about a second).
    code, running = http("POST", "/api/v1/tasks", {"n": 42, "algorithm": "recursive"})
    assert code == 202, running
    write_config(f"workers = {start + 1}\n")
    inside("systemctl", "reload", "fibd.service")
    wait_until(lambda: len(workers()) == start + 1, 20, f"{start + 1} workers after reload")
    write_config("workers = 1\n")
    inside("systemctl", "reload", "fibd.service")
    wait_until(lambda: len(workers()) == 1, 30, "1 worker after reload")
    assert int(show("fibd.service", "MainPID")) == pid, "a reload keeps the same process"
    assert show("fibd.service", "ActiveState") == "active"
    code, task = http("GET", f"/api/v1/tasks/{running['id']}?wait=30s", timeout=40)
    assert code == 200 and task["state"] == "done", task
    assert task["result"] == str(fibonacci(42))
    # A bad configuration is refused and the running one kept.
    write_config("workers = many\n")
    inside("systemctl", "reload", "fibd.service", check=False)
    time.sleep(0.5)  # nothing to await: the point is that nothing changes
    assert show("fibd.service", "ActiveState") == "active"
    assert len(workers()) == 1
    write_config("workers = 2\n")
    inside("systemctl", "reload", "fibd.service")
    wait_until(lambda: len(workers()) == 2, 20, "2 workers after reload")


def test_the_journal_keeps_a_value_with_newlines():
    """A field whose value holds a newline goes in the native protocol's length-prefixed form. fibd quotes a
    path as it is in its errors, and a file name may hold a newline (a config file line cannot, so the path
    comes from the command line): a token file that disappears makes the next reload fail and say so. This
    fibd runs as a unit of its own, so that the packaged one keeps serving without a token."""
    directory = "/run/fibd-newline"
    token_file = directory + "/api\ntoken"
    inside("sh", "-c", 'umask 077 && mkdir -p "$1" && printf %s "$2" > "$3"', "sh", directory, "t" * 32, token_file)
    unit = "fibd-newline.service"
    # Type=notify: systemd-run returns once fibd said READY=1 (its signal handlers are in place by then).
    inside("systemd-run", "--unit", unit, "--collect", "--quiet", "-p", "Type=notify",
           "-p", "StateDirectory=fibd-newline", "--",
           "/usr/bin/fibd", "--listen", f"unix:{directory}/api.sock", "--workers", "1", "--token-file", token_file)
    try:
        inside("rm", token_file)
        # SIGHUP to fibd alone, as ExecReload= does (its workers would take the signal's default action).
        inside("kill", "-HUP", show(unit, "MainPID"))
        records = wait_until(lambda: full_journal(unit, f"MESSAGE_ID={RELOAD_MESSAGE_ID}"), 10, "the refused reload")
    finally:
        inside("systemctl", "stop", unit, check=False)
    [record] = records
    assert record["FIBD_ERROR"] == f"token file {token_file}: No such file or directory", record
    # The fields after the multi-line one are whole too: its length prefix was right.
    assert record["MESSAGE"] == "reload failed"
    assert record["PRIORITY"] == "3" and record["SYSLOG_IDENTIFIER"] == "fibd"
    assert record["CODE_FILE"].endswith("Daemon.swift") and int(record["CODE_LINE"]) > 0, record
    assert record["_SYSTEMD_UNIT"] == unit


def test_the_journal_keeps_an_entry_larger_than_a_datagram():
    """An entry larger than the journal socket takes in one datagram goes in a sealed memfd. fibd quotes a bad
    config value in full, and a config file may be up to 1 MB: a 600 KB value makes the packaged fibd's
    refused reload an entry over 600 KB. A datagram is limited by the sender's send buffer, twice
    net.core.wmem_max less 32 bytes (fibd cannot go past wmem_max without CAP_NET_ADMIN): with the kernel's
    default of 212992 that is 416 KB and this entry goes in a memfd, while a host that raised wmem_max past
    300 KB sends it as one datagram. fibd takes the memfd route only for an entry over that limit (its socket
    blocks, rather than fail, while journald lags), and a network namespace's wmem_max cannot be lowered from
    inside the container, so which route this run takes depends on the host; journald must take the entry
    whole either way."""
    datagram_limit = 2 * int(inside("cat", "/proc/sys/net/core/wmem_max").strip()) - 32
    marker = f"big-{time.monotonic_ns():x}-"
    value = marker + "0123456789abcdef" * (600 * 1024 // 16)
    write_config(f"workers = 2\nmax-queue = {value}\n")
    try:
        inside("systemctl", "reload", "fibd.service", check=False)

        def refused():
            return [record for record in full_journal("fibd.service", f"MESSAGE_ID={RELOAD_MESSAGE_ID}")
                    if marker in record.get("FIBD_ERROR", "")]

        [record] = wait_until(refused, 10, "the refused reload with the large value")
    finally:
        write_config("workers = 2\n")
    route = "a memfd" if len(value) > datagram_limit else f"one datagram (limit {datagram_limit} bytes)"
    assert record["FIBD_ERROR"] == (f"/etc/fibd/fibd.conf:2: max-queue must be a whole number >= 0, not '{value}'"), (
        f"sent in {route}: {record['FIBD_ERROR'][:200]}")
    assert record["MESSAGE"] == "reload failed" and record["PRIORITY"] == "3"
    assert record["_SYSTEMD_UNIT"] == "fibd.service" and record["SYSLOG_IDENTIFIER"] == "fibd"
    assert show("fibd.service", "ActiveState") == "active"
    assert len(workers()) == 2, "the running configuration was kept"


def test_stop_drains_running_tasks():
    code, task = http("POST", "/api/v1/tasks", {"n": 43, "algorithm": "recursive"})
    assert code == 202, task
    wait_until(lambda: http("GET", f"/api/v1/tasks/{task['id']}")[1]["state"] == "running", 10, "the task to run")
    # A client long-polls the task while fibd is told to stop.
    waiter = subprocess.Popen(
        [os.path.join(HERE, "exec.sh"), "curl", "-sS", "--max-time", "60",
         f"{BASE}/api/v1/tasks/{task['id']}?wait=60s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(0.3)  # let the long-poll reach fibd; it is not observable from outside
        started = time.monotonic()
        inside("systemctl", "stop", "fibd.service", timeout=60)
        stopped_in = time.monotonic() - started
        output, errors = waiter.communicate(timeout=30)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait(timeout=10)
    answered = json.loads(output)
    assert answered["state"] == "done" and answered["result"] == str(fibonacci(43)), (answered, errors)
    assert stopped_in < 45
    assert show("fibd.service", "ActiveState") == "inactive"
    assert show("fibd.service", "Result") == "success"
    assert show("fibd.service", "ExecMainStatus") == "0"
    # The sockets stay with systemd.
    assert show("fibd.socket", "ActiveState") == "active"


def test_fibd_starts_again():
    inside("systemctl", "start", "fibd.service")
    assert show("fibd.service", "ActiveState") == "active"
    pid = int(show("fibd.service", "MainPID"))
    assert pid > 0 and pid != state["pid"]
    state["pid"] = pid
    code, body = http("GET", "/api/v1/fib/100")
    assert code == 200 and body["result"] == str(fibonacci(100)), body


def test_systemd_restarts_fibd_after_kill_9():
    pid = state["pid"]
    restarts = int(show("fibd.service", "NRestarts"))
    inside("kill", "-9", str(pid))

    def restarted():
        new = int(show("fibd.service", "MainPID"))
        return new if new not in (0, pid) and show("fibd.service", "ActiveState") == "active" else None

    new_pid = wait_until(restarted, 30, "fibd to be restarted")
    assert int(show("fibd.service", "NRestarts")) == restarts + 1
    code, body = http("GET", "/api/v1/fib/90")
    assert code == 200 and body["result"] == str(fibonacci(90)), body
    # The old workers are gone with it.
    assert inside("pgrep", "-P", str(pid), check=False).strip() == ""
    state["pid"] = new_pid


def test_an_upgrade_restarts_a_running_fibd_and_keeps_an_edited_config():
    pid = state["pid"]
    write_config("workers = 1\n")
    inside("dpkg", "-i", "--force-confold", DEB_IN_CONTAINER)
    assert show("fibd.socket", "ActiveState") == "active"
    assert show("fibd.service", "ActiveState") == "active"
    new_pid = int(show("fibd.service", "MainPID"))
    assert new_pid not in (0, pid), "the new binary runs"
    assert inside("cat", "/etc/fibd/fibd.conf") == "workers = 1\n"
    wait_until(lambda: len(workers()) == 1, 20, "the pool of the edited config")
    state["pid"] = new_pid


def test_removing_the_package_stops_and_disables_fibd():
    inside("dpkg", "-r", "fibd")
    assert status_of("systemctl", "is-active", "fibd.socket")[1] == "inactive"
    assert status_of("systemctl", "is-active", "fibd.service")[1] == "inactive"
    assert inside("sh", "-c", "ls /etc/systemd/system/sockets.target.wants/ | grep -c fibd || true").strip() == "0"
    code, _ = status_of("curl", "-sS", "--max-time", "5", BASE + "/healthz")
    assert code == 7, "nothing listens on 8787 any more"
    # The conffile stays until purge.
    assert status_of("test", "-f", "/etc/fibd/fibd.conf")[0] == 0
    inside("dpkg", "-P", "fibd")
    assert status_of("test", "-e", "/etc/fibd/fibd.conf")[0] != 0
