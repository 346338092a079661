"""fibd against its Dask peer on the same machine, in one run: see bench/README.md.

python3 bench/bench.py [--quick | --smoke] [--fibd PATH] [--out FILE]

Every scenario runs against fibd and against the peer, repeated; one table with medians and p99 is printed and
written to --out (by default bench/RESULTS.md, which holds the latest full run, or bench/RESULTS-quick.md for
--quick; --smoke writes nothing and checks no figure).
Traffic goes to 127.0.0.1 only. Every loop is bounded in count and in time.
"""

import argparse
import asyncio
import contextlib
import gzip
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peer_dask  # noqa: E402  (next to this file)
from peer_dask import fibonacci  # noqa: E402

# The status views DESIGN.md names; each is served at /status/<view>.
STATUS_VIEWS = [
    "task-stream", "progress", "workers", "cpu", "workers-memory", "cluster-memory", "nprocessing", "occupancy",
    "exceptions", "workers-cpu-timeseries", "workers-memory-timeseries", "scheduler-system",
    "compute-time-per-key", "aggregate-time-per-action", "groups", "bandwidth-workers", "memory-by-key",
]
F_1E7_DIGITS = 2089877


class Profile:
    """How long and how often: full (make bench), quick (QUICK=1, under two minutes), smoke (make test)."""

    def __init__(self, name):
        self.name = name
        full, quick, smoke = name == "full", name == "quick", name == "smoke"
        self.runs = 5 if full else (2 if quick else 1)  # repetitions of each scenario
        self.wrk_seconds = 5 if full else (2 if quick else 1)
        self.floor_round_trips = 20_000 if full else (5_000 if quick else 1_000)
        self.peer_seconds = 5 if full else (2 if quick else 1)
        self.sequential_count = 500 if full else (200 if quick else 20)  # Dask's sequential submits per run
        self.cpu_task_seconds = 1.0 if full else (0.5 if quick else 0.1)  # one CPU-bound task, about
        self.cancel_runs = 5 if full else (2 if quick else 1)
        self.kill_runs = 5 if full else (2 if quick else 1)
        self.cold_runs = 5 if full else (2 if quick else 1)
        self.big_n = 10_000_000 if not smoke else 100_000
        # The two scenarios that hang on one vCPU's speed for a whole run, which varies most on shared vCPUs.
        self.big_runs = 15 if full else (3 if quick else 1)
        self.speedup_runs = 9 if full else (2 if quick else 1)
        self.cpython_big = full  # CPython's quadratic str() of 2 million digits takes most of a minute
        self.long_polls = 10_000 if not smoke else 200
        self.wakeups = 500 if full else (100 if quick else 10)
        self.checks = not smoke


# ---------------------------------------------------------------------------------------------------------------
# Small tools


def percentile(values, fraction):
    """Nearest-rank percentile; for fewer than 100 values the 99th is the largest."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children_of():
    """ppid -> [pid] for every process now."""
    tree = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


@contextlib.contextmanager
def stopped(pids):
    """The processes `pids` stopped (SIGSTOP) for the block, continued (SIGCONT) after it, whatever happens."""
    held = []
    try:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
                held.append(pid)
        yield
    finally:
        for pid in held:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def process_tree(root):
    tree, found, todo = children_of(), [], [root]
    while todo and len(found) < 10_000:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def tree_rss(root):
    return sum(rss_bytes(pid) for pid in process_tree(root))


def pss_bytes(pid):
    """Proportional set size: private pages plus each shared page divided by the processes that map it."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_pss(root):
    return sum(pss_bytes(pid) for pid in process_tree(root))


def cpu_nanos(pid):
    """Time the process has spent on a CPU, in ns (/proc/PID/schedstat), or None once it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return None
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as schedstat:
                total += int(schedstat.read().split()[0])
        return total
    except (OSError, ValueError):
        return None


def wait_cpu_quiet(pid, deadline, window=0.02, busy_below=0.002):
    """Polls until `pid` is gone or uses under `busy_below` s of CPU in a `window`; returns when its CPU was freed."""
    last_time, last_cpu = time.perf_counter(), cpu_nanos(pid)
    while time.perf_counter() < deadline:
        if last_cpu is None:
            return last_time
        time.sleep(0.0002 if window < 0.01 else 0.001)
        now, cpu = time.perf_counter(), cpu_nanos(pid)
        if cpu is None:
            return now
        if now - last_time >= window:
            if (cpu - last_cpu) / 1e9 < busy_below:
                return last_time
            last_time, last_cpu = now, cpu
    return None


class HTTP:
    """One keep-alive HTTP/1.1 connection to fibd."""

    def __init__(self, port, timeout=30):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        self.connection.request(method, path, body=data, headers=headers or {})
        response = self.connection.getresponse()
        return response.status, response.getheaders(), response.read()

    def json(self, method, path, body=None, expect=(200, 202)):
        status, _, data = self.request(method, path, body, {"Content-Type": "application/json"})
        if status not in expect:
            raise RuntimeError(f"{method} {path}: {status} {data[:300]!r}")
        return json.loads(data)

    def close(self):
        self.connection.close()


class Fibd:
    """A fibd daemon of our own on a free loopback port; stopped (its whole process group) at the end."""

    def __init__(self, binary, *extra, workers=None):
        self.state_dir = tempfile.mkdtemp(prefix="fibd-bench-")
        args = [binary, "--listen", "127.0.0.1:0", "--state-dir", self.state_dir, "--log-level", "info", *extra]
        if workers:
            args += ["--workers", str(workers)]
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        self.port = None
        self.lines = []
        ready = threading.Event()
        listening = threading.Event()

        def read_stderr():
            for line in self.process.stderr:
                if len(self.lines) < 1000:
                    self.lines.append(line)
                match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
                if match and self.port is None:
                    self.port = int(match.group(1))
                    listening.set()
                if "fibd is ready" in line:
                    ready.set()

        threading.Thread(target=read_stderr, daemon=True).start()
        if not ready.wait(30) or not listening.wait(1):
            self.stop()
            raise RuntimeError("fibd did not get ready in 30 s:\n" + "".join(self.lines[-20:]))
        self.pid = self.process.pid

    def http(self, timeout=30):
        return HTTP(self.port, timeout)

    def worker_pids(self):
        client = self.http()
        try:
            workers = client.json("GET", "/api/v1/workers")["workers"]
        finally:
            client.close()
        return [w["pid"] for w in workers if w["pid"]], workers

    def wait_idle(self, count, timeout=10):
        """Until `count` workers are idle (after a kill, the replacement must have said hello)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, workers = self.worker_pids()
            if sum(1 for w in workers if w["state"] == "idle") >= count:
                return
            time.sleep(0.01)
        raise RuntimeError(f"fewer than {count} idle workers after {timeout} s")

    def status(self):
        client = self.http()
        try:
            return client.json("GET", "/api/v1/status")
        finally:
            client.close()

    def stop(self):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run_wrk(port, script, seconds, threads, connections, env=None, timeout_s=30):
    """Runs wrk; returns requests/s, latency percentiles in seconds, and the count of bad answers."""
    command = [
        "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", f"{timeout_s}s",
        "--latency", "-s", os.path.join(HERE, "wrk", script), f"http://127.0.0.1:{port}",
    ]
    environment = dict(os.environ, BENCH_THREADS=str(threads), **(env or {}))
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr}{done.stdout}")
    out = done.stdout

    def duration(text):
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
        return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]

    latencies = {}
    for label, text in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M):
        latencies[int(label)] = duration(text)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    unexpected = len(re.findall(r"unexpected status", done.stderr))
    if bad or unexpected or (errors and re.search(r"(read|write|timeout) [1-9]", errors.group(1))):
        raise RuntimeError(f"wrk saw failed requests:\n{out}\n{done.stderr[:2000]}")
    return {"rate": rate, "requests": requests, "latency": latencies}


