# bench/lib.sh: what every benchmark shares. Sourced, not run.
#
# A benchmark script does:
#   source "$(dirname "$0")/lib.sh"
#   bench_init NAME "one-line title"          # work dir, results files, cleanup trap
#   bench_start_amid [--config FILE]          # amid on a state dir of its own
#   ... t0=$(now); thing; sample CASE amid "$(since "$t0")" ...
#   ratio_row CASE "what amid did" amid "baseline that was run" baseline TARGET
#   note "free text for the report"
#
# Environment:
#   BENCH_ROUNDS  repetitions of each measured pair (default 7; 1 in smoke mode)
#   BENCH_SMOKE   1: smallest sizes, one round: checks the script works, not speed
#   BENCH_OUT     where results go (default bench/results)
#
# Results of a benchmark NAME:
#   $BENCH_OUT/NAME.tsv      every sample: case, variant, seconds (for plots)
#   $BENCH_OUT/NAME.md       its table of medians, min, max and ratios, and notes
#   $BENCH_OUT/ratios.tsv    one line per ratio: bench, case, amid median, baseline
#                            median, ratio, target, verdict (bench/run's summary)

set -euo pipefail
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$bench_dir/.." && pwd)
amid=${BENCH_AMID:-$root/build/daemon/amid}  # BENCH_AMID/BENCH_AMICTL: measure another build
amictl=${BENCH_AMICTL:-$root/build/cli/amictl}
tiny=${AMID_TINY_IMAGE:-$root/build/tiny/tiny.qcow2}
BENCH_SMOKE=${BENCH_SMOKE:-0}
if [ "$BENCH_SMOKE" = 1 ]; then BENCH_ROUNDS=${BENCH_ROUNDS:-1}; else BENCH_ROUNDS=${BENCH_ROUNDS:-7}; fi
BENCH_OUT=${BENCH_OUT:-$root/bench/results}

