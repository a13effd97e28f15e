#!/usr/bin/env bash
# Benchmark (issue 7, item 4): create-image.
#   --no-reboot: request to `available` (around `amictl create-image --wait`)
#     against `qemu-img convert` of the same disk chain plus a sync, alternating
#     (and, for scale, `cp --sparse=always` of the instance's layer alone: what a
#     thin capture, amid's default, copies),
#     on two templates (smoke: tiny only):
#       tiny  - the tiny template (128 MiB virtual, about 14 MiB used)
#       large - the tiny template grown to 1 GiB with DATA_MIB MiB (default 512)
#               of random data written past its partitions (the guest boots the same)
#   The guest's pause during a --no-reboot capture, two ways: QEMU's own
#     STOP/RESUME events (amid logs libvirt's suspended/resumed events with their
#     time), and the largest gap between heartbeat lines the guest writes to its
#     serial console every 20 ms, in a window with a capture against an idle one.
#   Default mode (clean shutdown, copy, start again), tiny template: broken down
#     into shutdown, copy and start from amid's log lines, and the boot back to
#     the guest's ready line.
#
# Usage: bench/capture.sh   (BENCH_ROUNDS, BENCH_SMOKE, BENCH_OUT: see lib.sh)
source "$(dirname "$0")/lib.sh"
bench_init capture "create-image against qemu-img convert; guest pause; default mode's phases"
data_mib=${DATA_MIB:-512}
if [ "$BENCH_SMOKE" = 1 ]; then window=1; else window=2; fi
bench_start_amid

# Milliseconds of an amid.log timestamp.
log_time() { python3 -c 'import datetime, sys; print("%.3f" % datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp())' "$1"; }
# The time of amid's first log line matching an extended regex, or nothing.
log_at() { grep -E -m1 "$1" "$amid_log" | cut -d' ' -f1; }
heartbeat='dd if=/dev/urandom of=/root/data bs=1M count=8 2>/dev/null; sync; (while :; do echo hb; usleep 20000; done) &'
launch() {  # $1: image id; prints the instance id once its guest is ready
  local inst
  inst=$("$amictl" run-instances --image-id "$1" --instance-type t3.nano --output text --user-data "$heartbeat" | cut -f1)
  wait_ready "$inst"
  echo "$inst"
}
# A --no-reboot capture, timed, with its phases from amid's log (as samples of
# CASE-phases); waits for the guest's writes to be merged back, so that the
# next measurement does not run beside that merge.
capture_no_reboot() {  # $1: case, $2: instance, $3: name; prints the seconds
  local c=$1 inst=$2 t0 id secs merged tb to tc ta
  merged=$(grep -c "instance $inst vda: capture overlay merged back" "$amid_log" || true)
  t0=$(now)
  id=$("$amictl" create-image --instance-id "$inst" --name "$3" --no-reboot --wait 2>/dev/null)
  secs=$(since "$t0")
  for _ in $(seq 500); do
    [ "$(grep -c "instance $inst vda: capture overlay merged back" "$amid_log" || true)" -gt "$merged" ] && break
    sleep 0.02
  done
  tb=$(log_time "$(log_at "image $id capture of $inst begins")")
  to=$(log_time "$(log_at "image $id: $inst writes to capture overlays")")
  tc=$(log_time "$(log_at "image $id: disks copied")")
  ta=$(log_time "$(log_at "image $id available")")
  sample "$c-phases" snapshot "$(echo "$to - $tb" | bc)"
  sample "$c-phases" copy "$(echo "$tc - $to" | bc)"
  sample "$c-phases" seal "$(echo "$ta - $tc" | bc)"
  sample "$c-phases" outside "$(echo "$secs - ($ta - $tb)" | bc)"
  "$amictl" deregister-image --image-id "$id" >/dev/null
  echo "$secs"
}