# ---------------------------------------------------------------------------------------------------------------
# Results


class Row:
    def __init__(self, key, scenario, unit, better, target, fibd=None, peer=None, note="", scale=1.0):
        self.key, self.scenario, self.unit, self.better = key, scenario, unit, better
        self.target = target  # (text, check(fibd_median, peer_median) -> bool)
        self.fibd, self.peer = list(fibd or []), list(peer or [])
        self.note, self.scale = note, scale

    def median(self, values):
        return statistics.median(values) if values else None

    def worst(self, values):
        """The 99th percentile on the bad side: high for costs, low for rates."""
        if not values:
            return None
        return percentile(values, 0.99) if self.better == "lower" else percentile(values, 0.01)

    def ratio(self):
        fibd, peer = self.median(self.fibd), self.median(self.peer)
        if not fibd or not peer:
            return None
        return peer / fibd if self.better == "lower" else fibd / peer

    def met(self):
        fibd = self.median(self.fibd)
        if fibd is None or self.target is None:
            return None
        return self.target[1](fibd, self.median(self.peer), self.worst(self.fibd))


def show(value, unit, scale):
    if value is None:
        return "n/a"
    value = value * scale
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def render(rows, machine, profile, started, elapsed):
    lines = [
        "# fibd against the Dask peer",
        "",
        f"Run `{'make bench' if profile.name == 'full' else 'make bench QUICK=1'}` at "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, {elapsed:.0f} s; "
        f"each figure is the median over {profile.runs} runs or more, p99 is the 99th percentile on the bad side "
        "(over all samples for latencies, over runs otherwise: with fewer than 100 runs, the worst run).",
        "",
        "| machine | |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {value} |" for name, value in machine]
    lines += [
        "",
        "| scenario | fibd | fibd p99 | peer | peer p99 | ratio | target | met? |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for row in rows:
        ratio = row.ratio()
        met = row.met()
        lines.append(
            f"| {row.scenario} | {show(row.median(row.fibd), row.unit, row.scale)} | "
            f"{show(row.worst(row.fibd), row.unit, row.scale)} | {show(row.median(row.peer), row.unit, row.scale)} | "
            f"{show(row.worst(row.peer), row.unit, row.scale)} | "
            f"{'n/a' if ratio is None else f'{ratio:,.1f}x'} | {row.target[0] if row.target else ''} | "
            f"{'' if met is None else ('yes' if met else '**no**')} |")
    notes = [f"- {row.scenario}: {row.note}" for row in rows if row.note]
    if notes:
        lines += ["", "Notes:", ""] + notes
    return "\n".join(lines) + "\n"


def machine_info(binary):
    def out(command):
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=60).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"

    model = "?"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import dask
    import distributed

    try:
        import gmpy2

        gmp = f"gmpy2 {gmpy2.version()}, GMP {gmpy2.mp_version()}"
    except ImportError:
        gmp = "gmpy2 missing"
    with open("/proc/meminfo") as meminfo:
        memory = meminfo.readline().split()[1]
    return [
        ("CPUs (nproc)", f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable)"),
        ("CPU model", model),
        ("memory", f"{int(memory) // 1024} MiB"),
        ("kernel", platform.release()),
        ("swift", out(["swift", "--version"]).splitlines()[0] if shutil.which("swift") else "?"),
        ("fibd", out([binary, "--version"])),
        ("dask / distributed", f"{dask.__version__} / {distributed.__version__}"),
        ("python", platform.python_version()),
        ("big numbers", gmp),
        ("load generator", out(["wrk", "-v"]).splitlines()[0] if shutil.which("wrk") else "?"),
        ("load average (1, 5, 15 min) at the end", " ".join(f"{value:.2f}" for value in os.getloadavg())),
    ]


# ---------------------------------------------------------------------------------------------------------------
# fibd scenarios


