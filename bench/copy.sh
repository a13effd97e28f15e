#!/usr/bin/env bash
# Benchmark (issue 7, item 5): copy-image between two regions on this machine
# against `cp --sparse=always` of the same files plus a sync of the copy (amid's
# copy is durable: it fsyncs the file and its folder), alternating the two,
# on two images:
#   tiny   - the tiny template (128 MiB virtual, an 18 MiB file in the store)
#   sparse - 2 GiB virtual with 512 MiB of random data in 4 spread extents
#            (smoke: 64 MiB)
# And the sparse stream against a non-sparse one: `cp --sparse=never` of the
# same store files, with the blocks each copy allocates (du); then the same two
# streams on a raw file with the same data, where the holes are 3/4 of it.
#
# Regions: local-1 on amid's embedded driver, local-2 on a libvirtd of our own,
# remote-1 on a second libvirt host simulated here (bench_start_remote_host):
# copy-image to it against virsh vol-upload --sparse and without --sparse,
# which is libvirt's sparse stream against its non-sparse one.
#
# Usage: bench/copy.sh   (BENCH_ROUNDS, BENCH_SMOKE, BENCH_OUT: see lib.sh)
source "$(dirname "$0")/lib.sh"
bench_init copy "copy-image between two regions against cp --sparse=always"

if [ "$BENCH_SMOKE" = 1 ]; then data_mib=64; else data_mib=${DATA_MIB:-512}; fi
virt_mib=2048

bench_start_libvirtd
bench_start_remote_host
remote_exec mkdir -p "$remote_hidden/r1"
mkdir -p "$work/s1" "$work/s2"
chmod 0711 "$work/s1" "$work/s2"
cat >"$work/amid.toml" <<EOF
[daemon]
region = "local-1"
[regions.local-1]
store = "$work/s1"
libvirt_uri = "embedded"
[regions.local-2]
store = "$work/s2"
libvirt_uri = "$libvirtd_uri"
[regions.remote-1]
store = "$remote_hidden/r1"
libvirt_uri = "$remote_uri"
EOF
# The by-hand baseline's own folder on the remote host.
virsh -q -c "$remote_uri" "pool-define-as byhand dir --target $remote_hidden/byhand; pool-build byhand; pool-start byhand" >/dev/null
t0=$(now)
bench_start_amid --config "$work/amid.toml"
log "amid up with two regions in $(since "$t0") s"

# The sparse image: a raw file with 4 extents of random data spread over 2 GiB,
# kept for the raw comparison, and its qcow2 registered in local-1.
log "making the sparse image ($virt_mib MiB virtual, $data_mib MiB of random data)"
raw=$work/sparse.raw
truncate -s "${virt_mib}M" "$raw"
for i in 0 1 2 3; do
  dd if=/dev/urandom of="$raw" bs=1M seek=$((i * virt_mib / 4 + 64)) count=$((data_mib / 4)) \
    conv=notrunc status=none
done
qemu-img convert -f raw -O qcow2 "$raw" "$work/sparse.qcow2"
sparse_ami=$("$amictl" register-image --name bench-sparse --disk "$work/sparse.qcow2")
rm -f "$work/sparse.qcow2"
ensure_tiny_image

# An image's files in local-1's store: every disk amid copies (not the manifest,
# which amid writes anew).
files_of() { find "$work/s1/images/$1" -maxdepth 1 -type f ! -name manifest.json | sort; }

# `cp` of FILES into a fresh folder, then fsync of each copy and the folder.
cp_copy() {  # $1: --sparse=MODE, $2: destination folder, then files
  local mode=$1 dir=$2 f
  shift 2
  mkdir "$dir"
  cp "$mode" "$@" "$dir/"
  for f in "$@"; do sync "$dir/$(basename "$f")"; done
  sync "$dir"
}

blocks() { du -s -B1 "$@" | awk '{s += $1} END {printf "%.1f", s / 1048576}'; }  # MiB allocated
apparent() { du -s -b "$@" | awk '{s += $1} END {printf "%.1f", s / 1048576}'; }

# amid's own time for a copy: its "copying from" line to its "available" line.
amid_copy_ms() {  # $1: new image id
  python3 - "$amid_log" "$1" <<'PY'
import datetime, re, sys
t = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) amid info: image (\S+) (copying from|available)", line)
    if m and m.group(2) == sys.argv[2]:
        t[m.group(3)] = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
print("%.4f" % (t["available"] - t["copying from"]) if len(t) == 2 else "nan")
PY
}