no_reboot_case() {  # $1: case, $2: image id
  local c=$1 inst overlay r v variants
  inst=$(launch "$2")
  overlay=$work/s/instances/$inst/root.qcow2
  for r in $(seq "$BENCH_ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then variants="amid convert cp"; else variants="cp convert amid"; fi
    for v in $variants; do
      sync
      if [ "$v" = amid ]; then
        sample "$c" amid "$(capture_no_reboot "$c" "$inst" "bench-$c-$r")"
      elif [ "$v" = convert ]; then
        local t0
        t0=$(now)
        qemu-img convert -U -f qcow2 -O qcow2 -o cluster_size=65536 "$overlay" "$work/convert.qcow2"
        sync "$work/convert.qcow2"
        sample "$c" convert "$(since "$t0")"
        rm -f "$work/convert.qcow2"
      else
        local t0
        t0=$(now)
        cp --sparse=always "$overlay" "$work/layer.qcow2"
        sync "$work/layer.qcow2"
        sample "$c" cp "$(since "$t0")"
        sample "$c-layer" mib "$(echo "scale=1; $(stat -c %s "$overlay") / 1048576" | bc)"
        rm -f "$work/layer.qcow2"
      fi
    done
  done
  ratio_row "$c" "amictl create-image --no-reboot --wait" amid \
    "qemu-img convert -U of the same chain + fsync" convert "<= 1.2"
  row "$c" cp "for scale: cp --sparse=always of the instance's layer alone + fsync (what a thin capture copies)"
  row "$c-layer" mib "the instance's layer (its overlay file), MiB"
  row "$c-phases" snapshot "amid's log: request logged to external snapshot taken (incl. the layer check, qemu-img info)"
  row "$c-phases" copy "amid's log: thin copy of the instance's layer (sparse, fsync, rename)"
  row "$c-phases" seal "amid's log: manifest and catalog, to available"
  row "$c-phases" outside "outside amid's log: socket, request checks, amictl --wait polling"
  last_inst=$inst
}

log "no-reboot captures, tiny template"
ensure_tiny_image
no_reboot_case tiny "$tiny_ami"
tiny_inst=$last_inst
if [ "$BENCH_SMOKE" != 1 ]; then
  log "making the large template (1 GiB, $data_mib MiB of random data)"
  qemu-img convert -O raw "$tiny" "$work/large.raw"
  truncate -s 1G "$work/large.raw"
  dd if=/dev/urandom of="$work/large.raw" bs=1M seek=256 count="$data_mib" conv=notrunc status=none
  qemu-img convert -O qcow2 "$work/large.raw" "$work/large.qcow2"
  rm -f "$work/large.raw"
  log "no-reboot captures, large template"
  no_reboot_case large "$("$amictl" register-image --name bench-large --disk "$work/large.qcow2")"
fi

# Pause, as the guest's heartbeats reach the host's console file: the largest
# gap in a window with a capture, and in an idle window of the same length.
console=$work/s/instances/$last_inst/console.log
gap_during() {  # $1: seconds to watch, $2: "capture" or "idle"; prints the largest gap in s
  python3 - "$console" "$1" "$2" "$amictl" "$last_inst" <<'PY'
import subprocess, sys, time
path, secs, mode, amictl, inst = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
f = open(path, "rb"); f.seek(0, 2)
arrivals = []
proc = None
if mode == "capture":
    proc = subprocess.Popen([amictl, "create-image", "--instance-id", inst, "--name",
                             "bench-pause-%d" % time.time_ns(), "--no-reboot", "--wait"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
end = time.monotonic() + secs
while time.monotonic() < end or (proc and proc.poll() is None):
    chunk = f.read()
    if chunk:
        arrivals += [time.monotonic()] * chunk.count(b"hb")
    time.sleep(0.0005)
if proc:
    image = proc.communicate()[0].decode().strip()
    subprocess.run([amictl, "deregister-image", "--image-id", image], stdout=subprocess.DEVNULL)
gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
print("%.4f" % max(gaps) if gaps else "nan")
PY
}
log "guest heartbeats: windows of $window s with and without a capture"
for r in $(seq "$BENCH_ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then variants="capture idle"; else variants="idle capture"; fi
  for v in $variants; do sample heartbeat-gap "$v" "$(gap_during "$window" "$v")"; done
  sleep 0.5  # the capture's merge back
done
ratio_row heartbeat-gap "largest gap between 20 ms heartbeats, window with a --no-reboot capture" capture \
  "the same, idle window" idle -

# Pause from QEMU's events: every "vcpus paused" / "vcpus resumed" pair amid
# logged during the --no-reboot captures above.
read -r npauses longest < <(python3 - "$amid_log" <<'PY'
import re, sys, datetime
paused, out = {}, []
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) amid info: domain (\S+) vcpus (paused|resumed)", line)
    if not m: continue
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
    if m.group(3) == "paused": paused[m.group(2)] = t
    elif m.group(2) in paused: out.append(1000 * (t - paused.pop(m.group(2))))
print(len(out), "%.0f" % max(out) if out else 0)
PY
)
ncaptures=$(grep -c "capture of .* begins (no reboot" "$amid_log")
limit_row pause "longest guest pause from QEMU's STOP/RESUME events over $ncaptures --no-reboot captures ($npauses pauses)" \
  "$longest" ms "<= 10"

# Default mode on the tiny guest: shutdown, copy and start, from amid's log:
#   "capture of I begins (clean shutdown)" -> "I is shut down for the capture"  shutdown
#   -> "disks copied"                                                         copy
#   -> "available"                                                            seal (manifest, catalog)
#   -> "instance I started again after create-image"                          start
# then the guest's boot back to its ready line (a new line in its console log).
log "default-mode captures, tiny template"
inst=$tiny_inst
console=$work/s/instances/$inst/console.log
for r in $(seq "$BENCH_ROUNDS"); do
  readies=$(grep -c "amid-tiny: ready" "$console")
  starts=$(grep -c "instance $inst started again after create-image" "$amid_log" || true)
  downs=$(grep -c "reboot: Power down" "$console" || true)
  t0=$(now)
  "$amictl" create-image --instance-id "$inst" --name "bench-default-$r" --wait >"$work/id" 2>/dev/null &
  down_at=
  while kill -0 $! 2>/dev/null; do  # the guest kernel's last line, as it reaches the host
    if [ -z "$down_at" ] && [ "$(grep -c "reboot: Power down" "$console" || true)" -gt "$downs" ]; then down_at=$(now); fi
    sleep 0.01
  done
  wait $!
  sample default total-wait "$(since "$t0")"
  id=$(cat "$work/id")
  for _ in $(seq 3000); do
    [ "$(grep -c "instance $inst started again after create-image" "$amid_log" || true)" -gt "$starts" ] && break
    sleep 0.02
  done
  for _ in $(seq 3000); do
    [ "$(grep -c "amid-tiny: ready" "$console")" -gt "$readies" ] && break
    sleep 0.02
  done
  ready_at=$(now)
  tb=$(log_time "$(log_at "image $id capture of $inst begins")")
  ts=$(log_time "$(log_at "image $id: $inst is shut down for the capture")")
  tc=$(log_time "$(log_at "image $id: disks copied")")
  ta=$(log_time "$(log_at "image $id available")")
  tr=$(log_time "$(grep -E "instance $inst started again after create-image" "$amid_log" | sed -n "$((starts + 1))p" | cut -d' ' -f1)")
  sample default shutdown "$(echo "$ts - $tb" | bc)"
  if [ -n "$down_at" ]; then
    sample default guest-down "$(echo "$down_at - $tb" | bc)"
    sample default reaped "$(echo "$ts - $down_at" | bc)"
  fi
  sample default copy "$(echo "$tc - $ts" | bc)"
  sample default seal "$(echo "$ta - $tc" | bc)"
  sample default start "$(echo "$tr - $ta" | bc)"
  sample default boot-to-ready "$(echo "$ready_at - $tr" | bc)"
  sample default total-to-ready "$(echo "$ready_at - $t0" | bc)"
  "$amictl" deregister-image --image-id "$id" >/dev/null
done
row default shutdown "default mode: request to guest shut off (ACPI shutdown, amid polls its state)"
row default guest-down "  of which: request to the guest kernel's \"reboot: Power down\" on its console"
row default reaped "  of which: that line to amid seeing the domain shut off"
row default copy "default mode: thin copy of the stopped disk's layer, seal (fsync, rename)"
row default seal "default mode: manifest and catalog, to available"
row default start "default mode: available to the domain started again"
row default total-wait "default mode: amictl create-image --wait (request to available)"
row default boot-to-ready "default mode: started again to the guest's ready line"
row default total-to-ready "default mode: request to the guest's ready line again"

note "Templates: tiny (128 MiB virtual, about 14 MiB used)$([ "$BENCH_SMOKE" = 1 ] || echo "; large (1 GiB virtual, $data_mib MiB of random data besides)")." \
  "Each guest writes a heartbeat line to its serial console every 20 ms. The convert baseline reads the running guest's" \
  "overlay and template (-U): the whole chain, as a standalone copy would. amid writes thin templates by default" \
  "([images] capture = \"thin\", docs/CAPTURE.md): after its external snapshot it copies only the instance's own" \
  "layer (its overlay, sparse), which stays on the source template; the cp row is that copy done by hand."
note
note "Pause: a --no-reboot capture takes a disk-only external snapshot and never stops the vCPUs; libvirt reports" \
  "QEMU's STOP/RESUME as suspended/resumed events, which amid logs with millisecond times. No event means no pause" \
  "(0 ms). The heartbeat gaps include this machine's CPU contention (TCG guests on 2 shared cores): compare the" \
  "capture window with the idle one."
note
note "Default mode's phases come from amid's log lines (millisecond timestamps). Its copy phase is the same thin copy" \
  "as the --no-reboot case, on a stopped guest; the shutdown is the guest's own ACPI shutdown, which amid" \
  "waits for by polling the domain's state every 100 ms. The tiny guest's part of it includes busybox init's fixed" \
  "1 s between SIGTERM and SIGKILL and 1 s before powering off; what follows its last console line is QEMU's exit" \
  "and reaping (amid is its subreaper), libvirt's handling of it, and amid's poll."
bench_report