def fibd_latency(binary, profile, row_p50, row_p99):
    floor_p50, floor_p99 = [], []
    with tempfile.TemporaryDirectory(prefix="fibd-bench-floor-") as scratch:
        hops = build_hops(scratch)
        with Fibd(binary, "--cache-size", "0") as daemon:
            for _ in range(profile.runs):
                result = run_wrk(daemon.port, "submit.lua", profile.wrk_seconds, 1, 1, {"BENCH_N_FIXED": "1"})
                row_p50.fibd.append(result["latency"][50])
                row_p99.fibd.append(result["latency"][99])
                if hops:  # between fibd's runs, so that the machine's mood falls on both alike
                    p50, p99 = run_hops(hops, profile.floor_round_trips)
                    floor_p50.append(p50)
                    floor_p99.append(p99)
    if not hops:
        row_p50.note = "the floor (bench/floor/hops.c) was not measured: no C compiler (clang or cc) found"
        return
    row_p50.note = (f"the floor under it on this machine, with no work at all: {statistics.median(floor_p50) * 1e6:.0f} "
                    "µs (median over runs, measured between fibd's by bench/floor/hops.c: one byte from a client "
                    "process over TCP loopback to a relay process, over a Unix socket to a worker process, and "
                    "back, each asleep in poll until its byte comes: fibd's hops without HTTP, JSON, the scheduler "
                    "or the store)")
    row_p99.note = f"the same floor's p99: {statistics.median(floor_p99) * 1e6:.0f} µs (median over runs)"


def build_hops(scratch):
    """Compiles bench/floor/hops.c into `scratch`; its path, or None without a C compiler."""
    compiler = shutil.which("clang") or shutil.which("cc")
    if compiler is None:
        return None
    binary = os.path.join(scratch, "hops")
    subprocess.run([compiler, "-O2", "-o", binary, os.path.join(HERE, "floor", "hops.c")], check=True, timeout=120)
    return binary


def run_hops(binary, round_trips):
    done = subprocess.run([binary, str(round_trips)], capture_output=True, text=True, check=True, timeout=120)
    figures = re.fullmatch(r"p50 ([\d.]+) p99 ([\d.]+)\n", done.stdout)
    if figures is None:
        raise RuntimeError(f"hops printed {done.stdout!r}")
    return float(figures.group(1)), float(figures.group(2))


def fibd_throughput(binary, profile, row_single, row_batch, row_spread):
    """The peer's task is fibonacci(1) submitted with pure=False, so fibd's is F(1) with "shared": false: each
    computed by a worker on its own, none coalesced with another nor answered from the cache (--cache-size 0)."""
    with Fibd(binary, "--cache-size", "0") as daemon:
        before = daemon.status()["tasks"]
        for _ in range(profile.runs):
            result = run_wrk(daemon.port, "submit.lua", profile.wrk_seconds, 2, 64, {"BENCH_N_FIXED": "1"})
            row_single.fibd.append(result["rate"])
        batch = 1000
        for _ in range(profile.runs):
            result = run_wrk(daemon.port, "batch.lua", profile.wrk_seconds, 4, 4,
                             {"BENCH_BATCH": str(batch), "BENCH_N_FIXED": "1"})
            row_batch.fibd.append(result["rate"] * batch)
        after = daemon.status()["tasks"]
        deduplicated = after["deduplicated"] - before["deduplicated"]
        if deduplicated and profile.checks:
            raise RuntimeError(f"{deduplicated} unshared tasks shared a computation")
        # The same batches with long results: n from 0 to 3,999, distinct among the batches in flight.
        for _ in range(profile.runs):
            result = run_wrk(daemon.port, "batch.lua", profile.wrk_seconds, 4, 4, {"BENCH_BATCH": str(batch)})
            row_spread.fibd.append(result["rate"] * batch)
    note = (f"fibd: {{\"n\": 1, \"shared\": false}}, the peer's fibonacci(1) with pure=False, computed by a "
            f"worker every time (--cache-size 0): {after['done'] - before['done']:,} tasks done, {deduplicated} "
            "shared a computation")
    row_single.note = note
    row_batch.note = note + "; wrk shares the 2 CPUs with fibd, the peer's client shares them with its scheduler"
    row_spread.note = ("fibd alone, on the same daemon after the batch row: 1,000 tasks a request, n from 0 to "
                       "3,999, so each result has 418 digits on average (F(1) has one), all of them in the answer")


def recursive_seconds(daemon, n):
    client = daemon.http(timeout=120)
    try:
        start = time.perf_counter()
        task = client.json("POST", "/api/v1/tasks?wait=60s", {"n": n, "algorithm": "recursive"}, expect=(200,))
        return time.perf_counter() - start, task
    finally:
        client.close()


def calibrate_recursive(daemon, seconds):
    """The n whose recursive task takes about `seconds` in fibd."""
    n = 30
    while n < 60:
        elapsed, _ = recursive_seconds(daemon, n)
        if elapsed >= seconds / 1.7:
            return n + 1 if elapsed < seconds / 1.3 else n
        n += 1
    return n


class FibdSpeedup:
    """fibd's side of the 8-task speed-up: a daemon with two workers and eight identical recursive tasks submitted
    with "shared": false, so that each is computed on its own as Dask's pure=False tasks are (shared, the eight
    would be one computation); its rounds run one at a time between the peer's (see dask_speedup), so that load
    from outside falls on both alike."""

    def __init__(self, binary, profile, row):
        self.row = row
        self.daemon = Fibd(binary, workers=2)
        try:
            n = calibrate_recursive(self.daemon, profile.cpu_task_seconds)
            self.task = {"n": n, "algorithm": "recursive", "shared": False}
            self.client = self.daemon.http(timeout=300)
        except BaseException:
            self.daemon.stop()
            raise
        row.note = (f"fibd: 8 x recursive n = {n} (about {profile.cpu_task_seconds} s each), \"shared\": false "
                    "so each is computed on its own; serial = one after another; fibd's rounds and Dask's take turns")

    def round(self):
        start = time.perf_counter()
        serial_tasks = [self.client.json("POST", "/api/v1/tasks?wait=60s", self.task, expect=(200,))
                        for _ in range(8)]
        serial = time.perf_counter() - start
        start = time.perf_counter()
        answer = self.client.json("POST", "/api/v1/tasks?wait=120s", [self.task] * 8, expect=(200,))
        parallel = time.perf_counter() - start
        for task in serial_tasks + answer["tasks"]:
            assert task["state"] == "done" and not task["cached"] and task["shared"] is False, task
        assert len({task["worker"] for task in answer["tasks"]}) == 2, "the eight ran on both workers"
        self.row.fibd.append(serial / parallel)

    def processes(self):
        """The daemon and its workers, to be stopped while the peer's rounds run."""
        return process_tree(self.daemon.pid)

    def close(self):
        self.client.close()
        self.daemon.stop()