declare -A du_amid du_always du_never size_of
copy_round() {  # $1: case, $2: source image id, $3: round
  local c=$1 ami=$2 r=$3 files t0 id secs v variants
  mapfile -t files < <(files_of "$ami")
  size_of[$c]=$(apparent "${files[@]}")
  # Alternate who goes first from round to round.
  if [ $((r % 2)) = 1 ]; then variants="amid cp-always cp-never"; else variants="cp-never cp-always amid"; fi
  for v in $variants; do
    sync
    case $v in
      amid)
        t0=$(now)
        id=$("$amictl" --region local-2 copy-image --source-region local-1 --source-image-id "$ami" \
          --name "copy-$c-$r" --wait 2>"$work/amictl.err") || { cat "$work/amictl.err" >&2; exit 1; }
        secs=$(since "$t0")
        sample "$c" amid "$secs"
        sample "$c" amid-log "$(amid_copy_ms "$id")"
        du_amid[$c]=$(blocks "$work/s2/images/$id"/*.qcow2)
        "$amictl" --region local-2 deregister-image --image-id "$id" >/dev/null
        ;;
      cp-always | cp-never)
        t0=$(now)
        cp_copy "--sparse=${v#cp-}" "$work/cp" "${files[@]}"
        secs=$(since "$t0")
        sample "$c" "$v" "$secs"
        if [ "$v" = cp-always ]; then du_always[$c]=$(blocks "$work/cp"/*); else du_never[$c]=$(blocks "$work/cp"/*); fi
        rm -rf "$work/cp"
        ;;
    esac
  done
}

# To the remote host: amid's copy-image (libvirt sparse streams, through its one
# connection) against the same files sent by hand with virsh on one connection:
# vol-create-as + vol-upload --sparse, and vol-upload without --sparse (the
# non-sparse stream). Allocated MiB are read on the remote host.
declare -A du_remote_amid du_remote_sparse du_remote_full
virsh_upload() {  # $1: --sparse or "", then files; one virsh, one connection
  local mode=$1 f cmds=""
  shift
  for f in "$@"; do
    cmds+="vol-create-as byhand $(basename "$f") $(stat -c %s "$f") --format raw --allocation 0; "
    cmds+="vol-upload $mode --pool byhand $(basename "$f") $f; "
  done
  virsh -q -c "$remote_uri" "$cmds" >/dev/null
}
remote_blocks() { remote_exec du -s -B1 "$@" | awk '{s += $1} END {printf "%.1f", s / 1048576}'; }
remote_round() {  # $1: case, $2: source image id, $3: round
  local c=$1 ami=$2 r=$3 files t0 id v variants
  mapfile -t files < <(files_of "$ami")
  if [ $((r % 2)) = 1 ]; then variants="amid virsh-sparse virsh-full"; else variants="virsh-full virsh-sparse amid"; fi
  for v in $variants; do
    sync
    case $v in
      amid)
        t0=$(now)
        id=$("$amictl" --region remote-1 copy-image --source-region local-1 --source-image-id "$ami" \
          --name "remote-$c-$r" --wait 2>"$work/amictl.err") || { cat "$work/amictl.err" >&2; exit 1; }
        sample "$c-remote" amid "$(since "$t0")"
        du_remote_amid[$c]=$(remote_blocks "$remote_hidden/r1/images/$id")
        "$amictl" --region remote-1 deregister-image --image-id "$id" >/dev/null
        ;;
      virsh-sparse | virsh-full)
        t0=$(now)
        if [ "$v" = virsh-sparse ]; then virsh_upload --sparse "${files[@]}"; else virsh_upload "" "${files[@]}"; fi
        sample "$c-remote" "$v" "$(since "$t0")"
        if [ "$v" = virsh-sparse ]; then du_remote_sparse[$c]=$(remote_blocks "$remote_hidden/byhand");
        else du_remote_full[$c]=$(remote_blocks "$remote_hidden/byhand"); fi
        for f in "${files[@]}"; do virsh -q -c "$remote_uri" vol-delete --pool byhand "$(basename "$f")" >/dev/null; done
        ;;
    esac
  done
}
# The raw file (3/4 holes) sent to the remote host both ways by hand.
raw_remote_round() {  # $1: round
  local v t0 variants
  if [ $(($1 % 2)) = 1 ]; then variants="virsh-sparse virsh-full"; else variants="virsh-full virsh-sparse"; fi
  for v in $variants; do
    t0=$(now)
    if [ "$v" = virsh-sparse ]; then virsh_upload --sparse "$raw"; else virsh_upload "" "$raw"; fi
    sample raw-remote "$v" "$(since "$t0")"
    if [ "$v" = virsh-sparse ]; then du_remote_sparse[raw]=$(remote_blocks "$remote_hidden/byhand");
    else du_remote_full[raw]=$(remote_blocks "$remote_hidden/byhand"); fi
    virsh -q -c "$remote_uri" vol-delete --pool byhand "$(basename "$raw")" >/dev/null
  done
}

# The same two streams on the raw file: SEEK_DATA/SEEK_HOLE + copy_file_range,
# as host/fs.cc copy_sparse_durable does (amid stores qcow2 only, so this runs
# the same loop outside amid), against cp --sparse=never; each + fsync.
sparse_stream() {  # $1: from, $2: to
  python3 - "$1" "$2" <<'PY'
import os, sys
src = os.open(sys.argv[1], os.O_RDONLY)
dst = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
size = os.fstat(src).st_size
pos = 0
while pos < size:
    try:
        data = os.lseek(src, pos, os.SEEK_DATA)
    except OSError:
        break  # only a hole is left
    hole = os.lseek(src, data, os.SEEK_HOLE)
    s = data
    while s < hole:
        n = os.copy_file_range(src, dst, min(hole - s, 64 << 20), s, s)
        if n == 0:
            break
        s += n
    pos = hole
os.ftruncate(dst, size)
os.fsync(dst)
PY
}
raw_round() {  # $1: round
  local v t0 variants
  if [ $(($1 % 2)) = 1 ]; then variants="sparse-stream cp-never"; else variants="cp-never sparse-stream"; fi
  for v in $variants; do
    sync
    t0=$(now)
    if [ "$v" = sparse-stream ]; then sparse_stream "$raw" "$work/raw.copy"; else
      cp --sparse=never "$raw" "$work/raw.copy" && sync "$work/raw.copy"
    fi
    sample raw "$v" "$(since "$t0")"
    if [ "$v" = sparse-stream ]; then du_amid[raw]=$(blocks "$work/raw.copy"); else du_never[raw]=$(blocks "$work/raw.copy"); fi
    rm -f "$work/raw.copy"
  done
}

for r in $(seq "$BENCH_ROUNDS"); do
  log "round $r/$BENCH_ROUNDS"
  copy_round tiny "$tiny_ami" "$r"
  copy_round sparse "$sparse_ami" "$r"
  raw_round "$r"
  remote_round tiny "$tiny_ami" "$r"
  remote_round sparse "$sparse_ami" "$r"
  raw_remote_round "$r"
done

for c in tiny sparse; do
  ratio_row "$c" "amictl copy-image --wait, local-1 -> local-2" amid "cp --sparse=always + fsync" cp-always "<= 1.25"
  row "$c" amid-log "amid's own time, from its log: copying -> available"
  row "$c" cp-never "cp --sparse=never + fsync (a non-sparse stream)"
  ratio_line "$c" amid cp-never - "amid / cp --sparse=never"
done
ratio_row raw "SEEK_DATA/SEEK_HOLE + copy_file_range + fsync (amid's loop) of the raw file" sparse-stream \
  "cp --sparse=never + fsync of the raw file" cp-never -
for c in tiny sparse; do
  ratio_row "$c-remote" "amictl copy-image --wait, local-1 -> remote-1 (qemu+tcp, libvirt sparse streams)" amid \
    "virsh vol-create-as + vol-upload --sparse of the same files, one connection" virsh-sparse -
  row "$c-remote" virsh-full "virsh vol-upload without --sparse (a non-sparse stream)"
  ratio_line "$c-remote" virsh-full virsh-sparse - "non-sparse / sparse stream"
done
ratio_row raw-remote "virsh vol-upload --sparse of the raw file to the remote host" virsh-sparse \
  "virsh vol-upload (non-sparse) of the raw file" virsh-full -

note "Images: tiny = the tiny template (store file ${size_of[tiny]} MiB); sparse = ${virt_mib} MiB virtual with ${data_mib} MiB" \
  "of random data in 4 extents (store file ${size_of[sparse]} MiB). Files copied: the image's disks in local-1's store" \
  "(local-1: embedded driver; local-2: a private libvirtd). amid's time is around \`amictl --wait\` (request to" \
  "\`available\`, including amictl's polling); amid-log is the same copy from amid's own log lines."
note
note "Allocated MiB of each copy (du): tiny: amid ${du_amid[tiny]}, cp --sparse=always ${du_always[tiny]}," \
  "cp --sparse=never ${du_never[tiny]}; sparse: amid ${du_amid[sparse]}, cp --sparse=always ${du_always[sparse]}," \
  "cp --sparse=never ${du_never[sparse]}; raw (${virt_mib} MiB, ${data_mib} MiB data): sparse stream ${du_amid[raw]}," \
  "cp --sparse=never ${du_never[raw]}."
note
note "Remote host (remote-1): a libvirtd in namespaces of its own on this machine, reached only over qemu+tcp on" \
  "127.0.0.1, its store on a tmpfs only it sees (scripts/remote-host-init.sh); amid moves data there with" \
  "virStorageVolUpload sparse streams, as it would to qemu+ssh://host2/system. Allocated MiB there: tiny: amid" \
  "${du_remote_amid[tiny]}, virsh --sparse ${du_remote_sparse[tiny]}, virsh non-sparse ${du_remote_full[tiny]};" \
  "sparse: amid ${du_remote_amid[sparse]}, virsh --sparse ${du_remote_sparse[sparse]}, virsh non-sparse" \
  "${du_remote_full[sparse]}; raw: virsh --sparse ${du_remote_sparse[raw]}, virsh non-sparse ${du_remote_full[raw]}."
note
note "Sparse against non-sparse: amid's store holds qcow2 files, which qemu-img writes densely (unallocated clusters" \
  "take no room in the file), so on them a sparse stream and a non-sparse one move nearly the same bytes and take" \
  "nearly the same time; the holes amid keeps are the few left in the qcow2 file. Where a file does have holes (the raw" \
  "row: $((virt_mib - data_mib)) of its $virt_mib MiB), the non-sparse stream writes every zero and allocates the whole" \
  "virtual size, while the sparse stream copies the data extents only (the raw row runs amid's loop, host/fs.cc" \
  "copy_sparse_durable, outside amid, since amid's store keeps qcow2 only)."
bench_report
