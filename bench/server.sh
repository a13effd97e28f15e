#!/usr/bin/env bash
# Benchmark (issue 17): a server guest. The Debian template, launched by amid,
# until a user can log in with SSH and until a web server answers through a
# forwarded port; then the forward's throughput.
#
# login: from `amictl run-instances` until `ssh -i KEY -p HOSTPORT admin@127.0.0.1 true`
#   succeeds through amid's forward of port 22, against a plain QEMU of the same
#   disk and options: qemu-img create an overlay on the same template, write a
#   NoCloud seed with the same user data and key, start qemu-system-x86_64 with
#   the machine, accelerator, CPU, memory and vCPUs amid's QEMU has (read from
#   its command line), and QEMU's own user-mode network forwarding 127.0.0.1
#   ports to 22 and 80 (restrict=on: the guest reaches nothing else). Target:
#   ratio <= 1.1.
# http: the same launches, until `curl http://127.0.0.1:HOSTPORT/` answers from
#   the guest's port 80 (python3's http.server, started by the user data's
#   bootcmd as a transient systemd unit). Target: ratio <= 1.1.
# forward: once both answer, seconds to send N MiB from the host to a sink in
#   the guest (python3: it reads to EOF, then answers the byte count) through
#   amid's forward (127.0.0.1:HOSTPORT, amid's loopback relay, the region's
#   bridge and the guest's tap), against the same from inside the region's
#   network namespace straight to the guest's private address (the backend's
#   best case: no relay). Reported, no target; the baseline guest's user-mode
#   forward is shown beside it for scale.
#
# Both pollers (ssh and curl) run side by side from the same start, each a
# try every 0.25 s, one try at a time, each try bounded (1 s for the banner
# and for curl). Each round launches one amid instance and one baseline QEMU, in
# alternating order, one at a time; each is gone before the next starts.
# Instance type t3.micro (2 vCPUs, 1 GiB). Needs the Debian template
# (AMID_DEBIAN_IMAGE, or build/debian/RECIPE-HASH.qcow2 as scripts/test builds
# it) and root (amid's guest network). Under TCG a round takes about three
# minutes.
#
# Run: bench/server.sh (BENCH_ROUNDS, BENCH_SMOKE=1: one round, 8 MiB sent;
# BENCH_OUT), or bench/run for all benchmarks.
source "$(dirname "$0")/lib.sh"
bench_init server "A server guest: launch to SSH login and to an HTTP answer, and a forward's throughput"

debian=${AMID_DEBIAN_IMAGE:-$root/build/debian/$("$root/images/build-debian" --print-recipe-hash).qcow2}
[ -f "$debian" ] || { log "no Debian template at $debian: build it with images/build-debian $debian (a few minutes)"; exit 2; }
if [ "$BENCH_SMOKE" = 1 ]; then mib=8 sends=1; else mib=64 sends=3; fi

bench_start_amid
ns=$(grep -o 'guest network in namespace amid-[^ ,]*' "$amid_log" | head -1 | awk '{print $NF}')
[ -n "$ns" ] || { log "amid has no guest network (it needs root and a local libvirt URI); its log:"; cat "$amid_log" >&2; exit 1; }
ami=$("$amictl" register-image --name bench-debian --disk "$debian")
"$amictl" create-key-pair --key-name bench --key-type ed25519 --save-to "$work/key" >/dev/null
ssh-keygen -y -f "$work/key" >"$work/key.pub"
sg=$("$amictl" create-security-group --group-name bench-server --description "bench: ssh, http, sink" --output text | cut -f1)
for port in 22 80 5001; do
  "$amictl" authorize-security-group-ingress --group-id "$sg" --protocol tcp --port "$port" --cidr 0.0.0.0/0 >/dev/null
done
tpl=$work/s/images/$ami/disk.qcow2
[ -f "$tpl" ] || tpl=$(find "$work/s" -path "*/images/$ami/disk.qcow2" | head -1)
[ -f "$tpl" ] || { log "template of $ami not found under $work/s"; exit 1; }

# The same user data for both: a web server on 80 and the sink on 5001, as
# transient units started early (cloud-init's bootcmd), so neither waits for
# the last boot stage. Without default dependencies and not waited for: bootcmd
# runs before sysinit.target, which a default unit would wait for.
cat >"$work/user-data" <<'EOF'
#cloud-config
bootcmd:
  - [systemd-run, --no-block, -p, DefaultDependencies=no, --unit=bench-web, python3, -m, http.server, "80", --directory, /usr/share/doc]
  - [systemd-run, --no-block, -p, DefaultDependencies=no, --unit=bench-sink, python3, -c, "import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('', 5001))\ns.listen(4)\nwhile True:\n    c, _ = s.accept()\n    n = 0\n    while True:\n        b = c.recv(1 << 20)\n        if not b:\n            break\n        n += len(b)\n    c.sendall(str(n).encode())\n    c.close()\n"]