def fibd_cancel(binary, profile, row):
    with Fibd(binary, "--cache-size", "0", workers=2) as daemon:
        client = daemon.http()
        try:
            for attempt in range(profile.cancel_runs):
                daemon.wait_idle(2)
                task = client.json("POST", "/api/v1/tasks", {"n": 80, "algorithm": "recursive", "timeout": 60})
                deadline = time.monotonic() + 5
                while task["state"] != "running" and time.monotonic() < deadline:
                    task = client.json("GET", f"/api/v1/tasks/{task['id']}")
                pid = task["worker"]
                busy = cpu_nanos(pid)
                time.sleep(0.05)  # it is computing: its CPU time grows
                assert cpu_nanos(pid) > busy
                start = time.perf_counter()
                cancelled = client.json("DELETE", f"/api/v1/tasks/{task['id']}")
                freed = wait_cpu_quiet(pid, time.perf_counter() + 5, window=0.001, busy_below=0.0002)
                assert cancelled["state"] == "cancelled"
                row.fibd.append(freed - start if freed else 5.0)
        finally:
            client.close()


def events_after(client, cursor, wait):
    return client.json("GET", f"/api/v1/events?after={cursor}&wait={wait}s")


def fibd_kill(binary, profile, row_again, row_ready):
    with Fibd(binary, "--cache-size", "0", workers=2) as daemon:
        client = daemon.http()
        feed = daemon.http()
        try:
            for _ in range(profile.kill_runs):
                daemon.wait_idle(2)
                task = client.json("POST", "/api/v1/tasks", {"n": 80, "algorithm": "recursive", "timeout": 60})
                deadline = time.monotonic() + 5
                while task["state"] != "running" and time.monotonic() < deadline:
                    task = client.json("GET", f"/api/v1/tasks/{task['id']}")
                pid = task["worker"]
                time.sleep(0.2)  # busy for a while, as a worker someone kills is (Dask's is too, see busy_worker)
                cursor = feed.json("GET", "/api/v1/events")["next"]
                start = time.perf_counter()
                os.kill(pid, signal.SIGKILL)
                again = ready = None
                deadline = time.perf_counter() + 5
                while (again is None or ready is None) and time.perf_counter() < deadline:
                    answer = events_after(feed, cursor, 2)
                    seen = time.perf_counter()
                    cursor = answer["next"]
                    for event in answer["events"]:
                        if (event["type"] == "task.started" and event.get("task") == task["id"]
                                and event.get("worker") != pid and again is None):
                            again = seen - start
                        if event["type"] == "worker.ready" and event.get("worker") != pid and ready is None:
                            ready = seen - start
                row_again.fibd.append(again if again is not None else 5.0)
                row_ready.fibd.append(ready if ready is not None else 5.0)
                client.json("DELETE", f"/api/v1/tasks/{task['id']}")
        finally:
            client.close()
            feed.close()


def fibd_memory(binary, profile, row, row_pss):
    for _ in range(profile.runs):
        with Fibd(binary) as daemon:
            time.sleep(1.0)  # let start-up garbage settle
            row.fibd.append(tree_rss(daemon.pid))
            row_pss.fibd.append(tree_pss(daemon.pid))
    row.note = ("the sum of each process's RSS counts the pages of the binary that the daemon and its workers share "
                "once per process (a worker maps about 9 MB of fibd's text, nearly all shared); the PSS row counts "
                "each shared page once")


def first_answer(port, deadline):
    """Connects until it can, then GET /api/v1/fib/1; returns the time of the answer."""
    while time.perf_counter() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=max(0.1, deadline - time.perf_counter()))
            connection.request("GET", "/api/v1/fib/1")
            response = connection.getresponse()
            body = response.read()
            connection.close()
            if response.status == 200 and json.loads(body)["result"] == "1":
                return time.perf_counter()
        except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
            time.sleep(0.0005)
    return None


