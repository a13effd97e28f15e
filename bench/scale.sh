#!/usr/bin/env bash
# Benchmark (issue 7, item 6): amid at scale.
#
# storm   STORM_N (16) `amictl run-instances` sent at once, each its own request
#         (tiny template, t2.nano: 1 vCPU, 512 MiB, the smallest type), against
#         the target "all succeed"; meanwhile describe-instances is asked again
#         and again, each answer timed, p99 <= 50 ms. Two clocks, alternating:
#         the daemon's answer on a connection kept open to its socket
#         (bench/amid_socket.py: request written -> answer read; the target is
#         taken on this one) and the whole `amictl describe-instances` process
#         (what a user waits for, amictl's own start-up included). Then all are
#         terminated. One storm per round.
# memory  amid's resident memory (VmRSS, and its peak VmHWM, from /proc/PID/status)
#         with IMAGES (1,000) images and INSTANCES (200) instances in the catalog,
#         target VmRSS <= 30 MiB; beside it a fresh amid with an empty catalog.
#         The catalog is filled by bench/populate.cc (amid stopped) with clones of
#         an image that amid registered and of an instance that amid launched and
#         stopped: catalog rows through amid's own Catalog class, their files, and
#         each instance's libvirt definition, parked in the catalog as amid keeps
#         a stopped instance's. That is a state the start-up reconcile keeps as
#         is (amid.log is checked for what it did).
# images  describe-images over MANY_IMAGES (10,000) images, target <= 20 ms at the
#         median of the daemon's answers on the socket, for one page of
#         MaxResults 1000 and for a filter matching a handful (name=scale-00007*);
#         beside them one ImageId, and the whole catalog unpaged (a value, with
#         its size in bytes); `amictl describe-images` beside each. Also
#         describe-instances over the INSTANCES instances.
# idle    describe-instances while IDLE_CONNS (200) connections are held open
#         without a request, p99 <= 50 ms on the socket, beside the same with none.
#
# Usage: bench/scale.sh   (BENCH_ROUNDS, BENCH_SMOKE, BENCH_OUT: see lib.sh)
# Smoke (BENCH_SMOKE=1): a storm of 4, 50 images and 10 instances, 500 images.
source "$(dirname "$0")/lib.sh"
bench_init scale "Scale: a run-instances storm, memory with a large catalog, describe-images over many images"

if [ "$BENCH_SMOKE" = 1 ]; then
  storm_n=4 images=50 instances=10 many_images=500 idle_conns=20 idle_asks=5
else
  storm_n=${STORM_N:-16} images=${IMAGES:-1000} instances=${INSTANCES:-200} many_images=${MANY_IMAGES:-10000}
  idle_conns=${IDLE_CONNS:-200} idle_asks=${IDLE_ASKS:-40}
fi
itype=t2.nano
client=$bench_dir/amid_socket.py
populate=${BENCH_POPULATE:-$(dirname "$amid")/../bench/amid-bench-populate}  # built by scripts/build
[ -x "$populate" ] || { echo "bench: no $populate (scripts/build builds it)" >&2; exit 2; }

# rss: "VmRSS VmHWM RssAnon RssFile Pss" of amid, in MiB with one decimal.
# RssFile is mostly shared libraries' pages (libvirt's QEMU driver runs inside
# amid); Pss divides shared pages among the processes that map them.
rss() {
  awk '/^(VmRSS|VmHWM|RssAnon|RssFile|Pss):/ {v[$1] = $2}
       END {printf "%.1f %.1f %.1f %.1f %.1f\n", v["VmRSS:"] / 1024, v["VmHWM:"] / 1024, v["RssAnon:"] / 1024,
            v["RssFile:"] / 1024, v["Pss:"] / 1024}' "/proc/$amid_pid/status" "/proc/$amid_pid/smaps_rollup"
}
ms() { awk -v s="$1" 'BEGIN {printf "%.1f", s * 1000}'; }
# samples_from FILE CASE: the client's "socket|cli<TAB>seconds" lines as samples.
samples_from() {
  local variant s
  while IFS=$'\t' read -r variant s; do
    sample "$2" "$([ "$variant" = cli ] && echo amictl || echo socket)" "$s"
  done <"$1"
}
# amid_start_timed: bench_start_amid, timing it to the first answer; keeps the
# log lines of this start in $work/start.log.
amid_start_timed() {
  local before t0
  before=$( [ -f "$work/amid.log" ] && wc -l <"$work/amid.log" || echo 0)
  t0=$(now)
  bench_start_amid
  start_s=$(since "$t0")
  tail -n +"$((before + 1))" "$amid_log" >"$work/start.log"
}
# A fresh state dir for the next amid, keeping libvirt's cache of QEMU's
# capabilities (so that start does not probe QEMU again).
fresh_state() {
  rm -rf "$work/s.old"
  mv "$work/s" "$work/s.old"
  mkdir -p "$work/s/libvirt"
  [ -d "$work/s.old/libvirt/cache" ] && cp -a "$work/s.old/libvirt/cache" "$work/s/libvirt/"
  rm -rf "$work/s.old"
  unset tiny_ami
}

