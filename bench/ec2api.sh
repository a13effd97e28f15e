#!/usr/bin/env bash
# Benchmark (issue 18): EC2's HTTP endpoint against amid's socket.
#
# describe-images: describe-images over IMAGES (1,000) images, all in one
#   answer, the daemon's time per request on a connection kept open: through
#   HTTP (bench/ec2_http.py: signed by Debian's botocore before the clock
#   starts; amid's SigV4 check, the Query translation and the XML included)
#   against the socket (bench/amid_socket.py: one JSON line). Target: ratio of
#   medians <= 1.2. The same for describe-instances over a few, reported.
# rate: DescribeInstances signed and sent at 200 a second for RATE_SECONDS (10)
#   on one kept-alive connection, amid pinned to one core (taskset -c 0, the
#   client on another): the rate reached (target >= 200 a second, recorded as
#   how far below 200 it fell: <= 0) and the p99 of the answers (<= 50 ms).
# cli: what a user waits for: the whole `aws ec2 describe-images` process
#   (Debian's AWS CLI, Python's start-up included) against `amictl
#   describe-images`, over the same images. Reported, no target.
#
# The catalog is filled by bench/populate.cc with clones of an image amid
# registered (amid stopped), as bench/scale.sh does.
#
# Usage: bench/ec2api.sh   (BENCH_ROUNDS, BENCH_SMOKE, BENCH_OUT: see lib.sh)
# Smoke (BENCH_SMOKE=1): 50 images, 2 s of rate, few requests.
source "$(dirname "$0")/lib.sh"
bench_init ec2api "EC2's HTTP endpoint: its answer times against the socket's, a signed request rate, the AWS CLI"

if [ "$BENCH_SMOKE" = 1 ]; then
  images=50 per_round=3 rate_seconds=2 cli_per_round=1
else
  images=${IMAGES:-1000} per_round=10 rate_seconds=${RATE_SECONDS:-10} cli_per_round=3
fi
populate=${BENCH_POPULATE:-$(dirname "$amid")/../bench/amid-bench-populate}  # built by scripts/build
[ -x "$populate" ] || { echo "bench: no $populate (scripts/build builds it)" >&2; exit 2; }
/usr/bin/python3 -c 'import botocore' 2>/dev/null || { echo "bench: Debian's python3-botocore is missing (scripts/install-deps)" >&2; exit 2; }
[ -x /usr/bin/aws ] || { echo "bench: Debian's awscli is missing (scripts/install-deps)" >&2; exit 2; }
socket_client=$bench_dir/amid_socket.py
http_client=$bench_dir/ec2_http.py

printf '[ec2_api]\nlisten = "127.0.0.1:0"\n' >"$work/amid.toml"
start() {
  : >"$work/amid.log"
  bench_start_amid --config "$work/amid.toml"
  # amid on core 0 only, every thread (the clients and the CLI run on the others).
  taskset -a -p -c 0 "$amid_pid" >/dev/null
  endpoint=$(grep -o 'EC2 API on http://127.0.0.1:[0-9]*' "$amid_log" | tail -1 | awk '{print $NF}')
  [ -n "$endpoint" ] || { log "amid's log names no EC2 API endpoint"; cat "$amid_log" >&2; exit 1; }
}
start
ensure_tiny_image
read -r key_id key_secret <<<"$("$amictl" create-access-key --output json |
  python3 -c 'import json,sys; k=json.load(sys.stdin)["AccessKey"]; print(k["AccessKeyId"], k["SecretAccessKey"])')"
export AWS_ACCESS_KEY_ID=$key_id AWS_SECRET_ACCESS_KEY=$key_secret AWS_DEFAULT_REGION=local-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=
# A few instances for describe-instances (they need not boot: stopped at once).
for _ in 1 2 3; do
  i=$("$amictl" run-instances --image-id "$tiny_ami" --instance-type t2.nano --output text | grep -oE '\bi-[0-9a-f]{17}\b' | head -1)
  "$amictl" stop-instances --instance-ids "$i" --force >/dev/null
  "$amictl" wait instance-stopped --instance-ids "$i" >/dev/null
