#!/usr/bin/env bash
# Benchmark (issue 7, item 3): boot to the readiness line.
#
# boot: from the start of `amictl run-instances` of the tiny template until
#   "amid-tiny: ready" appears in the instance's serial console log, against
#   plain qemu-system-x86_64 (started by hand, no libvirt) on an overlay of the
#   same template made with `qemu-img create`, with the accelerator, machine
#   type, CPU model, memory, vCPUs and devices of amid's domain XML (read from
#   `virsh dumpxml`), serial console to a file; timed from the start of
#   `qemu-img create` until the line appears. Both console files are polled the
#   same way, every 10 ms (bench/lib.sh wait_line). Target: ratio <= 1.10.
#
# amid runs its default region local-1 on a libvirtd of the benchmark's own;
# a second region, embed-1, on amid's default embedded driver (qemu:///embed)
# gives an extra row without a baseline. Instance type t3.nano (2 vCPUs,
# 512 MiB), no user data. Each round runs every variant once, in reverse order
# on even rounds; each guest is stopped, and its QEMU gone, before the next
# starts, outside the timed part.
#
# Run: bench/boot.sh (BENCH_ROUNDS, BENCH_SMOKE=1: one round; BENCH_OUT), or bench/run.
source "$(dirname "$0")/lib.sh"
bench_init boot "Boot to the readiness line: amid against plain qemu-system-x86_64"

bench_start_two_regions
mkdir -p -m 0711 "$work/plain"
ready="amid-tiny: ready"

# amid_boot CASE VARIANT AMI REGION STORE: run-instances until the ready line.
amid_boot() {
  local c=$1 v=$2 ami=$3 region=$4 store=$5 t0 t tr id pid
  t0=$(now)
  id=$("$amictl" --region "$region" --output text run-instances --image-id "$ami" --instance-type t3.nano | cut -f1)
  tr=$(since "$t0")
  wait_line "$store/instances/$id/console.log" "$ready" 300 || { log "$id: no ready line in 300 s"; exit 1; }
  t=$(since "$t0")
  sample "$c" "$v" "$t"
  sample "$c-launch-part" "$v" "$tr"
  pid=$(qemu_pid_of "$id")
  "$amictl" --region "$region" terminate-instances --instance-ids "$id" >/dev/null
  wait_gone "$pid"
}

# plain_boot CASE VARIANT: qemu-img create + qemu-system-x86_64 until the ready line.
n=0
plain_boot() {
  local c=$1 v=$2 t0 t pid overlay console
  n=$((n + 1))
  overlay=$work/plain/$n.qcow2
  console=$work/plain/$n.console.log
  t0=$(now)
  qemu-img create -q -f qcow2 -b "$tiny_tpl" -F qcow2 "$overlay"
  "${qemu[@]}" -name "guest=bench-plain-$n,debug-threads=on" \
    -blockdev "{\"driver\":\"file\",\"filename\":\"$overlay\",\"node-name\":\"root-storage\",\"discard\":\"unmap\"}" \
    -blockdev '{"node-name":"root-format","driver":"qcow2","file":"root-storage","discard":"unmap"}' \
    -device '{"driver":"virtio-blk-pci","drive":"root-format","id":"virtio-disk0","bootindex":1}' \
    -chardev "file,id=charserial0,path=$console,append=on" \
    -device '{"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}' \
    >"$work/plain/qemu.log" 2>&1 &
  pid=$!
  if ! wait_line "$console" "$ready" 300; then
    log "plain QEMU: no ready line in 300 s"
    cat "$work/plain/qemu.log" >&2
    exit 1
  fi
  t=$(since "$t0")
  sample "$c" "$v" "$t"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  rm -f "$overlay" "$console"
}

# Warm-up, untimed: one boot through amid, whose domain XML gives plain QEMU's
# options; then one plain boot. (Smoke run: the XML only.)
log "warm-up"
t0=$(now)
id=$("$amictl" --output text run-instances --image-id "$tiny_ami" --instance-type t3.nano | cut -f1)
if [ "$BENCH_SMOKE" != 1 ]; then
  wait_line "$work/store/instances/$id/console.log" "$ready" 300 || { log "$id: no ready line in 300 s"; exit 1; }
  log "warm-up boot through amid: $(since "$t0") s"
