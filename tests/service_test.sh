#!/usr/bin/env bash
# amid installed from its Debian package and run by a real systemd as PID 1,
# through the shipped, hardened units, as an admin would run it:
#  - a Debian 12 root with systemd and exactly the package's Depends (nothing
#    recommended), made once with mmdebstrap from apt's configured sources and
#    cached under BUILD/service-root/ by the Depends' hash, copied per run;
#  - the package installed in it with dpkg (its postinst makes the groups),
#    then booted with systemd-nspawn (a network namespace of its own);
#  - systemctl enable --now amid.socket: systemd listens, amid is not running;
#  - a user in group amid runs amictl with no options: systemd starts amid
#    (socket activation), which becomes active only once ready (Type=notify,
#    StatusText "amid ready on ...");
#  - a user outside the group is refused;
#  - that user launches the tiny template; its guest boots under the unit;
#  - systemctl restart amid: the guest's QEMU keeps running (same pid), the
#    new amid reports the instance running and still has the region network;
#  - journalctl AMID_INSTANCE_ID= inside the container tells its story;
#  - the other variant: the qemu:///system drop-in from the package's examples,
#    a guest run by libvirtd (virsh lists it), kept across a restart of amid;
#  - dpkg --remove stops amid.socket and amid, and the guest still runs.
# Usage: service_test.sh BUILD_DIR   (root; $AMID_TINY_IMAGE)
set -euo pipefail
build=$(cd "${1:?usage: service_test.sh BUILD_DIR}" && pwd)
leader=""
fail() {
  echo "FAIL: $*" >&2
  if [ -n "$leader" ]; then  # what systemd saw of amid
    inside systemctl --no-pager status amid.socket amid.service >&2 || true
    inside journalctl --no-pager -n 40 -u amid.service -u amid.socket >&2 || true
  fi
  exit 1
}
step() { echo "== $*"; }

[ -n "${AMID_TINY_IMAGE:-}" ] && [ -f "$AMID_TINY_IMAGE" ] ||
  fail "AMID_TINY_IMAGE must name the tiny template (images/build-tiny; scripts/test sets it)"
for tool in systemd-nspawn mmdebstrap nsenter dpkg-deb; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps installs it)"
done

step "the package"
cmake --build "$build" --target package >/dev/null
version=$("$build/daemon/amid" --version | awk '{print $2}')
deb=$build/amid_${version}_amd64.deb
[ -f "$deb" ] || fail "no $deb"

# The root: systemd, and the package's Depends, first alternative, no versions.
depends=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/ //g' | grep -v '^$' | sort | paste -sd,)
hash=$(printf 'systemd,systemd-sysv,dbus,%s|2' "$depends" | sha256sum | cut -c1-16)
cache=$build/service-root/$hash
if [ ! -d "$cache" ]; then
  step "mmdebstrap a Debian 12 root with systemd and $depends (once per Depends)"
  rm -rf "$build/service-root"
  mkdir -p "$build/service-root"
  # No path-exclude for docs: the package's examples are in /usr/share/doc/amid.
  mmdebstrap --variant=minbase --include="systemd,systemd-sysv,dbus,$depends" \
    bookworm "$cache.tmp" >"$build/service-root/mmdebstrap.log" 2>&1 ||
    { tail -20 "$build/service-root/mmdebstrap.log"; fail "mmdebstrap failed"; }
  mv "$cache.tmp" "$cache"
fi

