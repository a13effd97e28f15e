#!/usr/bin/env bash
# Benchmark: create-image --no-reboot against `qemu-img convert` of the same
# disk chain, alternating the two, N rounds; and the guest's pause during a
# --no-reboot capture, seen from the host as the largest gap between heartbeat
# lines the guest writes to its serial console every 20 ms (compared with the
# largest gap in a window of the same length without a capture).
#
# Usage: bench/capture.sh [ROUNDS]   (after scripts/build and images/build-tiny)
# Writes a markdown table to bench/results/capture.md. Not part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
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

image=$("$amictl" register-image --name bench --disk "$tiny")
# 48 MiB of data on the root disk, then a heartbeat on the console.
inst=$("$amictl" run-instances --image-id "$image" --instance-type t3.nano --output text --user-data \
  'dd if=/dev/urandom of=/root/data bs=1M count=48 2>/dev/null; sync; (while :; do echo hb; usleep 20000; done) &' | cut -f1)
"$amictl" get-console-output --instance-id "$inst" --wait-for "amid-tiny: ready" --timeout 300 >/dev/null
overlay=$work/s/instances/$inst/root.qcow2
console=$work/s/instances/$inst/console.log

now() { date +%s.%N; }
amid_times=()
convert_times=()
for i in $(seq "$rounds"); do
  t0=$(now)
  id=$("$amictl" create-image --instance-id "$inst" --name "bench-$i" --no-reboot --wait 2>/dev/null)
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

# Pause: the largest gap between heartbeat lines as they reach the host's file.
gap_during() {  # $1: seconds to watch, $2: "capture" or "idle"
  python3 - "$console" "$1" "$2" "$amictl" "$inst" <<'PY'
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

stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f %.3f %.3f", m, a[1], a[NR]}'; }
read -r am amin amax <<<"$(stats "${amid_times[@]}")"
read -r cm cmin cmax <<<"$(stats "${convert_times[@]}")"
ratio=$(echo "scale=2; $am / $cm" | bc)
{
  echo "# create-image --no-reboot vs qemu-img convert ($rounds rounds, alternating)"
  echo
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r); $(grep -o 'accelerator [a-z]*' "$work/amid.log" | head -1)"
  echo "Disk: the tiny template (128 MiB virtual) with 48 MiB written by the guest."
  echo
  echo "| what | median s | min s | max s |"
  echo "|---|---|---|---|"
  echo "| amictl create-image --no-reboot --wait (request to available) | $am | $amin | $amax |"
  echo "| qemu-img convert of the same chain + sync | $cm | $cmin | $cmax |"
  echo "| ratio of medians | $ratio | | |"
  echo
  echo "Largest gap between 20 ms guest heartbeats seen by the host: ${capture_gap} ms in a window with a capture, ${idle_gap} ms in an idle window of the same length."
} | tee bench/results/capture.md
