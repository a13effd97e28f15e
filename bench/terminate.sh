#!/usr/bin/env bash
# Benchmark (issue 7, item 7): terminate.
#
# `amictl terminate-instances` of a running (booted) instance until its QEMU
# process is gone, against `virsh destroy` of the same guest (amid's domain
# XML, created with `virsh create` on an overlay) on the same libvirt URI.
# While the command runs, the QEMU's pid is polled every 5 ms
# (/proc/PID/stat), from the command's start:
#   terminate-exited    until QEMU has exited (a zombie, state Z, or gone)
#   terminate-reaped    until its parent has reaped it (the pid is gone)
#   terminate-returned  until the command returns
# QEMU under libvirt is daemonized, so its parent is PID 1 unless the process
# that started it is a child subreaper; a zombie still answers kill -0, and
# libvirt's destroy waits until the pid is gone, so "reaped" and "returned"
# include however long PID 1 takes to reap.
#
# amid runs its default region local-1 on a libvirtd of the benchmark's own,
# which `virsh -c` reaches too; a second region, embed-1, on amid's default
# embedded driver (qemu:///embed: QEMU started from inside amid's process)
# gives extra rows without a baseline. Each round boots the three guests side
# by side, waits for each one's "amid-tiny: ready", then ends them one after
# the other, in reverse order on even rounds.
#
# Run: bench/terminate.sh (BENCH_ROUNDS, BENCH_SMOKE=1: one round; BENCH_OUT), or bench/run.
source "$(dirname "$0")/lib.sh"
bench_init terminate "Terminate: terminate-instances until QEMU is gone, against virsh destroy"

bench_start_two_regions
mkdir -p -m 0711 "$work/base"
ready="amid-tiny: ready"

# proc_state PID: sets pstate to the process's state letter, or "" when gone.
proc_state() {
  local s
  pstate=
  { read -r s </proc/"$1"/stat; } 2>/dev/null || return 0
  s=${s##*) }
  pstate=${s%% *}
}

# end_guest CASE_PREFIX VARIANT PID COMMAND...: runs COMMAND and polls PID.
end_guest() {
  local v=$2 pid=$3 t0 cpid exited='' reaped='' returned='' end
  shift 3
  t0=$EPOCHREALTIME
  "$@" >"$work/end.out" 2>&1 &
  cpid=$!
  end=$((EPOCHSECONDS + 60))
  while :; do
    proc_state "$pid"
    [ -n "$exited" ] || { [ -n "$pstate" ] && [ "$pstate" != Z ]; } || exited=$EPOCHREALTIME
    [ -n "$reaped" ] || [ -n "$pstate" ] || reaped=$EPOCHREALTIME
    if [ -z "$returned" ]; then
      proc_state "$cpid"
      { [ -n "$pstate" ] && [ "$pstate" != Z ]; } || returned=$EPOCHREALTIME
    fi
    [ -z "$exited" ] || [ -z "$reaped" ] || [ -z "$returned" ] || break
    [ "$EPOCHSECONDS" -lt "$end" ] || { log "$*: QEMU $pid or the command still there after 60 s"; exit 1; }
    sleep 0.005
  done
  wait "$cpid" || { cat "$work/end.out" >&2; log "$* failed"; exit 1; }
  sample terminate-exited "$v" "$(echo "$exited - $t0" | bc)"
  sample terminate-reaped "$v" "$(echo "$reaped - $t0" | bc)"
  sample terminate-returned "$v" "$(echo "$returned - $t0" | bc)"
}

n=0
boot_all() {  # starts the three guests: amid_id, embed_id, base_name; their QEMUs qa_pid, qe_pid, qb_pid
  local c
  amid_id=$("$amictl" --output text run-instances --image-id "$tiny_ami" --instance-type t3.nano | cut -f1)
  embed_id=$("$amictl" --region embed-1 --output text run-instances --image-id "$embed_ami" --instance-type t3.nano | cut -f1)
  [ -f "$work/amid-domain.xml" ] || "${virsh[@]}" dumpxml --inactive "$amid_id" >"$work/amid-domain.xml"
  n=$((n + 1))
  base_name=bench-base-$n
  qemu-img create -q -f qcow2 -b "$tiny_tpl" -F qcow2 "$work/base/$n.qcow2"
  baseline_domain_xml "$work/amid-domain.xml" "$base_name" "$work/base/$n.qcow2" "$work/base/$n.console.log" \
    >"$work/base/$n.xml"
  "${virsh[@]}" create "$work/base/$n.xml" >/dev/null
  for c in "$work/store/instances/$amid_id/console.log" "$work/emb/instances/$embed_id/console.log" \
    "$work/base/$n.console.log"; do
    wait_line "$c" "$ready" 300 || { log "$c: no ready line in 300 s"; exit 1; }
  done
  qa_pid=$(qemu_pid_of "$amid_id")
  qe_pid=$(qemu_pid_of "$embed_id")
  qb_pid=$(qemu_pid_of "$base_name")
  [ -n "$qa_pid" ] && [ -n "$qe_pid" ] && [ -n "$qb_pid" ] || { log "a guest's QEMU is missing"; exit 1; }
  parents="amid: $(parent_of "$qa_pid"), virsh: $(parent_of "$qb_pid"), amid-embedded: $(parent_of "$qe_pid")"
}
parent_of() {  # PID: its parent's pid and name
  local pp
  pp=$(ps -o ppid= -p "$1" | tr -d ' ')
  echo "$pp ($(ps -o comm= -p "$pp"))"
}

for r in $(seq "$BENCH_ROUNDS"); do
  log "round $r of $BENCH_ROUNDS: booting three guests"
  boot_all
  if ((r % 2)); then order=(amid virsh embedded); else order=(embedded virsh amid); fi
  for s in "${order[@]}"; do
    case $s in
      amid) end_guest terminate amid "$qa_pid" "$amictl" terminate-instances --instance-ids "$amid_id" ;;
      virsh) end_guest terminate virsh "$qb_pid" "${virsh[@]}" destroy "$base_name" ;;
      embedded) end_guest terminate amid-embedded "$qe_pid" "$amictl" --region embed-1 terminate-instances --instance-ids "$embed_id" ;;
    esac
  done
  rm -f "$work/base/$n".*
done

for c in exited reaped returned; do
  case $c in
    exited) what="until QEMU has exited (zombie or gone)" ;;
    reaped) what="until QEMU's pid is gone (reaped)" ;;
    returned) what="until the command returns" ;;
  esac
  ratio_row "terminate-$c" "amictl terminate-instances (region on libvirtd), $what" amid \
    "virsh destroy on the same URI, $what" virsh -
  row "terminate-$c" amid-embedded "amictl terminate-instances on amid's embedded driver (qemu:///embed), $what"
done
note "Times from the command's start, the QEMU's /proc/PID/stat polled every 5 ms. Each guest had printed \"$ready\" (booted, idle) first. Parent of each QEMU (last round): $parents; amid is pid $amid_pid. QEMU under libvirt is daemonized: its parent is PID 1 unless a child subreaper started it; a zombie stays until its parent reaps it, and libvirt's destroy returns only once the pid is gone."
note "amid's log for a termination: $(grep -m1 ' terminated$' "$amid_log" | cut -c1-160)"
note "Load average (1, 5, 15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores."
bench_report