done
bench_stop_amid
"$populate" --state-dir "$work/s" --images "$images" --instances 3 2>&1 | sed 's/^/bench[ec2api]: /' >&2
start
n=$("$amictl" describe-images --output text | grep -c '^ami-' || true)
log "$n images in the catalog; endpoint $endpoint; amid on core 0"

samples_of() {  # FILE CASE VARIANT: a client's "socket|http<TAB>seconds" lines as samples
  awk -F'\t' '$1 == "socket" || $1 == "http" {print $2}' "$1" | while read -r s; do sample "$2" "$3" "$s"; done
}
images_case="describe-images over $n images"
instances_case="describe-instances over 3"
for r in $(seq "$BENCH_ROUNDS"); do
  log "round $r of $BENCH_ROUNDS"
  python3 "$socket_client" --action DescribeImages --count "$per_round" >"$work/s-img.tsv" 2>"$work/s-img.err"
  /usr/bin/python3 "$http_client" --endpoint "$endpoint" --action DescribeImages --count "$per_round" \
    >"$work/h-img.tsv" 2>"$work/h-img.err" || { cat "$work/h-img.err" >&2; exit 1; }
  samples_of "$work/s-img.tsv" "$images_case" socket
  samples_of "$work/h-img.tsv" "$images_case" http
  python3 "$socket_client" --action DescribeInstances --count "$per_round" >"$work/s-ins.tsv" 2>"$work/s-ins.err"
  /usr/bin/python3 "$http_client" --endpoint "$endpoint" --action DescribeInstances --count "$per_round" \
    >"$work/h-ins.tsv" 2>"$work/h-ins.err" || { cat "$work/h-ins.err" >&2; exit 1; }
  samples_of "$work/s-ins.tsv" "$instances_case" socket
  samples_of "$work/h-ins.tsv" "$instances_case" http
  for _ in $(seq "$cli_per_round"); do
    t0=$(now)
    /usr/bin/aws --endpoint-url "$endpoint" ec2 describe-images --output json >/dev/null
    sample "cli: describe-images over $n images" aws-cli "$(since "$t0")"
    t0=$(now)
    "$amictl" describe-images --output json >/dev/null
    sample "cli: describe-images over $n images" amictl "$(since "$t0")"
  done
done
log "rate: 200 signed DescribeInstances a second for $rate_seconds s"
/usr/bin/python3 "$http_client" --endpoint "$endpoint" --action DescribeInstances --rate 200 --seconds "$rate_seconds" \
  >"$work/rate.tsv" 2>"$work/rate.err" || { cat "$work/rate.err" >&2; exit 1; }
samples_of "$work/rate.tsv" "rate: DescribeInstances at 200/s" http
reached=$(awk -F'\t' '$1 == "rate" {print $2}' "$work/rate.tsv")
short=$(awk -v r="$reached" 'BEGIN {s = 200 - r; printf "%.1f", (s < 0.5) ? 0 : s}')
ms() { awk -v s="$1" 'BEGIN {printf "%.1f", s * 1000}'; }

ratio_row "$images_case" "through HTTP: signed POST, SigV4 check, Query translation, XML" http \
  "through the socket: one JSON line" socket "<= 1.2"
ratio_row "$instances_case" "through HTTP" http "through the socket" socket -
limit_row rate "signed requests a second short of 200 (reached $reached a second on one connection, amid on one core)" \
  "$short" "req/s" "<= 0"
limit_row rate "p99 of the answers at that rate" "$(ms "$(percentile_of "rate: DescribeInstances at 200/s" http 99)")" ms "<= 50"
ratio_row "cli: describe-images over $n images" "the whole \`aws ec2 describe-images\` process (Debian's AWS CLI)" aws-cli \
  "the whole \`amictl describe-images\` process" amictl -
note "Answer sizes: socket $(tail -1 "$work/s-img.err" | sed 's/.*(\([0-9]*\) bytes)$/\1/') bytes of JSON, HTTP $(sed -n 's/.*answer \([0-9]*\) bytes$/\1/p' "$work/h-img.err") bytes of XML, for describe-images over $n images."
note "Times are the daemon's: from the request's write to its answer's last byte, on a connection kept open (HTTP requests signed by Debian's botocore before the clock starts). amid runs under taskset -c 0; the clients on the other cores. $(tail -1 "$work/rate.err")."
note "Load average (1, 5, 15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores."
bench_report