EOF

# send_mib HOST PORT MIB: sends MIB MiB to the sink, prints the seconds until
# it answered the whole count.
send_py='import socket, sys, time
host, port, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
block = b"\0" * (1 << 20)
s = socket.create_connection((host, port), timeout=120)
t0 = time.monotonic()
for _ in range(mib):
    s.sendall(block)
s.shutdown(socket.SHUT_WR)
got = s.recv(64)
t = time.monotonic() - t0
if int(got or b"0") != mib << 20:
    sys.exit("sink counted %r bytes, sent %d" % (got, mib << 20))
print("%.4f" % t)'

# poll_until CASE VARIANT START CMD...: tries CMD every 0.25 s, one try at a
# time (each bounded by its own short timeout), for 600 s at most; records the
# seconds from START until it first succeeded. One at a time: tries piling up
# would meet sshd's MaxStartups (it drops connections beyond 10 unauthenticated
# ones) the moment it comes up, and delay the login they measure.
poll_until() {
  local c=$1 v=$2 t0=$3 end=$((EPOCHSECONDS + 600))
  shift 3
  while [ "$EPOCHSECONDS" -lt "$end" ]; do
    if "$@" >/dev/null 2>&1; then sample "$c" "$v" "$(since "$t0")"; return 0; fi
    sleep 0.25
  done
  log "$v: $c never answered in 600 s"
  return 1
}
# A login: first the server's SSH banner within a second (cheap, and never
# left hanging on a guest that is not up), then ssh itself.
banner_py='import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
sys.exit(0 if s.recv(4) == b"SSH-" else 1)'
ssh_ok() {
  python3 -c "$banner_py" "$1" &&
    timeout 10 ssh -i "$work/key" -p "$1" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
      -o ConnectTimeout=3 -o LogLevel=ERROR admin@127.0.0.1 true
}
http_ok() { curl -fsS --max-time 1 -o /dev/null "http://127.0.0.1:$1/"; }

# Both pollers from the same start; returns when both have succeeded.
wait_login_and_http() {
  local v=$1 t0=$2 ssh_port=$3 http_port=$4 p1 p2 rc=0
  poll_until login "$v" "$t0" ssh_ok "$ssh_port" &
  p1=$!
  poll_until http "$v" "$t0" http_ok "$http_port" &
  p2=$!
  wait "$p1" || rc=1
  wait "$p2" || rc=1
  return $rc
}

host_port_of() {  # INSTANCE GUEST_PORT
  "$amictl" describe-instances --instance-ids "$1" --output json | python3 -c '
import json, sys
i = json.load(sys.stdin)["Reservations"][0]["Instances"][0]
print(next(f["HostPort"] for f in i["PortForwards"] if f["GuestPort"] == int(sys.argv[1])))' "$2"
}

