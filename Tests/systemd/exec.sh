#!/bin/bash
# Runs a command inside the running container (all its namespaces, a clean environment);
# standard input, output and the exit status pass through.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
leader=$(fibd_leader_pid) || { echo "exec.sh: container $FIBD_SDNAME is not running" >&2; exit 125; }
exec nsenter -t "$leader" -a -- /usr/bin/env -i PATH="$FIBD_SD_PATH" LANG=C.UTF-8 TERM=dumb \
    SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