bench_pids=()
bench_cleanup() {
  local p
  # The remote host's PID 1 takes only SIGKILL from outside its namespace, and
  # with it goes everything in there (libvirtd, virtlogd, QEMU); unshare then exits.
  if [ -n "${remote_init:-}" ]; then kill -KILL "$remote_init" 2>/dev/null || true; fi
  for p in "${bench_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${bench_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # Guests and helpers started under the work dir (QEMU, libvirtd, virtlogd).
  pkill -KILL -f "$work/" 2>/dev/null || true
  sleep 0.2
  # The region networks amid made (its log names them) outlive an amid that
  # stopped with instances left, as they do for a real one: these go with the run.
  local ns
  for ns in $(grep -ho 'guest network in namespace amid-[^ ,]*' "$work"/*.log 2>/dev/null | awk '{print $NF}' | sort -u); do
    ip netns delete "$ns" 2>/dev/null || true
  done
  [ -n "${work:-}" ] && rm -rf "$work"
}

# bench_init NAME TITLE: a work dir under /tmp, fresh result files for NAME.
bench_init() {
  bench_name=$1
  bench_title=$2
  [ -x "$amid" ] && [ -x "$amictl" ] || { echo "bench: build first (scripts/build)" >&2; exit 2; }
  [ -f "$tiny" ] || { echo "bench: no tiny template at $tiny (images/build-tiny $tiny)" >&2; exit 2; }
  work=$(mktemp -d "/tmp/amid-bench-$bench_name-XXXXXX")
  chmod 0711 "$work"  # QEMU under libvirtd runs as libvirt-qemu and must reach files here
  mkdir -p "$BENCH_OUT"
  bench_tsv=$BENCH_OUT/$bench_name.tsv
  bench_md=$BENCH_OUT/$bench_name.md
  printf 'case\tvariant\tseconds\n' >"$bench_tsv"
  : >"$bench_md.rows"
  : >"$bench_md.notes"
  [ -f "$BENCH_OUT/ratios.tsv" ] || printf 'bench\tcase\tamid\tbaseline\tratio\ttarget\tverdict\n' >"$BENCH_OUT/ratios.tsv"
  # This benchmark's earlier lines go; the others' stay.
  awk -F'\t' -v b="$bench_name" 'NR == 1 || $1 != b' "$BENCH_OUT/ratios.tsv" >"$BENCH_OUT/ratios.tsv.new"
  mv "$BENCH_OUT/ratios.tsv.new" "$BENCH_OUT/ratios.tsv"
  trap bench_cleanup EXIT
  log "$bench_title ($BENCH_ROUNDS rounds$([ "$BENCH_SMOKE" = 1 ] && echo ', smoke run'))"
}

log() { echo "bench[$bench_name]: $*" >&2; }

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }  # seconds since a $(now)

# bench_start_amid [amid options...]: amid on $work/s with socket $work/a.sock;
# waits until it answers. Sets AMID_SOCKET (exported), amid_pid, amid_log.
bench_start_amid() {
  export AMID_SOCKET=$work/a.sock
  amid_log=$work/amid.log
  "$amid" --state-dir "$work/s" --socket "$AMID_SOCKET" "$@" >>"$amid_log" 2>&1 &
  amid_pid=$!
  bench_pids+=("$amid_pid")
  local i
  for i in $(seq 1200); do
    "$amictl" describe-images >/dev/null 2>&1 && return 0
    kill -0 "$amid_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "bench: amid did not start; its log:" >&2
  cat "$amid_log" >&2
  exit 1
}

bench_stop_amid() {
  kill -TERM "$amid_pid" 2>/dev/null || true
  wait "$amid_pid" 2>/dev/null || true
}

# bench_start_libvirtd: a libvirtd of our own on $work/lv/libvirt-sock (and
# virtlogd unless one runs), or the machine's own libvirtd when one runs (a
# second libvirtd as root cannot start beside it: both lock /run/libvirt).
# Sets libvirtd_uri (qemu+unix:///system?socket=...).
bench_start_libvirtd() {
  local lv=$work/lv i
  bench_wait_libvirtd_free
  if pgrep -x libvirtd >/dev/null && [ -S /run/libvirt/libvirt-sock ]; then
    log "using the libvirtd already running on this machine (/run/libvirt/libvirt-sock)"
    libvirtd_uri="qemu+unix:///system?socket=/run/libvirt/libvirt-sock"
    return 0
  fi
  mkdir -p "$lv"
  printf 'unix_sock_dir = "%s"\nlisten_tls = 0\nlisten_tcp = 0\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n' \
    "$lv" >"$lv/libvirtd.conf"
  if [ ! -S /run/libvirt/virtlogd-sock ]; then
    virtlogd >"$lv/virtlogd.log" 2>&1 &
    bench_pids+=("$!")
  fi
  libvirtd -f "$lv/libvirtd.conf" -p "$lv/libvirtd.pid" >"$lv/libvirtd.log" 2>&1 &
  bench_pids+=("$!")
  for i in $(seq 300); do [ -S "$lv/libvirt-sock" ] && break; sleep 0.1; done
  [ -S "$lv/libvirt-sock" ] || { echo "bench: libvirtd did not start; see $lv/libvirtd.log" >&2; cat "$lv/libvirtd.log" >&2; exit 1; }
  libvirtd_uri="qemu+unix:///system?socket=$lv/libvirt-sock"
}

# bench_start_remote_host: a second libvirt host on this machine (as the e2e
# tests' RemoteHost): a libvirtd reached only over qemu+tcp on 127.0.0.1, in
# mount and PID namespaces of its own (scripts/remote-host-init.sh), whose
# store folder ($remote_hidden) only it sees. Sets remote_uri, remote_hidden
# and remote_init (its PID 1, for remote_exec).
bench_start_remote_host() {
  local rh=$work/rh port i
  mkdir -p "$rh"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'listen_tls = 0\nlisten_tcp = 1\ntcp_port = "%s"\nlisten_addr = "127.0.0.1"\nauth_tcp = "none"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\nunix_sock_dir = "/run/libvirt"\n' \
    "$port" >"$rh/libvirtd.conf"
  remote_hidden=/srv/amid-bench-remote-$$
  remote_uri=qemu+tcp://127.0.0.1:$port/system
  unshare --mount --propagation private --pid --fork --mount-proc --kill-child \
    sh "$root/scripts/remote-host-init.sh" "$rh" "$remote_hidden" >"$rh/libvirtd.log" 2>&1 &
  bench_pids+=("$!")
  local unshare_pid=$!
  for i in $(seq 300); do
    timeout 20 virsh -c "$remote_uri" version >/dev/null 2>&1 && break
    sleep 0.2
  done
  remote_init=$(pgrep -P "$unshare_pid" | head -1)
  [ -n "$remote_init" ] && virsh -c "$remote_uri" version >/dev/null 2>&1 ||
    { echo "bench: the remote host's libvirtd did not answer; see $rh/libvirtd.log" >&2; tail -20 "$rh/libvirtd.log" >&2; exit 1; }
}
remote_exec() { nsenter --target "$remote_init" --mount -- "$@"; }  # a command on the remote host's files

# sample CASE VARIANT SECONDS: one measurement.
sample() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$bench_tsv"; }

# median/min/max of CASE's VARIANT samples, as "median min max n".
stats_of() {
  awk -F'\t' -v c="$1" -v v="$2" 'NR > 1 && $1 == c && $2 == v {print $3}' "$bench_tsv" | sort -g |
    awk '{a[NR]=$1} END {if (!NR) {print "nan nan nan 0"; exit}
         m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.4f %.4f %.4f %d\n", m, a[1], a[NR], NR}'
}

# percentile P (0-100) of CASE's VARIANT samples.
percentile_of() {
  awk -F'\t' -v c="$1" -v v="$2" 'NR > 1 && $1 == c && $2 == v {print $3}' "$bench_tsv" | sort -g |
    awk -v p="$3" '{a[NR]=$1} END {if (!NR) {print "nan"; exit} i=int((p/100)*NR+0.999999); if (i<1) i=1; if (i>NR) i=NR; printf "%.4f\n", a[i]}'
}

# row CASE VARIANT DESCRIPTION: a table row with the variant's median, min, max.
row() {
  local m mn mx n
  read -r m mn mx n <<<"$(stats_of "$1" "$2")"
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$3" "$m" "$mn" "$mx" "$n" >>"$bench_md.rows"
}

# ratio_row CASE AMID_DESC AMID_VARIANT BASE_DESC BASE_VARIANT TARGET: both rows,
# then the ratio of medians against TARGET ("<= 1.15"; "-" for none), recorded
# in ratios.tsv for the summary.
ratio_row() {
  row "$1" "$3" "$2"
  row "$1" "$5" "$4"
  ratio_line "$1" "$3" "$5" "$6"
}

# ratio_line CASE AMID_VARIANT BASE_VARIANT TARGET [LABEL]: only the ratio line
# (for a second ratio between rows already written). With LABEL, the line reads
# LABEL instead of "ratio of medians", and ratios.tsv's case is "CASE: LABEL".
ratio_line() {
  local c=$1 av=$2 bv=$3 target=$4 label=${5:-} am bm ratio verdict limit
  am=$(stats_of "$c" "$av" | cut -d' ' -f1)
  bm=$(stats_of "$c" "$bv" | cut -d' ' -f1)
  ratio=$(awk -v a="$am" -v b="$bm" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "nan"}')
  verdict=-
  if [ "$target" != - ]; then
    limit=${target#<= }
    verdict=$(awk -v r="$ratio" -v l="$limit" 'BEGIN {print (r <= l) ? "met" : "missed"}')
  fi
  printf '| %s | **%s** (target %s: %s) | **%s** | | | |\n' "$c" "${label:-ratio of medians}" "$target" "$verdict" "$ratio" >>"$bench_md.rows"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$bench_name" "$c${label:+: $label}" "$am" "$bm" "$ratio" "$target" "$verdict" >>"$BENCH_OUT/ratios.tsv"
}

# limit_row CASE DESCRIPTION VALUE UNIT TARGET: a single figure against a limit
# ("<= 50"), recorded in ratios.tsv with the value in the amid column.
limit_row() {
  local c=$1 d=$2 v=$3 unit=$4 target=$5 verdict=-
  if [ "$target" != - ]; then
    verdict=$(awk -v r="$v" -v l="${target#<= }" 'BEGIN {print (r + 0 <= l + 0) ? "met" : "missed"}')
  fi
  printf '| %s | %s (target %s %s: %s) | **%s %s** | | | |\n' "$c" "$d" "$target" "$unit" "$verdict" "$v" "$unit" >>"$bench_md.rows"
  printf '%s\t%s\t%s\t-\t-\t%s %s\t%s\n' "$bench_name" "$c: $d" "$v $unit" "$target" "$unit" "$verdict" >>"$BENCH_OUT/ratios.tsv"
}

# value_row CASE DESCRIPTION VALUE UNIT: a single figure shown in the table
# without a target, and kept out of ratios.tsv (so out of bench/run's summary).
value_row() {
  printf '| %s | %s | **%s %s** | | | |\n' "$1" "$2" "$3" "$4" >>"$bench_md.rows"
}

note() { printf '%s\n' "$*" >>"$bench_md.notes"; }

machine() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  echo "$(nproc) x ${cpu:-unknown CPU}, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r)," \
    "$(. /etc/os-release && echo "$PRETTY_NAME"), libvirt $(libvirtd --version 2>/dev/null | awk '{print $NF}')," \
    "QEMU $(qemu-img --version | awk 'NR==1 {print $3}')"
}

# bench_report: writes $bench_md from the rows and notes gathered.
bench_report() {
  {
    echo "# $bench_title"
    echo
    echo "Machine: $(machine). $BENCH_ROUNDS rounds$([ "$BENCH_SMOKE" = 1 ] && echo ' (smoke run: sizes cut down, figures not meaningful)')," \
      "run $(date -u +%Y-%m-%dT%H:%MZ)$([ -n "${amid_log:-}" ] && [ -f "${amid_log:-}" ] && grep -o 'accelerator [a-z]*' "$amid_log" | head -1 | sed 's/^/, /')."
    echo
    echo "| case | what | median s | min s | max s | n |"
    echo "|---|---|---|---|---|---|"
    cat "$bench_md.rows"
    if [ -s "$bench_md.notes" ]; then echo; cat "$bench_md.notes"; fi
  } >"$bench_md"
  rm -f "$bench_md.rows" "$bench_md.notes"
  cat "$bench_md" >&2
}

# Guests: register the tiny template once per amid; wait for a guest's ready line.
# ensure_tiny_image: sets tiny_ami, registering the template on first use.
ensure_tiny_image() {
  [ -n "${tiny_ami:-}" ] || tiny_ami=$("$amictl" register-image --name "bench-tiny" --disk "$tiny")
}
wait_ready() {  # $1: instance id [$2: timeout s]
  "$amictl" get-console-output --instance-id "$1" --wait-for "amid-tiny: ready" --timeout "${2:-300}" >/dev/null
}

# bench_wait_libvirtd_free [SECONDS]: waits (default up to 600 s) while another
# benchmark's libvirtd runs on this machine. A libvirtd as root keeps its drivers' state in
# /run/libvirt and locks it (driver.pid), so a second one, such as
# bench_start_libvirtd's when another benchmark runs at the same time, fails to
# start. Call it before bench_start_libvirtd.
bench_wait_libvirtd_free() {
  local i limit=$((${1:-600} * 2)) said=0
  for ((i = 0; i < limit; i++)); do
    pgrep -f "^libvirtd -f /tmp/amid-bench-" >/dev/null || return 0  # another benchmark's
    [ "$said" = 1 ] || { log "waiting for another libvirtd to end (its /run/libvirt locks)"; said=1; }
    sleep 0.5
  done
  log "another libvirtd still runs after ${1:-600} s; starting ours anyway"
}

# baseline_domain_xml SRC NAME DISK CONSOLE [BACKING]: prints the domain XML in
# file SRC (as `virsh dumpxml --inactive` gave it for an amid instance) made
# into a baseline's own domain: name NAME, no uuid, no amid metadata (so amid
# never takes it for one of its own), root disk vda on DISK, the serial console
# log at CONSOLE, no user-data fw_cfg entry, no NoCloud seed disk (the baseline
# is a plain launch; amid's time includes making its seed), a MAC and a tap of its own. vda's
# backingStore (the template) stays, or becomes BACKING when given ("": none,
# DISK is then a whole image). Everything else (machine, accelerator, CPU,
# memory, vCPUs, devices) stays as amid made it.
baseline_domain_xml() {
  /usr/bin/python3 - "$@" <<'PY'
import hashlib, sys, xml.etree.ElementTree as ET
src, name, disk, console = sys.argv[1:5]
tree = ET.parse(src)
dom = tree.getroot()
dom.find("name").text = name
for tag in ("uuid", "metadata", "sysinfo"):
    for el in dom.findall(tag):
        dom.remove(el)
if dom.find("title") is not None:
    dom.find("title").text = "amid bench baseline " + name
devices = dom.find("devices")
for d in devices.findall("disk"):
    if d.find("source") is not None and d.find("source").get("file", "").endswith("/seed.img"):
        devices.remove(d)
        continue
    if d.find("target").get("dev") != "vda":
        continue
    d.find("source").set("file", disk)
    if len(sys.argv) > 5:
        for b in d.findall("backingStore"):
            d.remove(b)
        if sys.argv[5]:
            b = ET.SubElement(d, "backingStore", type="file")
            ET.SubElement(b, "format", type="qcow2")
            ET.SubElement(b, "source", file=sys.argv[5])
            ET.SubElement(b, "backingStore")
        else:
            ET.SubElement(d, "backingStore")
for tag in ("serial", "console"):
    for c in devices.findall(tag):
        if c.find("source") is not None:
            c.find("source").set("path", console)
# amid's NIC is a tap amid made (managed='no'); the baseline's is a tap libvirt
# makes for it, on no network.
for nic in devices.findall("interface[@type='ethernet']"):
    for target in nic.findall("target"):
        nic.remove(target)
h = hashlib.sha256(name.encode()).hexdigest()
for mac in devices.findall("interface/mac"):
    mac.set("address", "52:54:01:%s:%s:%s" % (h[0:2], h[2:4], h[4:6]))
sys.stdout.write(ET.tostring(dom, encoding="unicode") + "\n")
PY
}

# bench_amid_config_libvirtd FILE [EMBEDDED_REGION]: writes an amid.toml whose
# default region local-1 keeps its store in $work/store and runs its guests on
# bench_start_libvirtd's daemon ($libvirtd_uri, which `virsh -c` reaches too);
# with EMBEDDED_REGION, a second region of that name on amid's default embedded
# driver (qemu:///embed, store $work/emb). Then: bench_start_amid --config FILE.
bench_amid_config_libvirtd() {
  mkdir -p -m 0711 "$work/store"
  printf '[daemon]\nregion = "local-1"\n\n[regions.local-1]\nstore = "%s"\nlibvirt_uri = "%s"\n' \
    "$work/store" "$libvirtd_uri" >"$1"
  if [ -n "${2:-}" ]; then
    mkdir -p -m 0711 "$work/emb"
    printf '\n[regions.%s]\nstore = "%s"\nlibvirt_uri = "embedded"\n' "$2" "$work/emb" >>"$1"
  fi
}

# qemu_pid_of NAME: the pid of the QEMU running libvirt domain NAME (empty if none).
qemu_pid_of() { pgrep -f -- "-name guest=$1," | head -1 || true; }

# wait_line FILE TEXT [TIMEOUT]: polls FILE every 10 ms until it holds TEXT;
# status 1 after TIMEOUT seconds (default 300).
wait_line() {
  local end=$((${EPOCHSECONDS} + ${3:-300}))
  until grep -qF -- "$2" "$1" 2>/dev/null; do
    [ "$EPOCHSECONDS" -lt "$end" ] || return 1
    sleep 0.01
  done
}

# bench_libvirtd_logs_cleanup: removes the per-domain logs a libvirtd as root
# keeps in /var/log/libvirt/qemu for the guests of this run (those whose QEMU
# command line names a path under $work); call it from the EXIT trap.
bench_libvirtd_logs_cleanup() {
  [ -n "${work:-}" ] && [ -d /var/log/libvirt/qemu ] || return 0
  grep -lF -- "$work/" /var/log/libvirt/qemu/*.log 2>/dev/null | xargs -r rm -f -- || true
}

# wait_gone PID: until the process is gone, reaped (at most 30 s).
wait_gone() {
  local _
  [ -n "$1" ] || return 0
  for _ in $(seq 3000); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.01; done
  log "process $1 still there after 30 s"
}

# bench_start_two_regions: amid with local-1 on a libvirtd ($libvirtd_uri, which
# `virsh -c` reaches too) and embed-1 on the embedded driver, the tiny template
# registered in both. Sets virsh (an array: virsh on that URI), tiny_ami and
# embed_ami, and tiny_tpl (local-1's template file).
bench_start_two_regions() {
  bench_start_libvirtd
  trap 'bench_libvirtd_logs_cleanup; bench_cleanup' EXIT
  bench_amid_config_libvirtd "$work/amid.toml" embed-1
  bench_start_amid --config "$work/amid.toml"
  virsh=(virsh -q -c "$libvirtd_uri")
  ensure_tiny_image
  embed_ami=$("$amictl" --region embed-1 register-image --name "bench-tiny" --disk "$tiny")
  tiny_tpl=$work/store/images/$tiny_ami/disk.qcow2
  [ -f "$tiny_tpl" ] || { log "template not where README's store layout says"; exit 1; }
}