# ---------------------------------------------------------------- storm
amid_start_timed
sample "start-up: new state dir" amid "$start_s"
read -r fresh_probe_rss fresh_probe_hwm fresh_probe_anon fresh_probe_file fresh_probe_pss <<<"$(rss)"
ensure_tiny_image
log "storm: $storm_n run-instances at once, $BENCH_ROUNDS rounds"
failed=0 sent=0
for r in $(seq "$BENCH_ROUNDS"); do
  stop=$work/storm-stop
  rm -f "$stop" "$work"/storm-"$r"-*
  python3 "$client" --action DescribeInstances --cli "$amictl describe-instances" --until "$stop" --min 20 \
    --pause 0.01 >"$work/storm-$r.tsv" 2>"$work/storm-$r.err" &
  cpid=$!
  sleep 0.3  # the describes run before the storm begins, and through it
  t0=$(now)
  pids=()
  for i in $(seq "$storm_n"); do
    (
      ts=$(now)
      if out=$("$amictl" run-instances --image-id "$tiny_ami" --instance-type "$itype" --output text 2>"$work/storm-$r-$i.err"); then
        printf 'ok\t%s\t%s\n' "$(since "$ts")" "$(printf '%s\n' "$out" | grep -oE '\bi-[0-9a-f]{17}\b' | head -1)"
      else
        printf 'failed\t%s\t\n' "$(since "$ts")"
      fi >"$work/storm-$r-$i"
    ) &
    pids+=("$!")
  done
  for p in "${pids[@]}"; do wait "$p"; done
  storm_s=$(since "$t0")
  touch "$stop"
  wait "$cpid" || log "storm $r: describe-instances answered with errors: $(cat "$work/storm-$r.err")"
  samples_from "$work/storm-$r.tsv" "storm: describe-instances"
  sample "storm: all run-instances answered" amid "$storm_s"
  ids=()
  for i in $(seq "$storm_n"); do
    IFS=$'\t' read -r verdict s id <"$work/storm-$r-$i"
    sample "storm: one run-instances" amid "$s"
    sent=$((sent + 1))
    if [ "$verdict" = ok ] && [ -n "$id" ]; then ids+=("$id"); else log "storm $r: run-instances $i failed: $(cat "$work/storm-$r-$i.err")"; fi
  done
  # A success: amictl answered with an instance, and that instance shows running.
  running=$("$amictl" describe-instances --output json |
    python3 -c 'import json,sys; ids=set(sys.argv[1:]); d=json.load(sys.stdin); print(sum(1 for r in d["Reservations"] for i in r["Instances"] if i["InstanceId"] in ids and i["State"]["Name"]=="running"))' "${ids[@]}")
  failed=$((failed + storm_n - running))
  log "storm $r: ${#ids[@]} of $storm_n launched in ${storm_s}s, $running running; $(tail -1 "$work/storm-$r.err")"
  if [ "${#ids[@]}" -gt 0 ]; then
    t0=$(now)
    "$amictl" terminate-instances --instance-ids "${ids[@]}" >/dev/null
    sample "storm: terminate-instances of all" amid "$(since "$t0")"
  fi
done
storm_log=$(grep -c 'launched from' "$amid_log" || true)
bench_stop_amid

