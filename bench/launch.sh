#!/usr/bin/env bash
# Benchmark (issue 7, items 1 and 2): launch.
#
# launch: `amictl run-instances` of the tiny template until the domain runs,
#   against what a user would do by hand on the same libvirt URI: `qemu-img
#   create -f qcow2 -b TEMPLATE -F qcow2` an overlay, then `virsh create` the
#   domain XML amid made (name, uuid, amid metadata, disk, console log and MAC
#   changed; bench/lib.sh baseline_domain_xml). Target: ratio <= 1.15.
# template-size: the same run-instances from a template of 20 GiB virtual with
#   2 GiB of random data written, against the tiny one. Target: ratio <= 1.05.
#   Beside it, for scale: virsh create of an overlay on the large template, and
#   virt-clone's full copy of it (`virt-clone --original-xml ... --file ...`).
#
# "Until the domain runs", for both: from the command's start until it returns.
# amid's RunInstances returns after virDomainCreate has returned (QEMU started,
# vCPUs resumed: libvirt state running), as `virsh create` returns after
# virDomainCreateXML; each round checks (untimed) that libvirt then says
# "running". amid runs with its default region local-1 on a libvirtd of the
# benchmark's own (qemu+unix:///system?socket=...), so virsh reaches the same
# URI; a second region, embed-1, on amid's default embedded driver
# (qemu:///embed) gives extra rows without a baseline. Instance type t3.nano
# (2 vCPUs, 512 MiB), no user data. Each round runs every variant once, in
# reverse order on even rounds; each launch is terminated (or destroyed) and its
# QEMU gone before the next starts, outside the timed part.
#
# Run: bench/launch.sh (BENCH_ROUNDS, BENCH_SMOKE=1: 2 GiB virtual, 64 MiB of
# data, one round; BENCH_OUT), or bench/run for all benchmarks.
source "$(dirname "$0")/lib.sh"
bench_init launch "Launch: run-instances until the domain runs, against qemu-img create + virsh create"

if [ "$BENCH_SMOKE" = 1 ]; then large_gib=2 data_mib=64; else large_gib=20 data_mib=2048; fi
large_label="${large_gib}G"

bench_start_libvirtd
bench_amid_config_libvirtd "$work/amid.toml" embed-1
bench_start_amid --config "$work/amid.toml"
virsh=(virsh -q -c "$libvirtd_uri")

clone_names=()
launch_cleanup() {
  local n
  for n in "${clone_names[@]}"; do "${virsh[@]}" undefine "$n" >/dev/null 2>&1 || true; done
  # virt-clone defines a persistent, autostarted pool for a folder that has
  # none; ours are transient, but whatever pool points into $work goes.
  for n in $("${virsh[@]}" pool-list --all --name 2>/dev/null); do
    if "${virsh[@]}" pool-dumpxml "$n" 2>/dev/null | grep -q "<path>$work"; then
      "${virsh[@]}" pool-destroy "$n" >/dev/null 2>&1 || true
      "${virsh[@]}" pool-undefine "$n" >/dev/null 2>&1 || true
    fi
  done
  bench_libvirtd_logs_cleanup
  bench_cleanup
}
trap launch_cleanup EXIT

log "making the large template: $large_gib GiB virtual, $data_mib MiB of random data (the tiny guest, grown)"
qemu-img convert -O raw "$tiny" "$work/large.raw"
truncate -s "${large_gib}G" "$work/large.raw"
# Past the tiny image's 128 MiB, so the guest still boots the same.
dd if=/dev/urandom of="$work/large.raw" bs=1M seek=256 count="$data_mib" conv=notrunc status=none
qemu-img convert -O qcow2 "$work/large.raw" "$work/large.qcow2"
rm -f "$work/large.raw"

ensure_tiny_image
large_ami=$("$amictl" register-image --name "bench-large" --disk "$work/large.qcow2")
embed_ami=$("$amictl" --region embed-1 register-image --name "bench-tiny" --disk "$tiny")
tiny_tpl=$work/store/images/$tiny_ami/disk.qcow2
large_tpl=$work/store/images/$large_ami/disk.qcow2
[ -f "$tiny_tpl" ] && [ -f "$large_tpl" ] || { log "templates not where README's store layout says"; exit 1; }
mkdir -p -m 0711 "$work/base" "$work/clone"
# Transient storage pools on the folders virt-clone reads and writes: without
# them it defines persistent ones (in /etc/libvirt/storage) on first use.
"${virsh[@]}" pool-create-as bench-work dir --target "$work" >/dev/null
"${virsh[@]}" pool-create-as bench-clone dir --target "$work/clone" >/dev/null

# amid_launch CASE VARIANT AMI [REGION]: one timed run-instances, then terminate.
amid_launch() {
  local c=$1 v=$2 ami=$3 region=${4:-local-1} t0 t id pid st
  t0=$(now)
  id=$("$amictl" --region "$region" --output text run-instances --image-id "$ami" --instance-type t3.nano | cut -f1)
  t=$(since "$t0")
  pid=$(qemu_pid_of "$id")
  if [ "$region" = local-1 ]; then
    st=$("${virsh[@]}" domstate "$id")
    [ "$st" = running ] || { log "$id is '$st' after run-instances returned"; exit 1; }
  fi
  [ -n "$pid" ] || { log "no QEMU for $id after run-instances returned"; exit 1; }
  sample "$c" "$v" "$t"
  "$amictl" --region "$region" terminate-instances --instance-ids "$id" >/dev/null
  wait_gone "$pid"
}

