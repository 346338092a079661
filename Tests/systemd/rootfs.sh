#!/bin/bash
# Makes sure the test root file system exists: builds it with debootstrap (from the Debian mirror
# apt on this host is configured with; about 50 s) only when it is missing or out of date.
# With arguments, also installs those Debian packages into it when they are missing (host network).
#   rootfs.sh                    build if needed
#   rootfs.sh libfoo1 libbar2    build if needed, then install what is missing of these
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
stamp="$FIBD_SDROOT/.fibd-rootfs-version"

if fibd_nspawn_pid >/dev/null; then echo "rootfs.sh: the container is running; stop it first" >&2; exit 1; fi

if [ "$(cat "$stamp" 2>/dev/null)" != "$FIBD_ROOTFS_VERSION" ] || [ ! -x "$FIBD_SDROOT/usr/lib/systemd/systemd" ]; then
    for tool in systemd-nspawn debootstrap; do
        command -v "$tool" >/dev/null || { echo "rootfs.sh: $tool missing (make deps installs it)" >&2; exit 1; }
    done
    mirror=$(apt-get indextargets --format '$(SITE) $(RELEASE)' 2>/dev/null | awk '$2=="bookworm"{print $1; exit}')
    if [ -z "$mirror" ]; then
        mirror=$(grep -rhoE '(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ \
            2>/dev/null | awk '{print $2; exit}')
    fi
    [ -n "$mirror" ] || { echo "rootfs.sh: no Debian mirror in apt's configuration" >&2; exit 1; }
    building="$FIBD_SDROOT.building"
    rm -rf "$building"
    echo "rootfs.sh: debootstrap bookworm into $FIBD_SDROOT from $mirror (once; about a minute)"
    log="/var/tmp/fibd-debootstrap.log"
    debootstrap --variant=minbase --include="$FIBD_ROOTFS_PACKAGES" bookworm "$building" "$mirror" >"$log" 2>&1 \
        || { tail -30 "$log" >&2; exit 1; }
    echo "$FIBD_SDNAME" >"$building/etc/hostname"
    : >"$building/etc/machine-id"   # systemd makes a fresh one at boot
    ln -sf /dev/null "$building/etc/systemd/system/console-getty.service"
    ln -sf /dev/null "$building/etc/systemd/system/getty@.service"
    echo "deb $mirror bookworm main" >"$building/etc/apt/sources.list"
    rm -f "$building"/var/cache/apt/archives/*.deb
    echo "$FIBD_ROOTFS_VERSION" >"$building/.fibd-rootfs-version"
    rm -rf "$FIBD_SDROOT"
    mv "$building" "$FIBD_SDROOT"
fi

missing=()
for package in "$@"; do
    chroot "$FIBD_SDROOT" dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "rootfs.sh: installing ${missing[*]} into $FIBD_SDROOT"
    fibd_cgroup_create
    rc=0
    (
        fibd_cgroup_enter "$BASHPID"
        exec systemd-nspawn --register=no --keep-unit -q -D "$FIBD_SDROOT" -M "$FIBD_SDNAME" --pipe \
            -E DEBIAN_FRONTEND=noninteractive -- /bin/sh -c \
            'apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" && apt-get clean' sh "${missing[@]}"
    ) </dev/null || rc=$?
    fibd_cgroup_remove
    exit $rc
fi