# ---------------------------------------------------------------- idle connections
# describe-instances while IDLE_CONNS connections sit open without a request (a
# user holding all they may, or many): each round times the daemon's answers
# with none held, then with all of them held (one amid whose max_connections
# leaves room for them and whose idle timeout outlasts the round).
cat >"$work/idle.toml" <<EOF
[daemon]
max_connections = $((idle_conns + 56))
idle_timeout_seconds = 600
EOF
bench_start_amid --config "$work/idle.toml"
log "idle: describe-instances with 0 and $idle_conns idle connections held, $BENCH_ROUNDS rounds"
for r in $(seq "$BENCH_ROUNDS"); do
  python3 "$client" --action DescribeInstances --count "$idle_asks" >"$work/idle-none-$r.tsv" 2>"$work/idle-none-$r.err"
  samples_from "$work/idle-none-$r.tsv" "describe-instances, no idle connections"
  rm -f "$work/held" "$work/release"
  python3 "$bench_dir/hold_connections.py" "$AMID_SOCKET" "$idle_conns" "$work/held" "$work/release" \
    2>"$work/hold-$r.err" &
  hold_pid=$!
  for _ in $(seq 600); do
    { [ -e "$work/held" ] || ! kill -0 "$hold_pid" 2>/dev/null; } && break
    sleep 0.05
  done
  [ -e "$work/held" ] || { log "idle: the connections were not held: $(cat "$work/hold-$r.err")"; exit 1; }
  python3 "$client" --action DescribeInstances --count "$idle_asks" >"$work/idle-held-$r.tsv" 2>"$work/idle-held-$r.err"
  samples_from "$work/idle-held-$r.tsv" "describe-instances, $idle_conns idle connections held"
  touch "$work/release"
  wait "$hold_pid"
done
bench_stop_amid

# ---------------------------------------------------------------- memory
fresh_state
amid_start_timed
sample "start-up: empty catalog" amid "$start_s"
read -r fresh_rss fresh_hwm fresh_anon fresh_file fresh_pss <<<"$(rss)"
ensure_tiny_image
# The seed instance: launched by amid, then stopped (forced: it need not boot).
seed=$("$amictl" run-instances --image-id "$tiny_ami" --instance-type "$itype" --output text | grep -oE '\bi-[0-9a-f]{17}\b' | head -1)
"$amictl" stop-instances --instance-ids "$seed" --force >/dev/null
"$amictl" wait instance-stopped --instance-ids "$seed" >/dev/null
bench_stop_amid
"$populate" --state-dir "$work/s" --images "$images" --instances "$instances" 2>&1 | sed 's/^/bench[scale]: /' >&2
# The first start after the fixture reconciles what it wrote (its log is kept);
# the second start is the one measured.
amid_start_timed
cp "$work/start.log" "$work/reconcile.log"
log "memory: first start after populating: ${start_s}s"
bench_stop_amid
amid_start_timed
sample "start-up: $images images, $instances instances" amid "$start_s"
sleep 1
read -r idle_rss idle_hwm idle_anon idle_file idle_pss <<<"$(rss)"
n_images=$("$amictl" describe-images --output text | grep -c '^ami-' || true)
read -r n_listed n_stopped <<<"$("$amictl" describe-instances --output json |
  python3 -c 'import json,sys; d=json.load(sys.stdin); s=[i["State"]["Name"] for r in d["Reservations"] for i in r["Instances"]]; print(len(s), sum(x=="stopped" for x in s))')"
sleep 1
read -r pop_rss pop_hwm pop_anon pop_file pop_pss <<<"$(rss)"
# What the reconcile did: every line it logs names an image, instance or domain.
grep -E 'i-[0-9a-f]{17}|ami-[0-9a-f]{17}|snap-[0-9a-f]{17}|vol-[0-9a-f]{17}' "$work/reconcile.log" >"$work/start-problems.log" || true
log "memory: $n_images images listed; $n_listed instances listed, $n_stopped stopped; fresh $fresh_rss MiB, populated $pop_rss MiB (peak $pop_hwm)"

# ---------------------------------------------------------------- describe over many
# describe-instances over the populated instances (each is looked up in libvirt).
python3 "$client" --action DescribeInstances --cli "$amictl describe-instances" \
  --count "$((BENCH_ROUNDS * 3))" >"$work/di.tsv" 2>"$work/di.err"
