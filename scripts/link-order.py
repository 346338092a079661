#!/usr/bin/env python3
"""Writes scripts/fibd-link-order.txt: the functions a `fibd worker` runs to its first read, then those the
daemon runs to its listening socket, in the order first run, for lld's --symbol-ordering-file (Package.swift).

Why: a process maps the pages of code it runs, and the kernel maps 64 KB (or a whole large folio) around each
fault, so code run at start that is spread over 8 MB of .text keeps megabytes of the binary mapped in every
process. Packed together, the idle daemon's RSS went from 16.1 to 14.4 MB. The worker did not gain reliably:
much of what it runs is in the Swift stdlib's one 1.6 MB text section (libswiftCore is not built with a
section per function), which lld can only move as a whole.

    python3 scripts/link-order.py .build/release/fibd     # needs valgrind
    rm .build/release/fibd && make release                # SwiftPM does not relink for a changed list

The order is callgrind's (functions of the worker, then of the daemon), not the order they first ran.
Functions that are not in the list (renamed, new) are laid out as before: a stale list costs memory, never
correctness. Regenerate it after large changes to the worker's or the daemon's start.
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fibd-link-order.txt")
DEADLINE_SECONDS = 120


def functions_run(callgrind_out, object_name):
    """Functions of `object_name` in a callgrind profile, in the order they first appear."""
    objects, functions, order, seen = {}, {}, [], set()
    current_object = called_object = None

    def resolve(table, spec):
        match = re.match(r"\((\d+)\)(?: (.*))?", spec)
        if match is None:
            return spec
        if match.group(2) is not None:
            table[match.group(1)] = match.group(2)
        return table.get(match.group(1))

    with open(callgrind_out) as profile:
        for line in profile:
            line = line.rstrip("\n")
            name, owner = None, None
            if line.startswith("ob="):
                current_object = resolve(objects, line[3:])
            elif line.startswith("cob="):
                called_object = resolve(objects, line[4:])
            elif line.startswith("fn="):
                name, owner = resolve(functions, line[3:]), current_object
            elif line.startswith("cfn="):
                name, owner = resolve(functions, line[4:]), called_object or current_object
                called_object = None
            if name and owner and owner.endswith(object_name):
                name = re.sub(r"'\d+$", "", name)  # callgrind's mark for a second context of one function
                # "(below main)" and the addresses of code without a symbol cannot be ordered.
                if not name.startswith(("(", "0x")) and name not in seen:
                    seen.add(name)
                    order.append(name)
    return order


def profile_worker(binary, directory):
    """`fibd worker` until it has said hello and waits for a job, then the daemon closes its channel."""
    out = os.path.join(directory, "worker.callgrind")
    parent, child = socket.socketpair()
    process = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}", binary, "worker"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        # Not close_fds: it would run after preexec_fn and close fd 3 again.
        close_fds=False, preexec_fn=lambda: os.dup2(child.fileno(), 3))
    child.close()
    parent.settimeout(DEADLINE_SECONDS)
    if not parent.recv(64):
        raise RuntimeError("fibd worker under valgrind did not say hello")
    time.sleep(1.0)  # the worker is blocked in its read of the next job
    parent.close()
    process.wait(timeout=DEADLINE_SECONDS)
    return out


def profile_daemon(binary, directory):
    """The daemon from its start to its listening socket (its workers cannot run under valgrind's loader)."""
    out = os.path.join(directory, "daemon.callgrind")
    state = os.path.join(directory, "state")
    os.mkdir(state)
    process = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}", binary,
         "--listen", "127.0.0.1:0", "--state-dir", state, "--log-level", "info"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], max(0.0, deadline - time.monotonic()))
        line = process.stderr.readline() if ready else ""
        if "listening on" in line:
            break
        if not line and process.poll() is not None:
            raise RuntimeError("fibd under valgrind exited before it listened")
    time.sleep(2.0)  # its idle housekeeping
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=DEADLINE_SECONDS)
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if shutil.which("valgrind") is None:
        sys.exit("link-order: needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="fibd-link-order-") as directory:
        # valgrind 3.19 cannot read the DWARF 5 that swiftc writes: profile a copy without it.
        binary = os.path.join(directory, "fibd")
        subprocess.run(["objcopy", "--strip-debug", sys.argv[1], binary], check=True)
        order = []
        for profile in (profile_worker(binary, directory), profile_daemon(binary, directory)):
            order += [name for name in functions_run(profile, "/fibd") if name not in order]
    with open(OUTPUT, "w") as output:
        output.write("# fibd's hot start-up functions first in .text: written by scripts/link-order.py, read by lld\n")
        output.write("# (--symbol-ordering-file in Package.swift); the worker's first, then the daemon's.\n")
        output.write("\n".join(order) + "\n")
    print(f"link-order: {len(order)} functions in {OUTPUT}")


if __name__ == "__main__":
    main()
