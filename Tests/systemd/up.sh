#!/bin/bash
# Boots the test root file system with systemd as PID 1, in the background, and waits until
# `systemctl is-system-running` says running or degraded. Changes to / are thrown away at
# shutdown (--volatile=overlay). Arguments go to systemd-nspawn (e.g. --bind-ro=DIR:/mnt/fibd).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

[ -x "$FIBD_SDROOT/usr/lib/systemd/systemd" ] || { echo "up.sh: no root file system; run rootfs.sh" >&2; exit 1; }
if pid=$(fibd_nspawn_pid); then echo "up.sh: already running (nspawn pid $pid)" >&2; exit 1; fi
mkdir -p "$FIBD_SDSTATE"

args=(-b -D "$FIBD_SDROOT" -M "$FIBD_SDNAME"
    --register=no --keep-unit   # no systemd, machined or D-Bus on the host to register with
    --console=read-only         # the container's console goes to boot.log
    --link-journal=no
    --private-network           # loopback only
    --volatile=overlay)
args+=("$@")

fibd_cgroup_create
(
    fibd_cgroup_enter "$BASHPID"
    exec setsid systemd-nspawn "${args[@]}"
) </dev/null >"$FIBD_SDSTATE/boot.log" 2>&1 &
nspawn=$!
echo "$nspawn" >"$FIBD_SDSTATE/nspawn.pid"

deadline=$(($(date +%s) + ${BOOT_TIMEOUT:-60}))
state=
while :; do
    if ! kill -0 "$nspawn" 2>/dev/null; then
        echo "up.sh: systemd-nspawn exited during boot:" >&2
        cat "$FIBD_SDSTATE/boot.log" >&2
        exit 1
    fi
    if leader=$(fibd_leader_pid); then
        state=$(timeout 10 nsenter -t "$leader" -a -- /usr/bin/env -i PATH="$FIBD_SD_PATH" \
            systemctl is-system-running --wait 2>/dev/null || true)
        case "$state" in running | degraded) break ;; esac
    fi
    [ "$(date +%s)" -lt "$deadline" ] || { echo "up.sh: boot timed out (state: $state)" >&2; exit 1; }
    sleep 0.1
done
echo "up.sh: container $FIBD_SDNAME is $state (nspawn pid $nspawn, systemd pid $leader on the host)"