qemu_opts=()
amid_round() {
  local t0 id pid ssh_port http_port sink_port ip i t
  t0=$(now)
  id=$("$amictl" --output text run-instances --image-id "$ami" --instance-type t3.micro --key-name bench \
    --security-group-ids "$sg" --user-data "file://$work/user-data" | cut -f1)
  ssh_port=$(host_port_of "$id" 22)
  http_port=$(host_port_of "$id" 80)
  wait_login_and_http amid "$t0" "$ssh_port" "$http_port" || { "$amictl" get-console-output --instance-id "$id" | tail -30 >&2; exit 1; }
  pid=$(qemu_pid_of "$id")
  if [ ${#qemu_opts[@]} = 0 ]; then
    # The baseline's options: amid's QEMU's machine, accelerator, CPU, memory and vCPUs.
    tr '\0' '\n' <"/proc/$pid/cmdline" >"$work/amid-qemu-args"
    # (-machine without memory-backend=: that names a -object of libvirt's.)
    mapfile -t qemu_opts < <(awk '/^-(machine|accel|cpu|m|smp)$/ {k = $0; getline; if (k == "-machine") gsub(/,memory-backend=[^,]*/, ""); print k; print}' "$work/amid-qemu-args")
  fi
  sink_port=$(host_port_of "$id" 5001)
  ip=$("$amictl" describe-instances --instance-ids "$id" --output json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Reservations"][0]["Instances"][0]["PrivateIpAddress"])')
  for i in $(seq "$sends"); do
    t=$(python3 -c "$send_py" 127.0.0.1 "$sink_port" "$mib") && sample forward amid-forward "$t"
    t=$(ip netns exec "$ns" python3 -c "$send_py" "$ip" 5001 "$mib") && sample forward namespace-direct "$t"
  done
  "$amictl" terminate-instances --instance-ids "$id" >/dev/null
  wait_gone "$pid"
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

n=0
plain_round() {
  local d=$work/plain t0 ssh_port http_port sink_port pid i t
  n=$((n + 1))
  mkdir -p "$d"
  ssh_port=$(free_port)
  http_port=$(free_port)
  sink_port=$(free_port)
  t0=$(now)
  qemu-img create -q -f qcow2 -b "$tpl" -F qcow2 "$d/root.qcow2"
  printf 'instance-id: i-plain%d\nlocal-hostname: plain-%d\npublic-keys:\n  - %s\n' "$n" "$n" "$(cat "$work/key.pub")" >"$d/meta-data"
  cp "$work/user-data" "$d/user-data"
  rm -f "$d/seed.img"
  truncate -s 1M "$d/seed.img"
  mkfs.fat -n CIDATA "$d/seed.img" >/dev/null
  mcopy -i "$d/seed.img" "$d/meta-data" "$d/user-data" ::
  qemu-system-x86_64 "${qemu_opts[@]}" -nodefaults -display none -no-user-config \
    -drive "file=$d/root.qcow2,if=virtio,format=qcow2,discard=unmap" \
    -drive "file=$d/seed.img,if=virtio,format=raw,readonly=on" \
    -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$ssh_port-:22,hostfwd=tcp:127.0.0.1:$http_port-:80,hostfwd=tcp:127.0.0.1:$sink_port-:5001" \
    -device virtio-net-pci,netdev=n0 -serial "file:$d/console.log" -pidfile "$d/qemu.pid" -daemonize
  pid=$(cat "$d/qemu.pid")
  bench_pids+=("$pid")
  wait_login_and_http plain-qemu "$t0" "$ssh_port" "$http_port" || { tail -30 "$d/console.log" >&2; exit 1; }
  for i in $(seq "$sends"); do
    t=$(python3 -c "$send_py" 127.0.0.1 "$sink_port" "$mib") && sample forward qemu-user-forward "$t"
  done
  kill -TERM "$pid"
  wait_gone "$pid"
  rm -rf "$d"
}

# The template in the page cache before either variant reads it.
cat "$tpl" >/dev/null
# The first round is amid's: the baseline takes its QEMU options from it.
for r in $(seq "$BENCH_ROUNDS"); do
  log "round $r of $BENCH_ROUNDS"
  if ((r % 2)); then amid_round; plain_round; else plain_round; amid_round; fi
done

ratio_row login "amictl run-instances until ssh admin@127.0.0.1 (amid's forward of 22) logs in" amid \
  "qemu-img create + NoCloud seed + qemu-system-x86_64 with a user-mode forward, until the same" plain-qemu "<= 1.1"
ratio_row http "the same launches, until curl 127.0.0.1:HOSTPORT answers from the guest's port 80" amid \
  "the same plain QEMU launches, until curl answers through its forward" plain-qemu "<= 1.1"
ratio_row forward "$mib MiB host -> guest sink through amid's forward (127.0.0.1:HOSTPORT)" amid-forward \
  "$mib MiB from inside the region's namespace straight to the guest's address" namespace-direct -
row forward qemu-user-forward "$mib MiB through the plain QEMU's user-mode forward (for scale)"
for v in amid-forward namespace-direct qemu-user-forward; do
  note "Throughput $v: $(stats_of forward "$v" | awk -v m="$mib" '{printf "%.1f MiB/s (median of %d)", m / $1, $4}')."
done
note "Baseline QEMU options taken from amid's QEMU: ${qemu_opts[*]}; disk virtio (qcow2 overlay on the same template), NoCloud seed (meta-data with the same key, the same user data), virtio-net on QEMU's user-mode network (restrict=on)."
note "Debian template $(basename "$debian"); t3.micro; the user data starts python3's http.server on 80 and a byte sink on 5001 from cloud-init's bootcmd. A login is ssh as admin running \`true\`."
note "Load average (1, 5, 15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores."
bench_report