def fibd_cold_start(binary, profile, row_plain, row_activated):
    for _ in range(profile.cold_runs):
        port = free_port()
        state_dir = tempfile.mkdtemp(prefix="fibd-bench-")
        start = time.perf_counter()
        process = subprocess.Popen(
            [binary, "--listen", f"127.0.0.1:{port}", "--state-dir", state_dir, "--log-level", "warning"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            answered = first_answer(port, start + 10)
            row_plain.fibd.append(answered - start if answered else 10.0)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            shutil.rmtree(state_dir, ignore_errors=True)
    activate = shutil.which("systemd-socket-activate")
    if not activate:
        row_activated.note = "systemd-socket-activate is not installed: skipped"
        return
    for _ in range(profile.cold_runs):
        port = free_port()
        state_dir = tempfile.mkdtemp(prefix="fibd-bench-")
        process = subprocess.Popen(
            [activate, "-l", f"127.0.0.1:{port}", binary, "--state-dir", state_dir, "--log-level", "warning"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            # The activator binds at once; our first connection is what starts fibd.
            bound_deadline = time.perf_counter() + 5
            while time.perf_counter() < bound_deadline and not port_bound(port):
                time.sleep(0.001)
            start = time.perf_counter()
            answered = first_answer(port, start + 10)
            row_activated.fibd.append(answered - start if answered else 10.0)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            shutil.rmtree(state_dir, ignore_errors=True)
    row_activated.note = ("systemd-socket-activate holds the listening socket; the first connection starts fibd, "
                          "which answers it on the inherited socket")


def port_bound(port):
    """True once something listens on 127.0.0.1:port (read from /proc/net/tcp, without connecting)."""
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                return True
    return False


def fibd_big(binary, profile, row):
    """F(big_n) over HTTP from fibd, and gmpy2's fib + str in this process, run for run in turn, so that a
    neighbour's burst on this shared machine weighs on both sides of the ratio alike."""
    import gmpy2

    with Fibd(binary, "--cache-size", "0") as daemon:
        client = daemon.http(timeout=120)
        try:
            for _ in range(profile.big_runs):
                start = time.perf_counter()
                status, _, body = client.request("GET", f"/api/v1/fib/{profile.big_n}", headers={"Accept": "text/plain"})
                elapsed = time.perf_counter() - start
                if status != 200:
                    raise RuntimeError(f"/fib/{profile.big_n}: {status} {body[:200]!r}")
                if profile.big_n == 10_000_000 and len(body.strip()) != F_1E7_DIGITS:
                    raise RuntimeError(f"F(10^7) has {len(body.strip())} digits, not {F_1E7_DIGITS}")
                row.fibd.append(elapsed)
                start = time.perf_counter()
                text = str(gmpy2.fib(profile.big_n))
                row.peer.append(time.perf_counter() - start)
        finally:
            client.close()
    if text.encode() != body.strip():
        raise RuntimeError("fibd's F(n) differs from gmpy2's")


async def hold_long_polls(port, task_ids, row_growth, row_wakeup, daemon, profile):
    """Opens one connection per task and long-polls it; then cancels held tasks one at a time and times how long
    each held long-poll takes to answer."""
    request = "GET /api/v1/tasks/{}?wait=60s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    connections = {}

    async def open_one(task_id):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request.format(task_id).encode())
        await writer.drain()
        connections[task_id] = (reader, writer)

    base_rss = rss_bytes(daemon.pid)
    for chunk in range(0, len(task_ids), 500):
        await asyncio.wait_for(asyncio.gather(*(open_one(t) for t in task_ids[chunk:chunk + 500])), 30)
    # Every long-poll is held once the daemon counts them all (bounded: 30 s).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = await asyncio.to_thread(daemon.status)
        if status["tasks"]["queued"] >= len(task_ids):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    row_growth.fibd.append(rss_bytes(daemon.pid) - base_rss)

    cancel_reader, cancel_writer = await asyncio.open_connection("127.0.0.1", port)
    step = max(1, len(task_ids) // profile.wakeups)
    for task_id in task_ids[::step][:profile.wakeups]:
        reader, writer = connections[task_id]
        start = time.perf_counter()
        cancel_writer.write(f"DELETE /api/v1/tasks/{task_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await cancel_writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        woke = time.perf_counter()
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"long-poll answered {head[:100]!r}")
        row_wakeup.fibd.append(woke - start)
        await read_response(cancel_reader)
    cancel_writer.close()
    for reader, writer in connections.values():
        writer.close()


async def read_response(reader):
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    await asyncio.wait_for(reader.readexactly(length), 10)
    return head


def fibd_long_polls(binary, profile, row_growth, row_wakeup):
    limit = raise_fd_limit()
    count = min(profile.long_polls, limit - 200)
    if count < profile.long_polls:
        row_growth.note = f"only {count} long-polls: the fd limit here is {limit}"
    with Fibd(binary, "--cache-size", "0", workers=2) as daemon:
        client = daemon.http(timeout=60)
        try:
            # Two long recursive tasks keep both workers busy, so the tasks below stay queued and their
            # long-polls stay held.
            blockers = [client.json("POST", "/api/v1/tasks", {"n": 90 - i, "algorithm": "recursive", "timeout": 300})
                        for i in range(2)]
            task_ids = []
            for base in range(0, count, 1000):
                batch = [{"n": base + i} for i in range(min(1000, count - base))]
                task_ids += [t["id"] for t in client.json("POST", "/api/v1/tasks", batch)["tasks"]]
            asyncio.run(hold_long_polls(daemon.port, task_ids, row_growth, row_wakeup, daemon, profile))
            for blocker in blockers:
                client.json("DELETE", f"/api/v1/tasks/{blocker['id']}")
        finally:
            client.close()
    row_wakeup.note = (f"{count:,} long-polls held on queued tasks (GET /api/v1/tasks/ID?wait=60s, one connection "
                       "each); wake-up = from sending DELETE of a held task to its long-poll's answer")


def fetch_page_weight(port, paths, prefix=""):
    """Bytes on the wire (asking for gzip) of the pages and everything they load from the same server."""
    seen, total, per_page = set(), 0, {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(path):
        connection.request("GET", path, headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        body = response.read()
        encoding = response.getheader("Content-Encoding", "")
        text = gzip.decompress(body) if encoding == "gzip" else body
        return response.status, len(body), text, response.getheader("Content-Type", "")

    def references(base, text):
        """Same-server files a page, script or style loads: src/href, ES module imports, CSS url()."""
        found = re.findall(rb"""(?:src|href)=["']([^"'#]+)["']""", text)
        found += re.findall(rb"""(?:\bfrom|\bimport)\s*\(?\s*["']([^"']+\.m?js)["']""", text)
        found += re.findall(rb"""url\(\s*["']?([^"')]+)["']?\s*\)""", text)
        for reference in found:
            url = reference.decode(errors="replace")
            if url.startswith(("http://", "https://", "//", "data:", "mailto:", "javascript:")):
                continue
            yield urllib.parse.urljoin(base, url)

    for path in paths:
        status, size, text, _ = get(path)
        if status != 200:
            return None, path
        page_total = size
        if path not in seen:
            seen.add(path)
            total += size
        loaded, todo = {path}, list(references(prefix + path, text))
        while todo and len(loaded) < 500:
            url = todo.pop()
            if url in loaded or not re.search(r"\.(m?js|css|svg|ico|png|woff2?)$|/static", urllib.parse.urlparse(url).path):
                continue
            loaded.add(url)
            status, size, body, _ = get(url)
            if status != 200:
                continue
            page_total += size
            if url not in seen:
                seen.add(url)
                total += size
            todo.extend(references(url, body))
        per_page[path] = page_total
    connection.close()
    return total, per_page


def fibd_page_weight(binary, row):
    with Fibd(binary) as daemon:
        status, _, _ = (lambda c: (c.request("GET", "/"), c.close())[0])(daemon.http())
        if status != 200:
            row.note = "the pages are not served yet (GET / is not 200): skipped"
            return
        total, per_page = fetch_page_weight(daemon.port, ["/", "/status"] + [f"/status/{v}" for v in STATUS_VIEWS])
        if total is None:
            row.note = f"{per_page} is not served: skipped"
            return
        row.fibd.append(total)
        heaviest = max(per_page.values())
        row.note = (f"fibd: all {len(per_page)} pages (/, /status, /status/<view>) with every script and style they "
                    f"load, once each, as served with Accept-Encoding: gzip; the heaviest page alone "
                    f"{heaviest / 1024:.1f} KB")


# ---------------------------------------------------------------------------------------------------------------
# The Dask peer (one LocalCluster in a process of its own, see peer_dask.py serve; the async client in this one)


@contextlib.asynccontextmanager
async def dask_cluster_process():
    """The peer's LocalCluster, served by `peer_dask.py serve` in a new session: yields (pid, scheduler address,
    dashboard link); closing its standard input ends it, and its process group is killed if it does not end."""
    process = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "peer_dask.py"), "serve"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)

    def read_addresses():
        found = {}
        while len(found) < 2:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("the Dask peer ended before it served")
            key, _, value = line.strip().partition(" ")
            found[key] = value
        return found

    try:
        try:
            found = await asyncio.wait_for(asyncio.to_thread(read_addresses), 120)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)  # ends the read too: its pipe closes
            raise RuntimeError("the Dask peer did not start its cluster in 120 s") from None
        yield process.pid, found["scheduler"], found.get("dashboard", "")
    finally:
        process.stdin.close()
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait, 10)


async def dask_scenarios(profile, rows, only, binary):
    from dask.distributed import Client

    async with dask_cluster_process() as (cluster_pid, scheduler_address, dashboard_link):
        async with Client(scheduler_address, asynchronous=True) as client:
            await client.submit(fibonacci, 1, pure=False)  # warm
            if "latency" in only:
                await dask_latency(client, profile, rows["latency_p50"], rows["latency_p99"])
            if "throughput" in only:
                await dask_throughput(client, profile, rows["throughput"], rows["batch"])
            if "speedup" in only:
                log("fibd and Dask, in turn: speedup")
                fibd_side = await asyncio.to_thread(FibdSpeedup, binary, profile, rows["speedup"])
                try:
                    await dask_speedup(client, profile, rows["speedup"], fibd_side, cluster_pid)
                finally:
                    await asyncio.to_thread(fibd_side.close)
            if "cancel" in only:
                await dask_cancel(client, profile, rows["cancel"])
            if "pages" in only:
                await dask_page_weight(dashboard_link, rows["pages"])
            if "kill" in only:
                await dask_kill(client, profile, rows["kill_again"], rows["kill_ready"])


async def dask_latency(client, profile, row_p50, row_p99):
    for _ in range(profile.runs):
        samples = []
        deadline = time.perf_counter() + 60
        for _ in range(profile.sequential_count):
            start = time.perf_counter()
            assert await client.submit(fibonacci, 1, pure=False) == 1
            samples.append(time.perf_counter() - start)
            if time.perf_counter() > deadline:
                break
        row_p50.peer.append(percentile(samples, 0.5))
        row_p99.peer.append(percentile(samples, 0.99))


async def dask_throughput(client, profile, row_single, row_batch):
    async def submitter(deadline, counts):
        while time.perf_counter() < deadline:
            await client.submit(fibonacci, 1, pure=False)
            counts[0] += 1

    for _ in range(profile.runs):
        counts = [0]
        start = time.perf_counter()
        deadline = start + profile.peer_seconds
        await asyncio.wait_for(asyncio.gather(*(submitter(deadline, counts) for _ in range(64))), 120)
        row_single.peer.append(counts[0] / (time.perf_counter() - start))
    for _ in range(profile.runs):
        done = 0
        start = time.perf_counter()
        deadline = start + profile.peer_seconds
        while time.perf_counter() < deadline:
            futures = client.map(fibonacci, [1] * 1000, pure=False)
            results = await asyncio.wait_for(client.gather(futures), 120)
            done += len(results)
        row_batch.peer.append(done / (time.perf_counter() - start))


def python_n_for(seconds):
    n = 18
    while n < 40:
        start = time.perf_counter()
        fibonacci(n)
        if time.perf_counter() - start >= seconds / 1.7:
            return n + 1 if time.perf_counter() - start < seconds / 1.3 else n
        n += 1
    return n


async def dask_speedup(client, profile, row, fibd_side, cluster_pid):
    """The rounds take turns, and each side's run with the other side's processes stopped. Idle, Dask still spends
    CPU: each worker process a percent or two (heartbeats, its event loop), the scheduler and nannies 3.5% of a CPU
    (periodic callbacks: work stealing, memory monitors), and in the parallel half of fibd's round that came out of
    fibd's two busy workers. So fibd's rounds run with every process of the cluster stopped; only the client, in this
    process, stays (it waits on its connection to the scheduler)."""
    n = python_n_for(profile.cpu_task_seconds)
    for _ in range(profile.speedup_runs):
        with stopped(process_tree(cluster_pid)):
            await asyncio.to_thread(fibd_side.round)
        with stopped(fibd_side.processes()):
            start = time.perf_counter()
            for _ in range(8):
                await client.submit(fibonacci, n, pure=False)
            serial = time.perf_counter() - start
            start = time.perf_counter()
            await client.gather([client.submit(fibonacci, n, pure=False) for _ in range(8)])
            row.peer.append(serial / (time.perf_counter() - start))
    row.note += (f"; Dask: 8 x fibonacci({n}) in Python (pure=False, so none is shared); each side's rounds ran "
                 "with the other side's processes stopped (SIGSTOP)")


async def dask_worker_pids(client):
    import os as remote_os

    return await client.run(remote_os.getpid)


async def busy_worker(pids, deadline):
    """The worker pid whose CPU time grows fastest (the one running our task), over 50 ms windows."""
    last = {address: cpu_nanos(pid) for address, pid in pids.items()}
    while time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
        now = {address: cpu_nanos(pid) for address, pid in pids.items()}
        grown = {a: now[a] - last[a] for a in pids if now[a] is not None and last[a] is not None}
        if grown:
            ranked = sorted(grown.values(), reverse=True) + [0]
            address = max(grown, key=grown.get)
            # Well above its own housekeeping (heartbeats) and the other workers' (a busy machine slows it).
            if ranked[0] > 5e6 and ranked[0] > 3 * ranked[1]:
                return address, pids[address]
        last = now
    raise RuntimeError("no Dask worker became busy")


async def dask_cancel(client, profile, row):
    n = python_n_for(2.0 if profile.name != "smoke" else 1.0)
    for _ in range(profile.cancel_runs):
        pids = await dask_worker_pids(client)
        future = client.submit(fibonacci, n, pure=False)
        _, pid = await busy_worker(pids, time.perf_counter() + 10)
        start = time.perf_counter()
        await client.cancel(future)
        freed = await asyncio.to_thread(wait_cpu_quiet, pid, time.perf_counter() + 60)
        row.peer.append(freed - start if freed else 60.0)
    row.note = (f"Dask: client.cancel does not stop a running task: fibonacci({n}) kept its worker's "
                "CPU busy to its end; fibd: DELETE, then /proc/PID shows the worker dead (no more CPU time)")


async def dask_kill(client, profile, row_again, row_ready):
    n = python_n_for(3.0 if profile.name != "smoke" else 1.0)
    for _ in range(profile.kill_runs):
        pids = await dask_worker_pids(client)
        if len(pids) < 2:
            raise RuntimeError("the Dask peer needs two workers")
        future = client.submit(fibonacci, n, pure=False)
        address, pid = await busy_worker(pids, time.perf_counter() + 10)
        others = {a: p for a, p in pids.items() if a != address}
        base = {a: cpu_nanos(p) for a, p in others.items()}
        start = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        again = ready = None
        deadline = start + 20
        while (again is None or ready is None) and time.perf_counter() < deadline:
            if again is None:
                for a, p in others.items():
                    now = cpu_nanos(p)
                    if now is not None and base[a] is not None and now - base[a] > 5e6:
                        again = time.perf_counter() - start  # another worker computes now
            if ready is None:
                workers = (await client.scheduler.identity())["workers"]
                if any(a not in pids for a in workers) and len(workers) >= len(pids):
                    ready = time.perf_counter() - start
            await asyncio.sleep(0.001)
        row_again.peer.append(again if again is not None else 20.0)
        row_ready.peer.append(ready if ready is not None else 20.0)
        await client.cancel(future)
        await asyncio.to_thread(wait_cpu_quiet, list(others.values())[0], time.perf_counter() + 30)
    row_again.note = ("fibd: from kill -9 to the task.started event of the new attempt, read by an events long-poll; "
                      "Dask: to another worker's CPU time growing (/proc/PID/schedstat)")
    row_ready.note = ("fibd: to the worker.ready event of the replacement; Dask: to the new worker's address in the "
                      "scheduler's identity (the nanny restarts it)")


async def dask_page_weight(link, row):
    if not link:
        row.note += " Dask's dashboard is not up (bokeh missing): not measured."
        return
    parsed = urllib.parse.urlparse(link)
    total, per_page = await asyncio.to_thread(
        fetch_page_weight, parsed.port, [parsed.path, "/individual-task-stream", "/individual-progress"])
    if total is None:
        row.note += f" Dask: {per_page} not served."
        return
    row.peer.append(max(per_page.values()))
    row.note += (f"; Dask: the heaviest of /status and two /individual-* plots with what it loads "
                 f"({', '.join(f'{p} {s / 1e6:.2f} MB' for p, s in per_page.items())})")


def dask_cold_start_and_memory(profile, row_cold, row_memory, row_pss):
    for _ in range(profile.cold_runs):
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "peer_dask.py"), "cold-start"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        try:
            answered = None
            deadline = time.monotonic() + 60
            for line in process.stdout:
                if line.startswith("answered"):
                    answered = time.perf_counter()
                if line.startswith("idle") or time.monotonic() > deadline:
                    break
            if answered is None:
                raise RuntimeError("the Dask peer did not answer its first task")
            row_cold.peer.append(answered - start)
            time.sleep(1.0)
            row_memory.peer.append(tree_rss(process.pid))
            row_pss.peer.append(tree_pss(process.pid))
        finally:
            process.stdin.close()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
    row_memory.note += "; Dask: the process that runs the LocalCluster (scheduler, dashboard, client) plus its nannies and workers"


# ---------------------------------------------------------------------------------------------------------------
# Reference big numbers


def cpython_fib(n):
    """Fast doubling on CPython's own integers."""
    a, b = 0, 1
    for bit in bin(n)[2:]:
        c = a * (2 * b - a)
        d = a * a + b * b
        a, b = (d, c + d) if bit == "1" else (c, d)
    return a


def cpython_big(profile, row):
    sys.set_int_max_str_digits(0)
    start = time.perf_counter()
    value = cpython_fib(profile.big_n)
    computed = time.perf_counter() - start
    text = str(value)
    row.peer.append(time.perf_counter() - start)
    row.note = f"CPython {platform.python_version()}: {computed:.2f} s to compute, the rest to print {len(text):,} digits"


# ---------------------------------------------------------------------------------------------------------------


def make_rows(profile):
    us, ms, s = "µs", "ms", "s"

    def below(limit):
        return lambda fibd, peer, worst: fibd < limit

    def ratio_at_least(factor, higher=True):
        return lambda fibd, peer, worst: peer is not None and (fibd / peer if higher else peer / fibd) >= factor

    rows = [
        Row("latency_p50", "one task F(1), submit and await, sequential: p50", us, "lower",
            ("p50 < 100 µs and 50x", lambda f, p, w: f < 100e-6 and p is not None and p / f >= 50), scale=1e6),
        Row("latency_p99", "one task F(1), submit and await, sequential: p99", us, "lower",
            ("p99 < 500 µs", below(500e-6)), scale=1e6),
        Row("throughput", "trivial tasks/s, one submit per request, 64 clients", "/s", "higher",
            ("20x the peer", ratio_at_least(20))),
        Row("batch", "trivial tasks/s, batch submit (1,000 a request)", "/s", "higher",
            ("100x the peer", ratio_at_least(100))),
        Row("batch_spread", "tasks/s, batch submit (1,000 a request), F(0) to F(3,999): long results", "/s",
            "higher", None),
        Row("speedup", "8 CPU-bound recursive tasks on 2 workers: speed-up over serial", "x", "higher",
            ("1.95 or more", lambda f, p, w: f >= 1.95)),
        Row("cancel", "cancel a running task: time until its CPU is free", ms, "lower",
            ("under 10 ms", below(10e-3)), scale=1e3),
        Row("kill_again", "kill -9 of a busy worker: time until its task runs again", ms, "lower",
            ("under 20 ms", below(20e-3)), scale=1e3),
        Row("kill_ready", "kill -9 of a busy worker: time until a replacement is ready", ms, "lower",
            ("under 50 ms", below(50e-3)), scale=1e3),
        Row("memory", "memory, idle, daemon plus all workers (RSS)", "MB", "lower",
            ("under 30 MB", below(30e6)), scale=1e-6),
        Row("memory_pss", "memory, idle, daemon plus all workers (PSS: shared pages once)", "MB", "lower",
            ("under 30 MB", below(30e6)), scale=1e-6),
        Row("cold", "cold start to the first task answered", ms, "lower", ("under 50 ms", below(50e-3)), scale=1e3),
        Row("cold_activated", "cold start, socket-activated (systemd-socket-activate)", ms, "lower",
            ("under 50 ms", below(50e-3)), scale=1e3),
        Row("big", f"F({profile.big_n:,}) exact, all digits over HTTP (peer: gmpy2 fib + str)", s, "lower",
            ("within 1.2x of gmpy2", lambda f, p, w: p is not None and f <= 1.2 * p), scale=1.0),
        Row("big_cpython", f"F({profile.big_n:,}), peer: CPython ints, compute + str", s, "lower", None),
        Row("poll_growth", f"{profile.long_polls:,} long-polls held: daemon RSS growth", "MB", "lower",
            ("under 50 MB", below(50e6)), scale=1e-6),
        Row("poll_wakeup", f"{profile.long_polls:,} long-polls held: wake-up of one", ms, "lower",
            ("p99 under 5 ms", lambda f, p, w: w < 5e-3), scale=1e3),
        Row("pages", "page weight of the status views (gzip, all pages)", "KB", "lower",
            ("under 100 KB for all pages", below(100 * 1024)), scale=1 / 1024),
    ]
    return {row.key: row for row in rows}


SCENARIOS = ["latency", "throughput", "speedup", "cancel", "kill", "memory", "cold", "big", "polls", "pages"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run (under two minutes)")
    parser.add_argument("--smoke", action="store_true", help="one iteration of each scenario, no figures checked")
    parser.add_argument("--fibd", default=os.path.join(HERE, "..", ".build", "release", "fibd"))
    parser.add_argument("--out", default=None, help="write the table here (default: bench/RESULTS.md, or RESULTS-quick.md with --quick; none for --smoke)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated: " + ",".join(SCENARIOS))
    args = parser.parse_args()
    profile = Profile("smoke" if args.smoke else ("quick" if args.quick else "full"))
    only = set(args.only.split(","))
    binary = os.path.abspath(args.fibd)
    if not os.access(binary, os.X_OK):
        sys.exit(f"no fibd binary at {binary}")
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (make bench installs it)")
    raise_fd_limit()
    started = time.time()
    load_at_start = " ".join(f"{value:.2f}" for value in os.getloadavg())
    rows = make_rows(profile)
    steps = [
        ("latency", lambda: fibd_latency(binary, profile, rows["latency_p50"], rows["latency_p99"])),
        ("throughput", lambda: fibd_throughput(binary, profile, rows["throughput"], rows["batch"], rows["batch_spread"])),
        ("cancel", lambda: fibd_cancel(binary, profile, rows["cancel"])),
        ("kill", lambda: fibd_kill(binary, profile, rows["kill_again"], rows["kill_ready"])),
        ("memory", lambda: fibd_memory(binary, profile, rows["memory"], rows["memory_pss"])),
        ("cold", lambda: fibd_cold_start(binary, profile, rows["cold"], rows["cold_activated"])),
        ("polls", lambda: fibd_long_polls(binary, profile, rows["poll_growth"], rows["poll_wakeup"])),
        ("pages", lambda: fibd_page_weight(binary, rows["pages"])),
    ]
    for name, step in steps:
        if name in only:
            log(f"fibd: {name}")
            step()
    if "big" in only:
        log("fibd and gmpy2, in turn: big")
        fibd_big(binary, profile, rows["big"])
        if profile.cpython_big:
            log("CPython: big")
            cpython_big(profile, rows["big_cpython"])
        else:
            rows["big_cpython"].note = "skipped in a short run (CPython's str() of 2 million digits is quadratic)"
    dask_only = only & {"latency", "throughput", "speedup", "cancel", "kill", "pages"}
    if dask_only:
        log(f"Dask: {', '.join(sorted(dask_only))}")
        asyncio.run(dask_scenarios(profile, rows, dask_only, binary))
    if only & {"cold", "memory"}:
        log("Dask: cold start and memory")
        dask_cold_start_and_memory(profile, rows["cold"], rows["memory"], rows["memory_pss"])
    rows["poll_growth"].peer = rows["poll_wakeup"].peer = []
    machine = machine_info(binary) + [("load average (1, 5, 15 min) at the start", load_at_start)]
    table = render(list(rows.values()), machine, profile, started, time.time() - started)
    print(table)
    if not args.smoke:
        # RESULTS.md is the latest full run: a quick run does not replace it.
        out = args.out or os.path.join(HERE, "RESULTS-quick.md" if args.quick else "RESULTS.md")
        with open(out, "w") as results:
            results.write(table)
        log(f"wrote {out}")
    missed = [row.scenario for row in rows.values() if row.met() is False]
    if profile.checks and missed:
        log("missed targets: " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
