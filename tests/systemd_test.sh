#!/usr/bin/env bash
# amid as systemd runs it, without systemd as PID 1:
#  - socket activation: systemd-socket-activate (the systemd package's stand-in
#    for amid.socket) holds the socket and starts amid at the first connection;
#  - Type=notify: STATUS= while amid starts, READY=1 before it answers,
#    WATCHDOG=1 pings, STOPPING=1 on SIGTERM, each from amid's own pid;
#  - journald: every line naming an instance or image carries AMID_INSTANCE_ID=
#    or AMID_IMAGE_ID=, so `journalctl AMID_INSTANCE_ID=i-...` works;
#  - bad input: two sockets from systemd stop amid with a clear error;
#  - the unit files pass `systemd-analyze verify`.
# A journald of its own runs in a mount namespace of its own (tmpfs over the
# journal's folders), so the host's journal is untouched.
# Usage: systemd_test.sh BUILD_DIR   (needs root and $AMID_TINY_IMAGE)
set -euo pipefail
build=$(cd "${1:?usage: systemd_test.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

if [ -z "${AMID_SYSTEMD_TEST_NS:-}" ]; then
  exec env AMID_SYSTEMD_TEST_NS=1 unshare --mount --propagation private "$0" "$@"
fi
[ -n "${AMID_TINY_IMAGE:-}" ] && [ -f "$AMID_TINY_IMAGE" ] ||
  fail "AMID_TINY_IMAGE must name the tiny template (images/build-tiny; scripts/test sets it)"
for tool in systemd-socket-activate systemd-analyze journalctl python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps installs it)"
done

amid=$build/daemon/amid
amictl=$build/cli/amictl
dir=$(mktemp -d /tmp/amid-sd.XXXXXX)
chmod 0755 "$dir"  # QEMU runs as libvirt-qemu and walks down to the disks
sock=$dir/run/amid.sock
state=$dir/st
mkdir -p "$dir/run"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -TERM -f -- "--state-dir $state" 2>/dev/null || true
  sleep 0.5
  pkill -KILL -f -- "qemu.*$state" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# A journald of our own.