samples_from "$work/di.tsv" "describe-instances over $instances"
bench_stop_amid
"$populate" --state-dir "$work/s" --images "$many_images" --instances "$instances" 2>&1 | sed 's/^/bench[scale]: /' >&2
amid_start_timed
sample "start-up: $many_images images, $instances instances" amid "$start_s"
# Four requests, each round asking each in turn (3 answers on the socket and 3
# amictl processes per round): one page of EC2's largest size, a filter matching a
# handful (populate.cc names its images scale-NNNNNN), one id, and everything.
one_id=$("$amictl" describe-images --max-results 5 --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["Images"][-1]["ImageId"])')
d_page="describe-images over $many_images: MaxResults 1000"
d_filter="describe-images over $many_images: filter name=scale-00007*"
d_id="describe-images over $many_images: one ImageId"
d_all="describe-images over $many_images: all, unpaged"
describe_case() {  # CASE FILE-TAG PARAMS-JSON AMICTL-ARGS...
  local c=$1 tag=$2 params=$3
  shift 3
  python3 "$client" --action DescribeImages --params "$params" --cli "$amictl describe-images $*" \
    --count 3 >"$work/dimg-$tag.tsv" 2>"$work/dimg-$tag.err" || log "$c: errors: $(cat "$work/dimg-$tag.err")"
  samples_from "$work/dimg-$tag.tsv" "$c"
}
for r in $(seq "$BENCH_ROUNDS"); do
  describe_case "$d_page" page '{"MaxResults": 1000}' --max-results 1000
  describe_case "$d_filter" filter '{"Filters": [{"Name": "name", "Values": ["scale-00007*"]}]}' \
    --filters 'Name=name,Values=scale-00007*'
  describe_case "$d_id" id "{\"ImageIds\": [\"$one_id\"]}" --image-ids "$one_id"
  describe_case "$d_all" all '{}'
done
answer_of() { sed -n 's/^amid_socket: [^,]*, [^,]*, \(.*\)$/\1/p' "$work/dimg-$1.err" | tail -1; }
all_bytes=$(sed -n 's/.*(\([0-9]*\) bytes)$/\1/p' "$work/dimg-all.err" | tail -1)
read -r many_rss many_hwm many_anon many_file many_pss <<<"$(rss)"
log "describe-images: page: $(answer_of page); filter: $(answer_of filter); id: $(answer_of id); all: $(answer_of all); RSS after them $many_rss MiB (peak $many_hwm)"

# ---------------------------------------------------------------- report
c="storm: describe-instances"
limit_row storm "run-instances that failed ($storm_n sent at once, $BENCH_ROUNDS rounds, $sent in all)" "$failed" failed "<= 0"
limit_row storm "describe-instances during the storms: p99 of the daemon's answers on its socket" \
  "$(ms "$(percentile_of "$c" socket 99)")" ms "<= 50"
value_row storm "describe-instances during the storms: p99 of whole amictl processes (what a user waits for)" \
  "$(ms "$(percentile_of "$c" amictl 99)")" ms
row "$c" socket "daemon's answer on the socket, s"
row "$c" amictl "amictl describe-instances, whole process, s"
row "storm: one run-instances" amid "each amictl run-instances of a storm, s"
row "storm: all run-instances answered" amid "first sent to last answered, s"
row "storm: terminate-instances of all" amid "one terminate-instances of the storm's instances, s"
c_idle="describe-instances, $idle_conns idle connections held"
limit_row idle "describe-instances while $idle_conns idle connections are held: p99 of the daemon's answers on its socket" \
  "$(ms "$(percentile_of "$c_idle" socket 99)")" ms "<= 50"
value_row idle "describe-instances with no idle connection: p99 of the daemon's answers on its socket" \
  "$(ms "$(percentile_of "describe-instances, no idle connections" socket 99)")" ms
row "describe-instances, no idle connections" socket "daemon's answer on the socket, s"
row "$c_idle" socket "daemon's answer on the socket, s"
limit_row memory "VmRSS, $images images and $instances stopped instances, after one describe-images and one describe-instances (RssAnon $pop_anon + RssFile $pop_file; Pss $pop_pss; VmHWM $pop_hwm)" \
  "$pop_rss" MiB "<= 30"
value_row memory "VmRSS, the same amid right after its start (RssAnon $idle_anon + RssFile $idle_file; Pss $idle_pss)" "$idle_rss" MiB
value_row memory "VmRSS, fresh amid, empty catalog (RssAnon $fresh_anon + RssFile $fresh_file; Pss $fresh_pss; VmHWM $fresh_hwm)" "$fresh_rss" MiB
value_row memory "VmRSS, fresh amid on a new state dir, QEMU probed in-process (RssAnon $fresh_probe_anon + RssFile $fresh_probe_file; Pss $fresh_probe_pss; VmHWM $fresh_probe_hwm)" "$fresh_probe_rss" MiB
value_row memory "VmRSS after the describe-images below over $many_images images (RssAnon $many_anon + RssFile $many_file; Pss $many_pss; VmHWM $many_hwm)" "$many_rss" MiB
median_ms() { ms "$(stats_of "$1" socket | cut -d' ' -f1)"; }
limit_row describe "describe-images over $many_images images, MaxResults 1000 (one page, $(answer_of page)): median of the daemon's answers on its socket" \
  "$(median_ms "$d_page")" ms "<= 20"
