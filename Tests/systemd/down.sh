#!/bin/bash
# Halts the container cleanly (SIGTERM to nspawn is an orderly shutdown of its systemd; SIGKILL
# after 30 s), then removes the cgroups up.sh made.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
if nspawn=$(fibd_nspawn_pid); then
    kill -TERM "$nspawn"
    for _ in $(seq 300); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$nspawn" 2>/dev/null; then
        echo "down.sh: nspawn $nspawn still running after 30 s; killing it" >&2
        kill -KILL "$nspawn"
        for _ in $(seq 50); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.1; done
    fi
fi
rm -f "$FIBD_SDSTATE/nspawn.pid"
fibd_cgroup_remove
exit 0