mount -t tmpfs tmpfs /run/systemd/journal 2>/dev/null || { mkdir -p /run/systemd/journal && mount -t tmpfs tmpfs /run/systemd/journal; }
mkdir -p /run/log && mount -t tmpfs tmpfs /run/log
if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi
/lib/systemd/systemd-journald &
pids+=($!)
for _ in $(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
[ -S /run/systemd/journal/socket ] || fail "journald did not start"

# systemd's notify socket: one line per message, with its time and the sender's pid.
python3 - "$dir/notify" "$dir/notify.log" <<'PYEOF' &
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = next((struct.unpack("iII", d)[0] for l, t, d in anc
                    if l == socket.SOL_SOCKET and t == socket.SCM_CREDENTIALS), -1)
        out.write("%.6f %d %s\n" % (time.time(), pid, data.decode().replace("\n", " | ")))
PYEOF
pids+=($!)
for _ in $(seq 100); do [ -S "$dir/notify" ] && break; sleep 0.05; done

# Socket activation, with stderr as the journal stream (what systemd sets up
# for a unit: JOURNAL_STREAM names stderr's device and inode).
cat > "$dir/start-amid" <<SH
#!/bin/sh
exec 2>"$dir/amid.err"
export JOURNAL_STREAM=\$(stat -c %d:%i "$dir/amid.err")
exec "$amid" --state-dir "$state" --socket "$sock" --libvirt-uri embedded
SH
chmod +x "$dir/start-amid"
systemd-socket-activate -l "$sock" -E NOTIFY_SOCKET="$dir/notify" -E WATCHDOG_USEC=2000000 "$dir/start-amid" \
  >"$dir/activate.out" 2>&1 &
activate_pid=$!
pids+=($activate_pid)
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || fail "systemd-socket-activate did not listen on $sock"
sleep 0.3
pgrep -f -- "--state-dir $state" >/dev/null && fail "amid started before anyone connected"
[ -s "$dir/notify.log" ] && fail "notifications before amid started: $(cat "$dir/notify.log")"
echo "ok: systemd listens on $sock, amid not started yet"

# The first connection starts amid; the request waits in the socket and is answered.
out=$("$amictl" --socket "$sock" --output json describe-images) || fail "the first request was not answered"
answered=$(date +%s.%N)
grep -q '"Images"' <<<"$out" || fail "unexpected answer: $out"
amid_pid=$(pgrep -f -- "--state-dir $state" | head -1)
[ "$amid_pid" = "$activate_pid" ] || fail "amid runs as pid $amid_pid, not the activator's pid $activate_pid (LISTEN_PID)"
echo "ok: the first connection started amid (pid $amid_pid) and was answered"

grep -q "READY=1" "$dir/notify.log" || fail "no READY=1: $(cat "$dir/notify.log")"
ready_line=$(grep "READY=1" "$dir/notify.log" | head -1)
read -r ready_at ready_pid _ <<<"$ready_line"
[ "$ready_pid" = "$amid_pid" ] || fail "READY=1 came from pid $ready_pid, not amid's $amid_pid (NotifyAccess=main)"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$ready_at" "$answered" ||
  fail "READY=1 at $ready_at came after the answer at $answered"
grep -q "READY=1 | STATUS=amid ready on $sock" <<<"$ready_line" || fail "READY=1 without amid's status: $ready_line"
before_ready=$(sed -n "1,/READY=1/p" "$dir/notify.log")
for status in "STATUS=probing the accelerator" "STATUS=opening the catalog" "STATUS=opening region local-1"; do
  grep -q "$status" <<<"$before_ready" || fail "no '$status' before READY=1: $before_ready"
done
echo "ok: STATUS lines, then READY=1 from amid's pid before its first answer:"
cut -d' ' -f3- <<<"$before_ready" | sed 's/^/    /'

# The watchdog: WATCHDOG_USEC=2 s, so a ping every second.
sleep 3
pings=$(grep -c "WATCHDOG=1" "$dir/notify.log" || true)
[ "$pings" -ge 2 ] || fail "$pings watchdog pings in 3 s with WATCHDOG_USEC=2000000"
echo "ok: $pings watchdog pings"

# journald's fields: an image and an instance, then their stories by id.
ami=$("$amictl" --socket "$sock" register-image --name sd-tiny --disk "$AMID_TINY_IMAGE" |
  grep -o 'ami-[0-9a-f]*' | head -1)
[ -n "$ami" ] || fail "register-image gave no image id"
"$amictl" --socket "$sock" wait image-available --image-ids "$ami" >/dev/null
iid=$("$amictl" --socket "$sock" --output json run-instances --image-id "$ami" --instance-type t3.nano |
  grep -o '"i-[0-9a-f]*"' | head -1 | tr -d '"')
[ -n "$iid" ] || fail "run-instances gave no instance id"
"$amictl" --socket "$sock" terminate-instances --instance-ids "$iid" >/dev/null
"$amictl" --socket "$sock" wait instance-terminated --instance-ids "$iid" >/dev/null
for _ in $(seq 50); do  # journald stores what amid sends a moment later
  story=$(journalctl --no-pager -o cat AMID_INSTANCE_ID="$iid")
  grep -q "instance $iid terminated" <<<"$story" && break
  sleep 0.1
done
grep -q "instance $iid launched from $ami" <<<"$story" || fail "journalctl AMID_INSTANCE_ID=$iid lacks the launch: $story"
grep -q "instance $iid terminated" <<<"$story" || fail "journalctl AMID_INSTANCE_ID=$iid lacks the termination: $story"
grep -v -q "$iid" <<<"$story" && fail "a line without $iid under AMID_INSTANCE_ID=$iid: $story"
journalctl --no-pager -o cat AMID_IMAGE_ID="$ami" | grep -q "launched from $ami" ||
  fail "journalctl AMID_IMAGE_ID=$ami lacks the launch"
fields=$(journalctl --no-pager -o export AMID_INSTANCE_ID="$iid" | grep -E '^(PRIORITY|SYSLOG_IDENTIFIER|_PID)=' | sort -u)
grep -qx "SYSLOG_IDENTIFIER=amid" <<<"$fields" || fail "no SYSLOG_IDENTIFIER=amid: $fields"
grep -qx "PRIORITY=6" <<<"$fields" || fail "no PRIORITY=6 (info): $fields"
grep -qx "_PID=$amid_pid" <<<"$fields" || fail "the lines are not from amid's pid: $fields"
[ ! -s "$dir/amid.err" ] || fail "amid wrote to stderr besides the journal: $(head -3 "$dir/amid.err")"
echo "ok: journalctl AMID_INSTANCE_ID=$iid shows $(wc -l <<<"$story") lines, AMID_IMAGE_ID=$ami too:"
sed 's/^/    /' <<<"$story"

# SIGTERM: STOPPING=1, and systemd's socket is left for the next amid.
kill -TERM "$amid_pid"
for _ in $(seq 100); do kill -0 "$amid_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$amid_pid" 2>/dev/null && fail "amid did not stop on SIGTERM"
grep -q "STOPPING=1" "$dir/notify.log" || fail "no STOPPING=1 on SIGTERM"
[ -S "$sock" ] || fail "amid removed systemd's socket $sock on stopping"
echo "ok: STOPPING=1 on SIGTERM; systemd's socket left in place"

# Bad input: a socket unit with two ListenStream= lines.
rm -f "$sock"
systemd-socket-activate -l "$sock" -l "$dir/run/second.sock" \
  "$amid" --state-dir "$state" --socket "$sock" --libvirt-uri embedded >"$dir/two.out" 2>&1 &
two_pid=$!
pids+=($two_pid)
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
"$amictl" --socket "$sock" describe-images >/dev/null 2>&1 && fail "amid served with two sockets from systemd"
for _ in $(seq 100); do kill -0 "$two_pid" 2>/dev/null || break; sleep 0.1; done
grep -q "systemd passed 2 sockets; amid serves one" "$dir/two.out" || fail "no clear error for two sockets: $(cat "$dir/two.out")"
echo "ok: two sockets from systemd: $(grep -o 'systemd passed.*' "$dir/two.out")"

# The unit files, as systemd reads them (amid's path swapped for the build's).
mkdir -p "$dir/units/amid.service.d"
cp "$src/systemd/amid.socket" "$dir/units/"
sed "s|/usr/sbin/amid|$amid|" "$src/systemd/amid.service" >"$dir/units/amid.service"
sed "s|/usr/sbin/amid|$amid|" "$src/systemd/amid-qemu-system.conf" >"$dir/units/amid.service.d/qemu-system.conf"
(cd "$dir/units" && systemd-analyze verify --man=no amid.socket amid.service) || fail "systemd-analyze verify failed"
grep -q "^Type=notify" "$src/systemd/amid.service" || fail "amid.service is not Type=notify"
echo "ok: systemd-analyze verify: amid.socket, amid.service and the qemu:///system drop-in"
echo "systemd test passed"
