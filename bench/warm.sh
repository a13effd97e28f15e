#!/usr/bin/env bash
# Benchmark (issue 19): warm launches (docs/WARM_IMAGES.md).
#
# warm-ready / warm-user-data: from the start of `amictl run-instances` of a
#   warm image (the tiny template, made warm for t3.nano) until "amid-tiny:
#   ready", and until the user data's first line, appear in the instance's
#   serial console log. Against the same launch of a cold copy of the template
#   (registered again, never made warm) and against a plain `virsh restore` of
#   the same save image (amid's warm-memory.save, its XML pointed at a fresh
#   overlay and a console of its own with `virsh save-image-define`), timed
#   until virsh returns (the guest running). Target: warm at most 1.0 s, and
#   at most 1.15 x the plain restore.
# at-once-N: N launches at once (--count N: 4, 8 and 16, warm; cold up to 8;
#   2 in the smoke run), until every one's ready line; plotted by N with the single
#   launches (warm-by-count.png). The QEMU processes' total PSS
#   (/proc/PID/smaps_rollup) after the 8: warm against cold (2 in the smoke run).
# Also: the save image's size against the guest's RAM, and disk used per warm
#   image (its two files, allocated blocks).
#
# amid runs its region on a libvirtd of the benchmark's own (so that virsh
# reaches the same QEMU). Each round runs every variant once, in reverse order
# on even rounds; each guest is terminated, and its QEMU gone, before the next
# starts, outside the timed part.
#
# Run: bench/warm.sh (BENCH_ROUNDS, BENCH_SMOKE=1: one round; BENCH_OUT), or bench/run.
source "$(dirname "$0")/lib.sh"
bench_init warm "Warm launches: restored against booted, against a plain virsh restore"

bench_start_libvirtd
trap 'bench_libvirtd_logs_cleanup; bench_cleanup' EXIT
bench_amid_config_libvirtd "$work/amid.toml"
bench_start_amid --config "$work/amid.toml"
virsh=(virsh -q -c "$libvirtd_uri")
ensure_tiny_image
warm_ami=$tiny_ami
cold_ami=$("$amictl" register-image --name "bench-tiny-cold" --disk "$tiny")
store=$work/store
ready="amid-tiny: ready"
ud_line="bench-user-data-ran"
printf 'echo %s\n' "$ud_line" >"$work/ud.sh"

log "making $warm_ami warm (t3.nano)"
t0=$(now)
"$amictl" warm-image --image-id "$warm_ami" --instance-type t3.nano --wait --timeout 600 >/dev/null ||
  { log "warm-image failed; amid's log:"; tail -20 "$amid_log" >&2; exit 1; }
log "warm-image took $(since "$t0") s (one boot, the save, the copy of the root layer)"
memory=$store/images/$warm_ami/warm-memory.save
root_layer=$store/images/$warm_ami/warm-root.qcow2
[ -f "$memory" ] && [ -f "$root_layer" ] || { log "no warm state files in $store/images/$warm_ami"; exit 1; }

# launch CASE VARIANT AMI: run-instances until the user data's line and the ready line.
launch() {
  local c=$1 v=$2 ami=$3 t0 id pid console
  t0=$(now)
  id=$("$amictl" --output text run-instances --image-id "$ami" --instance-type t3.nano \
    --user-data "file://$work/ud.sh" | cut -f1)
  console=$store/instances/$id/console.log
  wait_line "$console" "$ud_line" 300 || { log "$id: no user data line in 300 s"; exit 1; }
  sample "$c-user-data" "$v" "$(since "$t0")"
  wait_line "$console" "$ready" 300 || { log "$id: no ready line in 300 s"; exit 1; }
  sample "$c-ready" "$v" "$(since "$t0")"
  mode=$("$amictl" --output json describe-instances --instance-ids "$id" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["Reservations"][0]["Instances"][0]["LaunchMode"])')
  if [ "$v" = amid-warm ] && [ "$mode" != warm ]; then
    log "$id was not restored (LaunchMode $mode); amid's log:"
    tail -5 "$amid_log" >&2
    exit 1
  fi
  # The plain restore needs a NoCloud seed disk the size of the saved guest's.
  [ -f "$work/plain/seed.img" ] || cp --sparse=always "$store/instances/$id/seed.img" "$work/plain/seed.img"
  pid=$(qemu_pid_of "$id")
  "$amictl" terminate-instances --instance-ids "$id" >/dev/null
  wait_gone "$pid"
}

