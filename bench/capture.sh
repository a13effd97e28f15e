#!/usr/bin/env bash
# Benchmark: create-image --no-reboot against `qemu-img convert` of the same disk
# chain, alternating the two, ROUNDS rounds each, on two templates:
#   tiny  - the tiny template (128 MiB virtual, about 20 MiB used)
#   large - the tiny template grown to 1 GiB with DATA_MIB MiB (default 512) of
#           random data written past its partitions (the guest boots the same)
# And the guest's pause during a --no-reboot capture, two ways: QEMU's own
# STOP/RESUME events (amid logs libvirt's suspended/resumed events with their
# time), and the largest gap between heartbeat lines the guest writes to its
# serial console every 20 ms, against an idle window of the same length.
#
# Usage: bench/capture.sh [ROUNDS]   (after scripts/build and images/build-tiny)
# Writes a markdown table to bench/results/capture.md. Not part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
data_mib=${DATA_MIB:-512}
root=$PWD
amid=$root/build/daemon/amid
amictl=$root/build/cli/amictl
tiny=$root/build/tiny/tiny.qcow2
[ -x "$amid" ] && [ -f "$tiny" ] || { echo "build first: scripts/build && images/build-tiny $tiny" >&2; exit 2; }
work=$(mktemp -d /tmp/amid-bench-XXXXXX)
mkdir -p bench/results
export AMID_SOCKET=$work/a.sock
"$amid" --state-dir "$work/s" --socket "$AMID_SOCKET" >"$work/amid.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; pkill -KILL -f "$work/" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 600); do "$amictl" describe-images >/dev/null 2>&1 && break; sleep 0.1; done

echo "making the large template (1 GiB, $data_mib MiB of random data)" >&2
qemu-img convert -O raw "$tiny" "$work/large.raw"
truncate -s 1G "$work/large.raw"
dd if=/dev/urandom of="$work/large.raw" bs=1M seek=256 count="$data_mib" conv=notrunc status=none
qemu-img convert -O qcow2 "$work/large.raw" "$work/large.qcow2"
rm -f "$work/large.raw"

now() { date +%s.%N; }
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f %.3f %.3f", m, a[1], a[NR]}'; }
rows=()

run_case() {  # $1: label, $2: template
  local label=$1 template=$2 image inst overlay i t0 t1 id
  image=$("$amictl" register-image --name "bench-$label" --disk "$template")
  inst=$("$amictl" run-instances --image-id "$image" --instance-type t3.nano --output text --user-data \
    'dd if=/dev/urandom of=/root/data bs=1M count=8 2>/dev/null; sync; (while :; do echo hb; usleep 20000; done) &' | cut -f1)
  "$amictl" get-console-output --instance-id "$inst" --wait-for "amid-tiny: ready" --timeout 300 >/dev/null
  overlay=$work/s/instances/$inst/root.qcow2
  local amid_times=() convert_times=()
  for i in $(seq "$rounds"); do
    t0=$(now)
    id=$("$amictl" create-image --instance-id "$inst" --name "bench-$label-$i" --no-reboot --wait 2>/dev/null)
    t1=$(now)
    amid_times+=("$(echo "$t1 - $t0" | bc)")
    "$amictl" deregister-image --image-id "$id" >/dev/null
    t0=$(now)
    qemu-img convert -U -f qcow2 -O qcow2 -o cluster_size=65536 "$overlay" "$work/convert.qcow2"
    sync -f "$work/convert.qcow2"
    t1=$(now)
    convert_times+=("$(echo "$t1 - $t0" | bc)")
    rm -f "$work/convert.qcow2"
  done
  local am amin amax cm cmin cmax ratio
  read -r am amin amax <<<"$(stats "${amid_times[@]}")"
  read -r cm cmin cmax <<<"$(stats "${convert_times[@]}")"
  ratio=$(echo "scale=2; $am / $cm" | bc)
  rows+=("| $label: amictl create-image --no-reboot --wait | $am | $amin | $amax |"
         "| $label: qemu-img convert of the same chain + sync | $cm | $cmin | $cmax |"
         "| $label: ratio of medians | $ratio | | |")
  last_inst=$inst
}

run_case tiny "$tiny"
run_case large "$work/large.qcow2"

# Pause, as the guest's heartbeats reach the host's file.
console=$work/s/instances/$last_inst/console.log
gap_during() {  # $1: seconds to watch, $2: "capture" or "idle"
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
if proc: proc.wait()
gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
print("%.1f" % (1000 * max(gaps)) if gaps else "nan")
PY
}
idle_gap=$(gap_during 3 idle)
capture_gap=$(gap_during 3 capture)

# Pause, from QEMU's events: every "vcpus paused" / "vcpus resumed" pair amid logged.
pauses=$(python3 - "$work/amid.log" <<'PY'
import re, sys, datetime
paused = {}
out = []
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) amid info: domain (\S+) vcpus (paused|resumed)", line)
    if not m: continue
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
    if m.group(3) == "paused": paused[m.group(2)] = t
    elif m.group(2) in paused: out.append(1000 * (t - paused.pop(m.group(2))))
print("%d pauses, longest %.0f ms" % (len(out), max(out)) if out else "no pause events (the vCPUs never stopped)")
PY
)

{
  echo "# create-image --no-reboot vs qemu-img convert ($rounds rounds each, alternating)"
  echo
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r); $(grep -o 'accelerator [a-z]*' "$work/amid.log" | head -1)"
  echo "Templates: tiny (128 MiB virtual, ~20 MiB used); large (1 GiB virtual, $data_mib MiB of random data besides)."
  echo
  echo "| what | median s | min s | max s |"
  echo "|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Guest pause during $((2 * rounds + 1)) --no-reboot captures, from QEMU's STOP/RESUME events: $pauses."
  echo "Largest gap between 20 ms guest heartbeats seen by the host: ${capture_gap} ms in a window with a capture, ${idle_gap} ms in an idle window of the same length."
} | tee bench/results/capture.md