work=$(mktemp -d /var/tmp/amid-service.XXXXXX)
root=$work/root
nspawn_pid=""
iid=""
cleanup() {
  if [ -n "$nspawn_pid" ]; then
    kill -TERM "$nspawn_pid" 2>/dev/null || true  # nspawn powers the container off
    for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  # The container's guests; none may outlive the test.
  if [ -n "${iid:-}" ]; then pkill -KILL -f -- "qemu-system.*$iid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cp -a "$cache" "$root"

step "dpkg -i $(basename "$deb") in the root; users alice (group amid) and bob"
cp "$deb" "$root/tmp/amid.deb"
chroot "$root" dpkg -i /tmp/amid.deb >"$work/dpkg.out" 2>&1 || { cat "$work/dpkg.out"; fail "dpkg -i failed"; }
chroot "$root" useradd -m -G amid alice
chroot "$root" useradd -m bob
cp "$AMID_TINY_IMAGE" "$root/srv/tiny.qcow2"
chmod 0644 "$root/srv/tiny.qcow2"

step "boot it: systemd-nspawn -b (systemd as PID 1)"
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn --register=no --keep-unit --private-network --console=read-only -q -b -D "$root" \
  >"$work/console.log" 2>&1 &
nspawn_pid=$!
for _ in $(seq 200); do
  leader=$(pgrep -P "$nspawn_pid" -x systemd || true)  # the container's PID 1, nspawn's child
  [ -n "$leader" ] && break
  sleep 0.1
done
[ -n "$leader" ] || { tail -20 "$work/console.log"; fail "the container's systemd did not start"; }
inside() { nsenter --target "$leader" --all --root --wd=/ -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
# journald stores what amid sends a moment later: look for up to 5 s.
journal_has() {
  for _ in $(seq 50); do
    inside journalctl --no-pager -u amid.service -o cat | grep -q "$1" && return 0
    sleep 0.1
  done
  return 1
}
as_user() { local u=$1; shift; inside runuser -u "$u" -- env HOME="/home/$u" "$@"; }
state=""
for _ in $(seq 240); do  # systemctl answers once systemd's own socket is up
  state=$(inside systemctl is-system-running 2>/dev/null || true)
  case $state in running | degraded) break ;; esac
  sleep 0.5
done
[ "$state" = running ] || [ "$state" = degraded ] || { tail -30 "$work/console.log"; fail "the container's systemd is '$state'"; }
echo "container systemd: $state (pid $leader on this host)"

step "systemctl enable --now amid.socket"
inside systemctl enable --now amid.socket >/dev/null 2>&1
[ "$(inside systemctl is-active amid.socket)" = active ] || fail "amid.socket is not active"
[ "$(inside systemctl is-active amid.service || true)" = inactive ] || fail "amid.service runs before any request"
inside stat -c '%a %G' /run/amid/amid.sock | grep -qx "660 amid" || fail "the socket is not 0660 group amid: $(inside stat -c '%a %G' /run/amid/amid.sock)"

step "alice (group amid) asks with no options: systemd starts amid"
as_user alice amictl describe-images >/dev/null || fail "alice's first request was not answered"
[ "$(inside systemctl is-active amid.service)" = active ] || fail "amid.service is not active after the first request"
status=$(inside systemctl show amid.service -p StatusText --value)
grep -q "^amid ready on /run/amid/amid.sock" <<<"$status" || fail "StatusText: '$status'"
echo "amid.service active: $status"
as_user bob amictl describe-images >"$work/bob.out" 2>&1 && fail "bob, not in group amid, was served"
echo "bob refused: $(head -1 "$work/bob.out")"

step "alice launches the tiny template; it boots under the unit"
ami=$(as_user alice amictl register-image --name tiny --disk /srv/tiny.qcow2)
as_user alice amictl wait image-available --image-ids "$ami" >/dev/null
iid=$(as_user alice amictl --output json run-instances --image-id "$ami" --instance-type t3.nano |
  grep -o '"i-[0-9a-f]*"' | head -1 | tr -d '"')
[ -n "$iid" ] || fail "run-instances gave no instance id"
as_user alice amictl get-console-output --instance-id "$iid" --wait-for "amid-tiny: ready" --timeout 240 >/dev/null ||
  fail "the guest did not reach its ready line"
qemu=$(pgrep -f -- "qemu-system.*$iid" | head -1)
[ -n "$qemu" ] || fail "no QEMU process for $iid"
echo "$iid ready, QEMU pid $qemu"

step "systemctl restart amid: the guest keeps running"
old_main=$(inside systemctl show amid.service -p MainPID --value)
inside systemctl restart amid.service
new_main=$(inside systemctl show amid.service -p MainPID --value)
[ "$new_main" != "$old_main" ] && [ "$new_main" != 0 ] || fail "amid was not restarted ($old_main -> $new_main)"
kill -0 "$qemu" 2>/dev/null || fail "restarting amid stopped the guest's QEMU"
state=$(as_user alice amictl --output json describe-instances --instance-ids "$iid" | grep -o '"Name": *"[a-z]*"' | head -1)
grep -q running <<<"$state" || fail "after the restart amid says $iid is $state"
echo "amid $old_main -> $new_main; QEMU $qemu still running; $iid $state"

step "journalctl AMID_INSTANCE_ID=$iid"
journal_has "instance $iid launched" || fail "the journal lacks $iid's launch"
story=$(inside journalctl --no-pager -o cat AMID_INSTANCE_ID="$iid")
sed 's/^/    /' <<<"$story"
grep -q "instance $iid launched from $ami" <<<"$story" || fail "the journal lacks the launch"
journal_has "amid ready on" || fail "journalctl -u amid lacks amid's lines"
network=$(inside journalctl --no-pager -u amid.service -o cat | grep "region local-1: guest network\|region local-1: instances get no network" | tail -1)
echo "$network"
grep -q "guest network in namespace" <<<"$network" || fail "no region network under the unit: $network"
# The restarted amid must find the region's network namespace the first one
# made (a mount under /run/netns: a unit with a mount namespace of its own,
# ProtectSystem= or PrivateTmp=, loses it).
inside journalctl --no-pager -u amid.service -o cat | grep "instances get no network" &&
  fail "an amid under the unit lost the region network (above)"

step "the other variant: the qemu:///system drop-in, guests under libvirtd"
as_user alice amictl terminate-instances --instance-ids "$iid" >/dev/null
as_user alice amictl wait instance-terminated --instance-ids "$iid" >/dev/null
for _ in $(seq 50); do kill -0 "$qemu" 2>/dev/null || break; sleep 0.1; done
kill -0 "$qemu" 2>/dev/null && fail "terminating $iid left its QEMU running"
inside mkdir -p /etc/systemd/system/amid.service.d
inside cp /usr/share/doc/amid/examples/amid-qemu-system.conf /etc/systemd/system/amid.service.d/
inside systemctl daemon-reload
inside systemctl restart amid.service
[ "$(inside systemctl is-active libvirtd.service)" = active ] || fail "the drop-in did not bring libvirtd up"
journal_has "libvirt connected: qemu:///system" || fail "amid did not connect to qemu:///system"
iid=$(as_user alice amictl --output json run-instances --image-id "$ami" --instance-type t3.nano |
  grep -o '"i-[0-9a-f]*"' | head -1 | tr -d '"')
[ -n "$iid" ] || fail "run-instances under qemu:///system gave no instance id"
as_user alice amictl get-console-output --instance-id "$iid" --wait-for "amid-tiny: ready" --timeout 240 >/dev/null ||
  fail "the guest under libvirtd did not reach its ready line"
inside virsh -c qemu:///system list --name | grep -qx "$iid" || fail "virsh -c qemu:///system does not list $iid"
qemu=$(pgrep -f -- "qemu-system.*$iid" | head -1)
inside systemctl restart amid.service
kill -0 "$qemu" 2>/dev/null || fail "restarting amid stopped libvirtd's guest"
as_user alice amictl --output json describe-instances --instance-ids "$iid" | grep -q '"Name": *"running"' ||
  fail "after the restart amid does not report $iid running"
echo "$iid runs under libvirtd (virsh lists it), QEMU $qemu kept across systemctl restart amid"

step "dpkg --remove amid: systemd stops listening and amid stops; the guest runs on"
inside dpkg --remove amid >"$work/remove.out" 2>&1 || { cat "$work/remove.out"; fail "dpkg --remove failed"; }
[ "$(inside systemctl is-active amid.socket || true)" = inactive ] || fail "amid.socket still active after remove"
[ "$(inside systemctl is-active amid.service || true)" = inactive ] || fail "amid.service still active after remove"
kill -0 "$qemu" 2>/dev/null || fail "removing the package stopped the guest"
echo "removed; QEMU $qemu still running"
echo "service test passed"
