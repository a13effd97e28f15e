#!/bin/sh
# A second libvirt host on this machine, for tests and benchmarks of regions on
# another host: run as PID 1 of fresh mount and PID namespaces, e.g.
#   unshare --mount --propagation private --pid --fork --mount-proc --kill-child \
#     sh scripts/remote-host-init.sh WORK HIDDEN
# with WORK/libvirtd.conf written by the caller (libvirtd --listen on TCP).
#
# Mounts first: /run (libvirtd's and virtlogd's
# sockets and pid files, /run/libvirt/qemu's domain status), /var/lib/libvirt
# and /var/cache/libvirt (per-domain folders, the QEMU capability cache) private,
# so nothing clashes with a libvirtd on this machine or in another test; the
# host's own /etc/libvirt (where persistent pools and domains are written) and
# /var/log/libvirt (QEMU's logs) are folders in work_dir; the store's parent is
# a fresh tmpfs only this namespace sees. Then it starts virtlogd and libvirtd
# and stays: QEMU daemonizes, and its orphans come to PID 1, which must reap
# them or libvirt waits 40 s for each killed capability probe. When libvirtd
# exits so does this shell, and the kernel kills whatever is left in the
# namespace.
set -eu
work=$1 hidden=$2
mount -t tmpfs -o mode=0755 amid-remote-run /run
mkdir -p /run/libvirt /run/lock
for d in /var/lib/libvirt /var/cache/libvirt; do
  mkdir -p "$d" && mount -t tmpfs -o mode=0755 amid-remote "$d"
done
rm -rf "$work/etc" && cp -a /etc/libvirt "$work/etc" && mount --bind "$work/etc" /etc/libvirt
mkdir -p "$work/log/qemu" /var/log/libvirt && mount --bind "$work/log" /var/log/libvirt
mount -t tmpfs -o mode=0755 amid-remote-store "$(dirname "$hidden")"
mkdir -p "$hidden"
virtlogd -d
libvirtd --listen -f "$work/libvirtd.conf" &
wait