limit_row describe "describe-images over $many_images images, filter name=scale-00007* ($(answer_of filter)): median of the daemon's answers on its socket" \
  "$(median_ms "$d_filter")" ms "<= 20"
value_row describe "describe-images over $many_images images, all of them unpaged ($(answer_of all)): median of the daemon's answers on its socket" \
  "$(median_ms "$d_all")" ms
value_row describe "describe-images over $many_images images, one ImageId: median of the daemon's answers on its socket" \
  "$(median_ms "$d_id")" ms
for c in "$d_page" "$d_filter" "$d_id" "$d_all"; do
  row "$c" socket "daemon's answer on the socket, s"
  row "$c" amictl "amictl describe-images (table output to /dev/null), whole process, s"
done
row "describe-instances over $instances" socket "daemon's answer on the socket (stopped instances), s"
row "describe-instances over $instances" amictl "amictl describe-instances, whole process, s"
row "start-up: new state dir" amid "amid start to first answer, new state dir (libvirt probes QEMU), s"
row "start-up: empty catalog" amid "amid start to first answer, empty catalog, s"
row "start-up: $images images, $instances instances" amid "amid start to first answer, s"
row "start-up: $many_images images, $instances instances" amid "amid start to first answer, s"

note "Storm: $storm_n separate \`amictl run-instances --instance-type $itype\` processes at once from the tiny template, $BENCH_ROUNDS storms; amid logged $storm_log launches. The describe-instances loop alternates a request on a socket connection kept open (request written to answer read: the daemon's answer time, on which the p99 target is taken) with a whole \`amictl describe-instances\` process (what a user waits for, amictl's start-up and the connection included), 10 ms apart, from 0.3 s before each storm until its last run-instances answered."
note "The describe loop is closed (one request at a time): a request held up for seconds is one sample, so look at the max column beside the p99."
note "Start-up times: libvirt (9.0) probes QEMU again (about 8 s here) whenever the host CPUID it reads through /dev/kvm differs from the one cached with QEMU's capabilities; under this machine's paravirtual KVM that happened at one start in two to five in these runs ('Outdated capabilities ... host cpuid changed' with LIBVIRT_LOG_FILTERS=1:qemu.qemu_capabilities). The first start after bench/populate.cc is not timed (it reconciles what the fixture wrote); the memory figures are read on the start after it."
note "describe-images over $many_images images: the <= 20 ms target is taken on the queries a client pages or narrows: one page of MaxResults 1000 (EC2's largest page: the AWS CLI and SDKs page DescribeImages this way) and a filter that matches a handful (name=scale-00007*). The whole catalog in one unpaged answer ($all_bytes bytes of JSON for $many_images images) is shown beside them as a value, without a target: its time grows with the answer's size (every image read, rendered and written out), which no index can avoid. Each round asks the four in turn, 3 answers on the socket and 3 amictl processes each."
note "Storm rounds follow each other on one amid, so the instances terminated in earlier rounds are still listed (EC2 and amid show them for an hour): round N's describe-instances lists $storm_n x N instances."
note "Idle connections: one amid (max_connections $((idle_conns + 56)), idle_timeout_seconds 600) with the storms' terminated instances in its catalog; each round asks describe-instances $idle_asks times on a connection kept open while no other is, then $idle_asks times while another process (bench/hold_connections.py) holds $idle_conns connections open without sending anything (all admitted: it checks that a request sent after them is answered)."
note "Memory: the catalog was filled by bench/populate.cc while amid was stopped, with clones of an image amid registered and of an instance amid launched and stopped (catalog rows through amid's Catalog class, the files, and each instance's libvirt definition parked in the catalog, as amid keeps a stopped instance's; libvirt holds none of them until they start). amid then listed $n_images images and $n_listed instances ($n_stopped of them stopped). At its first start after that, amid logged $(wc -l <"$work/start-problems.log") lines naming an image, instance, snapshot or volume (what the start-up reconcile did to them)$( [ -s "$work/start-problems.log" ] && printf ', the first: %s' "$(head -1 "$work/start-problems.log" | cut -c1-200)"). VmRSS counts file-backed pages too (RssFile: mostly the shared libraries amid maps, libvirt's QEMU driver among them, since it runs inside amid). Memory figures are in MiB."
bench_report