# The plain restore: amid's save image, as it is, with its XML's files moved
# to $work/plain (libvirt's own save-image-define; the name, UUID and devices
# stay those of the guest that was saved, whose instance is gone).
mkdir -p -m 0711 "$work/plain"
cp --sparse=always "$memory" "$work/plain/memory.save"
"${virsh[@]}" save-image-dumpxml "$work/plain/memory.save" >"$work/plain/saved.xml"
plain_name=$(/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as ET; print(ET.parse(sys.argv[1]).getroot().findtext("name"))' "$work/plain/saved.xml")
plain_ready=0
plain_prepare() {  # a fresh overlay on the warm root layer; the XML once
  rm -f "$work/plain/root.qcow2" "$work/plain/console.log"
  qemu-img create -q -f qcow2 -b "$root_layer" -F qcow2 "$work/plain/root.qcow2"
  [ "$plain_ready" = 1 ] && return 0
  /usr/bin/python3 - "$work/plain/saved.xml" "$work/plain" >"$work/plain/restore.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
src, d = sys.argv[1:3]
dom = ET.parse(src).getroot()
dev = dom.find("devices")
for disk in dev.findall("disk"):
    s = disk.find("source")
    if s is None:
        continue
    f = s.get("file", "")
    if disk.find("target").get("dev") == "vda":
        s.set("file", d + "/root.qcow2")
        for b in disk.findall("backingStore"):
            disk.remove(b)
    elif f.endswith("/seed.img"):
        s.set("file", d + "/seed.img")
for tag in ("serial", "console"):
    for c in dev.findall(tag):
        if c.find("source") is not None and c.find("source").get("path"):
            c.find("source").set("path", d + "/console.log")
for ch in dev.findall("channel"):
    s = ch.find("source")
    if s is not None and s.get("path"):
        s.set("path", d + "/" + ch.find("target").get("name") + ".sock")
# amid's tap (managed='no') went with its instance: libvirt makes one instead.
for nic in dev.findall("interface"):
    for t in nic.findall("target"):
        nic.remove(t)
sys.stdout.write(ET.tostring(dom, encoding="unicode") + "\n")
PY
  "${virsh[@]}" save-image-define "$work/plain/memory.save" "$work/plain/restore.xml" >/dev/null
  plain_ready=1
}
plain_restore() {  # CASE VARIANT
  local t0
  plain_prepare
  t0=$(now)
  "${virsh[@]}" restore "$work/plain/memory.save" >/dev/null
  sample "$1" "$2" "$(since "$t0")"
  "${virsh[@]}" destroy "$plain_name" >/dev/null
}

steps=(warm cold plain)
for r in $(seq "$BENCH_ROUNDS"); do
  log "round $r of $BENCH_ROUNDS"
  if ((r % 2)); then order=("${steps[@]}"); else order=(plain cold warm); fi
  for s in "${order[@]}"; do
    case $s in
      warm) launch launch amid-warm "$warm_ami" ;;
      cold) launch launch amid-cold "$cold_ami" ;;
      plain) plain_restore launch-ready virsh-restore ;;
    esac
  done
done

# N at once: until every ready line; then the QEMU processes' total PSS.
# many VARIANT AMI N: prints "SECONDS PSS_MIB".
many() {
  local v=$1 ami=$2 n=$3 t0 ids id t pss=0 pids=()
  t0=$(now)
  mapfile -t ids < <("$amictl" --output text run-instances --image-id "$ami" --instance-type t3.nano \
    --count "$n" --user-data "file://$work/ud.sh" | cut -f1)
  [ "${#ids[@]}" = "$n" ] || { log "$v: $n launches gave ${#ids[@]} instances"; exit 1; }
  for id in "${ids[@]}"; do
    wait_line "$store/instances/$id/console.log" "$ready" 600 || { log "$id: no ready line in 600 s"; exit 1; }
  done
  t=$(since "$t0")
  sleep 2  # pages the guests touch right after their ready line
  for id in "${ids[@]}"; do
    pids+=("$(qemu_pid_of "$id")")
    pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/${pids[-1]}/smaps_rollup")))
  done
  "$amictl" terminate-instances --instance-ids "${ids[@]}" >/dev/null
  for id in "${pids[@]}"; do wait_gone "$id"; done
  echo "$t $((pss / 1024))"
}
# N at once, warm and cold, for the plot by instance count; PSS from the
# middle size (8; 2 in the smoke run).
# Cold stops at 8: 16 guests booting at once under TCG on 2 cores sometimes
# leave one stuck in its kernel's timer check ("MP-BIOS bug: 8254 timer not
# connected to IO-APIC"), a boot problem warm launches do not have.
if [ "$BENCH_SMOKE" = 1 ]; then counts=(2) pss_n=2 cold_max=2; else counts=(4 8 16) pss_n=8 cold_max=8; fi
for n in "${counts[@]}"; do
  for v in warm cold; do
    [ "$v" = cold ] && [ "$n" -gt "$cold_max" ] && continue
    ami=$warm_ami; [ "$v" = cold ] && ami=$cold_ami
    log "$n $v launches at once"
    out=$(many "amid-$v" "$ami" "$n") || exit 1
    sample "at-once-$n" "amid-$v" "${out% *}"
    [ "$n" = "$pss_n" ] && printf -v "${v}_pss" '%s' "${out#* }"
  done
