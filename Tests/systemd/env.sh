# Settings of fibd's systemd test harness: a Debian bookworm root file system booted with
# systemd-nspawn so that a real systemd is PID 1. Source this file.
# The root file system is built once and reused (it lives under /var/tmp, never in the work tree);
# the container boots it with --volatile=overlay, so a test run leaves it as it found it.
FIBD_SDROOT=${FIBD_SDROOT:-/var/tmp/fibd-systemd-rootfs}
FIBD_SDNAME=${FIBD_SDNAME:-fibd-e2e}
FIBD_SDSTATE=${FIBD_SDSTATE:-/var/tmp/fibd-systemd-$FIBD_SDNAME}
# Bump when the package list below changes, so that an old root file system is rebuilt.
FIBD_ROOTFS_VERSION=2
FIBD_ROOTFS_PACKAGES=systemd,systemd-sysv,dbus,curl,man-db,libgmp10,zlib1g,procps
FIBD_SD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# PID of the systemd-nspawn we started, if it still runs.
fibd_nspawn_pid() {
    local pid
    [ -f "$FIBD_SDSTATE/nspawn.pid" ] || return 1
    pid=$(cat "$FIBD_SDSTATE/nspawn.pid")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
        && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd-nspawn ] || return 1
    echo "$pid"
}

# PID (as the host sees it) of the container's PID 1, the systemd that nspawn started.
fibd_leader_pid() {
    local nspawn child
    nspawn=$(fibd_nspawn_pid) || return 1
    for child in $(pgrep -P "$nspawn"); do
        [ "$(cat "/proc/$child/comm" 2>/dev/null)" = systemd ] && { echo "$child"; return 0; }
    done
    return 1
}

# The host has no systemd to give nspawn a scope, so the container gets a cgroup of our own
# (nspawn runs with --keep-unit and makes payload/ and supervisor/ below it).
fibd_cgroup_dirs() {
    if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
        echo "/sys/fs/cgroup/fibd-sdenv-$FIBD_SDNAME"
    else
        [ -d /sys/fs/cgroup/systemd ] && echo "/sys/fs/cgroup/systemd/fibd-sdenv-$FIBD_SDNAME"
        [ -f /sys/fs/cgroup/unified/cgroup.procs ] && echo "/sys/fs/cgroup/unified/fibd-sdenv-$FIBD_SDNAME"
    fi
    return 0
}
fibd_cgroup_create() { local dir; for dir in $(fibd_cgroup_dirs); do mkdir -p "$dir"; done; }
fibd_cgroup_enter() { local dir; for dir in $(fibd_cgroup_dirs); do echo "$1" >"$dir/cgroup.procs"; done; }
fibd_cgroup_remove() {
    local dir
    for dir in $(fibd_cgroup_dirs); do
        [ -d "$dir" ] || continue
        find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        [ -d "$dir" ] && echo "warning: could not remove cgroup $dir (processes left?)" >&2
    done
    # nspawn cannot remove these itself when /run is not a tmpfs.
    rmdir "/run/systemd/nspawn/propagate/$FIBD_SDNAME" 2>/dev/null || true
    return 0
}