# virsh_launch CASE VARIANT TEMPLATE: one timed qemu-img create + virsh create,
# then virsh destroy.
n=0
virsh_launch() {
  local c=$1 v=$2 tpl=$3 name overlay t0 t pid st
  n=$((n + 1))
  name=bench-base-$n
  overlay=$work/base/$name.qcow2
  baseline_domain_xml "$work/amid-domain.xml" "$name" "$overlay" "$work/base/$name.console.log" "$tpl" >"$work/base/$name.xml"
  t0=$(now)
  qemu-img create -q -f qcow2 -b "$tpl" -F qcow2 "$overlay"
  "${virsh[@]}" create "$work/base/$name.xml" >/dev/null
  t=$(since "$t0")
  st=$("${virsh[@]}" domstate "$name")
  [ "$st" = running ] || { log "$name is '$st' after virsh create returned"; exit 1; }
  pid=$(qemu_pid_of "$name")
  sample "$c" "$v" "$t"
  "${virsh[@]}" destroy "$name" >/dev/null
  wait_gone "$pid"
  rm -f "$overlay" "$work/base/$name.xml" "$work/base/$name.console.log"
}

# clone_large: one timed virt-clone full copy of the large template.
clone_large() {
  local t0 t name=bench-clone-$n
  n=$((n + 1))
  clone_names+=("$name")
  t0=$(now)
  virt-clone --connect "$libvirtd_uri" --original-xml "$work/clone-original.xml" --name "$name" \
    --file "$work/clone/$name.qcow2" >"$work/clone/virt-clone.log" 2>&1 ||
    { cat "$work/clone/virt-clone.log" >&2; exit 1; }
  t=$(since "$t0")
  sample template-size virt-clone "$t"
  "${virsh[@]}" undefine "$name" >/dev/null
  rm -f "$work/clone/$name.qcow2"
}

# Warm-up, untimed: one launch of each kind (first QEMU start, page cache), and
# the domain XML amid makes, for the baselines.
log "warm-up"
amid_launch warmup amid "$tiny_ami"
id=$("$amictl" --output text run-instances --image-id "$tiny_ami" --instance-type t3.nano | cut -f1)
"${virsh[@]}" dumpxml --inactive "$id" >"$work/amid-domain.xml"
pid=$(qemu_pid_of "$id")
"$amictl" terminate-instances --instance-ids "$id" >/dev/null
wait_gone "$pid"
amid_launch warmup amid "$large_ami"
amid_launch warmup amid "$embed_ami" embed-1
virsh_launch warmup virsh "$tiny_tpl"
baseline_domain_xml "$work/amid-domain.xml" bench-clone-original "$work/large.qcow2" "$work/clone/console.log" "" \
  >"$work/clone-original.xml"
sed -i '/^warmup\t/d' "$bench_tsv"

steps=(amid-tiny virsh-tiny amid-large virsh-large amid-embedded virt-clone)
step() {
  case $1 in
    amid-tiny)
      amid_launch launch amid "$tiny_ami"
      sample template-size amid-tiny "$(awk -F'\t' '$1 == "launch" && $2 == "amid" {t = $3} END {print t}' "$bench_tsv")" ;;
    virsh-tiny) virsh_launch launch virsh "$tiny_tpl" ;;
    amid-large) amid_launch template-size "amid-$large_label" "$large_ami" ;;
    virsh-large) virsh_launch template-size "virsh-$large_label" "$large_tpl" ;;
    amid-embedded) amid_launch launch amid-embedded "$embed_ami" embed-1 ;;
    virt-clone) clone_large ;;
  esac
}
for r in $(seq "$BENCH_ROUNDS"); do
  log "round $r of $BENCH_ROUNDS"
  if ((r % 2)); then order=("${steps[@]}"); else order=(); for ((i = ${#steps[@]} - 1; i >= 0; i--)); do order+=("${steps[$i]}"); done; fi
  for s in "${order[@]}"; do step "$s"; done
done

ratio_row launch "amictl run-instances (region on libvirtd), until it returns with the domain running" amid \
  "qemu-img create overlay + virsh create of amid's domain XML, same URI" virsh "<= 1.15"
row launch amid-embedded "amictl run-instances on amid's default embedded driver (qemu:///embed), no baseline"
ratio_row template-size "amictl run-instances, $large_gib GiB template with $data_mib MiB written" "amid-$large_label" \
  "amictl run-instances, tiny template (the launch case's amid samples)" amid-tiny "<= 1.05"
row template-size "virsh-$large_label" "qemu-img create overlay + virsh create, $large_gib GiB template (for scale)"
row template-size virt-clone "virt-clone full copy of the $large_gib GiB template (for scale)"
note "Launch = from the command's start until it returns; both return once libvirt has started QEMU and resumed its vCPUs (state running, checked after each round). Tiny template: $(qemu-img info --output=json "$tiny" | awk -F': ' '/"virtual-size"/ {gsub(",", "", $2); printf "%d MiB virtual", $2 / 1048576}'), large: $large_gib GiB virtual with $data_mib MiB of random data. Instance type t3.nano (2 vCPUs, 512 MiB), TCG."
note "Baseline: the domain XML amid made (virsh dumpxml --inactive), renamed, without uuid and amid metadata, disk on a fresh qemu-img overlay; created with virsh on the same libvirtd URI. Rounds alternate the order of the variants; each guest is terminated or destroyed, and its QEMU gone, outside the timed part."
note "amid's log for a launch: $(grep -m1 'launched from' "$amid_log" | cut -c1-160)"
note "Load average (1, 5, 15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores."
bench_report