fi
"${virsh[@]}" dumpxml --inactive "$id" >"$work/amid-domain.xml"
pid=$(qemu_pid_of "$id")
"$amictl" terminate-instances --instance-ids "$id" >/dev/null
wait_gone "$pid"
# The options libvirt gives QEMU for amid's domain, but for its monitor socket,
# secrets, fd passing and sandbox: what someone running QEMU by hand would type.
mapfile -t qemu < <(/usr/bin/python3 - "$work/amid-domain.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
d = ET.parse(sys.argv[1]).getroot()
unit = {"KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}
mem = d.find("memory")
mib = int(mem.text) * unit.get(mem.get("unit", "KiB"), 1024) // (1 << 20)
cpu = d.find("cpu")
model = "host" if cpu is not None and cpu.get("mode") == "host-passthrough" else (
    cpu.findtext("model") if cpu is not None and cpu.findtext("model") else "qemu64")
# amid's NIC, where its region has a network (a tap in the region's namespace;
# the tiny guest has no driver for it): a NIC here too, on a user network that
# reaches nothing (restrict=on).
nic = d.find("devices/interface/mac")
args = [d.findtext("devices/emulator") or "qemu-system-x86_64",
        "-machine", d.find("os/type").get("machine") + ",usb=off,dump-guest-core=off",
        "-accel", "kvm" if d.get("type") == "kvm" else "tcg",
        "-cpu", model, "-m", str(mib),
        "-smp", "%s,sockets=%s,cores=1,threads=1" % (d.findtext("vcpu"), d.findtext("vcpu")),
        "-display", "none", "-no-user-config", "-nodefaults", "-rtc", "base=utc", "-boot", "strict=on",
        "-audiodev", '{"id":"audio1","driver":"none"}']
if nic is not None:
    args += ["-netdev", '{"type":"user","id":"hostnet0","restrict":true}',
             "-device", '{"driver":"virtio-net-pci","netdev":"hostnet0","id":"net0","mac":"%s"}' % nic.get("address")]
print("\n".join(args))
PY
)
[ "${#qemu[@]}" -gt 10 ] || { log "cannot read QEMU's options from amid's domain XML"; exit 1; }
[ "$BENCH_SMOKE" = 1 ] || plain_boot warmup plain
sed -i '/^warmup\t/d' "$bench_tsv"

steps=(amid plain embedded)
for r in $(seq "$BENCH_ROUNDS"); do
  log "round $r of $BENCH_ROUNDS"
  if ((r % 2)); then order=("${steps[@]}"); else order=(embedded plain amid); fi
  for s in "${order[@]}"; do
    case $s in
      amid) amid_boot boot amid "$tiny_ami" local-1 "$work/store" ;;
      plain) plain_boot boot qemu ;;
      embedded) amid_boot boot amid-embedded "$embed_ami" embed-1 "$work/emb" ;;
    esac
  done
done

ratio_row boot "amictl run-instances (region on libvirtd) until \"$ready\" on the serial console" amid \
  "qemu-img create overlay + plain qemu-system-x86_64, same options, until the same line" qemu "<= 1.10"
row boot amid-embedded "amictl run-instances on amid's default embedded driver (qemu:///embed), no baseline"
row boot-launch-part amid "of amid's boot: until run-instances returned (domain running)"
row boot-launch-part amid-embedded "of amid's boot on the embedded driver: until run-instances returned"
note "Boot = from the command's start until \"$ready\" is in the console log file, both files polled every 10 ms. Plain QEMU's options, from amid's domain XML: ${qemu[*]:1} (plus the overlay as virtio-blk, bootindex 1, and the serial console to a file)."
note "Load average (1, 5, 15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores: TCG guests are CPU-bound, so other work on the machine shows in these times."
note "Guests: the tiny template (busybox on Debian's kernel, SeaBIOS -> extlinux), no user data; t3.nano. Rounds alternate the order of the variants; each guest is stopped and gone outside the timed part."
bench_report