done

# Ready time by instance count, cold against warm (medians; 1 = the rounds above).
{
  printf 'count\twarm\tcold\n'
  printf '1\t%s\t%s\n' "$(stats_of launch-ready amid-warm | cut -d' ' -f1)" "$(stats_of launch-ready amid-cold | cut -d' ' -f1)"
  for n in "${counts[@]}"; do
    cold=$(stats_of "at-once-$n" amid-cold | cut -d' ' -f1)
    [ "$cold" = nan ] && cold=NaN  # gnuplot leaves the point out
    printf '%s\t%s\t%s\n' "$n" "$(stats_of "at-once-$n" amid-warm | cut -d' ' -f1)" "$cold"
  done
} >"$BENCH_OUT/warm-by-count.dat"
gnuplot <<EOF
set terminal pngcairo size 800,480 font ",10"
set output "$BENCH_OUT/warm-by-count.png"
set title "run-instances --count N until every guest's ready line (tiny, t3.nano, $(grep -o 'accelerator [a-z]*' "$amid_log" | head -1))"
set xlabel "instances launched at once"
set ylabel "seconds (median)"
set key top left
set grid ytics
set xtics (1$(printf ', %s' "${counts[@]}"))
plot "$BENCH_OUT/warm-by-count.dat" using 1:3 with linespoints title "cold (boot)", \
     "" using 1:2 with linespoints title "warm (restore)"
EOF

ratio_row launch-ready "amictl run-instances of the warm image until \"$ready\" (user data run)" amid-warm \
  "plain virsh restore of the same save image, until virsh returns (guest running)" virsh-restore "<= 1.15"
limit_row launch-ready "warm run-instances until \"$ready\", median" \
  "$(stats_of launch-ready amid-warm | cut -d' ' -f1)" s "<= 1.0"
row launch-ready amid-cold "the same launch of the template never made warm (a boot)"
ratio_line launch-ready amid-warm amid-cold - "warm against cold"
row launch-user-data amid-warm "warm run-instances until the user data's first line"
row launch-user-data amid-cold "cold run-instances until the user data's first line"
for n in "${counts[@]}"; do
  row "at-once-$n" amid-warm "$n warm launches at once (one run-instances --count $n), until every ready line"
  [ "$n" -gt "$cold_max" ] || row "at-once-$n" amid-cold "$n cold launches at once, the same way"
done
value_row memory "total PSS of $pss_n warm guests' QEMU processes (t3.nano, 512 MiB each), after their ready lines" "$warm_pss" MiB
value_row memory "total PSS of $pss_n cold-booted guests' QEMU processes, the same way" "$cold_pss" MiB
value_row memory "save image (warm-memory.save) for a 512 MiB guest" "$(($(stat -c %s "$memory") / 1048576))" MiB
value_row disk "disk used per warm image: save image and root layer, allocated" \
  "$(($(du -kc -- "$memory" "$root_layer" | awk 'END {print $1}') / 1024))" MiB
note "Launch = from the command's start until the text is in the instance's console log file, polled every 10 ms. The plain restore is timed until \`virsh restore\` returns; it tells the guest nothing (amid's launch also sends the guest its identity on the resume port, waits for its answer, sets its link up, and the guest runs the user data)."
note "KSM: $(cat /sys/kernel/mm/ksm/run 2>/dev/null || echo absent) (/sys/kernel/mm/ksm/run; 1 merges identical pages between guests; amid leaves it to the admin)."
note "Load average (1, 5, 15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores."
bench_report
